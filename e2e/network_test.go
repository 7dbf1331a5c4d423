//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/network/firewall"
	"github.com/berth-sh/berth/runtime/cgroup"
)

func TestNetworkLifecycle(t *testing.T) {
	e := newContainerEnv(t)
	id := strings.TrimSpace(e.ok("network", "create", "--label", "team=web", "todo-app").stdout)
	if len(id) != 64 {
		t.Fatalf("network create printed %q, want the id", id)
	}
	if ls := e.ok("network", "ls").stdout; !strings.Contains(ls, id[:12]+"   todo-app   bridge    local") {
		t.Errorf("network ls:\n%s", ls)
	}
	var in []map[string]any
	if err := json.Unmarshal([]byte(e.ok("network", "inspect", "todo-app").stdout), &in); err != nil || len(in) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	cfg := in[0]["IPAM"].(map[string]any)["Config"].([]any)[0].(map[string]any)
	// The test's namespace has no docker0: the first of Docker's pools.
	if cfg["Subnet"] != "172.17.0.0/16" || cfg["Gateway"] != "172.17.0.1" || in[0]["Labels"].(map[string]any)["team"] != "web" {
		t.Errorf("inspect: %v", in[0])
	}
	if links := berthLinks(t, 1); len(links) != 1 {
		t.Errorf("links after create: %v", links)
	}
	// The next network takes the next pool; a given subnet is honoured.
	e.ok("network", "create", "second")
	e.ok("network", "create", "--subnet", "10.99.0.0/24", "--gateway", "10.99.0.254", "--internal", "third")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"todo-app"}, "network with name todo-app already exists"},
		{[]string{"bridge"}, "bridge is a pre-defined network and cannot be created"},
		{[]string{"-d", "overlay", "ov"}, `driver "overlay" is not supported by berth`},
		{[]string{"--subnet", "10.99.0.128/25", "overlap"}, "Pool overlaps with other one on this address space"},
		{[]string{"--subnet", "10.98.0.0/24", "--gateway", "10.97.0.1", "gw"}, "gateway 10.97.0.1 is not a host address of subnet 10.98.0.0/24"},
		{[]string{"--subnet", "nonsense", "bad"}, `invalid subnet "nonsense"`},
		{[]string{"-o", "com.docker.network.driver.mtu=12", "mtu"}, "an MTU between 68 and 65535"},
		{[]string{"bad/name"}, "invalid network name"},
	} {
		r := e.run(append([]string{"network", "create"}, tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("network create %v: code %d, stderr %q; want one line with %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if links := berthLinks(t, 3); len(links) != 3 {
		t.Errorf("links after failed creates: %v", links)
	}
	e.ok("network", "rm", "todo-app", "second", "third")
	if r := e.run("network", "rm", "todo-app"); r.code == 0 || !strings.Contains(r.stderr, "network todo-app not found") {
		t.Errorf("rm of a removed network: code %d, stderr %q", r.code, r.stderr)
	}
	if links := berthLinks(t, 0); len(links) != 0 {
		t.Errorf("links left: %v", links)
	}
	if ls := e.ok("network", "ls", "-q").stdout; ls != "" {
		t.Errorf("networks left: %q", ls)
	}
}

func TestNetworkContainers(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("network", "create", "--subnet", "10.77.0.0/24", "app")
	webID := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "web", "--network", "app", "--ip", "10.77.0.50", "bb:1", "busybox", "sleep", "300").stdout)
	r := e.ok("container", "run", "--rm", "--network", "app", "bb:1", "sh", "-c",
		"busybox ip -4 -o addr show eth0 | busybox awk '{print $4}'; busybox ip route | busybox head -1; busybox ping -c1 -W2 10.77.0.50 >/dev/null && echo reached; busybox tail -1 /etc/hosts")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "10.77.0.") || lines[1] != "default via 10.77.0.1 dev eth0 " || lines[2] != "reached" || !strings.HasPrefix(lines[3], strings.TrimSuffix(lines[0], "/24")+"\t") {
		t.Errorf("a second container on the network: %q", r.stdout)
	}
	// A container that stops and starts again keeps its address.
	e.ok("container", "restart", "-t", "0", "web")
	if r := e.ok("container", "exec", "web", "busybox", "ip", "-4", "-o", "addr", "show", "eth0").stdout; !strings.Contains(r, "10.77.0.50/24") {
		t.Errorf("after a restart: %q", r)
	}
	// Networks are isolated from each other; an internal network has no way out.
	e.ok("network", "create", "--subnet", "10.88.0.0/24", "other")
	e.ok("network", "create", "--subnet", "10.89.0.0/24", "--internal", "sealed")
	if r := e.run("container", "run", "--rm", "--network", "other", "bb:1", "busybox", "ping", "-c1", "-W1", "10.77.0.50"); r.code == 0 {
		t.Errorf("a container on another network reached web: %q", r.stdout)
	}
	if r := e.ok("container", "run", "--rm", "--network", "sealed", "bb:1", "sh", "-c", "busybox ip route; busybox ping -c1 -W1 10.77.0.50 >/dev/null 2>&1 || echo unreachable").stdout; strings.Contains(r, "default") || !strings.Contains(r, "unreachable") {
		t.Errorf("a container on an internal network: %q", r)
	}
	e.ok("network", "rm", "other", "sealed")
	if r := e.run("network", "rm", "app"); r.code == 0 || !strings.Contains(r.stderr, "has active endpoints") {
		t.Errorf("rm of a network in use: code %d, stderr %q", r.code, r.stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--network", "nosuch", "bb:1"}, "network nosuch not found"},
		{[]string{"--network", "app", "--ip", "10.78.0.5", "bb:1"}, "no configured subnet or ip-range contain the IP address 10.78.0.5"},
		{[]string{"--network", "app", "--ip", "10.77.0.50", "bb:1"}, "address 10.77.0.50 is already in use"},
		{[]string{"--ip", "10.77.0.9", "bb:1"}, "need a user-defined network"},
	} {
		r := e.run(append([]string{"container", "run", "--rm"}, tc.args...)...)
		if r.code != 125 && r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("run %v: code %d, stderr %q; want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if ls := strings.Fields(e.ok("container", "ls", "-aq", "--no-trunc").stdout); len(ls) != 1 || ls[0] != webID {
		t.Errorf("containers after failed runs: %v", ls)
	}
	e.ok("container", "rm", "-f", "web")
	e.assertGone(webID)
	e.ok("network", "rm", "app")
	if links := berthLinks(t, 0); len(links) != 0 {
		t.Errorf("links left: %v", links)
	}
}

// fakeUpstream answers every A query for example.test with 192.0.2.99 and anything else with
// NXDOMAIN, on 127.0.0.1:53 of the test's own network namespace.
func fakeUpstream(t *testing.T) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:53")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if len(q.Question) == 1 && q.Question[0].Name == "example.test." && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR("example.test. 60 IN A 192.0.2.99")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
}

