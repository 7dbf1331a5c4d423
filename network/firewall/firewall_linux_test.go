package firewall

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	mdnetlink "github.com/mdlayher/netlink"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/testutil"
)

var (
	netA = Network{Name: "a", Bridge: "berth-a", Subnet: netip.MustParsePrefix("10.77.0.0/24")}
	netB = Network{Name: "b", Bridge: "berth-b", Subnet: netip.MustParsePrefix("10.77.1.0/24")}
	netI = Network{Name: "i", Bridge: "berth-i", Subnet: netip.MustParsePrefix("10.77.2.0/24"), Internal: true}

	gwA = netip.MustParsePrefix("10.77.0.1/24")
	gwB = netip.MustParsePrefix("10.77.1.1/24")
	gwI = netip.MustParsePrefix("10.77.2.1/24")
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestPublishedPorts(t *testing.T) {
	t.Parallel()
	for _, brnf := range []string{"0", "1"} {
		t.Run("bridge-nf-call-iptables="+brnf, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err == nil {
				l.sysctl("/proc/sys/net/bridge/bridge-nf-call-iptables", brnf)
			} else if brnf == "1" {
				t.Skipf("needs br_netfilter (bridge-nf-call-iptables): %v", err)
			}
			testPublishedPorts(t, l)
		})
	}
}

func testPublishedPorts(t *testing.T, l *lab) {
	l.bridge(netA.Bridge, gwA)
	c1 := l.container("c1", netA.Bridge, netip.MustParsePrefix("10.77.0.2/24"), gwA.Addr())
	c2 := l.container("c2", netA.Bridge, netip.MustParsePrefix("10.77.0.3/24"), gwA.Addr())
	l.serve(c1, 80)
	l.must(AddNetwork(netA))

	ctr := ip("10.77.0.2")
	ports := []Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: ctr, ContainerPort: 80, Bridge: netA.Bridge},
		{Proto: "udp", HostPort: 8080, ContainerIP: ctr, ContainerPort: 80, Bridge: netA.Bridge},
		{Proto: "tcp", HostIP: ip("127.0.0.1"), HostPort: 8081, ContainerIP: ctr, ContainerPort: 80, Bridge: netA.Bridge},
		{Proto: "tcp", HostIP: ip("192.0.2.1"), HostPort: 8082, ContainerIP: ctr, ContainerPort: 80, Bridge: netA.Bridge},
	}
	l.must(AddPorts("c1", ports))

	arrivals := l.countArrivals(ip("127.0.0.1"), 8081)
	l.check(t,
		probe{name: "LAN client keeps its address", from: l.x, to: "192.0.2.1:8080", want: ip("192.0.2.2")},
		probe{name: "LAN client over UDP", from: l.x, to: "192.0.2.1:8080", udp: true, want: ip("192.0.2.2")},
		probe{name: "host on 127.0.0.1", from: l.h, to: "127.0.0.1:8080", want: gwA.Addr()},
		probe{name: "host on its LAN address", from: l.h, to: "192.0.2.1:8080", want: ip("192.0.2.1")},
		probe{name: "host on the bridge address", from: l.h, to: "10.77.0.1:8080", want: gwA.Addr()},
		probe{name: "hairpin to its own port", from: c1, to: "192.0.2.1:8080", want: gwA.Addr()},
		probe{name: "hairpin over UDP", from: c1, to: "192.0.2.1:8080", udp: true, want: gwA.Addr()},
		probe{name: "hairpin through the gateway", from: c1, to: "10.77.0.1:8080", want: gwA.Addr()},
		probe{name: "sibling to the published port", from: c2, to: "192.0.2.1:8080", want: gwA.Addr()},
		probe{name: "127.0.0.1 port from the host", from: l.h, to: "127.0.0.1:8081", want: gwA.Addr()},
		probe{name: "127.0.0.1 port from the LAN", from: l.x, to: "127.0.0.1:8081"},
		probe{name: "127.0.0.1 port on another address", from: l.x, to: "192.0.2.1:8081"},
		probe{name: "all-addresses port via 127.0.0.1 from the LAN", from: l.x, to: "127.0.0.1:8080"},
		probe{name: "port on one address", from: l.x, to: "192.0.2.1:8082", want: ip("192.0.2.2")},
		probe{name: "port on one address, another address", from: l.h, to: "10.77.0.1:8082"},
	)
	// The LAN probe to 127.0.0.1:8081 failed above; this shows it was not lost on the way.
	if n := arrivals(); n == 0 {
		t.Errorf("the LAN client's packets to 127.0.0.1:8081 never reached H: the probe proved nothing")
	}

	// A UDP client that sent before the port was published has a conntrack entry without
	// DNAT; AddPorts must flush it, or the client never reaches the container.
	const client = "192.0.2.2:40000"
	if _, err := dialUDP(l.x, client, "192.0.2.1:8090", blocked); err == nil {
		t.Fatal("UDP 8090 answered before it was published")
	}
	if n := l.conntrack(unix.IPPROTO_UDP, 8090); n == 0 {
		t.Fatal("no conntrack entry for the unpublished UDP port: the flush below proves nothing")
	}
	ports = append(ports, Port{Proto: "udp", HostPort: 8090, ContainerIP: ctr, ContainerPort: 80, Bridge: netA.Bridge})
	l.must(AddPorts("c1", ports))
	if got, err := dialUDP(l.x, client, "192.0.2.1:8090", works); err != nil || got != ip("192.0.2.2") {
		t.Errorf("UDP from the same client after AddPorts: saw %v, %v; want 192.0.2.2", got, err)
	}

	// RemovePorts leaves no rule of the container and no conntrack entry of its UDP ports.
	l.must(RemovePorts("c1"))
	if n := ownerRules(t, ContainerOwner("c1")); n != 0 {
		t.Errorf("%d rules of the container left after RemovePorts", n)
	}
	for _, port := range []uint16{8080, 8090} {
		if n := l.conntrack(unix.IPPROTO_UDP, port); n != 0 {
			t.Errorf("%d conntrack entries of UDP %d left after RemovePorts", n, port)
		}
	}
	l.check(t,
		probe{name: "LAN client after RemovePorts", from: l.x, to: "192.0.2.1:8080"},
		probe{name: "host after RemovePorts", from: l.h, to: "127.0.0.1:8080"},
	)
	l.must(RemoveNetwork(netA.Name))
	wantOwners(t)
}

