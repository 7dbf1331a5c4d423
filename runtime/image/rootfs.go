package image

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Lowers lists the snapshot directories of an image, top layer first (overlayfs's lowerdir
// order), unpacking any layer that has no snapshot yet.
func (l *Local) Lowers(ctx context.Context, manifest v1.Hash) ([]string, error) {
	img, err := l.Store.Image(manifest)
	if err != nil {
		return nil, err
	}
	txn, err := l.Store.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer txn.Close()
	if err := l.Unpack(ctx, img, nil); err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	chain := ChainIDs(cfg.RootFS.DiffIDs)
	lowers := make([]string, 0, len(chain))
	for i := len(chain) - 1; i >= 0; i-- {
		lowers = append(lowers, l.Snapshots.Path(chain[i].String()))
	}
	if len(lowers) == 0 {
		return nil, fmt.Errorf("image %s has no layers", manifest)
	}
	return lowers, nil
}

// MountRootfs mounts a container's root filesystem at target: the image's layers read-only,
// with the container's own upper and work directories on top (upper "" mounts it read-only).
func (l *Local) MountRootfs(ctx context.Context, manifest v1.Hash, upper, work, target string) error {
	lowers, err := l.Lowers(ctx, manifest)
	if err != nil {
		return err
	}
	return MountOverlay(lowers, upper, work, target)
}
