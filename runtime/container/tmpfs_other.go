//go:build !linux

package container

import (
	"fmt"
	goruntime "runtime"

	"github.com/berth-sh/berth/runtime/monitor"
	"github.com/berth-sh/berth/runtime/rootfs"
)

// tmpfsMount is not supported: containers exist only on Linux.
func tmpfsMount(target, opts string) (rootfs.Mount, error) {
	return rootfs.Mount{}, fmt.Errorf("--tmpfs %s: containers need Linux, this is %s: %w", target, goruntime.GOOS, monitor.ErrNotSupported)
}