func TestNetworkDNS(t *testing.T) {
	e := newContainerEnv(t)
	fakeUpstream(t)
	e.ok("network", "create", "--subnet", "10.77.0.0/24", "app")
	e.ok("network", "create", "--subnet", "10.78.0.0/24", "other")
	webID := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "web", "--network", "app", "--network-alias", "www", "--network-alias", "svc", "--ip", "10.77.0.10", "bb:1", "busybox", "sleep", "300").stdout)
	e.ok("container", "run", "-d", "--name", "web2", "--network", "app", "--network-alias", "svc", "--ip", "10.77.0.11", "bb:1", "busybox", "sleep", "300")
	lookup := func(network, name string) string {
		t.Helper()
		r := e.run("container", "run", "--rm", "--network", network, "--dns", "127.0.0.1", "bb:1", "busybox", "nslookup", name)
		var addrs []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if a, ok := strings.CutPrefix(l, "Address: "); ok {
				addrs = append(addrs, a)
			}
		}
		slices.Sort(addrs)
		if len(addrs) == 0 && name == "svc" {
			t.Logf("nslookup %s: %d %q %q", name, r.code, r.stdout, r.stderr)
		}
		return strings.Join(addrs, " ")
	}
	for name, want := range map[string]string{
		"web":          "10.77.0.10",
		"www":          "10.77.0.10",
		"web.app":      "10.77.0.10",
		webID[:12]:     "10.77.0.10",
		"WEB":          "10.77.0.10",
		"svc":          "10.77.0.10 10.77.0.11",
		"example.test": "192.0.2.99", // forwarded to the --dns server
		"nosuch.test":  "",
	} {
		if got := lookup("app", name); got != want {
			t.Errorf("on app, %s resolves to %q, want %q", name, got, want)
		}
	}
	// Names are scoped to the networks a container is on.
	if got := lookup("other", "web"); got != "" {
		t.Errorf("on another network, web resolves to %q", got)
	}
	// A container that goes is no longer a name.
	e.ok("container", "rm", "-f", "web2")
	if got := lookup("app", "svc"); got != "10.77.0.10" {
		t.Errorf("after web2 is gone, svc resolves to %q", got)
	}
	if r := e.ok("container", "run", "--rm", "--network", "app", "--dns-search", "corp.test", "--dns-option", "timeout:2", "bb:1", "busybox", "cat", "/etc/resolv.conf").stdout; !strings.Contains(r, "nameserver 127.0.0.11\n") || !strings.Contains(r, "search corp.test") || !strings.Contains(r, "timeout:2") {
		t.Errorf("resolv.conf of a networked container:\n%s", r)
	}
}