func TestIsolationAndEgress(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.bridge(netA.Bridge, gwA)
	l.bridge(netB.Bridge, gwB)
	l.bridge(netI.Bridge, gwI)
	c1 := l.container("c1", netA.Bridge, netip.MustParsePrefix("10.77.0.2/24"), gwA.Addr())
	c3 := l.container("c3", netB.Bridge, netip.MustParsePrefix("10.77.1.2/24"), gwB.Addr())
	c4 := l.container("c4", netI.Bridge, netip.MustParsePrefix("10.77.2.2/24"), gwI.Addr())
	// c5 has no loopback of its own, routes 127.0.0.0/8 to the host and accepts answers from
	// 127.0.0.1, as a hostile neighbour with root on its own kernel would: route_localnet on
	// the bridge lets that through unless berth stops it (CVE-2020-8558).
	c5 := l.container("c5", netA.Bridge, netip.MustParsePrefix("10.77.0.5/24"), gwA.Addr())
	l.noLoopback(c5, gwA.Addr())
	for _, ns := range []netns.NsHandle{c1, c3, c4, l.x} {
		l.serve(ns, 80)
	}
	l.serve(l.h, 9999)

	// Without berth's rules everything is routed: the probes below fail because of the rules.
	l.check(t,
		probe{name: "before: net a to net b", from: c1, to: "10.77.1.2:80", want: ip("10.77.0.2")},
		probe{name: "before: LAN to a container directly", from: l.x, to: "10.77.0.2:80", want: ip("192.0.2.2")},
		probe{name: "before: internal to the LAN", from: c4, to: "192.0.2.2:80", want: ip("10.77.2.2")},
		probe{name: "before: internal to net a", from: c4, to: "10.77.0.2:80", want: ip("10.77.2.2")},
		probe{name: "before: container to the host's 127.0.0.1", from: c5, to: "127.0.0.1:9999", want: ip("10.77.0.5")},
	)

	// One-way traffic out of the internal network: nothing must even leave.
	sink := l.udpSink(l.x, 7000)
	l.must(sendUDP(c4, "192.0.2.2:7000"))
	if got, ok := sink(works); !ok || got != ip("10.77.2.2") {
		t.Errorf("before: a datagram from the internal network reached the LAN from %v (%v), want from 10.77.2.2", got, ok)
	}

	for _, n := range []Network{netA, netB, netI} {
		l.must(AddNetwork(n))
	}
	l.must(sendUDP(c4, "192.0.2.2:7000"))
	if got, ok := sink(blocked); ok {
		t.Errorf("a datagram from the internal network reached the LAN from %v", got)
	}
	l.must(AddPorts("c1", []Port{{Proto: "tcp", HostPort: 8080, ContainerIP: ip("10.77.0.2"), ContainerPort: 80, Bridge: netA.Bridge}}))
	l.check(t,
		probe{name: "egress is masqueraded", from: c1, to: "192.0.2.2:80", want: hostAddr.Addr()},
		probe{name: "egress from net b", from: c3, to: "192.0.2.2:80", want: hostAddr.Addr()},
		probe{name: "net a to net b", from: c1, to: "10.77.1.2:80"},
		probe{name: "net b to net a", from: c3, to: "10.77.0.2:80"},
		probe{name: "LAN to a container directly", from: l.x, to: "10.77.0.2:80"},
		// Leaving net b through another interface, so masqueraded, as Docker does.
		probe{name: "net b to net a's published port", from: c3, to: "192.0.2.1:8080", want: gwA.Addr()},
		probe{name: "net b to the published port via its gateway", from: c3, to: "10.77.1.1:8080", want: gwA.Addr()},
		probe{name: "LAN to the published port", from: l.x, to: "192.0.2.1:8080", want: ip("192.0.2.2")},
		probe{name: "internal to the LAN", from: c4, to: "192.0.2.2:80"},
		probe{name: "internal to net a", from: c4, to: "10.77.0.2:80"},
		probe{name: "internal to a published port", from: c4, to: "192.0.2.1:8080"},
		probe{name: "net a to internal", from: c1, to: "10.77.2.2:80"},
		probe{name: "container to the host's 127.0.0.1", from: c5, to: "127.0.0.1:9999"},
		probe{name: "container to its gateway", from: c5, to: "10.77.0.1:9999", want: ip("10.77.0.5")},
	)

	l.must(RemovePorts("c1"))
	for _, n := range []Network{netA, netB, netI} {
		l.must(RemoveNetwork(n.Name))
		if c := ownerRules(t, NetworkOwner(n.Name)); c != 0 {
			t.Errorf("network %s: %d rules left after RemoveNetwork", n.Name, c)
		}
	}
	wantOwners(t)
	l.check(t,
		probe{name: "after: net a to net b", from: c1, to: "10.77.1.2:80", want: ip("10.77.0.2")},
		probe{name: "after: internal to the LAN", from: c4, to: "192.0.2.2:80", want: ip("10.77.2.2")},
	)
}

