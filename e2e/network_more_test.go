//go:build linux

package e2e

import (
	"encoding/json"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/network/firewall"
)

// TestNetworkIPv6: a dual-stack network gives its containers an address of each family, DNS
// answers AAAA for them, and they reach each other over IPv6; a network without IPv6 answers
// AAAA empty; with no IPv6 subnet given, a unique local /64 is chosen.
func TestNetworkIPv6(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("network", "create", "--ipv6", "--subnet", "10.60.0.0/24", "--subnet", "fd60::/64", "six")
	e.ok("container", "run", "-d", "--name", "web", "--network", "six", "--ip6", "fd60::50", "bb:1", "busybox", "sleep", "300")
	r := e.ok("container", "run", "--rm", "--network", "six", "bb:1", "sh", "-c",
		"busybox ip -6 -o addr show eth0 scope global | busybox awk '{print $4}'; busybox ip -6 route show default | busybox awk '{print $3}'; "+
			"busybox nslookup -type=AAAA web 127.0.0.11 | busybox grep -c fd60::50; busybox ping -6 -c1 -W2 web >/dev/null && echo reached")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "fd60::") || !strings.HasSuffix(lines[0], "/64") || lines[1] != "fd60::1" || lines[2] != "1" || lines[3] != "reached" {
		t.Errorf("a second container on the dual-stack network: %q", r.stdout)
	}
	var in []map[string]any
	if err := json.Unmarshal([]byte(e.ok("network", "inspect", "six").stdout), &in); err != nil {
		t.Fatal(err)
	}
	cfg := in[0]["IPAM"].(map[string]any)["Config"].([]any)
	if in[0]["EnableIPv6"] != true || len(cfg) != 2 || cfg[1].(map[string]any)["Subnet"] != "fd60::/64" {
		t.Errorf("inspect of the dual-stack network: %v", in[0])
	}
	ctr := e.inspect("web")["NetworkSettings"].(map[string]any)["Networks"].(map[string]any)["six"].(map[string]any)
	if ctr["GlobalIPv6Address"] != "fd60::50" || ctr["IPv6Gateway"] != "fd60::1" || !strings.HasPrefix(ctr["IPAddress"].(string), "10.60.0.") {
		t.Errorf("container inspect on the dual-stack network: %v", ctr)
	}

	// A port with no host address is published on both families, on the same host port.
	e.ok("container", "run", "-d", "--name", "web6", "--network", "six", "-p", "8090:80", "-p", "[::]::81", "bb:1", "sh", "-c",
		"echo six > /i; busybox httpd -f -p 80 -h /")
	ports := e.ok("container", "port", "web6").stdout
	if !strings.Contains(ports, "80/tcp -> 0.0.0.0:8090\n") || !strings.Contains(ports, "80/tcp -> [::]:8090\n") || !strings.Contains(ports, "81/tcp -> [::]:") {
		t.Errorf("container port of a dual-stack container:\n%s", ports)
	}
	// An IPv6 address of the host's own (on lo of the test's namespace) reaches it.
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(lo, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("fd99::1"), Mask: net.CIDRMask(128, 128)}, Flags: unix.IFA_F_NODAD}); err != nil {
		t.Fatal(err)
	}
	var body string
	for range 50 { // httpd is starting
		if body, err = httpGet("[fd99::1]:8090", "/i"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body != "six\n" {
		t.Errorf("GET [fd99::1]:8090: %q, %v", body, err)
	}
	if r := e.run("container", "run", "--rm", "-p", "[::]:8091:80", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "the container has no IPv6 address") {
		t.Errorf("an IPv6 port on an IPv4-only container: code %d, stderr %q", r.code, r.stderr)
	}
	e.ok("container", "rm", "-f", "web6")

	// No subnet given: a ULA /64.
	e.ok("network", "create", "--ipv6", "auto6")
	if err := json.Unmarshal([]byte(e.ok("network", "inspect", "auto6").stdout), &in); err != nil {
		t.Fatal(err)
	}
	cfg = in[0]["IPAM"].(map[string]any)["Config"].([]any)
	if p, err := netip.ParsePrefix(cfg[len(cfg)-1].(map[string]any)["Subnet"].(string)); err != nil || p.Bits() != 64 || p.Addr().As16()[0] != 0xfd {
		t.Errorf("the IPv6 subnet chosen: %v (%v)", cfg, err)
	}

	// IPv4 only: AAAA is answered, empty.
	e.ok("network", "create", "four")
	e.ok("container", "run", "-d", "--name", "db", "--network", "four", "bb:1", "busybox", "sleep", "300")
	if r := e.ok("container", "run", "--rm", "--network", "four", "bb:1", "sh", "-c", "busybox nslookup -type=AAAA db 127.0.0.11; echo rc=$?").stdout; strings.Contains(r, "Address: fd") || strings.Contains(r, "NXDOMAIN") {
		t.Errorf("AAAA on an IPv4-only network: %q", r)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"network", "create", "--subnet", "fd61::/64", "nov6"}, "needs IPv6 enabled"},
		{[]string{"network", "create", "--ipv6", "--subnet", "fd60::/80", "overlap6"}, "Pool overlaps with other one"},
		{[]string{"network", "create", "--ipv6", "--subnet", "fd62::/64", "--subnet", "fd63::/64", "two6"}, "more than one subnet of a family"},
		{[]string{"container", "run", "--rm", "--network", "six", "--ip6", "fd99::5", "bb:1", "true"}, "no configured subnet or ip-range contain the IP address fd99::5"},
		{[]string{"container", "run", "--rm", "--network", "four", "--ip6", "fd60::9", "bb:1", "true"}, "needs a network with IPv6 enabled"},
	} {
		r := e.run(tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: code %d, stderr %q; want one line with %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	e.ok("container", "rm", "-f", "web", "db")
	e.ok("network", "rm", "six", "auto6", "four", "bridge")
	if links := berthLinks(t, 0); len(links) != 0 {
		t.Errorf("links left: %v", links)
	}
}

// TestNetworkNoMasquerade: enable_ip_masquerade=false is taken and shown (what it does to the
// traffic is tested with the firewall's own lab, TestDualStackAndNoMasquerade).
func TestNetworkNoMasquerade(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("network", "create", "--subnet", "10.61.0.0/24", "-o", "com.docker.network.bridge.enable_ip_masquerade=false", "plain")
	var in []map[string]any
	if err := json.Unmarshal([]byte(e.ok("network", "inspect", "plain").stdout), &in); err != nil {
		t.Fatal(err)
	}
	if in[0]["Options"].(map[string]any)["com.docker.network.bridge.enable_ip_masquerade"] != "false" {
		t.Errorf("inspect options: %v", in[0]["Options"])
	}
	if r := e.run("container", "run", "--rm", "--network", "plain", "bb:1", "busybox", "ping", "-c1", "-W2", "10.61.0.1"); r.code != 0 {
		t.Errorf("a container on the network cannot reach its gateway: %q %q", r.stdout, r.stderr)
	}
	if r := e.run("network", "create", "-o", "com.docker.network.bridge.enable_ip_masquerade=maybe", "bad"); r.code == 0 || !strings.Contains(r.stderr, "true or false") {
		t.Errorf("a bad masquerade option: code %d, stderr %q", r.code, r.stderr)
	}
	e.ok("network", "rm", "plain")
}

// TestNetworkLinksExposeRanges: --link aliases resolve for the linking container only (DNS on
// a user network, /etc/hosts on the default bridge); --expose ports are published by -P; a
// host port range takes its first free port.
func TestNetworkLinksExposeRanges(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("network", "create", "--subnet", "10.63.0.0/24", "app")
	e.ok("container", "run", "-d", "--name", "db", "--network", "app", "--ip", "10.63.0.20", "bb:1", "busybox", "sleep", "300")
	lookup := func(args ...string) string {
		t.Helper()
		r := e.run(append(append([]string{"container", "run", "--rm", "--network", "app"}, args...), "bb:1", "busybox", "nslookup", "database", "127.0.0.11")...)
		_, addr, _ := strings.Cut(r.stdout, "Name:\tdatabase\nAddress: ")
		addr, _, _ = strings.Cut(addr, "\n")
		return strings.TrimSpace(addr)
	}
	if got := lookup("--link", "db:database"); got != "10.63.0.20" {
		t.Errorf("with --link db:database, database resolves to %q", got)
	}
	if got := lookup(); got != "" {
		t.Errorf("without the link, database resolves to %q", got)
	}
	// The default bridge: /etc/hosts.
	e.ok("container", "run", "-d", "--name", "cache", "bb:1", "busybox", "sleep", "300")
	hosts := e.ok("container", "run", "--rm", "--link", "cache:kv", "bb:1", "cat", "/etc/hosts").stdout
	ip := e.inspect("cache")["NetworkSettings"].(map[string]any)["IPAddress"].(string)
	if ip == "" || !strings.Contains(hosts, ip+"\tkv cache\n") {
		t.Errorf("/etc/hosts with --link cache:kv (cache at %q):\n%s", ip, hosts)
	}
	if r := e.run("container", "run", "--rm", "--link", "nosuch:x", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "could not get container for nosuch") {
		t.Errorf("a link to no container: code %d, stderr %q", r.code, r.stderr)
	}

	// --expose and -P; a range of host ports.
	l, err := net.Listen("tcp4", "0.0.0.0:8100")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e.ok("container", "run", "-d", "--name", "web", "--expose", "7000-7001", "--expose", "53/udp", "-P", "-p", "8100-8102:80", "bb:1", "busybox", "sleep", "300")
	ports := e.ok("container", "port", "web").stdout
	for _, want := range []string{"53/udp -> 0.0.0.0:", "7000/tcp -> 0.0.0.0:", "7001/tcp -> 0.0.0.0:", "80/tcp -> 0.0.0.0:8101\n"} {
		if !strings.Contains(ports, want) {
			t.Errorf("container port: want %q in\n%s", want, ports)
		}
	}
	exposed := e.inspect("web")["Config"].(map[string]any)["ExposedPorts"].(map[string]any)
	if len(exposed) != 3 {
		t.Errorf("ExposedPorts %v", exposed)
	}
	r := e.run("container", "run", "-d", "--name", "web2", "-p", "8100-8101:80", "bb:1", "busybox", "sleep", "300")
	if r.code != 125 || !strings.Contains(r.stderr, "Bind for 0.0.0.0:8100-8101 failed: port is already allocated (in use by container web)") {
		t.Errorf("a full range: code %d, stderr %q", r.code, r.stderr)
	}
	if r := e.run("container", "run", "--rm", "--expose", "80/sctpx", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "invalid proto") {
		t.Errorf("a bad --expose: code %d, stderr %q", r.code, r.stderr)
	}
}

// TestContainerSysctls: Docker's network defaults (non-root binds port 80 and pings), --sysctl
// over them, --domainname; a sysctl of the host's is refused.
func TestContainerSysctls(t *testing.T) {
	e := newContainerEnv(t)
	r := e.ok("container", "run", "--rm", "--sysctl", "net.ipv4.ping_group_range=0 0", "--sysctl", "net.ipv4.tcp_keepalive_time=600", "--domainname", "example.test", "bb:1", "sh", "-c",
		"cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range /proc/sys/net/ipv4/tcp_keepalive_time /proc/sys/kernel/domainname /proc/sys/net/ipv4/conf/eth0/arp_notify")
	if got := strings.Fields(r.stdout); !slices.Equal(got, []string{"0", "0", "0", "600", "example.test", "1"}) {
		t.Errorf("sysctls in the container: %q", r.stdout)
	}
	// A non-root process binds port 80, as with Docker's defaults.
	if r := e.run("container", "run", "--rm", "-u", "1000", "bb:1", "busybox", "timeout", "1", "busybox", "nc", "-l", "-p", "80"); strings.Contains(r.stderr, "ermission denied") {
		t.Errorf("a non-root process could not bind port 80: %q", r.stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--sysctl", "kernel.panic=1"}, "kernel.panic"},
		{[]string{"--network", "host", "--sysctl", "net.ipv4.ip_forward=1"}, "net.ipv4.ip_forward"},
		{[]string{"--sysctl", "nokey"}, "not in a key=value format"},
	} {
		r := e.run(append(append([]string{"container", "run", "--rm"}, tc.args...), "bb:1", "true")...)
		if r.code != 125 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("run %v: code %d, stderr %q; want 125 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestNetworkExitedContainerUnpublishes: a container that ends by itself takes its published
// ports' rules with it and lets the ports go, as Docker's daemon does; a restart policy keeps
// them while it restarts the container.
func TestNetworkExitedContainerUnpublishes(t *testing.T) {
	e := newContainerEnv(t)
	id := strings.TrimSpace(e.ok("container", "run", "-d", "-p", "8110:80", "bb:1", "busybox", "sleep", "0.2").stdout)
	waitUntil(t, "the container to exit", func() bool {
		return e.inspect(id)["State"].(map[string]any)["Status"] == "exited"
	})
	waitUntil(t, "its port rules to go", func() bool {
		owners, err := firewall.Owners()
		return err == nil && slices.Equal(owners, []string{firewall.NetworkOwner("bridge")})
	})
	if l, err := net.Listen("tcp4", "0.0.0.0:8110"); err != nil {
		t.Errorf("the port of an exited container is still held: %v", err)
	} else {
		l.Close()
	}
	// Started again, it publishes again.
	e.ok("container", "start", id)
	if owners, err := firewall.Owners(); err != nil || len(owners) != 2 {
		t.Errorf("after start, rule owners %v, %v", owners, err)
	}
	e.ok("container", "rm", "-f", id)

	// With a restart policy the rules stay through the restarts.
	rid := strings.TrimSpace(e.ok("container", "run", "-d", "--restart", "always", "-p", "8111:80", "bb:1", "busybox", "sleep", "0.2").stdout)
	waitUntil(t, "a restart", func() bool {
		return e.inspect(rid)["RestartCount"].(float64) >= 2
	})
	if owners, err := firewall.Owners(); err != nil || !slices.Contains(owners, firewall.ContainerOwner(rid)) {
		t.Errorf("a restarting container lost its rules: %v, %v", owners, err)
	}
	e.ok("container", "rm", "-f", rid)
	if owners, err := firewall.Owners(); err != nil || !slices.Equal(owners, []string{firewall.NetworkOwner("bridge")}) {
		t.Errorf("after rm, rule owners %v, %v", owners, err)
	}
}

// TestNetworkForeignFirewall: a host firewall berth cannot open (here a hand-written nftables
// table whose forward chain drops everything) makes `network create` fail with one line naming
// it and the bridge to allow, and nothing is left; once the firewall accepts the bridge's
// traffic the network is made.
func TestNetworkForeignFirewall(t *testing.T) {
	e := newContainerEnv(t)
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	table := conn.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "hostfw"})
	drop := nftables.ChainPolicyDrop
	conn.AddChain(&nftables.Chain{Name: "forward", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	r := e.run("network", "create", "--subnet", "10.64.0.0/24", "blocked")
	if r.code == 0 || !strings.Contains(r.stderr, "hostfw") || !strings.Contains(r.stderr, `network "blocked"`) ||
		!strings.Contains(r.stderr, "accept forwarding from and to bridge berth-") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("network create behind a foreign firewall: code %d, stderr %q", r.code, r.stderr)
	}
	if ls := e.ok("network", "ls", "-q").stdout; ls != "" {
		t.Errorf("networks after the failed create: %q", ls)
	}
	if links := berthLinks(t, 0); len(links) != 0 {
		t.Errorf("links after the failed create: %v", links)
	}
	if owners, err := firewall.Owners(); err != nil || len(owners) != 0 {
		t.Errorf("rules after the failed create: %v, %v", owners, err)
	}
	// An internal network forwards nothing across interfaces: it is made.
	e.ok("network", "create", "--internal", "--subnet", "10.65.0.0/24", "inside")
	e.ok("network", "rm", "inside")
	conn.DelTable(table)
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	e.ok("network", "create", "--subnet", "10.64.0.0/24", "blocked")
	e.ok("network", "rm", "blocked")
}
