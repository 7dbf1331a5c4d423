package seccomp

import (
	"fmt"

	mobyseccomp "github.com/moby/profiles/seccomp"
)

// kernelVersion is the "kernel.major" pair moby's minKernel compares against.
type kernelVersion struct{ kernel, major uint64 }

// parseKernelVersion reads a uname release such as "6.18.44", "3.12-1-amd64" or "4.8";
// minor revisions and suffixes are ignored, as in moby.
func parseKernelVersion(release string) (kernelVersion, error) {
	var v kernelVersion
	if _, err := fmt.Sscanf(release, "%d.%d", &v.kernel, &v.major); err != nil {
		return v, fmt.Errorf("seccomp: kernel version %q: want <kernel>.<major>: %w", release, err)
	}
	return v, nil
}

func (v kernelVersion) atLeast(m mobyseccomp.KernelVersion) bool {
	return v.kernel > m.Kernel || v.kernel == m.Kernel && v.major >= m.Major
}