func TestIPv6(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")
	l.addr(l.hh, "ext0", netip.MustParsePrefix("2001:db8:2::1/64"))
	l.addr(l.hx, "ext1", netip.MustParsePrefix("2001:db8:2::2/64"))
	n := Network{Name: "six", Bridge: "berth-6", Subnet: netip.MustParsePrefix("fd77::/64")}
	l.bridge(n.Bridge, netip.MustParsePrefix("fd77::1/64"))
	c1 := l.container("c1", n.Bridge, netip.MustParsePrefix("fd77::2/64"), ip("fd77::1"))
	l.serve(c1, 80)
	l.serve(l.x, 80)
	l.must(AddNetwork(n))
	l.must(AddPorts("c1", []Port{{Proto: "tcp", HostPort: 8080, ContainerIP: ip("fd77::2"), ContainerPort: 80, Bridge: n.Bridge}}))
	l.check(t,
		probe{name: "LAN client keeps its address", from: l.x, to: "[2001:db8:2::1]:8080", want: ip("2001:db8:2::2")},
		probe{name: "egress is masqueraded", from: c1, to: "[2001:db8:2::2]:80", want: ip("2001:db8:2::1")},
		probe{name: "hairpin", from: c1, to: "[2001:db8:2::1]:8080", want: ip("fd77::1")},
	)
	l.must(RemovePorts("c1"))
	l.must(RemoveNetwork(n.Name))
	wantOwners(t)
}

