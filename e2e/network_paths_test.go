//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/berth-sh/berth/internal/testutil"
	"github.com/berth-sh/berth/network/firewall"
)

// The addresses of reference/network.md §9.1: the test's namespace (berth's host) and the LAN
// client X, on a veth of their own.
const (
	hostLANAddr   = "192.0.2.1"
	clientLANAddr = "192.0.2.2"
)

// newLANClient makes the LAN client X of reference/network.md §9.1: a network namespace joined
// to the test's own namespace by a veth, lan0 at 192.0.2.1/24 on the test's side and lan1 at
// 192.0.2.2/24 in X. Both ends go with X when t ends.
func newLANClient(t *testing.T) netns.NsHandle {
	t.Helper()
	var x netns.NsHandle
	if err := testutil.InThread(func() error {
		var err error
		x, err = netns.New()
		return err
	}); err != nil {
		t.Fatalf("LAN client namespace: %v", err)
	}
	t.Cleanup(func() { _ = x.Close() })
	// The test's goroutine is on its own namespace's thread (inOwnNetNS): lan0 is made there.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "lan0"}, PeerName: "lan1", PeerNamespace: netlink.NsFd(int(x))}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	hh, err := netlink.NewHandle() // in the test's namespace
	if err != nil {
		t.Fatal(err)
	}
	defer hh.Close()
	hx, err := netlink.NewHandleAt(x)
	if err != nil {
		t.Fatal(err)
	}
	defer hx.Close()
	for _, end := range []struct {
		h          *netlink.Handle
		name, addr string
	}{{hh, "lan0", hostLANAddr + "/24"}, {hx, "lan1", clientLANAddr + "/24"}} {
		link, err := end.h.LinkByName(end.name)
		if err != nil {
			t.Fatal(err)
		}
		a, err := netlink.ParseAddr(end.addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := end.h.AddrAdd(link, a); err != nil {
			t.Fatal(err)
		}
		if err := end.h.LinkSetUp(link); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// httpGetFrom is httpGet from a connection made in the network namespace ns.
func httpGetFrom(ns netns.NsHandle, addr, path string) (body string, err error) {
	err = testutil.InNetNS(ns, func() error {
		body, err = httpGet(addr, path)
		return err
	})
	return body, err
}

// waitHTTP polls get until it answers with a non-empty body, for up to 10 s (httpd is
// starting), and returns the body.
func waitHTTP(t *testing.T, what string, get func() (string, error)) string {
	t.Helper()
	var body string
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if body, err = get(); err == nil && body != "" {
			return body
		}
	}
	t.Fatalf("%s never answered: body %q, %v", what, body, err)
	return ""
}

// runRoot is the test's BERTH_RUN_ROOT.
func (e *containerEnv) runRoot() string {
	e.t.Helper()
	for _, v := range e.env {
		if r, ok := strings.CutPrefix(v, "BERTH_RUN_ROOT="); ok {
			return r
		}
	}
	e.t.Fatal("no BERTH_RUN_ROOT in the test's environment")
	return ""
}

// networkInspect returns `network inspect name`'s one object.
func (e *containerEnv) networkInspect(name string) map[string]any {
	e.t.Helper()
	var in []map[string]any
	if err := json.Unmarshal([]byte(e.ok("network", "inspect", name).stdout), &in); err != nil || len(in) != 1 {
		e.t.Fatalf("network inspect %s: %v (%d objects)", name, err, len(in))
	}
	return in[0]
}

// gateway is the gateway address of network name.
func (e *containerEnv) gateway(name string) string {
	e.t.Helper()
	return e.networkInspect(name)["IPAM"].(map[string]any)["Config"].([]any)[0].(map[string]any)["Gateway"].(string)
}

// addressOn is the IPv4 address container ctr has on network name, from network inspect.
func (e *containerEnv) addressOn(name, ctr string) string {
	e.t.Helper()
	for _, ep := range e.networkInspect(name)["Containers"].(map[string]any) {
		if ep := ep.(map[string]any); ep["Name"] == ctr {
			a, _, _ := strings.Cut(ep["IPv4Address"].(string), "/")
			return a
		}
	}
	e.t.Fatalf("%s has no endpoint on %s", ctr, name)
	return ""
}

// nslookupAddrs are the answer addresses in busybox nslookup's output, in their order; the
// server's own "Address:\t127.0.0.11:53" line is not one of them.
func nslookupAddrs(out string) []string {
	var addrs []string
	for _, l := range strings.Split(out, "\n") {
		if a, ok := strings.CutPrefix(l, "Address: "); ok {
			addrs = append(addrs, strings.TrimSpace(a))
		}
	}
	return addrs
}

// cgiServer is a container command serving HTTP on port 80 with busybox httpd, where
// /cgi-bin/ip answers the client address httpd saw (see seenBy).
const cgiServer = `busybox mkdir -p /www/cgi-bin && busybox cat > /www/cgi-bin/ip <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
echo "$REMOTE_ADDR"
EOF
busybox chmod +x /www/cgi-bin/ip && exec busybox httpd -f -p 80 -h /www`

// seenBy is the client address in cgiServer's answer, which busybox httpd on its IPv6 socket
// gives as "[::ffff:192.0.2.2]"; an answer that is no address is returned as it is.
func seenBy(body string) string {
	s := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(body), "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	return body
}

// TestNetworkLANClient: a published port seen from a LAN client keeps the client's own source
// address (kernel DNAT, no userland proxy); a port published on 127.0.0.1 only is the host's
// alone; a container reaches its own published port through the host's address (hairpin).
func TestNetworkLANClient(t *testing.T) {
	e := newContainerEnv(t)
	x := newLANClient(t)
	e.ok("container", "run", "-d", "--name", "web", "-p", "8080:80", "-p", "127.0.0.1:8081:80", "bb:1", "sh", "-c", cgiServer)
	gw := e.gateway("bridge")

	// From the test's namespace, on loopback: masqueraded to the bridge's address.
	body := waitHTTP(t, "GET 127.0.0.1:8081 from the host", func() (string, error) { return httpGet("127.0.0.1:8081", "/cgi-bin/ip") })
	if seenBy(body) != gw {
		t.Errorf("GET 127.0.0.1:8081/cgi-bin/ip from the host: server saw %q, want the gateway %s", body, gw)
	}
	// From X: the server sees X's own address.
	body = waitHTTP(t, "GET 192.0.2.1:8080 from the LAN client", func() (string, error) { return httpGetFrom(x, hostLANAddr+":8080", "/cgi-bin/ip") })
	if seenBy(body) != clientLANAddr {
		t.Errorf("GET %s:8080/cgi-bin/ip from the LAN client: server saw %q, want %s", hostLANAddr, body, clientLANAddr)
	}
	// The 127.0.0.1 port is not on the host's LAN address; X reached 8080 just above, so a
	// failure here is the port's.
	if body, err := httpGetFrom(x, hostLANAddr+":8081", "/cgi-bin/ip"); err == nil {
		t.Errorf("the LAN client reached the port published on 127.0.0.1 only at %s:8081: %q", hostLANAddr, body)
	}
	// Hairpin: the container to its own published port through the host's LAN address.
	// (timeout rather than wget -T, with which Debian's busybox 1.35 wget dies of SIGSEGV.)
	r := e.run("container", "exec", "web", "busybox", "timeout", "10", "busybox", "wget", "-qO-", "http://"+hostLANAddr+":8080/cgi-bin/ip")
	if r.code != 0 || seenBy(r.stdout) != gw {
		t.Errorf("hairpin from the container to %s:8080: code %d, stdout %q, stderr %q; want the gateway %s", hostLANAddr, r.code, r.stdout, r.stderr, gw)
	}
	e.ok("container", "rm", "-f", "web")
	e.ok("network", "rm", "bridge")
	if owners, err := firewall.Owners(); err != nil || len(owners) != 0 {
		t.Errorf("rules left: %v, %v", owners, err)
	}
	if links := berthLinks(t, 0); len(links) != 0 {
		t.Errorf("links left: %v", links)
	}
}

// TestNetworkTwoNetworks: a container on two networks, whether given both at run or connected
// to the second while running, resolves the names of both; a container on one of them does not
// resolve the other's; replicas sharing an alias all come back on every query, shuffled.
func TestNetworkTwoNetworks(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("network", "create", "--subnet", "10.61.0.0/24", "front")
	e.ok("network", "create", "--subnet", "10.62.0.0/24", "back")
	sleep := []string{"bb:1", "busybox", "sleep", "300"}
	e.ok(append([]string{"container", "run", "-d", "--name", "web", "--network", "front"}, sleep...)...)
	e.ok(append([]string{"container", "run", "-d", "--name", "db", "--network", "back"}, sleep...)...)
	e.ok(append([]string{"container", "run", "-d", "--name", "both", "--network", "front", "--network", "back"}, sleep...)...)
	e.ok(append([]string{"container", "run", "-d", "--name", "late", "--network", "front"}, sleep...)...)
	e.ok("network", "connect", "back", "late")

	lookup := func(from, name string) []string {
		t.Helper()
		return nslookupAddrs(e.run("container", "exec", from, "busybox", "nslookup", name).stdout)
	}
	want := map[string]string{
		"web":       e.addressOn("front", "web"),
		"db":        e.addressOn("back", "db"),
		"both.back": e.addressOn("back", "both"),
		"late.back": e.addressOn("back", "late"),
	}
	for _, tc := range []struct{ from, name, want string }{
		{"both", "web", want["web"]},
		{"both", "db", want["db"]},
		{"late", "web", want["web"]},
		{"late", "db", want["db"]},
		// The containers on two networks are names on both.
		{"db", "both", want["both.back"]},
		{"db", "late", want["late.back"]},
		// Names are scoped to the networks a container is on.
		{"web", "db", ""},
		{"db", "web", ""},
	} {
		if got := strings.Join(lookup(tc.from, tc.name), " "); got != tc.want {
			t.Errorf("from %s, %s resolves to %q, want %q", tc.from, tc.name, got, tc.want)
		}
	}
	// Resolved and reached, over either network.
	for _, tc := range []struct{ from, to string }{{"both", "web"}, {"both", "db"}, {"late", "db"}, {"db", "late"}} {
		if r := e.run("container", "exec", tc.from, "busybox", "ping", "-c1", "-W2", tc.to); r.code != 0 {
			t.Errorf("%s cannot ping %s: %s%s", tc.from, tc.to, r.stdout, r.stderr)
		}
	}

	// Off a network, its names are gone.
	e.ok("network", "disconnect", "back", "both")
	if got := lookup("both", "db"); len(got) != 0 {
		t.Errorf("after network disconnect back both, db resolves to %v from both", got)
	}

	// Five replicas of one service: every answer has all of them, in varying order.
	var replicas []string
	for i := range 5 {
		name := fmt.Sprintf("svc%d", i)
		e.ok(append([]string{"container", "run", "-d", "--name", name, "--network", "front", "--network-alias", "svc"}, sleep...)...)
		replicas = append(replicas, e.addressOn("front", name))
	}
	slices.Sort(replicas)
	out := e.ok("container", "run", "--rm", "--network", "front", "bb:1", "sh", "-c",
		"for i in $(busybox seq 20); do busybox nslookup svc; echo ---; done").stdout
	blocks := strings.Split(strings.TrimSuffix(out, "---\n"), "---\n")
	orders := map[string]bool{}
	for i, b := range blocks {
		addrs := nslookupAddrs(b)
		orders[strings.Join(addrs, " ")] = true
		sorted := slices.Sorted(slices.Values(addrs))
		if !slices.Equal(sorted, replicas) {
			t.Errorf("lookup %d of svc: %v, want all of %v", i, addrs, replicas)
		}
	}
	if len(blocks) != 20 {
		t.Errorf("%d lookups of svc, want 20:\n%s", len(blocks), out)
	}
	if len(orders) < 2 {
		t.Errorf("20 lookups of svc all answered in the order %v: not shuffled", slices.Collect(maps.Keys(orders)))
	}
}

// Docker's firewall as its engine leaves it through iptables-nft, for TestNetworkDockerFirewall.
const (
	dockerFilterTable = "filter"
	dockerForward     = "FORWARD"
	dockerUser        = "DOCKER-USER"
)

// dockerIfname matches -i/-o name as iptables-nft writes it.
func dockerIfname(key expr.MetaKey, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: append([]byte(name), 0)},
	}
}

