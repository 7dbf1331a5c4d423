package firewall

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/testutil"
)

// Timeouts of the probes: a connection that works answers within milliseconds between
// namespaces, and one that a rule drops is declared dead after blocked.
const (
	works   = 3 * time.Second
	blocked = 400 * time.Millisecond
)

// lab is the topology of reference/network.md §9.1, made fresh for one test in namespaces
// nobody else sees:
//
//	X (LAN host) ext1 192.0.2.2/24 ---- ext0 192.0.2.1/24  H (berth's host)
//	                                    bridges, each with veths to container namespaces
//
// The test goroutine runs in H (berth's functions act on the calling thread's namespace) on a
// thread that is thrown away when the test ends. X's loopback stays down, X routes 127.0.0.0/8
// and 10.77.0.0/16 to H and accepts answers from 127.0.0.1, so X can try what a hostile LAN
// neighbour with root on its own machine would.
type lab struct {
	t    *testing.T
	h, x netns.NsHandle
	hh   *netlink.Handle // in H
	hx   *netlink.Handle // in X
	// dumped is set once the ruleset has been shown for a failed probe.
	dumped bool
}

var (
	hostAddr = netip.MustParsePrefix("192.0.2.1/24")
	lanAddr  = netip.MustParsePrefix("192.0.2.2/24")
)

// newLab builds H and X for t, or skips t naming what is missing. The calling goroutine is
// moved into H for good.
func newLab(t *testing.T) *lab {
	t.Helper()
	testutil.RequireRoot(t)
	l := &lab{t: t, h: newNS(t), x: newNS(t)}
	l.enter(t)
	requireNftables(t)
	l.hh = l.handle(l.h)
	l.hx = l.handle(l.x)

	l.up(l.hh, "lo")
	ext := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ext0"}, PeerName: "ext1", PeerNamespace: netlink.NsFd(int(l.x))}
	l.must(l.hh.LinkAdd(ext))
	l.addr(l.hh, "ext0", hostAddr)
	l.up(l.hh, "ext0")
	l.addr(l.hx, "ext1", lanAddr)
	l.up(l.hx, "ext1")
	ext1 := l.link(l.hx, "ext1")
	for _, dst := range []string{"127.0.0.0/8", "10.77.0.0/16"} {
		l.must(l.hx.RouteAdd(&netlink.Route{
			LinkIndex: ext1.Attrs().Index, Dst: ipNet(netip.MustParsePrefix(dst)), Gw: hostAddr.Addr().AsSlice(),
		}))
	}
	// X also takes answers from 127.0.0.1, so a DNAT of its 127.0.0.1 packets would show.
	l.must(testutil.InNetNS(l.x, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/conf/ext1/route_localnet", []byte("1"), 0o644)
	}))
	l.sysctl("/proc/sys/net/ipv4/ip_forward", "1")
	return l
}

// enter moves the calling goroutine into H for the rest of its life: a subtest's goroutine
// calls it before it calls berth's functions.
func (l *lab) enter(t *testing.T) {
	t.Helper()
	goruntime.LockOSThread() // never unlocked: the thread leaves with the goroutine
	if err := netns.Set(l.h); err != nil {
		t.Fatalf("entering H: %v", err)
	}
}

// newNS makes a network namespace without moving the caller into it, and closes its handle when
// t ends; the caller must not close it (a second close could hit a reused descriptor).
func newNS(t *testing.T) netns.NsHandle {
	t.Helper()
	var ns netns.NsHandle
	err := testutil.InThread(func() error {
		var err error
		ns, err = netns.New()
		return err
	})
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	return ns
}

func requireNftables(t *testing.T) {
	t.Helper()
	c, err := nftables.New()
	if err == nil {
		_, err = c.ListTables()
	}
	if err != nil {
		t.Skipf("needs nf_tables: %v", err)
	}
}

// requireBrNetfilter skips t unless br_netfilter's sysctls exist in H.
func (l *lab) requireBrNetfilter(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
		t.Skipf("needs br_netfilter (bridge-nf-call-iptables): %v", err)
	}
}

func (l *lab) handle(ns netns.NsHandle) *netlink.Handle {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		l.t.Fatalf("netlink handle: %v", err)
	}
	l.t.Cleanup(h.Close)
	return h
}

func (l *lab) must(err error) {
	l.t.Helper()
	if err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) link(h *netlink.Handle, name string) netlink.Link {
	l.t.Helper()
	link, err := h.LinkByName(name)
	if err != nil {
		l.t.Fatalf("link %s: %v", name, err)
	}
	return link
}

func (l *lab) up(h *netlink.Handle, name string) {
	l.t.Helper()
	l.must(h.LinkSetUp(l.link(h, name)))
}

func (l *lab) addr(h *netlink.Handle, name string, p netip.Prefix) {
	l.t.Helper()
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD // usable at once, no duplicate address detection to wait for
	}
	l.must(h.AddrAdd(l.link(h, name), a))
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// sysctl writes a sysctl of H (the test goroutine's namespace).
func (l *lab) sysctl(path, value string) {
	l.t.Helper()
	l.must(os.WriteFile(path, []byte(value), 0o644))
}

// bridge makes a bridge in H with gw as its address, prepared by PrepareBridge.
func (l *lab) bridge(name string, gw netip.Prefix) {
	l.t.Helper()
	l.must(l.hh.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}))
	l.addr(l.hh, name, gw)
	l.up(l.hh, name)
	if gw.Addr().Is4() {
		l.must(PrepareBridge(name))
	}
}

