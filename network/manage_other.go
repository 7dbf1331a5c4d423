//go:build !linux

package network

import (
	"errors"
	"fmt"
	goruntime "runtime"
)

// ErrNotSupported is returned off Linux, which has no bridges or network namespaces.
var ErrNotSupported = errors.New("not supported")

func errOS(op string) error {
	return fmt.Errorf("network: %s: networks need Linux, this is %s: %w", op, goruntime.GOOS, ErrNotSupported)
}

// Attachment is one network a container asks to be on.
type Attachment struct {
	Network string
	Aliases []string `json:",omitempty"`
	IPv4    string   `json:",omitempty"`
	IPv6    string   `json:",omitempty"`
	MAC     string   `json:",omitempty"`
	// IfName names the container's interface (compose's interface_name);
	// empty is eth0, eth1, ... in network order.
	IfName string `json:",omitempty"`
}

// Create is not supported off Linux.
func (s *Store) Create(name string, o Options) (*Network, error) { return nil, errOS("create") }

// Remove is not supported off Linux.
func (s *Store) Remove(nameOrID string) error { return errOS("remove") }

// Connect is not supported off Linux.
func (s *Store) Connect(id, name, nsPath string, a Attachment, ifName string, defaultRoute bool, names []string) (*Network, *Endpoint, error) {
	return nil, nil, errOS("connect")
}

// Disconnect is not supported off Linux.
func (s *Store) Disconnect(id, network string) error { return errOS("disconnect") }

// Unplug is not supported off Linux.
func (s *Store) Unplug(id, nsPath string) error { return errOS("disconnect") }

// Containers lists the ids of the containers on n.
func (n *Network) Containers() []string { return nil }

// CreateNetNS is not supported off Linux.
func CreateNetNS(path string) error { return errOS("create a network namespace") }

// IsNetNS is false off Linux.
func IsNetNS(path string) bool { return false }

// DeleteNetNS is not supported off Linux.
func DeleteNetNS(path string) error { return errOS("delete a network namespace") }

// DefaultNetwork is the network a container publishing ports without --network joins.
const DefaultNetwork = "bridge"

// EnsureDefault is not supported off Linux.
func (s *Store) EnsureDefault() (*Network, error) { return nil, errOS("create the default network") }

// GCReport counts what GC removed.
type GCReport struct {
	Endpoints, Links, NetNS, Rules int
}

// GC is not supported off Linux.
func (s *Store) GC(runRoot string, container func(id string) (exists, running bool)) (GCReport, error) {
	return GCReport{}, errOS("gc")
}
