//go:build !linux

package seccomp

import (
	"fmt"
	goruntime "runtime"
)

// hostKernelRelease fails: only a Linux uname says which Linux rules apply.
func hostKernelRelease() (string, error) {
	return "", fmt.Errorf("seccomp: not supported on %s: set Options.KernelVersion", goruntime.GOOS)
}
