//go:build !linux

package cgroup

import (
	"context"
	"os"
	goruntime "runtime"
)

// errOS is what every call returns: cgroups are a Linux kernel feature.
func errOS(name string) error {
	return &osError{name: name}
}

type osError struct{ name string }

func (e *osError) Error() string {
	return "cgroup " + e.name + ": cgroups need Linux, this is " + goruntime.GOOS + ": " + ErrNotSupported.Error()
}
func (e *osError) Unwrap() error { return ErrNotSupported }

// Detect reports Unavailable: there are no cgroups outside Linux.
func Detect() Mode { return Unavailable }

// Cgroup is a container's cgroup; outside Linux none can exist.
type Cgroup struct{ name string }

// Create returns ErrNotSupported outside Linux.
func Create(ctx context.Context, name string, r Resources) (*Cgroup, error) {
	return nil, errOS(name)
}

// Load returns ErrNotSupported outside Linux.
func Load(name string) (*Cgroup, error) { return nil, errOS(name) }

func (c *Cgroup) Name() string                      { return c.name }
func (c *Cgroup) Mode() Mode                        { return Unavailable }
func (c *Cgroup) AddProc(pid int) error             { return errOS(c.name) }
func (c *Cgroup) FD() (int, func(), error)          { return -1, nil, errOS(c.name) }
func (c *Cgroup) Update(r Resources) error          { return errOS(c.name) }
func (c *Cgroup) Procs() ([]int, error)             { return nil, errOS(c.name) }
func (c *Cgroup) KillAll(ctx context.Context) error { return errOS(c.name) }
func (c *Cgroup) Freeze() error                     { return errOS(c.name) }
func (c *Cgroup) Thaw() error                       { return errOS(c.name) }
func (c *Cgroup) Frozen() (bool, error)             { return false, errOS(c.name) }
func (c *Cgroup) Stats() (Stats, error)             { return Stats{}, errOS(c.name) }
func (c *Cgroup) OOMKilled() (bool, error)          { return false, errOS(c.name) }
func (c *Cgroup) Delete() error                     { return errOS(c.name) }
func (c *Cgroup) PidsMaxFile() (*os.File, error)    { return nil, errOS(c.name) }
