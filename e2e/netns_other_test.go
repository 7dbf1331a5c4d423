//go:build !linux

package e2e

import "testing"

// inOwnNetNS needs Linux's network namespaces.
func inOwnNetNS(t testing.TB) { t.Skip("network namespaces need Linux") }

// checkNoLeaks needs Linux.
func checkNoLeaks(t *testing.T, root, runRoot string) {}
