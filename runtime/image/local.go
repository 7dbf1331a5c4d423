package image

import (
	"fmt"
	"os"
	"path/filepath"
)

// Local is berth's image store on this machine: the content store of blobs and references under
// $ROOT/images, and the unpacked layers under $ROOT/snapshots that container root filesystems are
// stacked from.
type Local struct {
	Store     *Store
	Snapshots *Snapshots
	root      string
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