// TestDualStackAndNoMasquerade: one network with an IPv4 and an IPv6 subnet gets the rules of
// both families from one owner; a network with masquerading off sends its containers' own
// addresses out, and still hairpins.
func TestDualStackAndNoMasquerade(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")
	l.addr(l.hh, "ext0", netip.MustParsePrefix("2001:db8:2::1/64"))
	l.addr(l.hx, "ext1", netip.MustParsePrefix("2001:db8:2::2/64"))
	// X routes the containers' IPv6 subnet to H, so only berth's rules can stop it getting there.
	l.must(l.hx.RouteAdd(&netlink.Route{LinkIndex: l.link(l.hx, "ext1").Attrs().Index,
		Dst: ipNet(netip.MustParsePrefix("fd78::/64")), Gw: ip("2001:db8:2::1").AsSlice()}))
	ds := Network{Name: "ds", Bridge: "berth-ds", Subnet: netip.MustParsePrefix("10.77.3.0/24"), Subnet6: netip.MustParsePrefix("fd78::/64")}
	l.bridge(ds.Bridge, netip.MustParsePrefix("10.77.3.1/24"))
	l.addr(l.hh, ds.Bridge, netip.MustParsePrefix("fd78::1/64"))
	c1 := l.container("c1", ds.Bridge, netip.MustParsePrefix("10.77.3.2/24"), ip("10.77.3.1"))
	hc := l.handle(c1)
	l.addr(hc, "eth0", netip.MustParsePrefix("fd78::2/64"))
	l.must(hc.RouteAdd(&netlink.Route{LinkIndex: l.link(hc, "eth0").Attrs().Index, Gw: ip("fd78::1").AsSlice()}))
	nm := Network{Name: "nm", Bridge: "berth-nm", Subnet: netip.MustParsePrefix("10.77.4.0/24"), NoMasquerade: true}
	l.bridge(nm.Bridge, netip.MustParsePrefix("10.77.4.1/24"))
	c2 := l.container("c2", nm.Bridge, netip.MustParsePrefix("10.77.4.2/24"), ip("10.77.4.1"))
	for _, ns := range []netns.NsHandle{c1, c2, l.x} {
		l.serve(ns, 80)
	}
	l.must(AddNetwork(ds))
	l.must(AddNetwork(nm))
	l.must(AddPorts("c2", []Port{{Proto: "tcp", HostPort: 8080, ContainerIP: ip("10.77.4.2"), ContainerPort: 80, Bridge: nm.Bridge}}))
	l.check(t,
		probe{name: "dual-stack: IPv4 egress is masqueraded", from: c1, to: "192.0.2.2:80", want: hostAddr.Addr()},
		probe{name: "dual-stack: IPv6 egress is masqueraded", from: c1, to: "[2001:db8:2::2]:80", want: ip("2001:db8:2::1")},
		probe{name: "dual-stack: LAN to the container directly over IPv6", from: l.x, to: "[fd78::2]:80"},
		probe{name: "no masquerade: egress keeps the container's address", from: c2, to: "192.0.2.2:80", want: ip("10.77.4.2")},
		probe{name: "no masquerade: hairpin still works", from: c2, to: "192.0.2.1:8080", want: ip("10.77.4.1")},
		probe{name: "no masquerade: still isolated from the dual-stack network", from: c2, to: "10.77.3.2:80"},
	)
	if msg, err := Detect(ds); err != nil || msg != "" {
		t.Errorf("Detect = %q, %v", msg, err)
	}
	l.must(RemovePorts("c2"))
	l.must(RemoveNetwork(ds.Name))
	l.must(RemoveNetwork(nm.Name))
	wantOwners(t)
}

// TestDockerFirewall plays Docker's iptables in H: br_netfilter sends bridged traffic through
// the iptables hooks, and "ip filter" FORWARD drops whatever nobody accepted.
func TestDockerFirewall(t *testing.T) {
	t.Parallel()
	for _, dockerUser := range []bool{true, false} {
		name := "FORWARD"
		if dockerUser {
			name = "DOCKER-USER"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			l.requireBrNetfilter(t)
			l.sysctl("/proc/sys/net/bridge/bridge-nf-call-iptables", "1")
			testDockerFirewall(t, l, dockerUser)
		})
	}
}

