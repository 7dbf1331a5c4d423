package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// hostKernelRelease returns uname's release, the default for Options.KernelVersion.
func hostKernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("seccomp: uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}
