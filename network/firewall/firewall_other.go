//go:build !linux

package firewall

import goruntime "runtime"

// errOS is what every call returns: nftables is a Linux kernel feature.
func errOS(what string) error { return &osError{what: what} }

type osError struct{ what string }

func (e *osError) Error() string {
	return "firewall: " + e.what + ": needs Linux (nftables), this is " + goruntime.GOOS + ": " + ErrNotSupported.Error()
}
func (e *osError) Unwrap() error { return ErrNotSupported }

// AddNetwork needs Linux.
func AddNetwork(n Network) error { return errOS("network " + n.Name) }

// RemoveNetwork needs Linux.
func RemoveNetwork(name string) error { return errOS("network " + name) }

// AddPorts needs Linux.
func AddPorts(id string, ports []Port) error { return errOS("container " + id) }

// RemovePorts needs Linux.
func RemovePorts(id string) error { return errOS("container " + id) }

// RemoveOwner needs Linux.
func RemoveOwner(owner string) error { return errOS(owner) }

// Owners needs Linux.
func Owners() ([]string, error) { return nil, errOS("owners") }

// Flush needs Linux.
func Flush() error { return errOS("flush") }

// AllowForward needs Linux.
func AllowForward(n Network) error { return errOS("network " + n.Name) }

// DisallowForward needs Linux.
func DisallowForward(name string) error { return errOS("network " + name) }

// Detect needs Linux.
func Detect(n Network) (string, error) { return "", errOS("network " + n.Name) }

// PrepareBridge needs Linux.
func PrepareBridge(bridge string) error { return errOS("bridge " + bridge) }