func testDockerFirewall(t *testing.T, l *lab, dockerUser bool) {
	l.bridge(netA.Bridge, gwA)
	c1 := l.container("c1", netA.Bridge, netip.MustParsePrefix("10.77.0.2/24"), gwA.Addr())
	c2 := l.container("c2", netA.Bridge, netip.MustParsePrefix("10.77.0.3/24"), gwA.Addr())
	l.serve(c2, 80)
	l.must(AddNetwork(netA))
	sibling := probe{name: "c1 to c2 on the same bridge", from: c1, to: "10.77.0.3:80", want: ip("10.77.0.2")}
	cut := sibling
	cut.want = netip.Addr{}

	// No foreign firewall: nothing to do, nothing to report.
	l.check(t, sibling)
	l.must(AllowForward(netA))
	if c := ownerRules(t, NetworkOwner(netA.Name)); c != len(networkRules(netA)) {
		t.Errorf("AllowForward without a foreign firewall: %d rules of the network, want only berth's %d", c, len(networkRules(netA)))
	}
	if msg, err := Detect(netA); err != nil || msg != "" {
		t.Errorf("Detect without a foreign firewall = %q, %v", msg, err)
	}

	target := l.dockerFilter(dockerUser)
	l.check(t, cut)
	msg, err := Detect(netA)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FORWARD", "table ip filter", "policy drop", `network "a"`, "-I " + target + " -i berth-a -j ACCEPT"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Detect = %q, want it to mention %q", msg, want)
		}
	}

	l.must(AllowForward(netA))
	l.must(AllowForward(netA)) // replaces, does not add
	l.check(t, sibling)
	if msg, err := Detect(netA); err != nil || msg != "" {
		t.Errorf("Detect after AllowForward = %q, %v; want nothing", msg, err)
	}
	if got := l.berthRulesIn(nftables.TableFamilyIPv4, target); got != 2 {
		t.Errorf("%d berth rules in %s, want 2 (in and out)", got, target)
	}
	l.iptablesLists(t, target)

	l.must(DisallowForward(netA.Name))
	if got := l.berthRulesIn(nftables.TableFamilyIPv4, target); got != 0 {
		t.Errorf("%d berth rules in %s after DisallowForward", got, target)
	}
	l.check(t, cut)
	wantOwners(t, NetworkOwner(netA.Name))

	// A rule that went through iptables-save and iptables-restore carries its tag in an xt
	// comment match instead of UserData; it is still berth's and goes with the network.
	l.must(AllowForward(netA))
	if l.addXtCommentRule(target, NetworkOwner(netA.Name)) {
		if got := l.berthRulesIn(nftables.TableFamilyIPv4, target); got != 3 {
			t.Errorf("%d berth rules in %s, want 3", got, target)
		}
	}
	l.must(RemoveNetwork(netA.Name))
	if got := l.berthRulesIn(nftables.TableFamilyIPv4, target); got != 0 {
		t.Errorf("%d berth rules in %s after RemoveNetwork", got, target)
	}
	wantOwners(t)
	l.must(Flush())
}

// TestDetect covers the firewalls berth does not fix: they are reported, and only for the
// families the network uses.
func TestDetect(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	c, err := nftables.New()
	l.must(err)
	policyAccept := nftables.ChainPolicyAccept
	policyDrop := nftables.ChainPolicyDrop

	// firewalld's shape: policy accept, a final reject.
	fwd := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "firewalld"})
	ch := c.AddChain(&nftables.Chain{Table: fwd, Name: "filter_FORWARD", Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(10), Policy: &policyAccept})
	c.AddRule(&nftables.Rule{Table: fwd, Chain: ch, Exprs: cat(ctState(expr.CtStateBitESTABLISHED), accept())})
	c.AddRule(&nftables.Rule{Table: fwd, Chain: ch, Exprs: []expr.Any{&expr.Counter{}, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED}}})
	// An ip6 table with policy drop does not concern an IPv4 network.
	six := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv6, Name: "filter"})
	c.AddChain(&nftables.Chain{Table: six, Name: "FORWARD", Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &policyDrop})
	// A forward chain with policy accept and no final drop blocks nothing.
	open := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "open"})
	oc := c.AddChain(&nftables.Chain{Table: open, Name: "forward", Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &policyAccept})
	c.AddRule(&nftables.Rule{Table: open, Chain: oc, Exprs: cat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, "eth9"), drop())})
	l.must(c.Flush())

	msg, err := Detect(netA)
	l.must(err)
	for _, want := range []string{"table inet firewalld", "filter_FORWARD", "ends in a rule that drops or rejects everything", "--add-interface=berth-a"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Detect = %q, want it to mention %q", msg, want)
		}
	}
	for _, unwanted := range []string{"ip6", "open", ";"} {
		if strings.Contains(msg, unwanted) {
			t.Errorf("Detect = %q, should not mention %q", msg, unwanted)
		}
	}
	six6 := Network{Name: "six", Bridge: "berth-6", Subnet: netip.MustParsePrefix("fd77::/64")}
	msg, err = Detect(six6)
	l.must(err)
	if !strings.Contains(msg, "table ip6 filter") || !strings.Contains(msg, "ip6tables -I FORWARD -o berth-6 -j ACCEPT") {
		t.Errorf("Detect for an IPv6 network = %q, want the ip6 filter table and its fix", msg)
	}
}