// playDockerFirewall makes in the test's namespace what dockerd makes in "ip filter": FORWARD
// with policy drop, jumping first to DOCKER-USER (which ends in a return, as older Dockers
// wrote it), then accepting docker0's traffic; it skips t without nf_tables.
func playDockerFirewall(t *testing.T) {
	t.Helper()
	c, err := nftables.New()
	if err == nil {
		_, err = c.ListTables()
	}
	if err != nil {
		t.Skipf("needs nf_tables: %v", err)
	}
	table := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: dockerFilterTable})
	drop := nftables.ChainPolicyDrop
	fwd := c.AddChain(&nftables.Chain{Table: table, Name: dockerForward, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	du := c.AddChain(&nftables.Chain{Table: table, Name: dockerUser})
	c.AddRule(&nftables.Rule{Table: table, Chain: du, Exprs: []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictReturn}}})
	c.AddRule(&nftables.Rule{Table: table, Chain: fwd, Exprs: []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictJump, Chain: dockerUser}}})
	for _, key := range []expr.MetaKey{expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME} {
		c.AddRule(&nftables.Rule{Table: table, Chain: fwd, Exprs: append(dockerIfname(key, "docker0"), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictAccept})})
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("Docker's filter table: %v", err)
	}
}

// dockerChain describes the rules of a chain of Docker's filter table: for each, its verdict and
// its comment, the tag berth's rules carry (in UserData, or in an xt comment match as
// iptables-restore writes it back).
func dockerChain(t *testing.T, chain string) (rules []string, policy string) {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	table := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: dockerFilterTable}
	ch, err := c.ListChain(table, chain)
	if err != nil {
		t.Fatalf("chain %s: %v", chain, err)
	}
	if ch.Policy != nil {
		policy = map[nftables.ChainPolicy]string{nftables.ChainPolicyDrop: "drop", nftables.ChainPolicyAccept: "accept"}[*ch.Policy]
	}
	rs, err := c.GetRules(table, ch)
	if err != nil {
		t.Fatalf("rules of %s: %v", chain, err)
	}
	for _, r := range rs {
		var desc []string
		for _, x := range r.Exprs {
			switch x := x.(type) {
			case *expr.Cmp:
				desc = append(desc, strings.TrimRight(string(x.Data), "\x00"))
			case *expr.Verdict:
				v := map[expr.VerdictKind]string{expr.VerdictAccept: "accept", expr.VerdictDrop: "drop", expr.VerdictReturn: "return", expr.VerdictJump: "jump " + x.Chain}[x.Kind]
				desc = append(desc, v)
			case *expr.Match:
				if cm, ok := x.Info.(*xt.Comment); ok {
					desc = append(desc, "comment "+string(*cm))
				}
			}
		}
		if i := bytes.Index(r.UserData, []byte("berth:")); i >= 0 {
			desc = append(desc, "comment "+string(bytes.TrimRight(r.UserData[i:], "\x00")))
		}
		rules = append(rules, strings.Join(desc, " "))
	}
	return rules, policy
}

