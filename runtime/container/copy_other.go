//go:build !linux

package container

import (
	"context"
	"fmt"
	"io"
	goruntime "runtime"

	"github.com/berth-sh/berth/runtime/image"
	"github.com/berth-sh/berth/runtime/monitor"
)

// CopyFrom is not supported: containers exist only on Linux.
func (c *Container) CopyFrom(ctx context.Context, l *image.Local, src, dst string, o CopyOptions, stdout io.Writer) (CopyResult, error) {
	return CopyResult{}, fmt.Errorf("cp: containers need Linux, this is %s: %w", goruntime.GOOS, monitor.ErrNotSupported)
}

// CopyTo is not supported: containers exist only on Linux.
func (c *Container) CopyTo(ctx context.Context, l *image.Local, src, dst string, o CopyOptions, stdin io.Reader) (CopyResult, error) {
	return CopyResult{}, fmt.Errorf("cp: containers need Linux, this is %s: %w", goruntime.GOOS, monitor.ErrNotSupported)
}