// TestIdempotent: every call can be repeated, removing what is not there is no error, and
// removal needs nothing but the rules.
func TestIdempotent(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.bridge(netA.Bridge, gwA)
	c1 := l.container("c1", netA.Bridge, netip.MustParsePrefix("10.77.0.2/24"), gwA.Addr())
	l.serve(c1, 80)
	ports := []Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: ip("10.77.0.2"), ContainerPort: 80, Bridge: netA.Bridge},
		{Proto: "udp", HostIP: ip("192.0.2.1"), HostPort: 5353, ContainerIP: ip("10.77.0.2"), ContainerPort: 53, Bridge: netA.Bridge},
	}
	for range 2 {
		l.must(AddNetwork(netA))
		l.must(AddPorts("c1", ports))
	}
	if got, want := ownerRules(t, NetworkOwner(netA.Name)), len(networkRules(netA)); got != want {
		t.Errorf("after two AddNetwork: %d rules of the network, want %d", got, want)
	}
	want := 0
	for _, p := range ports {
		want += len(portRules(p))
	}
	if got := ownerRules(t, ContainerOwner("c1")); got != want {
		t.Errorf("after two AddPorts: %d rules of the container, want %d", got, want)
	}
	wantOwners(t, ContainerOwner("c1"), NetworkOwner(netA.Name))
	l.check(t, probe{name: "published", from: l.x, to: "192.0.2.1:8080", want: ip("192.0.2.2")})

	// AddPorts replaces the set.
	l.must(AddPorts("c1", ports[:1]))
	if got := ownerRules(t, ContainerOwner("c1")); got != len(portRules(ports[0])) {
		t.Errorf("after AddPorts with one port: %d rules, want %d", got, len(portRules(ports[0])))
	}

	// The container's link goes first, as after a crash; its rules still go. (The rules never
	// refer to the container's namespace, only to addresses and the bridge.)
	l.must(l.hh.LinkDel(l.link(l.hh, "vc1")))
	for range 2 {
		l.must(RemovePorts("c1"))
		l.must(RemoveNetwork(netA.Name))
	}
	l.must(RemovePorts("never-was"))
	l.must(RemoveNetwork("never-was"))
	wantOwners(t)

	c, err := nftables.New()
	l.must(err)
	for range 2 {
		l.must(Flush())
		if ok, err := tableExists(c); err != nil || ok {
			t.Errorf("table after Flush: exists %v, %v", ok, err)
		}
	}
	l.must(RemoveNetwork("a")) // no table at all
	wantOwners(t)
}

// TestAddRejectsBadInput: nothing is written for a bad network or port.
func TestAddRejectsBadInput(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.must(AddNetwork(netA))
	bad := []Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: ip("10.77.0.2"), ContainerPort: 80, Bridge: netA.Bridge},
		{Proto: "sctp", HostPort: 8081, ContainerIP: ip("10.77.0.2"), ContainerPort: 80, Bridge: netA.Bridge},
	}
	if err := AddPorts("c1", bad); err == nil {
		t.Error("AddPorts with an sctp port: no error")
	}
	if err := AddNetwork(Network{Name: "x", Bridge: "a-bridge-name-too-long", Subnet: netA.Subnet}); err == nil {
		t.Error("AddNetwork with a 22-byte bridge name: no error")
	}
	wantOwners(t, NetworkOwner(netA.Name))
	l.must(Flush())
}

// countArrivals counts, in a table of the test's own in H, the TCP packets for dst:port that
// reach H, before any NAT: the proof that a probe which failed was really sent.
func (l *lab) countArrivals(dst netip.Addr, port uint16) func() uint64 {
	l.t.Helper()
	c, err := nftables.New()
	l.must(err)
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "probe"})
	policyAccept := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Table: t, Name: "prerouting", Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw, Policy: &policyAccept})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: cat(
		[]expr.Any{
			&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: ipv4DstOff, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: dst.AsSlice()},
		},
		dport(unix.IPPROTO_TCP, port), counter())})
	l.must(c.Flush())
	return func() uint64 {
		rules, err := c.GetRules(t, ch)
		l.must(err)
		for _, r := range rules {
			for _, e := range r.Exprs {
				if cnt, ok := e.(*expr.Counter); ok {
					return cnt.Packets
				}
			}
		}
		return 0
	}
}