// TestNetworkDockerFirewall: with Docker's firewall in place (FORWARD policy drop, bridged
// traffic through iptables), berth lets its network's traffic through DOCKER-USER, and takes
// its accepts away with the network, leaving Docker's own rules as they were.
func TestNetworkDockerFirewall(t *testing.T) {
	e := newContainerEnv(t)
	const brnf = "/proc/sys/net/bridge/bridge-nf-call-iptables"
	if _, err := os.Stat(brnf); err != nil {
		t.Skipf("needs br_netfilter, whose sysctl is missing in the test's network namespace: %v", err)
	}
	// The test's own namespace's copy of the sysctl: bridged traffic goes through FORWARD.
	if err := os.WriteFile(brnf, []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	playDockerFirewall(t)
	dockerRules := []string{"return"}
	forwardRules := []string{"jump DOCKER-USER", "docker0 accept", "docker0 accept"}
	x := newLANClient(t)

	e.ok("network", "create", "--subnet", "10.66.0.0/24", "app")
	owner := firewall.NetworkOwner("app")
	var bridge string
	if links := berthLinks(t, 1); len(links) == 1 {
		bridge = links[0]
	} else {
		t.Fatalf("links after network create: %v", links)
	}
	rules, _ := dockerChain(t, dockerUser)
	wantRules := []string{bridge + " accept comment " + owner, bridge + " accept comment " + owner, "return"}
	if !slices.Equal(rules, wantRules) {
		t.Errorf("DOCKER-USER after network create: %q, want %q", rules, wantRules)
	}
	e.ok("container", "run", "-d", "--name", "c1", "--network", "app", "bb:1", "busybox", "sleep", "300")
	e.ok("container", "run", "-d", "--name", "web", "--network", "app", "-p", "8080:80", "bb:1", "sh", "-c", cgiServer)
	// Bridged between the two containers, through Docker's FORWARD.
	for _, tc := range []struct{ from, to string }{{"c1", "web"}, {"web", "c1"}} {
		if r := e.run("container", "exec", tc.from, "busybox", "ping", "-c1", "-W2", tc.to); r.code != 0 {
			t.Errorf("%s cannot ping %s: %s%s", tc.from, tc.to, r.stdout, r.stderr)
		}
	}
	gw := e.gateway("app")
	body := waitHTTP(t, "GET 127.0.0.1:8080 from the host", func() (string, error) { return httpGet("127.0.0.1:8080", "/cgi-bin/ip") })
	if seenBy(body) != gw {
		t.Errorf("GET 127.0.0.1:8080/cgi-bin/ip from the host: server saw %q, want the gateway %s", body, gw)
	}
	// Routed from the LAN into the network, through Docker's FORWARD.
	body = waitHTTP(t, "GET 192.0.2.1:8080 from the LAN client", func() (string, error) { return httpGetFrom(x, hostLANAddr+":8080", "/cgi-bin/ip") })
	if seenBy(body) != clientLANAddr {
		t.Errorf("GET %s:8080/cgi-bin/ip from the LAN client: server saw %q, want %s", hostLANAddr, body, clientLANAddr)
	}

	e.ok("container", "rm", "-f", "c1", "web")
	e.ok("network", "rm", "app")
	if rules, _ := dockerChain(t, dockerUser); !slices.Equal(rules, dockerRules) {
		t.Errorf("DOCKER-USER after network rm: %q, want only Docker's %q", rules, dockerRules)
	}
	if rules, policy := dockerChain(t, dockerForward); !slices.Equal(rules, forwardRules) || policy != "drop" {
		t.Errorf("FORWARD after network rm: %q, policy %s; want Docker's %q, policy drop", rules, policy, forwardRules)
	}
	if owners, err := firewall.Owners(); err != nil || len(owners) != 0 {
		t.Errorf("rules left: %v, %v", owners, err)
	}
	if links := berthLinks(t, 0); len(links) != 0 {
		t.Errorf("links left: %v", links)
	}
}

// TestNetworkKilledMidRun: the CLI of a foreground `run` on a network and then the container's
// monitor die of SIGKILL; `system gc` and `rm -f` leave the host as the network alone left it,
// and the network can go.
func TestNetworkKilledMidRun(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("network", "create", "--subnet", "10.57.0.0/24", "app")
	const sleeper = "busybox sleep 3107"
	x := exec.Command(berthBin, "container", "run", "--name", "fg", "--network", "app", "-p", "8080:80", "bb:1", "busybox", "sleep", "3107")
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.env...)
	var out, errOut bytes.Buffer
	x.Stdout, x.Stderr = &out, &errOut
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- x.Wait() }()
	t.Cleanup(func() {
		// Only the CLI this test started.
		_ = x.Process.Kill()
		err := <-done
		done <- err
	})
	var id string
	var monitorPid, initPid int
	waitUntil(t, "the container to run", func() bool {
		ids := strings.Fields(e.ok("container", "ls", "-q", "--no-trunc").stdout)
		if len(ids) != 1 {
			return false
		}
		b, err := os.ReadFile(filepath.Join(e.root, "containers", ids[0], "state.json"))
		var st struct {
			Status     string `json:"status"`
			Pid        int    `json:"pid"`
			MonitorPid int    `json:"monitor_pid"`
		}
		if err != nil || json.Unmarshal(b, &st) != nil || st.Status != "running" || st.MonitorPid == 0 || st.Pid == 0 {
			return false
		}
		id, monitorPid, initPid = ids[0], st.MonitorPid, st.Pid
		return true
	})
	if err := x.Process.Kill(); err != nil { // the CLI this test started
		t.Fatal(err)
	}
	err := <-done
	done <- err // for the cleanup
	if ls := e.ok("container", "ls").stdout; !strings.Contains(ls, "fg") {
		t.Errorf("the container did not outlive its CLI:\n%s\nCLI stdout %q, stderr %q", ls, out.String(), errOut.String())
	}
	if err := syscall.Kill(monitorPid, syscall.SIGKILL); err != nil { // this test's own container's monitor
		t.Fatal(err)
	}
	// The CLI is gone, and with it the only other process whose command line names the sleep.
	waitUntil(t, "the container to die with its monitor", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", initPid))
		return os.IsNotExist(err) && len(hostProcesses(sleeper)) == 0
	})
	// What gc and rm must take away is there: the veth, the namespace, the port's rules.
	if links := berthLinks(t, 2); len(links) != 2 {
		t.Errorf("before gc, links %v (want the bridge and the veth)", links)
	}
	netnsDir := filepath.Join(e.runRoot(), "netns")
	if ns, err := os.ReadDir(netnsDir); err != nil || len(ns) != 1 || ns[0].Name() != id {
		t.Errorf("before gc, namespaces %v, %v (want the container's)", ns, err)
	}
	// (Owners sorts: "berth:ctr:" before "berth:net:".)
	if owners, err := firewall.Owners(); err != nil || !slices.Equal(owners, []string{firewall.ContainerOwner(id), firewall.NetworkOwner("app")}) {
		t.Errorf("before gc, rule owners %v, %v (want the container's and the network's)", owners, err)
	}

	// The container's record is there, stopped: its published port's rules have no owner any
	// more; its endpoint and namespace are its own until rm.
	if r := e.ok("system", "gc").stdout; r != "Removed 0 endpoints, 0 links, 0 network namespaces, 1 rule owners, 0 volume users\n" {
		t.Errorf("gc: %q", r)
	}
	if owners, err := firewall.Owners(); err != nil || !slices.Equal(owners, []string{firewall.NetworkOwner("app")}) {
		t.Errorf("after gc, rule owners %v, %v (want the network's only)", owners, err)
	}
	if ids := strings.Fields(e.ok("container", "ls", "-aq", "--no-trunc").stdout); !slices.Equal(ids, []string{id}) {
		t.Errorf("containers after gc: %v, want %s", ids, id)
	}
	for _, c := range strings.Fields(e.ok("container", "ls", "-aq").stdout) {
		e.ok("container", "rm", "-f", c)
	}
	e.assertGone(id)

	links := berthLinks(t, 1)
	if len(links) != 1 {
		t.Errorf("links after gc and rm: %v, want the network's bridge", links)
	} else if l, err := netlink.LinkByName(links[0]); err != nil || l.Type() != "bridge" {
		t.Errorf("the link left is %s (%v), want the network's bridge", links[0], err)
	}
	if ns, err := os.ReadDir(netnsDir); len(ns) != 0 || err != nil && !os.IsNotExist(err) {
		t.Errorf("namespaces left: %v (%v)", ns, err)
	}
	if owners, err := firewall.Owners(); err != nil || !slices.Equal(owners, []string{firewall.NetworkOwner("app")}) {
		t.Errorf("after rm, rule owners %v, %v (want the network's only)", owners, err)
	}
	if ctrs := e.networkInspect("app")["Containers"].(map[string]any); len(ctrs) != 0 {
		t.Errorf("network inspect app after rm: Containers %v", ctrs)
	}
	if l, err := net.Listen("tcp4", "0.0.0.0:8080"); err != nil {
		t.Errorf("the published port is still held: %v", err)
	} else {
		l.Close()
	}
	e.ok("network", "rm", "app")
	if links := berthLinks(t, 0); len(links) != 0 {
		t.Errorf("links left: %v", links)
	}
	if owners, err := firewall.Owners(); err != nil || len(owners) != 0 {
		t.Errorf("rules left: %v, %v", owners, err)
	}
}