// container makes a container namespace with eth0 at addr on bridge br (host side veth
// "v"+name, in hairpin mode as berth sets it) and a default route through gw.
func (l *lab) container(name, br string, addr netip.Prefix, gw netip.Addr) netns.NsHandle {
	l.t.Helper()
	c := newNS(l.t)
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: "v" + name, MasterIndex: l.link(l.hh, br).Attrs().Index},
		PeerName:  "eth0", PeerNamespace: netlink.NsFd(int(c)),
	}
	l.must(l.hh.LinkAdd(veth))
	l.must(l.hh.LinkSetHairpin(l.link(l.hh, "v"+name), true))
	l.up(l.hh, "v"+name)
	hc := l.handle(c)
	l.up(hc, "lo")
	l.addr(hc, "eth0", addr)
	l.up(hc, "eth0")
	l.must(hc.RouteAdd(&netlink.Route{LinkIndex: l.link(hc, "eth0").Attrs().Index, Gw: gw.AsSlice()}))
	return c
}

// serve runs a TCP and a UDP server on port in ns. Each answers with the address it saw the
// client at: that is what every test checks.
func (l *lab) serve(ns netns.NsHandle, port uint16) {
	l.t.Helper()
	var (
		ln net.Listener
		pc net.PacketConn
	)
	ap := fmt.Sprintf(":%d", port)
	err := testutil.InNetNS(ns, func() error {
		var err error
		if ln, err = net.Listen("tcp", ap); err != nil {
			return err
		}
		pc, err = net.ListenPacket("udp", ap)
		return err
	})
	l.must(err)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, c.RemoteAddr().String())
			_ = c.Close()
		}
	})
	wg.Go(func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(from.String()), from)
		}
	})
	l.t.Cleanup(func() {
		_ = ln.Close()
		_ = pc.Close()
		wg.Wait()
	})
}

// dialTCP connects from ns to ap and returns the client address the server saw.
func dialTCP(ns netns.NsHandle, ap string, timeout time.Duration) (netip.Addr, error) {
	var c net.Conn
	err := testutil.InNetNS(ns, func() error {
		var err error
		c, err = (&net.Dialer{Timeout: timeout}).Dial("tcp", ap)
		return err
	})
	if err != nil {
		return netip.Addr{}, err
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(c)
	if err != nil {
		return netip.Addr{}, err
	}
	return seen(b)
}

// dialUDP sends one datagram from local in ns to ap and returns the client address the
// server saw.
func dialUDP(ns netns.NsHandle, local, ap string, timeout time.Duration) (netip.Addr, error) {
	var pc net.PacketConn
	err := testutil.InNetNS(ns, func() error {
		var err error
		pc, err = net.ListenPacket("udp", local)
		return err
	})
	if err != nil {
		return netip.Addr{}, err
	}
	defer func() { _ = pc.Close() }()
	to, err := net.ResolveUDPAddr("udp", ap)
	if err != nil {
		return netip.Addr{}, err
	}
	if _, err := pc.WriteTo([]byte("?"), to); err != nil {
		return netip.Addr{}, err
	}
	_ = pc.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 64)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		return netip.Addr{}, err
	}
	return seen(buf[:n])
}

func seen(b []byte) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(string(b))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("server answered %q: %w", b, err)
	}
	return ap.Addr().Unmap(), nil
}

// probe is one connection attempt a test expects to work or to fail.
type probe struct {
	name string
	from netns.NsHandle
	to   string
	udp  bool
	// want is the client address the server must see; the zero Addr means the connection must
	// fail.
	want netip.Addr
}

func (l *lab) check(t *testing.T, probes ...probe) {
	t.Helper()
	for _, p := range probes {
		timeout := works
		if !p.want.IsValid() {
			timeout = blocked
		}
		var (
			got netip.Addr
			err error
		)
		if p.udp {
			got, err = dialUDP(p.from, ":0", p.to, timeout)
		} else {
			got, err = dialTCP(p.from, p.to, timeout)
		}
		switch {
		case !p.want.IsValid() && err == nil:
			t.Errorf("%s: %s reached the server (as %v), want it blocked", p.name, p.to, got)
		case p.want.IsValid() && err != nil:
			t.Errorf("%s: %s: %v", p.name, p.to, err)
		case p.want.IsValid() && got != p.want:
			t.Errorf("%s: %s: server saw the client as %v, want %v", p.name, p.to, got, p.want)
		default:
			continue
		}
		if !l.dumped {
			l.dumped = true
			l.dumpRuleset(t)
		}
	}
}

// ownerRules counts the rules tagged owner in berth's table and the iptables tables.
func ownerRules(t *testing.T, owner string) int {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := berthRules(c)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := foreignRules(c)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range append(rules, foreign...) {
		if ruleOwner(r) == owner {
			n++
		}
	}
	return n
}

func wantOwners(t *testing.T, want ...string) {
	t.Helper()
	got, err := Owners()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Owners() = %q, want %q", got, want)
	}
}

// dumpRuleset shows H's ruleset when a probe failed, if the nft program happens to be there.
func (l *lab) dumpRuleset(t *testing.T) {
	nft, err := exec.LookPath("nft")
	if err != nil {
		t.Log("no nft program to show the ruleset with")
		return
	}
	var out []byte
	err = testutil.InNetNS(l.h, func() error {
		var err error
		out, err = exec.Command(nft, "list", "ruleset").CombinedOutput()
		return err
	})
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Logf("nft list ruleset: %v", err)
		return
	}
	t.Logf("ruleset of H:\n%s", out)
}
