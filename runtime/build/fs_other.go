//go:build !linux

package build

import (
	"context"
	"errors"
	"io"
	"io/fs"
)

var errNotLinux = errors.New("building images needs Linux (overlayfs and containers)")

func (b *builder) mutate(context.Context, *imageState, func(string) error) (*layerRef, error) {
	return nil, errNotLinux
}

func (b *builder) view(context.Context, *imageState, func(string) error) error { return errNotLinux }

func (b *builder) mkdirLayer(context.Context, *imageState, string) (*layerRef, error) {
	return nil, errNotLinux
}

func (b *builder) copyLayer(context.Context, *imageState, copyPlan) (*layerRef, error) {
	return nil, errNotLinux
}

func (b *builder) runStep(context.Context, *imageState, runSpec, io.Writer) (*layerRef, error) {
	return nil, errNotLinux
}

func fileOwner(fs.FileInfo) (int, int) { return 0, 0 }
