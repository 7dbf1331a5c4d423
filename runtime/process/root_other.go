//go:build !linux

package process

import (
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// Reading inside a rootfs without escaping it needs openat2(RESOLVE_IN_ROOT),
// which only Linux has; a best-effort fallback would be a security bug.

func statInRoot(rootfs, name string) (fs.FileMode, error) {
	return 0, fmt.Errorf("stat %s in %s: %w", name, rootfs, errors.ErrUnsupported)
}

func readFileInRoot(rootfs, name string, _ int64) ([]byte, error) {
	return nil, fmt.Errorf("read %s in %s: %w", name, rootfs, errors.ErrUnsupported)
}

// HostRlimit is Linux-only: the resource numbers are Linux's.
func HostRlimit(resource int) (unix.Rlimit, error) {
	return unix.Rlimit{}, fmt.Errorf("getrlimit %d: %w", resource, errors.ErrUnsupported)
}

// inBoundingSet is true off Linux, which has no capabilities.
func inBoundingSet(int) bool { return true }
