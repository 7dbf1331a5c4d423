//go:build linux

package image

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// snapSyncTree makes everything written under dir durable. One syncfs flushes the whole
// filesystem, which costs far less than an fsync per file for a layer of thousands of small
// files and also covers the directories. It opens dir's parent, which is on the same filesystem
// and stays readable whatever mode the layer gave its own root.
func snapSyncTree(dir string) error {
	dir = filepath.Dir(dir)
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return &os.PathError{Op: "syncfs", Path: dir, Err: err}
	}
	return nil
}
