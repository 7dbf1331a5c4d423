// Tests in the root of the test/k8s module are in package k8s (there is no
// non-test code here; tools.go is behind the "tools" build tag).
package k8s

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-sh/berth/test/k8s/kval"
)

// goldenDir holds berth convert's golden outputs (written by kube's tests).
const goldenDir = "../../kube/testdata/golden"

// TestGoldenValid runs every object of every golden YAML file through the
// apiserver's own decode, defaulting and create validation (package kval).
// An empty or missing golden directory is a failure, not a pass.
func TestGoldenValid(t *testing.T) {
	problems, files, err := validateTree(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no *.yaml files under %s: nothing was validated", goldenDir)
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d golden files validated", files)
}

// validateTree validates every *.yaml/*.yml file under dir and returns one
// line per rejected object (naming file, kind, name and the server's error),
// and per file holding no object.
func validateTree(dir string) (problems []string, files int, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := filepath.Ext(path)
		if d.IsDir() || (ext != ".yaml" && ext != ".yml") {
			return nil
		}
		files++
		res, err := kval.ValidateFile(path)
		if err != nil {
			problems = append(problems, err.Error())
			return nil
		}
		if len(res) == 0 {
			problems = append(problems, path+": no objects")
		}
		for _, r := range res {
			if !r.OK() {
				problems = append(problems, fmt.Sprintf("%s: document %d: %s/%s rejected: %v", path, r.Doc, r.Kind, r.Name, r.Err))
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("walking %s: %w", dir, err)
	}
	return problems, files, nil
}

// TestValidateTree checks the golden walker itself on kval's fixtures, so
// TestGoldenValid cannot pass by not looking.
func TestValidateTree(t *testing.T) {
	problems, files, err := validateTree("kval/testdata/valid")
	if err != nil || files != 2 || len(problems) != 0 {
		t.Errorf("valid fixtures: files=%d problems=%q err=%v", files, problems, err)
	}

	problems, files, err = validateTree("kval/testdata/invalid")
	if err != nil {
		t.Fatal(err)
	}
	if files < 30 || len(problems) != files {
		t.Errorf("invalid fixtures: %d files, %d problems, want one per file", files, len(problems))
	}
	for _, p := range problems {
		if !strings.HasPrefix(p, "kval/testdata/invalid/") || !strings.Contains(p, " rejected: ") {
			t.Errorf("problem does not name file and object: %s", p)
		}
	}
	want := `kval/testdata/invalid/bad-name.yaml: document 1: Deployment/Web_App rejected: Deployment.apps "Web_App" is invalid: metadata.name: Invalid value: "Web_App"`
	found := false
	for _, p := range problems {
		found = found || strings.HasPrefix(p, want)
	}
	if !found {
		t.Errorf("no problem starting with %q in\n%s", want, strings.Join(problems, "\n"))
	}

	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "README"), []byte("not yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(empty, "blank.yaml"), []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	problems, files, err = validateTree(empty)
	if err != nil || files != 1 || len(problems) != 1 || !strings.HasSuffix(problems[0], "blank.yaml: no objects") {
		t.Errorf("blank file: files=%d problems=%q err=%v", files, problems, err)
	}
	if _, _, err := validateTree(filepath.Join(empty, "missing")); err == nil {
		t.Error("missing directory: no error")
	}
}
