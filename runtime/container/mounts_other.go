//go:build !linux

package container

import (
	"fmt"
	goruntime "runtime"

	"github.com/berth-sh/berth/runtime/monitor"
	"github.com/berth-sh/berth/runtime/rootfs"
)

// volumeMounts is not supported: containers exist only on Linux.
func (c *Container) volumeMounts() ([]rootfs.Mount, error) {
	if len(c.Options.Mounts) == 0 {
		return nil, nil
	}
	return nil, fmt.Errorf("volumes: containers need Linux, this is %s: %w", goruntime.GOOS, monitor.ErrNotSupported)
}

// fileMounts is not supported: containers exist only on Linux.
func (c *Container) fileMounts() ([]rootfs.Mount, error) {
	if len(c.Options.Secrets)+len(c.Options.Configs) == 0 {
		return nil, nil
	}
	return nil, fmt.Errorf("secrets and configs: containers need Linux, this is %s: %w", goruntime.GOOS, monitor.ErrNotSupported)
}
