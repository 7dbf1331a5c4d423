//go:build !linux

package image

import (
	"io/fs"
	"os"
	"path/filepath"
)

// snapSyncTree fsyncs every regular file and directory under dir; without syncfs there is no
// cheaper way to make the tree durable.
func snapSyncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() && !d.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}
