//go:build !linux

package volumes

import (
	"errors"
	"fmt"
	goruntime "runtime"
)

// ErrNotSupported is returned off Linux, which has none of the mounts
// volumes are made of.
var ErrNotSupported = errors.New("not supported")

func errOS(op string) error {
	return fmt.Errorf("volumes: %s: volumes need Linux, this is %s: %w", op, goruntime.GOOS, ErrNotSupported)
}

// Create is not supported off Linux.
func (s *Store) Create(name string, o Options) (v *Volume, created bool, err error) {
	return nil, false, errOS("create")
}

// Use is not supported off Linux.
func (s *Store) Use(name, containerID string) error { return errOS("use") }

// Release is not supported off Linux.
func (s *Store) Release(name, containerID string) error { return errOS("release") }

// Mount is not supported off Linux.
func (s *Store) Mount(name, containerID string) (string, error) { return "", errOS("mount") }

// Unmount is not supported off Linux.
func (s *Store) Unmount(name, containerID string) error { return errOS("unmount") }

// Remove is not supported off Linux.
func (s *Store) Remove(name string, force bool) error { return errOS("remove") }

// Prune is not supported off Linux.
func (s *Store) Prune(all bool, labels map[string]string) ([]string, error) {
	return nil, errOS("prune")
}

// CopyUp is not supported off Linux.
func CopyUp(src, dst string) error { return errOS("copy-up") }
