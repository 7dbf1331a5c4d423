package image

import (
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Local is berth's image store on this machine: the content store of blobs and references under
// $ROOT/images, and the unpacked layers under $ROOT/snapshots that container root filesystems are
// stacked from.
type Local struct {
	Store     *Store
	Snapshots *Snapshots
	// ContainersUsing, when set, lists the containers whose rootfs is image id's: Remove and
	// Prune keep such an image (its layers are the containers' lower layers), as Docker does.
	ContainersUsing func(id v1.Hash) ([]ImageUser, error)
	root            string
}

// ImageUser is a container that uses an image.
type ImageUser struct {
	ID      string
	Running bool
}

// OpenLocal opens (creating when missing) the image store under the state root.
func OpenLocal(root string) (*Local, error) {
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("state root: %w", err)
	}
	st, err := OpenStore(filepath.Join(root, "images"))
	if err != nil {
		return nil, err
	}
	snaps, err := OpenSnapshots(filepath.Join(root, "snapshots"))
	if err != nil {
		return nil, err
	}
	return &Local{Store: st, Snapshots: snaps, root: root}, nil
}
