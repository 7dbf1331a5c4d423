package resolver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// upstream is a fake DNS server on 127.0.0.1, UDP and TCP on one port, that
// records what it is asked.
type upstream struct {
	addr string

	mu      sync.Mutex
	queries []string // "udp A example.test."
}

func (u *upstream) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.queries)
}

// startUpstream serves handle, or fakeUpstream's answers when nil.
func startUpstream(t *testing.T, handle func(w dns.ResponseWriter, q *dns.Msg)) *upstream {
	t.Helper()
	u := &upstream{}
	if handle == nil {
		handle = fakeUpstream
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		u.mu.Lock()
		u.queries = append(u.queries, w.LocalAddr().Network()+" "+dns.TypeToString[q.Question[0].Qtype]+" "+q.Question[0].Name)
		u.mu.Unlock()
		handle(w, q)
	})
	pc, ln := listenPair(t)
	u.addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe() //nolint:errcheck // stopped by Shutdown below
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return u
}

// listenPair listens on 127.0.0.1 for UDP and TCP on the same random port.
func listenPair(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no free port pair on 127.0.0.1")
	return nil, nil
}

// fakeUpstream knows example.test (A 192.0.2.1); big.test has 40 A records
// and over UDP only says it is truncated; fail.test gets SERVFAIL; anything
// else NXDOMAIN.
func fakeUpstream(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg).SetReply(q)
	name := strings.ToLower(q.Question[0].Name)
	hdr := dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}
	switch {
	case name == "example.test." && q.Question[0].Qtype == dns.TypeA:
		m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: net.IPv4(192, 0, 2, 1)})
	case name == "example.test.":
	case name == "big.test." && w.LocalAddr().Network() == "udp":
		m.Truncated = true
	case name == "big.test.":
		for i := range 40 {
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: net.IPv4(192, 0, 2, byte(i+1))})
		}
	case name == "fail.test.":
		m.Rcode = dns.RcodeServerFailure
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m) //nolint:errcheck // the test sees a timeout
}

// startServer serves cfg on 127.0.0.1 and returns the address of its UDP
// and TCP sockets.
func startServer(t *testing.T, cfg Config) (udp, tcp string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(cfg)
	done := make(chan error, 1)
	go func() { done <- s.Serve(pc, ln) }()
	t.Cleanup(func() {
		s.Shutdown()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return pc.LocalAddr().String(), ln.Addr().String()
}

func query(t *testing.T, network, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.Id = 0xbe47
	c := &dns.Client{Net: network, Timeout: 10 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, dns.TypeToString[qtype], name, err)
	}
	if r.Id != m.Id {
		t.Fatalf("reply id %#x, want %#x", r.Id, m.Id)
	}
	return r
}

// answers renders the answer section as "A 172.20.0.2 600" lines, sorted.
func answers(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, fmt.Sprintf("A %s %d", rr.A, rr.Hdr.Ttl))
		case *dns.AAAA:
			out = append(out, fmt.Sprintf("AAAA %s %d", rr.AAAA, rr.Hdr.Ttl))
		case *dns.PTR:
			out = append(out, fmt.Sprintf("PTR %s %d", rr.Ptr, rr.Hdr.Ttl))
		default:
			out = append(out, rr.String())
		}
	}
	slices.Sort(out)
	return out
}

