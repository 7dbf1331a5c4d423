package testutil

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// AddLibrariesOf copies the dynamic loader and libraries of the program at path into root, at
// their host paths. Runtime tests re-execute the test binary as a container's init after
// pivot_root; a dynamically linked test binary (a -race build) then looks for its loader inside
// the container. berth itself is built static (CGO_ENABLED=0), which is what this stands in for.
func AddLibrariesOf(t testing.TB, path, root string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	dynamic := false
	for _, p := range f.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	f.Close()
	if !dynamic {
		return
	}
	out, err := exec.Command("ldd", path).Output()
	if err != nil {
		t.Skipf("dynamically linked test binary and no ldd (Debian package libc-bin): %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, field := range strings.Fields(line) {
			if !filepath.IsAbs(field) {
				continue
			}
			b, err := os.ReadFile(field)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(root, field)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// AssertNoMountsUnder fails the test if any mount of this (the host's) mount namespace lies
// under dir: tests that mount must leave nothing behind.
func AssertNoMountsUnder(t testing.TB, dir string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, dir) {
			t.Errorf("mount left on the host: %s", line)
		}
	}
}
