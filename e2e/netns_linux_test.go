//go:build linux

package e2e

import (
	"errors"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/testutil"
	"github.com/berth-sh/berth/network"
	"github.com/berth-sh/berth/network/firewall"
	"github.com/berth-sh/berth/network/ipam"
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
		if errors.Is(err, netlink.ErrDumpInterrupted) {
			continue // links came or went during the dump: read again
		}
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

// checkNoLeaks is run after each test's containers are removed: whatever the test did, nothing
// of its containers may be left in the test's network namespace or state root: no veth (only
// bridges of networks that still exist), no network namespace mount, no rule of a container,
// no endpoint or address lease in a network's record.
func checkNoLeaks(t *testing.T, root, runRoot string) {
	t.Helper()
	store, err := network.OpenStore(root)
	if err != nil {
		t.Fatal(err)
	}
	nets, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	bridges := 0
	for _, n := range nets {
		bridges++
		if len(n.Endpoints) > 0 {
			t.Errorf("leak: network %s still has endpoints %v", n.Name, n.Containers())
		}
		for _, sub := range []*ipam.Subnet{n.IPv4, n.IPv6} {
			if sub != nil && len(sub.Leases) > 0 {
				t.Errorf("leak: network %s still leases %v", n.Name, sub.Leases)
			}
		}
	}
	if links := berthLinks(t, bridges); len(links) != bridges {
		t.Errorf("leak: berth links %v, want only the bridges of %d networks", links, bridges)
	}
	if ns, _ := os.ReadDir(filepath.Join(runRoot, "netns")); len(ns) > 0 {
		t.Errorf("leak: network namespaces left in %s: %v", runRoot, ns)
	}
	owners, err := firewall.Owners()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range owners {
		if !strings.HasPrefix(o, firewall.NetworkOwner("")) {
			t.Errorf("leak: firewall rules of %s", o)
		}
	}
}

// netNSInode is the network namespace of the calling thread.
func netNSInode(t testing.TB) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// checkNetNS fails the test when berth is about to run outside the test's own network
// namespace: from a subtest's goroutine, say, which starts in the host's.
func checkNetNS(t testing.TB, want uint64) {
	t.Helper()
	if want != 0 && netNSInode(t) != want {
		t.Fatalf("berth would run outside the test's network namespace (a subtest or another goroutine?): use step, not t.Run")
	}
}

// step runs one part of a test on the test's own goroutine, so that what it runs stays in the
// test's network namespace (a subtest's goroutine would start in the host's).
func step(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	t.Logf("step: %s", name)
	f(t)
}

// hostBerthLinks lists the berth links of the namespace the test binary started in (the host's).
func hostBerthLinks() []string {
	links, err := netlink.LinkList()
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range links {
		if n := l.Attrs().Name; strings.HasPrefix(n, "berth") || strings.HasPrefix(n, "vb") {
			out = append(out, n)
		}
	}
	return out
}
