package kube_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/internal/testutil"
	"github.com/berth-sh/berth/kube"
)

var update = flag.Bool("update", false, "rewrite the golden files of convert")

// goldenCase is one compose project converted with default options.
type goldenCase struct {
	set, name string
	files     []string
	opts      kube.Options
}

// goldenCases are every example of the repository and every project of the awesome-compose
// corpus (a CC0 copy under testdata, so the test never depends on what sits beside the checkout).
func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	var cases []goldenCase
	examples, _ := filepath.Glob("../examples/*/compose.yaml")
	for _, f := range examples {
		name := filepath.Base(filepath.Dir(f))
		cases = append(cases, goldenCase{set: "examples", name: name, files: []string{f}})
	}
	cases = append(cases,
		goldenCase{set: "examples", name: "todo-dev", files: []string{"../examples/todo/compose.yaml", "../examples/todo/compose.dev.yaml"}},
		goldenCase{set: "examples", name: "todo-options", files: []string{"../examples/todo/compose.yaml"},
			opts: kube.Options{Namespace: "shop", Replicas: 2, VolumeSize: "5Gi", PublishAs: kube.PublishNodePort, WaitImage: "registry.example/busybox:1"}},
	)
	dirs, _ := filepath.Glob("testdata/awesome-compose/*")
	for _, d := range dirs {
		for _, n := range []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"} {
			if _, err := os.Stat(filepath.Join(d, n)); err == nil {
				cases = append(cases, goldenCase{set: "awesome-compose", name: filepath.Base(d), files: []string{filepath.Join(d, n)}})
				break
			}
		}
	}
	if len(examples) < 5 || len(dirs) < 30 {
		t.Fatalf("found %d examples and %d corpus projects: the test data is missing", len(examples), len(dirs))
	}
	return cases
}

// TestGolden converts every case and compares with testdata/golden/<set>/<name>.yaml (the
// objects) and .txt (the warnings, or the error when the project cannot be converted). The
// separate test module test/k8s validates every golden YAML with Kubernetes' own code.
func TestGolden(t *testing.T) {
	// compose-go expands ~ in bind sources from the process's home: the same for every user.
	t.Setenv("HOME", "/nonexistent")
	for _, c := range goldenCases(t) {
		t.Run(c.set+"/"+c.name, func(t *testing.T) {
			p, err := compose.Load(context.Background(), compose.Options{
				Files: c.files, RenderOnly: true, Environ: []string{"HOME=/nonexistent", "PWD=/nonexistent"},
			})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			var yaml, txt []byte
			res, err := kube.Convert(p.Project, c.opts)
			if err != nil {
				txt = []byte("error: " + err.Error() + "\n")
			} else {
				if yaml, err = kube.YAML(res.Objects); err != nil {
					t.Fatal(err)
				}
				var b bytes.Buffer
				for _, w := range res.Warnings {
					b.WriteString(w.String() + "\n")
				}
				for _, e := range res.External {
					b.WriteString("external: " + e + "\n")
				}
				txt = b.Bytes()
			}
			base := filepath.Join("testdata", "golden", c.set, c.name)
			compareGolden(t, base+".yaml", yaml)
			compareGolden(t, base+".txt", txt)
		})
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			_ = os.Remove(path)
			return
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if os.IsNotExist(err) && len(got) == 0 {
		return
	}
	if err != nil {
		t.Fatalf("%v (run go test ./kube -run TestGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the conversion (go test ./kube -run TestGolden -update rewrites it):\n%s", path, testutil.FirstDiff(string(got), string(want)))
	}
}