func TestServerLocal(t *testing.T) {
	table, _ := testNetworks(t)
	up := startUpstream(t, nil)
	udp, tcp := startServer(t, Config{Table: table, Upstreams: []string{up.addr}})
	tests := []struct {
		name  string
		qtype uint16
		want  []string
	}{
		{"web.", dns.TypeA, []string{"A 172.20.0.2 600", "A 172.20.0.3 600", "A 172.20.0.4 600"}},
		{"WEB.", dns.TypeAAAA, []string{"AAAA fd00:20::2 600", "AAAA fd00:20::3 600"}},
		{"proj-web-2.", dns.TypeA, []string{"A 172.20.0.3 600"}},
		{"aaaa11112222.", dns.TypeA, []string{"A 172.20.0.2 600"}},
		{"cache.proj_back.", dns.TypeA, []string{"A 172.21.0.3 600"}},
		{"Proj-Web-1.Proj_Default.", dns.TypeA, []string{"A 172.20.0.2 600"}},
		{"db.", dns.TypeAAAA, nil},
		{"db.", dns.TypeMX, nil},
		{"2.0.20.172.in-addr.arpa.", dns.TypePTR, []string{"PTR proj-web-1.proj_default. 600"}},
		{"3.0.21.172.in-addr.arpa.", dns.TypePTR, []string{"PTR proj-cache-1.proj_back. 600"}},
		{"3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.0.d.f.ip6.arpa.", dns.TypePTR,
			[]string{"PTR proj-web-2.proj_default. 600"}},
	}
	for _, network := range []string{"udp", "tcp"} {
		addr := map[string]string{"udp": udp, "tcp": tcp}[network]
		for _, tt := range tests {
			t.Run(network+" "+dns.TypeToString[tt.qtype]+" "+tt.name, func(t *testing.T) {
				r := query(t, network, addr, tt.name, tt.qtype)
				if r.Rcode != dns.RcodeSuccess || !r.RecursionAvailable {
					t.Errorf("rcode %s, ra %v", dns.RcodeToString[r.Rcode], r.RecursionAvailable)
				}
				if got := answers(r); !slices.Equal(got, tt.want) {
					t.Errorf("answers %q, want %q", got, tt.want)
				}
				for _, rr := range r.Answer {
					if rr.Header().Name != tt.name {
						t.Errorf("answer for %q, want the name as asked, %q", rr.Header().Name, tt.name)
					}
				}
			})
		}
	}
	if q := up.seen(); len(q) != 0 {
		t.Errorf("known names were forwarded: %q", q)
	}
}

func TestServerShuffle(t *testing.T) {
	table, _ := testNetworks(t)
	udp, _ := startServer(t, Config{Table: table, NoForward: true})
	orders := map[string]int{}
	for range 30 {
		r := query(t, "udp", udp, "web.", dns.TypeA)
		var order []string
		for _, rr := range r.Answer {
			order = append(order, rr.(*dns.A).A.String())
		}
		if len(order) != 3 {
			t.Fatalf("%d answers, want 3", len(order))
		}
		orders[strings.Join(order, " ")]++
	}
	if len(orders) < 2 {
		t.Errorf("the same order for 30 answers: %v", orders)
	}
}