// httpGet fetches path from addr over a connection made on the test's own (locked) thread, so
// that it starts in the test's network namespace.
func httpGet(addr, path string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: test\r\n\r\n", path); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		return "", err
	}
	_, body, _ := strings.Cut(string(b), "\r\n\r\n")
	return body, nil
}

func TestNetworkPublishedPorts(t *testing.T) {
	e := newContainerEnv(t)
	webID := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "web", "-p", "8080:80", "-p", "127.0.0.1::81", "bb:1", "sh", "-c",
		"echo hello-from-web > /index.html; busybox httpd -f -p 80 -h /").stdout)
	ports := e.ok("container", "port", "web").stdout
	if !strings.HasPrefix(ports, "80/tcp -> 0.0.0.0:8080\n81/tcp -> 127.0.0.1:") {
		t.Errorf("container port:\n%s", ports)
	}
	if p := e.ok("container", "port", "web", "80/tcp").stdout; p != "0.0.0.0:8080\n" {
		t.Errorf("container port web 80/tcp: %q", p)
	}
	// The default network was made for it, as Docker's default bridge.
	var in []map[string]any
	if err := json.Unmarshal([]byte(e.ok("network", "inspect", "bridge").stdout), &in); err != nil {
		t.Fatal(err)
	}
	gw := in[0]["IPAM"].(map[string]any)["Config"].([]any)[0].(map[string]any)["Gateway"].(string)
	for _, addr := range []string{"127.0.0.1:8080", net.JoinHostPort(gw, "8080")} {
		var body string
		var err error
		for range 50 { // httpd is starting
			if body, err = httpGet(addr, "/index.html"); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if body != "hello-from-web\n" {
			t.Errorf("GET %s: %q, %v", addr, body, err)
		}
	}
	// The host port is taken: a second container cannot have it, and nothing is left of it.
	r := e.run("container", "run", "-d", "--name", "blocker", "-p", "8080:80", "bb:1", "busybox", "sleep", "30")
	if r.code != 125 || !strings.Contains(r.stderr, "Bind for 0.0.0.0:8080 failed: port is already allocated (in use by container web)") {
		t.Errorf("a taken port: code %d, stderr %q", r.code, r.stderr)
	}
	e.ok("container", "rm", "blocker")
	if err := json.Unmarshal([]byte(e.ok("network", "inspect", "bridge").stdout), &in); err != nil {
		t.Fatal(err)
	}
	if n := in[0]["Containers"].(map[string]any); len(n) != 1 {
		t.Errorf("endpoints on bridge after the failed start: %v", n)
	}
	// A restart keeps the mapping; a stop releases the port.
	e.ok("container", "restart", "-t", "0", "web")
	time.Sleep(300 * time.Millisecond)
	if body, err := httpGet("127.0.0.1:8080", "/index.html"); body != "hello-from-web\n" {
		t.Errorf("after a restart: %q, %v", body, err)
	}
	e.ok("container", "stop", "-t", "0", "web")
	if l, err := net.Listen("tcp4", "0.0.0.0:8080"); err != nil {
		t.Errorf("the port of a stopped container is still held: %v", err)
	} else {
		l.Close()
	}
	if owners, err := firewall.Owners(); err != nil || len(owners) != 1 {
		t.Errorf("rules after the stop: %v, %v (want the default network's only)", owners, err)
	}
	e.ok("container", "rm", "web")
	e.assertGone(webID)
	e.ok("network", "rm", "bridge")
	if owners, err := firewall.Owners(); err != nil || len(owners) != 0 {
		t.Errorf("rules left: %v, %v", owners, err)
	}
	if links := berthLinks(t, 0); len(links) != 0 {
		t.Errorf("links left: %v", links)
	}
}

