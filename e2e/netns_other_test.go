//go:build !linux

package e2e

import "testing"

// inOwnNetNS needs Linux's network namespaces.
func inOwnNetNS(t testing.TB) { t.Skip("network namespaces need Linux") }

// checkNoLeaks needs Linux.
func checkNoLeaks(t *testing.T, root, runRoot string) {}

func netNSInode(t testing.TB) uint64                       { return 0 }
func checkNetNS(t testing.TB, want uint64)                 {}
func step(t *testing.T, name string, f func(t *testing.T)) { f(t) }

func hostBerthLinks() []string { return nil }
