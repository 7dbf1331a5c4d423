package testutil

import (
	"os"
	"strings"
	"testing"
)

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// RequireOverlay skips the test unless the kernel lists overlayfs in /proc/filesystems. A
// kernel with overlay as an unloaded module would load it on the first mount, but a test cannot
// count on modprobe working, so it skips then too.
func RequireOverlay(t testing.TB) {
	t.Helper()
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		t.Skipf("needs overlayfs: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[len(f)-1] == "overlay" {
			return
		}
	}
	t.Skip("needs overlayfs: not in /proc/filesystems")
}
