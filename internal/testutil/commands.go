package testutil

import (
	"debug/elf"
	"os/exec"
	"testing"
)

// RequireCommand returns the path of the program name, or skips the test naming the Debian
// package that provides it (.ci/run installs them all).
func RequireCommand(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("needs %s (Debian package %s)", name, debianPackage)
	}
	return p
}

// RequireBusybox returns the path of a statically linked busybox, the userland of the test images,
// or skips the test naming Debian's busybox-static.
func RequireBusybox(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if isStatic(p) {
			return p
		}
	}
	t.Skip("needs a static busybox (Debian package busybox-static)")
	return ""
}

// isStatic reports whether path is an ELF executable with no program interpreter.
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