// conntrack counts H's conntrack entries for connections to a port.
func (l *lab) conntrack(proto uint8, port uint16) int {
	l.t.Helper()
	flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
	l.must(err)
	n := 0
	for _, f := range flows {
		if f.Forward.Protocol == proto && f.Forward.DstPort == port {
			n++
		}
	}
	return n
}

// noLoopback takes 127.0.0.1 off the loopback of ns (which takes its routes with it), routes
// 127.0.0.0/8 through gw instead and lets eth0 accept packets from 127.0.0.0/8.
func (l *lab) noLoopback(ns netns.NsHandle, gw netip.Addr) {
	l.t.Helper()
	h := l.handle(ns)
	l.must(h.AddrDel(l.link(h, "lo"), &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix("127.0.0.1/8"))}))
	l.must(h.RouteAdd(&netlink.Route{
		LinkIndex: l.link(h, "eth0").Attrs().Index, Dst: ipNet(netip.MustParsePrefix("127.0.0.0/8")), Gw: gw.AsSlice(),
	}))
	l.must(testutil.InNetNS(ns, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/conf/eth0/route_localnet", []byte("1"), 0o644)
	}))
}

// dockerFilter makes what dockerd leaves in "ip filter": FORWARD with policy drop and, if
// dockerUser, a jump to DOCKER-USER first, which ends in a return as older Dockers wrote it.
// It returns the chain berth's accepts belong in.
func (l *lab) dockerFilter(dockerUser bool) string {
	l.t.Helper()
	c, err := nftables.New()
	l.must(err)
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "filter"})
	policyDrop := nftables.ChainPolicyDrop
	fwd := c.AddChain(&nftables.Chain{Table: t, Name: "FORWARD", Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &policyDrop})
	target := "FORWARD"
	if dockerUser {
		target = "DOCKER-USER"
		du := c.AddChain(&nftables.Chain{Table: t, Name: "DOCKER-USER"})
		c.AddRule(&nftables.Rule{Table: t, Chain: du, Exprs: cat(counter(), ret())})
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: cat(counter(), []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "DOCKER-USER"}})})
	}
	// Docker's own accept for its bridge, which must not help berth's.
	c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: cat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, "docker0"), counter(), accept())})
	l.must(c.Flush())
	return target
}

// berthRulesIn counts the berth-tagged rules in a chain of the filter table of fam.
func (l *lab) berthRulesIn(fam nftables.TableFamily, chain string) int {
	l.t.Helper()
	c, err := nftables.New()
	l.must(err)
	t := &nftables.Table{Family: fam, Name: "filter"}
	rules, err := c.GetRules(t, &nftables.Chain{Table: t, Name: chain})
	l.must(err)
	n := 0
	for _, r := range rules {
		if strings.HasPrefix(ruleOwner(r), ownerPrefix) {
			n++
		}
	}
	return n
}

// iptablesLists checks that iptables-nft, if installed, still reads the table berth wrote to
// and shows berth's rules as it would have written them itself.
func (l *lab) iptablesLists(t *testing.T, chain string) {
	t.Helper()
	ipt, err := exec.LookPath("iptables-nft")
	if err != nil {
		t.Logf("no iptables-nft to list the rules with: %v", err)
		return
	}
	var out []byte
	err = testutil.InNetNS(l.h, func() error {
		var err error
		out, err = exec.Command(ipt, "-S", chain).CombinedOutput()
		return err
	})
	if err != nil {
		t.Fatalf("iptables-nft -S %s: %v\n%s", chain, err, out)
	}
	for _, want := range []string{
		"-A " + chain + ` -i berth-a -m comment --comment "berth:net:a" -j ACCEPT`,
		"-A " + chain + ` -o berth-a -m comment --comment "berth:net:a" -j ACCEPT`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("iptables-nft -S %s:\n%s\nwant a line %s", chain, out, want)
		}
	}
	if strings.Contains(string(out), "incompatible") {
		t.Errorf("iptables-nft finds the table incompatible:\n%s", out)
	}
}