func TestServerForward(t *testing.T) {
	table, _ := testNetworks(t)
	up := startUpstream(t, nil)
	udp, tcp := startServer(t, Config{Table: table, Upstreams: []string{up.addr}})

	r := query(t, "udp", udp, "example.test.", dns.TypeA)
	if got := answers(r); !slices.Equal(got, []string{"A 192.0.2.1 30"}) {
		t.Errorf("udp example.test: %q", got)
	}
	r = query(t, "tcp", tcp, "example.test.", dns.TypeA)
	if got := answers(r); !slices.Equal(got, []string{"A 192.0.2.1 30"}) {
		t.Errorf("tcp example.test: %q", got)
	}
	// A name only on a network the container is not on is not known here.
	r = query(t, "udp", udp, "secret.", dns.TypeA)
	if r.Rcode != dns.RcodeNameError {
		t.Errorf("secret: %s, want the upstream's NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	// Other types of known names go upstream, as in Docker.
	query(t, "udp", udp, "web.", dns.TypeTXT)
	// A reverse name that is not a container's goes upstream.
	query(t, "udp", udp, "1.2.0.192.in-addr.arpa.", dns.TypePTR)

	want := []string{"udp A example.test.", "tcp A example.test.", "udp A secret.",
		"udp TXT web.", "udp PTR 1.2.0.192.in-addr.arpa."}
	if got := up.seen(); !slices.Equal(got, want) {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
}

func TestServerAAAAKnownV4Only(t *testing.T) {
	table, _ := testNetworks(t)
	up := startUpstream(t, nil)
	udp, _ := startServer(t, Config{Table: table, Upstreams: []string{up.addr}})
	for _, name := range []string{"db.", "proj-web-3.", "cache.proj_back."} {
		r := query(t, "udp", udp, name, dns.TypeAAAA)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
			t.Errorf("AAAA %s: %s with %d answers, want NOERROR and none", name, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
	if q := up.seen(); len(q) != 0 {
		t.Errorf("upstream asked %q", q)
	}
}

func TestServerTruncatedRetry(t *testing.T) {
	up := startUpstream(t, nil)
	udp, _ := startServer(t, Config{Table: NewTable(), Upstreams: []string{up.addr}})

	m := new(dns.Msg).SetQuestion("big.test.", dns.TypeA)
	m.SetEdns0(4096, false)
	r, _, err := (&dns.Client{Timeout: 10 * time.Second}).Exchange(m, udp)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 40 || r.Truncated {
		t.Errorf("%d answers, truncated %v; want the 40 the upstream gave over TCP", len(r.Answer), r.Truncated)
	}
	// A client without EDNS0 takes 512 bytes: the answer is cut for it.
	r = query(t, "udp", udp, "big.test.", dns.TypeA)
	if !r.Truncated || len(r.Answer) >= 40 {
		t.Errorf("%d answers, truncated %v; want a truncated answer", len(r.Answer), r.Truncated)
	}
	want := []string{"udp A big.test.", "tcp A big.test.", "udp A big.test.", "tcp A big.test."}
	if got := up.seen(); !slices.Equal(got, want) {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
}

func TestServerFailover(t *testing.T) {
	// An upstream that reads and never answers.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	failing := startUpstream(t, func(w dns.ResponseWriter, q *dns.Msg) {
		w.WriteMsg(new(dns.Msg).SetRcode(q, dns.RcodeServerFailure)) //nolint:errcheck
	})
	good := startUpstream(t, nil)

	udp, _ := startServer(t, Config{
		Table:     NewTable(),
		Upstreams: []string{silent.LocalAddr().String(), failing.addr, good.addr},
		Timeout:   200 * time.Millisecond,
	})
	if got := answers(query(t, "udp", udp, "example.test.", dns.TypeA)); !slices.Equal(got, []string{"A 192.0.2.1 30"}) {
		t.Errorf("answers %q from the third upstream", got)
	}
	// The upstream's NXDOMAIN is an answer, not a failure (moby#45565).
	if r := query(t, "udp", udp, "nowhere.test.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("nowhere.test: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}

	// Only three upstreams are tried, and none of these answer.
	udp, _ = startServer(t, Config{
		Table:     NewTable(),
		Upstreams: []string{silent.LocalAddr().String(), failing.addr, failing.addr, good.addr},
		Timeout:   200 * time.Millisecond,
	})
	if r := query(t, "udp", udp, "example.test.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("no upstream answered: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}

func TestServerNoForward(t *testing.T) {
	table, _ := testNetworks(t)
	up := startUpstream(t, nil)
	udp, tcp := startServer(t, Config{Table: table, Upstreams: []string{up.addr}, NoForward: true})
	for _, network := range []string{"udp", "tcp"} {
		addr := map[string]string{"udp": udp, "tcp": tcp}[network]
		if r := query(t, network, addr, "example.test.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("%s: %s, want SERVFAIL", network, dns.RcodeToString[r.Rcode])
		}
		if r := query(t, network, addr, "web.", dns.TypeA); len(r.Answer) != 3 {
			t.Errorf("%s: web has %d answers, want 3", network, len(r.Answer))
		}
	}
	if q := up.seen(); len(q) != 0 {
		t.Errorf("upstream asked %q", q)
	}
}

func TestServerNdots(t *testing.T) {
	table, _ := testNetworks(t)
	up := startUpstream(t, nil)
	udp, _ := startServer(t, Config{Table: table, Upstreams: []string{up.addr}, NdotsSet: true})
	if r := query(t, "udp", udp, "nowhere.", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("single label: %s with %d answers, want an empty NOERROR", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if r := query(t, "udp", udp, "web.", dns.TypeA); len(r.Answer) != 3 {
		t.Errorf("web: %d answers, want 3", len(r.Answer))
	}
	query(t, "udp", udp, "example.test.", dns.TypeA)
	query(t, "udp", udp, "nowhere.", dns.TypeTXT)
	if got, want := up.seen(), []string{"udp A example.test.", "udp TXT nowhere."}; !slices.Equal(got, want) {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
}

func TestServerSeesUpdate(t *testing.T) {
	table, paths := testNetworks(t)
	up := startUpstream(t, nil)
	udp, _ := startServer(t, Config{Table: table, Upstreams: []string{up.addr}})
	if r := query(t, "udp", udp, "late.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Fatalf("late before Update: %s", dns.RcodeToString[r.Rcode])
	}
	err := Update(paths[1], func(r *NetworkRecords) error {
		r.Entries = append(r.Entries, Entry{ID: "late", Names: []string{"late"}, IPv4: netip.MustParseAddr("172.21.0.9")})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := answers(query(t, "udp", udp, "late.", dns.TypeA)); !slices.Equal(got, []string{"A 172.21.0.9 600"}) {
		t.Errorf("late after Update: %q", got)
	}
	err = Update(paths[1], func(r *NetworkRecords) error {
		r.Entries = slices.DeleteFunc(r.Entries, func(e Entry) bool { return e.ID == "late" })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := query(t, "udp", udp, "late.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("late after removal: %s", dns.RcodeToString[r.Rcode])
	}
}

func TestServerGarbage(t *testing.T) {
	table, _ := testNetworks(t)
	udp, tcp := startServer(t, Config{Table: table, NoForward: true})
	rng := rand.New(rand.NewPCG(1, 2))

	valid, _ := new(dns.Msg).SetQuestion("web.", dns.TypeA).Pack()
	packets := [][]byte{nil, {0}, valid[:11], valid[:13], valid[:len(valid)-1]}
	for range 200 {
		p := slices.Clone(valid)
		for range 1 + rng.IntN(4) {
			p[rng.IntN(len(p))] = byte(rng.Uint32())
		}
		packets = append(packets, p)
		junk := make([]byte, rng.IntN(600))
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		packets = append(packets, junk)
	}

	c, err := net.Dial("udp", udp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range packets {
		c.Write(p) //nolint:errcheck // garbage, answered or not
	}
	for _, p := range packets[:50] {
		c, err := net.Dial("tcp", tcp)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(append([]byte{byte(len(p) >> 8), byte(len(p))}, p...)) //nolint:errcheck
		c.Close()
	}
	// A length prefix promising more than is sent, then a hang-up.
	if c, err := net.Dial("tcp", tcp); err == nil {
		c.Write([]byte{0xff, 0xff, 1, 2, 3}) //nolint:errcheck
		c.Close()
	}

	for _, network := range []string{"udp", "tcp"} {
		addr := map[string]string{"udp": udp, "tcp": tcp}[network]
		if r := query(t, network, addr, "web.", dns.TypeA); len(r.Answer) != 3 {
			t.Errorf("%s after garbage: %d answers", network, len(r.Answer))
		}
	}
}

func TestServerShutdown(t *testing.T) {
	s := NewServer(Config{Table: NewTable()})
	s.Shutdown()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(pc, nil); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
	if err := NewServer(Config{}).Serve(nil, nil); err == nil {
		t.Error("Serve with no socket succeeded")
	}

	// A socket that fails stops the other one too.
	pc, err = net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := NewServer(Config{}).Serve(pc, ln); err == nil {
		t.Error("Serve on a closed listener succeeded")
	}
	if _, err := pc.WriteTo([]byte{0}, pc.LocalAddr()); err == nil {
		t.Error("Serve left its UDP socket open")
	}

	// Shutdown abandons a forwarded query at once.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	s = NewServer(Config{Table: NewTable(), Upstreams: []string{silent.LocalAddr().String()}, Timeout: time.Minute})
	pc, err = net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(pc, nil) }()
	go (&dns.Client{Timeout: time.Minute}).Exchange(new(dns.Msg).SetQuestion("example.test.", dns.TypeA), pc.LocalAddr().String()) //nolint:errcheck
	buf := make([]byte, 512)
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := silent.ReadFrom(buf); err != nil {
		t.Fatalf("query never forwarded: %v", err)
	}
	start := time.Now()
	s.Shutdown()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
}

func TestServerDial(t *testing.T) {
	up := startUpstream(t, nil)
	var mu sync.Mutex
	var dialed []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, network+" "+addr)
		mu.Unlock()
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	udp, _ := startServer(t, Config{Table: NewTable(), Upstreams: []string{up.addr}, Dial: dial})
	query(t, "udp", udp, "example.test.", dns.TypeA)
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"udp " + up.addr}; !slices.Equal(dialed, want) {
		t.Errorf("dialed %q, want %q", dialed, want)
	}

	// Only the first three upstreams count, as in Docker.
	s := NewServer(Config{Upstreams: []string{"192.0.2.1:53", "192.0.2.2:53", "127.0.0.11:53", "192.0.2.4:53"}})
	if want := []string{"192.0.2.1:53", "192.0.2.2:53", "127.0.0.11:53"}; !slices.Equal(s.upstreams, want) {
		t.Errorf("upstreams %q, want %q", s.upstreams, want)
	}
}

// nullWriter is a dns.ResponseWriter that packs what it is given.
type nullWriter struct {
	network string
	wrote   int
}

func (w *nullWriter) LocalAddr() net.Addr {
	if w.network == "tcp" {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 11), Port: 53}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 11), Port: 53}
}
func (w *nullWriter) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}
}
func (w *nullWriter) WriteMsg(m *dns.Msg) error {
	w.wrote++
	_, err := m.Pack()
	return err
}
func (w *nullWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nullWriter) Close() error                { return nil }
func (w *nullWriter) TsigStatus() error           { return nil }
func (w *nullWriter) TsigTimersOnly(bool)         {}
func (w *nullWriter) Hijack()                     {}

func FuzzServeDNS(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"web.", dns.TypeA}, {"WEB.proj_default.", dns.TypeAAAA}, {"db.", dns.TypeMX},
		{"2.0.20.172.in-addr.arpa.", dns.TypePTR}, {"example.test.", dns.TypeTXT}, {".", dns.TypeA},
	} {
		b, _ := new(dns.Msg).SetQuestion(q.name, q.qtype).Pack()
		f.Add(b, false)
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "proj_default.json")
	err := Update(path, func(r *NetworkRecords) error {
		r.Network, r.Entries = "proj_default", []Entry{web1, web2, web3, db1}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	// A closed port on 127.0.0.1: every forward fails at once, and nothing
	// leaves the host.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	closed := pc.LocalAddr().String()
	pc.Close()
	s := NewServer(Config{Table: NewTable(path), Upstreams: []string{closed}, Timeout: 50 * time.Millisecond})
	f.Fuzz(func(t *testing.T, b []byte, tcp bool) {
		q := new(dns.Msg)
		if q.Unpack(b) != nil {
			return
		}
		w := &nullWriter{network: "udp"}
		if tcp {
			w.network = "tcp"
		}
		s.serveDNS(w, q)
		if w.wrote == 0 {
			t.Error("no reply written")
		}
	})
}
