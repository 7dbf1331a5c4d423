//go:build linux

package e2e

import (
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/testutil"
)

// inOwnNetNS moves the test, and every berth it starts, into a network namespace of its own that
// acts as the host: bridges, veths, sysctls and nftables rules stay in it and go with it; the
// machine's own interfaces, routes and firewall are never touched.
func inOwnNetNS(t testing.TB) {
	t.Helper()
	testutil.RequireRoot(t)
	goruntime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		goruntime.UnlockOSThread()
		t.Fatal(err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		orig.Close()
		goruntime.UnlockOSThread()
		t.Skipf("cannot make a network namespace: %v", err)
	}
	t.Cleanup(func() {
		// Back to where the test started; if that fails the thread stays locked and dies with
		// the test's goroutine.
		if netns.Set(orig) == nil {
			goruntime.UnlockOSThread()
		}
		orig.Close()
	})
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// berthLinks lists the links of the test's namespace that berth made, once there are want of
// them or 5 s have passed: the veths of a removed container go with its network namespace, which
// the kernel tears down in its own time.
func berthLinks(t *testing.T, want int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		links, err := netlink.LinkList()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range links {
			if n := l.Attrs().Name; strings.HasPrefix(n, "berth") || strings.HasPrefix(n, "vb") {
				out = append(out, n)
			}
		}
		if len(out) == want || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}