// addXtCommentRule adds an accept tagged the way iptables-nft writes -m comment, reporting
// false when the kernel has no xt compat (then there is nothing to round-trip either).
func (l *lab) addXtCommentRule(chain, owner string) bool {
	c, err := nftables.New()
	l.must(err)
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "filter"}
	cm := xt.Comment(owner)
	c.AddRule(&nftables.Rule{Table: t, Chain: &nftables.Chain{Table: t, Name: chain}, Exprs: cat(
		ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, "berth-a"),
		[]expr.Any{&expr.Match{Name: "comment", Info: &cm}},
		counter(), accept())})
	if err := c.Flush(); err != nil {
		l.t.Logf("no xt comment match in this kernel, skipping the iptables-restore case: %v", err)
		return false
	}
	return true
}

// udpSink listens for datagrams on port in ns; the function it returns waits up to a timeout
// for the next one and says where it came from.
func (l *lab) udpSink(ns netns.NsHandle, port uint16) func(time.Duration) (netip.Addr, bool) {
	l.t.Helper()
	var pc net.PacketConn
	l.must(testutil.InNetNS(ns, func() error {
		var err error
		pc, err = net.ListenPacket("udp", fmt.Sprintf(":%d", port))
		return err
	}))
	l.t.Cleanup(func() { _ = pc.Close() })
	return func(timeout time.Duration) (netip.Addr, bool) {
		_ = pc.SetReadDeadline(time.Now().Add(timeout))
		buf := make([]byte, 64)
		_, from, err := pc.ReadFrom(buf)
		if err != nil {
			return netip.Addr{}, false
		}
		return from.(*net.UDPAddr).AddrPort().Addr().Unmap(), true
	}
}

// sendUDP sends one datagram from ns to ap and expects no answer.
func sendUDP(ns netns.NsHandle, ap string) error {
	return testutil.InNetNS(ns, func() error {
		c, err := net.Dial("udp", ap)
		if err != nil {
			return err
		}
		defer func() { _ = c.Close() }()
		_, err = c.Write([]byte("!"))
		return err
	})
}

// TestConcurrent: berth processes for different containers add rules at the same time, and a
// gc may remove what a `down` removes; every call succeeds and nothing is duplicated or lost.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.must(AddNetwork(netA))

	// A batch that deletes a rule someone else deleted fails with ENOENT, which is what retry
	// waits for.
	c, err := nftables.New()
	l.must(err)
	tbl := berthTable()
	l.must(c.DelRule(&nftables.Rule{Table: tbl, Chain: &nftables.Chain{Table: tbl, Name: chainPorts}, Handle: 1 << 40}))
	if err := commit(c); !errors.Is(err, unix.ENOENT) {
		t.Errorf("deleting a rule that is not there: %v, want ENOENT", err)
	}

	// Every commit bumps the generation that consistent compares.
	nl, err := mdnetlink.Dial(unix.NETLINK_NETFILTER, nil)
	l.must(err)
	defer func() { _ = nl.Close() }()
	before, err := generation(nl)
	l.must(err)
	l.must(AddNetwork(netB))
	if after, err := generation(nl); err != nil || after == before {
		t.Errorf("generation after a commit: %d, %v; before it: %d", after, err, before)
	}
	l.must(RemoveNetwork(netB.Name))

	const n = 8
	portsOf := func(i int) []Port {
		return []Port{{Proto: "udp", HostPort: uint16(9000 + i), ContainerIP: ip(fmt.Sprintf("10.77.0.%d", 10+i)), ContainerPort: 53, Bridge: netA.Bridge}}
	}
	parallel := func(f func(i int) error) {
		t.Helper()
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = testutil.InNetNS(l.h, func() error { return f(i) }) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}

	parallel(func(i int) error {
		return errors.Join(AddPorts(fmt.Sprint("c", i), portsOf(i)), AddPorts(fmt.Sprint("c", i), portsOf(i)))
	})
	want := []string{NetworkOwner(netA.Name)}
	for i := range n {
		id := fmt.Sprint("c", i)
		if got := ownerRules(t, ContainerOwner(id)); got != len(portRules(portsOf(i)[0])) {
			t.Errorf("container %s: %d rules, want %d", id, got, len(portRules(portsOf(i)[0])))
		}
		want = append(want, ContainerOwner(id))
	}
	sort.Strings(want)
	wantOwners(t, want...)

	// Everyone removes c0 at once, and then their own.
	parallel(func(i int) error { return errors.Join(RemovePorts("c0"), RemovePorts(fmt.Sprint("c", i))) })
	wantOwners(t, NetworkOwner(netA.Name))
}
