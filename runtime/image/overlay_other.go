//go:build !linux

package image

import (
	"fmt"
	goruntime "runtime"
)

// MountOverlay needs overlayfs, which only Linux has.
func MountOverlay(lowers []string, upper, work, target string) error {
	return fmt.Errorf("overlay mounts are not supported on %s", goruntime.GOOS)
}

// Unmount has nothing to undo where MountOverlay cannot mount.
func Unmount(target string) error {
	return fmt.Errorf("overlay mounts are not supported on %s", goruntime.GOOS)
}