func TestNetworkModes(t *testing.T) {
	e := newContainerEnv(t)
	// host: the host's (here the test's) namespace, name and resolvers.
	pair := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "testhost0"}, PeerName: "testhost1"}
	if err := netlink.LinkAdd(pair); err != nil {
		t.Fatal(err)
	}
	hostname, _ := os.Hostname()
	r := e.ok("container", "run", "--rm", "--network", "host", "bb:1", "sh", "-c", "busybox ip -o link | busybox grep -c ' testhost0@'; busybox hostname")
	if r.stdout != "1\n"+hostname+"\n" {
		t.Errorf("--network host: %q", r.stdout)
	}
	// none: only lo.
	if r := e.ok("container", "run", "--rm", "--network", "none", "bb:1", "sh", "-c", "busybox ip -o link | busybox wc -l").stdout; strings.TrimSpace(r) != "1" {
		t.Errorf("--network none: %q links", r)
	}
	// container:<name>: the other container's namespace and name.
	e.ok("network", "create", "--subnet", "10.66.0.0/24", "app")
	e.ok("container", "run", "-d", "--name", "web", "--network", "app", "--ip", "10.66.0.7", "bb:1", "busybox", "sleep", "300")
	r = e.ok("container", "run", "--rm", "--network", "container:web", "bb:1", "sh", "-c", "busybox ip -4 -o addr show eth0 | busybox awk '{print $4}'")
	if r.stdout != "10.66.0.7/24\n" {
		t.Errorf("--network container:web: %q", r.stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--network", "host", "-p", "80:80"}, "published ports are discarded when using host network mode"},
		{[]string{"--network", "container:web", "-p", "80:80"}, "port publishing and the container type network mode"},
		{[]string{"--network", "container:nosuch"}, "No such container: nosuch"},
		{[]string{"--network", "host", "--network", "app"}, "cannot attach both user-defined and non-user-defined network-modes"},
	} {
		r := e.run(append(append([]string{"container", "run", "--rm"}, tc.args...), "bb:1", "true")...)
		if r.code != 125 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("run %v: code %d, stderr %q; want 125 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	e.ok("container", "rm", "-f", "web")
	e.ok("network", "rm", "app")
}

// BenchmarkNetworkRunRm times `container run --rm --network N IMG true` on a berth network: the
// network namespace, veth, address, DNS records and server come on top of a plain run (compare
// with BenchmarkContainerRunRm; target: at most 20 ms of network setup per container). It runs
// in a network namespace of its own, as the network tests do.
func BenchmarkNetworkRunRm(b *testing.B) {
	inOwnNetNS(b)
	rootfs := busyboxRootfs(b)
	dir := b.TempDir()
	env := stateEnv(b)
	cmd{args: []string{"image", "import", rootfs, "bench-net:1"}, dir: dir, env: env}.ok(b)
	cmd{args: []string{"network", "create", "bench"}, dir: dir, env: env}.ok(b)
	defer cmd{args: []string{"network", "rm", "bench"}, dir: dir, env: env}.run(b)
	for b.Loop() {
		cmd{args: []string{"container", "run", "--rm", "--network", "bench", "bench-net:1", "/bin/busybox", "true"}, dir: dir, env: env}.ok(b)
	}
}

func TestNetworkPublishAllAndExtraHosts(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("image", "import", "-c", "EXPOSE 80 53/udp", "-c", `CMD ["/bin/sh"]`, busyboxRootfs(t), "exposing:1")
	e.ok("container", "run", "-d", "--name", "all", "-P", "--add-host", "db:10.1.2.3", "--add-host", "gw:host-gateway", "exposing:1", "busybox", "sleep", "300")
	ports := strings.Split(strings.TrimSpace(e.ok("container", "port", "all").stdout), "\n")
	if len(ports) != 2 || !strings.HasPrefix(ports[0], "53/udp -> 0.0.0.0:") && !strings.HasPrefix(ports[1], "53/udp -> 0.0.0.0:") {
		t.Errorf("-P published %q", ports)
	}
	hosts := e.ok("container", "exec", "all", "busybox", "cat", "/etc/hosts").stdout
	var in []map[string]any
	if err := json.Unmarshal([]byte(e.ok("network", "inspect", "bridge").stdout), &in); err != nil {
		t.Fatal(err)
	}
	gw := in[0]["IPAM"].(map[string]any)["Config"].([]any)[0].(map[string]any)["Gateway"].(string)
	if !strings.Contains(hosts, "10.1.2.3\tdb\n") || !strings.Contains(hosts, gw+"\tgw\n") {
		t.Errorf("/etc/hosts with --add-host:\n%s", hosts)
	}
	if r := e.run("container", "run", "--rm", "--add-host", "nocolon", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "bad format for add-host") {
		t.Errorf("a bad --add-host: code %d, stderr %q", r.code, r.stderr)
	}
	e.ok("container", "rm", "-f", "all")
	e.ok("network", "rm", "bridge")
}

// TestNetworkGCAfterCrash: a container's monitor is killed and its record lost, as a crash in the
// middle of `run` can leave it; `system gc` takes away its veth, address, DNS entry, namespace and
// rules, and the network can be removed again.
func TestNetworkGCAfterCrash(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("network", "create", "--subnet", "10.55.0.0/24", "app")
	id := strings.TrimSpace(e.ok("container", "run", "-d", "--network", "app", "-p", "8080:80", "-v", "gcvol:/data", "bb:1", "busybox", "sleep", "3001").stdout)
	pid := int(e.stateFile(id)["monitor_pid"].(float64))
	t.Cleanup(func() {
		// The cgroups the killed monitor could not delete: with the record gone, nothing of
		// berth's knows them (they are empty, and harmless, but this test made them).
		for _, name := range []string{id, id + "-init"} {
			if cg, err := cgroup.Load(name); err == nil {
				if err := cg.Delete(); err != nil {
					t.Errorf("cgroup %s: %v", name, err)
				}
			}
		}
	})
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil { // this test's own container's monitor
		t.Fatal(err)
	}
	// The record goes too, as if berth had died before writing it.
	bundle := filepath.Join(e.root, "containers", id)
	waitUntil(t, "the container to die with its monitor", func() bool {
		_, err := os.Stat(filepath.Join(bundle, "state.json"))
		return err == nil && len(hostProcesses("busybox sleep 3001")) == 0
	})
	if err := unix.Unmount(filepath.Join(bundle, "rootfs"), unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(bundle); err != nil {
		t.Fatal(err)
	}
	if links := berthLinks(t, 2); len(links) != 2 {
		t.Fatalf("before gc, links %v (want the bridge and the veth)", links)
	}
	if r := e.ok("system", "gc").stdout; r != "Removed 1 endpoints, 0 links, 1 network namespaces, 1 rule owners, 1 volume users\n" {
		t.Errorf("gc: %q", r)
	}
	if links := berthLinks(t, 1); len(links) != 1 {
		t.Errorf("after gc, links %v (want the bridge)", links)
	}
	if owners, err := firewall.Owners(); err != nil || len(owners) != 1 || owners[0] != firewall.NetworkOwner("app") {
		t.Errorf("after gc, rule owners %v, %v", owners, err)
	}
	if ns, _ := os.ReadDir(filepath.Join(e.root, "run", "netns")); len(ns) != 0 {
		t.Errorf("after gc, namespaces %v", ns)
	}
	if r := e.ok("system", "gc").stdout; r != "Removed 0 endpoints, 0 links, 0 network namespaces, 0 rule owners, 0 volume users\n" {
		t.Errorf("a second gc: %q", r)
	}
	e.ok("network", "rm", "app")
	if links := berthLinks(t, 0); len(links) != 0 {
		t.Errorf("links left: %v", links)
	}
	// The volume the lost container used is free again, and kept its name.
	e.ok("volume", "rm", "gcvol")
}
