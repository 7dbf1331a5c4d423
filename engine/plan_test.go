package engine

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-sh/berth/compose"
)

func TestConfigChanges(t *testing.T) {
	old := `{"image":"app:1","environment":{"LEVEL":"one","KEEP":"x"},"ports":[{"target":80}]}`
	cur := `{"image":"app:2","environment":{"LEVEL":"two","KEEP":"x","NEW":"y"},"ports":[{"target":80}]}`
	if got := configChanges(old, cur); !slices.Equal(got, []string{"environment.LEVEL", "environment.NEW", "image"}) {
		t.Errorf("configChanges = %v", got)
	}
	if got := configChanges(old, old); len(got) != 0 {
		t.Errorf("no change: %v", got)
	}
	if got := configChanges("", cur); got != nil {
		t.Errorf("no old configuration: %v", got)
	}
}

// TestCorpusPlan: every compose file of the corpus is planned on an empty machine, or fails
// naming what berth does not support.
func TestCorpusPlan(t *testing.T) {
	files := corpusFiles(t)
	e := &Engine{Root: t.TempDir(), RunRoot: t.TempDir()}
	planned, refused := 0, 0
	for _, f := range files {
		p, err := compose.Load(context.Background(), compose.Options{Files: []string{f}, ProjectDir: filepath.Dir(f), Environ: []string{"HOME=/root"}})
		if err != nil {
			if !strings.Contains(err.Error(), "not supported by berth") && !strings.Contains(err.Error(), "required variable") && !strings.Contains(err.Error(), "no such file") && !strings.Contains(err.Error(), "not found") {
				t.Errorf("%s: %v", f, err)
			}
			refused++
			continue
		}
		plan, err := e.Plan(context.Background(), p.Project, UpOptions{})
		if err != nil {
			if !strings.Contains(err.Error(), "not supported by berth") {
				t.Errorf("%s: plan: %v", f, err)
			}
			refused++
			continue
		}
		if len(plan) == 0 {
			t.Errorf("%s: an empty plan", f)
		}
		planned++
	}
	t.Logf("%d corpus projects planned, %d refused naming why", planned, refused)
	if planned == 0 {
		t.Error("no corpus project planned")
	}
}
