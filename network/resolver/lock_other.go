//go:build !unix

package resolver

import (
	"errors"
	"os"
)

func lockFile(path string) (unlock func(), err error) {
	return nil, &os.PathError{Op: "flock", Path: path, Err: errors.ErrUnsupported}
}
