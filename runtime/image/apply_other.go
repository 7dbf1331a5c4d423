//go:build !linux

package image

import (
	"context"
	"fmt"
	"io"
	goruntime "runtime"
)

// Apply extracts layers for overlayfs, which only Linux has.
func Apply(ctx context.Context, root string, r io.Reader, opts ApplyOptions) (int64, error) {
	return 0, fmt.Errorf("unpacking image layers is not supported on %s", goruntime.GOOS)
}
