// Package testutil holds what berth's tests share: temporary project trees now, and the root and
// kernel checks that skip a test naming what it needs as the runtime tests arrive. Test code only.
package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteTree writes files (path relative to the tree -> content) under a new temporary directory,
// removed when the test ends, and returns that directory.
func WriteTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
