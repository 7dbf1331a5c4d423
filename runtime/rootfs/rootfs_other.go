//go:build !linux

package rootfs

import (
	"errors"
	"fmt"
	goruntime "runtime"
)

// Prepare needs Linux mount namespaces; elsewhere it always fails.
func Prepare(s Spec) error {
	return fmt.Errorf("rootfs: preparing a container rootfs is not supported on %s: %w", goruntime.GOOS, errors.ErrUnsupported)
}

// HostDevices needs Linux device nodes; elsewhere it always fails.
func HostDevices() ([]Device, error) {
	return nil, fmt.Errorf("rootfs: host devices are not supported on %s: %w", goruntime.GOOS, errors.ErrUnsupported)
}

func flagString(f uintptr) string { return fmt.Sprintf("%#x", f) }

// InRoot is not supported off Linux.
func InRoot(root, p string) (string, bool, error) {
	return "", false, fmt.Errorf("rootfs: resolving %s needs Linux", p)
}
