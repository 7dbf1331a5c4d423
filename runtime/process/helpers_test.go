package process

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// newRootfs makes an empty container rootfs, skipping the test where berth
// cannot look inside one (no openat2: not Linux, or a kernel before 5.6).
func newRootfs(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if _, err := statInRoot(root, "/"); err != nil {
		if errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.ENOSYS) {
			t.Skipf("needs openat2(RESOLVE_IN_ROOT) (Linux 5.6+): %v", err)
		}
		t.Fatalf("stat rootfs: %v", err)
	}
	return root
}

func writeFile(t *testing.T, root, name, content string) string {
	t.Helper()
	return writeFileMode(t, root, name, content, 0o644)
}

func writeFileMode(t *testing.T, root, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func symlink(t *testing.T, target, root, name string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}
