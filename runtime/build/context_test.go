package build

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/berth-sh/berth/internal/testutil"
)

func TestDockerignore(t *testing.T) {
	dir := testutil.WriteTree(t, map[string]string{
		"Dockerfile":       "FROM scratch\n",
		".dockerignore":    "# comment\n*.log\n!keep.log\nnode_modules\n/secret/\n",
		"a.log":            "x",
		"keep.log":         "x",
		"b.txt":            "x",
		"node_modules/m":   "x",
		"web/node_modules": "not at the root, so kept",
		"secret/key":       "x",
	})
	pm, _, err := loadIgnore(dir, filepath.Join(dir, "Dockerfile"))
	if err != nil || pm == nil {
		t.Fatalf("loadIgnore: %v", err)
	}
	tree := &fileTree{root: dir, pm: pm}
	for rel, want := range map[string]bool{
		"a.log": true, "keep.log": false, "b.txt": false, "node_modules/m": true,
		"web/node_modules": false, "secret/key": true, "Dockerfile": false,
	} {
		if got, err := tree.excluded(rel); err != nil || got != want {
			t.Errorf("excluded(%s) = %v %v, want %v", rel, got, err, want)
		}
	}
	found, err := tree.resolve("*.log")
	if err != nil || len(found) != 1 || found[0].rel != "keep.log" {
		t.Errorf("*.log: %+v %v", found, err)
	}
	if _, err := tree.resolve("a.log"); err == nil {
		t.Error("an ignored file must not be found")
	}
	root, err := tree.stat(".")
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	if err := tree.walk(root, func(rel, _ string, _ os.FileInfo) error { seen = append(seen, rel); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{".dockerignore", "Dockerfile", "b.txt", "keep.log", "web", "web/node_modules"}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("walk: %v, want %v", seen, want)
	}
}

func TestDockerfileIgnoreFirst(t *testing.T) {
	dir := testutil.WriteTree(t, map[string]string{
		".dockerignore":               "a\n",
		"dev.Dockerfile":              "FROM scratch\n",
		"dev.Dockerfile.dockerignore": "b\n",
	})
	_, patterns, err := loadIgnore(dir, filepath.Join(dir, "dev.Dockerfile"))
	if err != nil || !reflect.DeepEqual(patterns, []string{"b"}) {
		t.Errorf("patterns %v %v", patterns, err)
	}
}

func TestSourceChecksum(t *testing.T) {
	dir := testutil.WriteTree(t, map[string]string{"d/a.txt": "alpha", "d/b.txt": "beta", "c.txt": "gamma"})
	tree := &fileTree{root: dir}
	sum := func(args ...string) string {
		t.Helper()
		var srcs []source
		for _, a := range args {
			s, err := tree.resolve(a)
			if err != nil {
				t.Fatal(err)
			}
			srcs = append(srcs, s...)
		}
		h, err := tree.hashSources(srcs)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	file, d, multi := sum("c.txt"), sum("d"), sum("c.txt", "d")
	if file[:5] != "file:" || d[:4] != "dir:" || multi[:6] != "multi:" {
		t.Errorf("kinds: %s %s %s", file, d, multi)
	}
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "d/a.txt"), old, old); err != nil {
		t.Fatal(err)
	}
	if sum("d") != d {
		t.Error("an mtime change changed the checksum")
	}
	if err := os.Chmod(filepath.Join(dir, "d/a.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	d2 := sum("d")
	if d2 == d {
		t.Error("a mode change kept the checksum")
	}
	if err := os.WriteFile(filepath.Join(dir, "d/a.txt"), []byte("ALPHA"), 0o600); err != nil {
		t.Fatal(err)
	}
	if sum("d") == d2 {
		t.Error("a content change kept the checksum")
	}
	if err := os.Rename(filepath.Join(dir, "c.txt"), filepath.Join(dir, "e.txt")); err != nil {
		t.Fatal(err)
	}
	if sum("e.txt") == file {
		t.Error("a rename kept the checksum")
	}
}

func TestResolveInRoot(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "real/dir"), 0o755)
	os.Symlink("/real", filepath.Join(root, "abs"))
	os.Symlink("../../../..", filepath.Join(root, "real/up"))
	for in, want := range map[string]string{
		"abs/dir/x":       "real/dir/x",
		"real/up/etc/x":   "etc/x",
		"/../../etc/pass": "etc/pass",
	} {
		got, err := resolveInRoot(root, in)
		if err != nil || got != filepath.Join(root, want) {
			t.Errorf("%s: %s %v, want %s", in, got, err, want)
		}
	}
}

func TestPrunableIgnoredDirs(t *testing.T) {
	for _, c := range []struct {
		name     string
		patterns string
		dir      string
		want     bool
	}{
		{"no exceptions", "node_modules\n", "node_modules", true},
		{"exception elsewhere", "node_modules\n*.tmp\n!keep.tmp\n", "node_modules", true},
		{"exception inside", "node_modules\n!node_modules/keep\n", "node_modules", false},
		{"exception with a wildcard inside", "vendor\n!vendor/*/LICENSE\n", "vendor", false},
		{"exception below another directory", "*\n!foo/bar/etc\n", "baz", true},
		{"exception below this one", "*\n!foo/bar/etc\n", "foo", false},
		{"exception with **", "skip\n!**/keep\n", "skip", false},
		{"nested dir of an exception", "a\n!a/b/c\n", "a/b", false},
		{"sibling nested dir", "a\n!a/b/c\n", "a/x", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := testutil.WriteTree(t, map[string]string{".dockerignore": c.patterns})
			pm, _, err := loadIgnore(dir, "")
			if err != nil {
				t.Fatal(err)
			}
			tree := &fileTree{root: dir, pm: pm}
			if got := tree.prunable(c.dir); got != c.want {
				t.Errorf("prunable(%s) = %v, want %v", c.dir, got, c.want)
			}
		})
	}
}
