package resolver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Docker's numbers (daemon/libnetwork/resolver.go).
const (
	// ttl is the TTL of every record the server answers itself.
	ttl = 600
	// maxUpstreams is how many upstreams are tried, as glibc's MAXNS.
	maxUpstreams = 3
	// defaultTimeout bounds one exchange with one upstream.
	defaultTimeout = 4 * time.Second
	// maxForwards bounds the queries being forwarded at once.
	maxForwards = 1024
)

// Address is where a container's resolv.conf points: the server listens
// there, port 53, inside the container's network namespace.
const Address = "127.0.0.11"

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("dns server closed")

// Config configures a Server.
type Config struct {
	// Table holds the names the server answers itself; nil knows none.
	Table *Table
	// Upstreams are "ip:port" servers that unknown names are forwarded to,
	// in order; only the first three are used, as in Docker. They come from
	// the host's resolv.conf (HostUpstreams) or a service's dns: list.
	Upstreams []string
	// NoForward stops all forwarding: every network of the container is
	// internal. Unknown names then get SERVFAIL, which is what Docker's
	// clients see (its resolver skips the host's servers and, finding no
	// other, fails).
	NoForward bool
	// NdotsSet says the container's resolv.conf sets ndots itself (from the
	// host's options or dns_opt). As in Docker, an unknown single-label A or
	// AAAA name then gets an empty NOERROR instead of being forwarded, so
	// the client goes on with its search domains.
	NdotsSet bool
	// Dial opens connections to upstreams ("udp" or "tcp"); nil means a
	// net.Dialer. Its sockets must live in the host's network namespace (the
	// monitor's own, even though the server's sockets are in the
	// container's), so that host-loopback upstreams such as 127.0.0.53, or
	// the 127.0.0.11 of a Docker container berth runs in, are the host's
	// resolvers and never this server.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds one exchange with one upstream; zero means Docker's 4s.
	Timeout time.Duration
}

// Server is the DNS server of one container. It answers A, AAAA, MX and PTR
// queries for the names in its Table and forwards everything else.
type Server struct {
	table     *Table
	upstreams []string
	noForward atomic.Bool
	ndotsSet  bool
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	timeout   time.Duration
	forwards  chan struct{} // a semaphore of maxForwards

	// ctx is cancelled by Shutdown to abort forwarded queries.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	running []*listener
}

// listener is one dns.Server started by Serve.
type listener struct {
	srv     *dns.Server
	started chan struct{} // closed once srv can be shut down
	done    chan struct{} // closed when srv stopped serving
}

// NewServer returns a Server; Serve starts it.
func NewServer(cfg Config) *Server {
	s := &Server{
		table:    cfg.Table,
		ndotsSet: cfg.NdotsSet,
		dial:     cfg.Dial,
		timeout:  cfg.Timeout,
		forwards: make(chan struct{}, maxForwards),
	}
	if s.table == nil {
		s.table = NewTable()
	}
	s.noForward.Store(cfg.NoForward)
	if s.timeout <= 0 {
		s.timeout = defaultTimeout
	}
	s.upstreams = slices.Clone(cfg.Upstreams[:min(len(cfg.Upstreams), maxUpstreams)])
	if s.dial == nil {
		s.dial = (&net.Dialer{}).DialContext
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// SetNoForward changes Config.NoForward: the container's networks changed.
func (s *Server) SetNoForward(noForward bool) { s.noForward.Store(noForward) }

// Serve answers queries on udp and tcp, either of which may be nil, until
// Shutdown, then returns nil. It takes ownership of both sockets and closes
// them. If either fails, Serve shuts the server down and returns the error.
func (s *Server) Serve(udp net.PacketConn, tcp net.Listener) error {
	handler := dns.HandlerFunc(s.serveDNS)
	var srvs []*dns.Server
	if udp != nil {
		srvs = append(srvs, &dns.Server{PacketConn: udp, Handler: handler})
	}
	if tcp != nil {
		srvs = append(srvs, &dns.Server{Listener: tcp, Handler: handler})
	}
	if len(srvs) == 0 {
		return errors.New("dns server: no socket to serve")
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		if udp != nil {
			udp.Close()
		}
		if tcp != nil {
			tcp.Close()
		}
		return ErrServerClosed
	}
	errs := make(chan error, len(srvs))
	for _, srv := range srvs {
		l := &listener{srv: srv, started: make(chan struct{}), done: make(chan struct{})}
		srv.NotifyStartedFunc = func() { close(l.started) }
		s.running = append(s.running, l)
		go func() {
			err := srv.ActivateAndServe()
			close(l.done)
			errs <- err
		}()
	}
	s.mu.Unlock()

	var first error
	for range srvs {
		if err := <-errs; err != nil && first == nil {
			first = err
			s.Shutdown()
		}
	}
	return first
}

// Shutdown stops the server: forwarded queries are abandoned, queries being
// answered finish, and Serve returns.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.closed = true
	running := s.running
	s.running = nil
	s.mu.Unlock()

	s.cancel()
	for _, l := range running {
		select {
		case <-l.started:
			l.srv.Shutdown() //nolint:errcheck // it only reports a server that never started
		case <-l.done:
		}
	}
}

func (s *Server) serveDNS(w dns.ResponseWriter, q *dns.Msg) {
	tcp := w.LocalAddr() != nil && w.LocalAddr().Network() == "tcp"
	resp := s.answer(q, tcp)
	resp.Truncate(maxSize(q, tcp))
	if err := w.WriteMsg(resp); err != nil && resp.Rcode != dns.RcodeServerFailure {
		// The message may be what failed (a name too long to pack, say):
		// spare the client its timeout.
		w.WriteMsg(new(dns.Msg).SetRcode(q, dns.RcodeServerFailure)) //nolint:errcheck // nothing more to try
	}
}

// answer never returns nil.
func (s *Server) answer(q *dns.Msg, tcp bool) *dns.Msg {
	if len(q.Question) != 1 {
		return new(dns.Msg).SetRcode(q, dns.RcodeFormatError)
	}
	if resp := s.local(q); resp != nil {
		return resp
	}
	question := q.Question[0]
	if s.ndotsSet && (question.Qtype == dns.TypeA || question.Qtype == dns.TypeAAAA) &&
		!strings.Contains(strings.TrimSuffix(question.Name, "."), ".") {
		return reply(q)
	}
	if !s.noForward.Load() {
		if resp := s.forward(q, tcp); resp != nil {
			return resp
		}
	}
	return new(dns.Msg).SetRcode(q, dns.RcodeServerFailure)
}

// local answers from the Table, or returns nil for queries to forward.
func (s *Server) local(q *dns.Msg) *dns.Msg {
	question := q.Question[0]
	switch question.Qtype {
	case dns.TypeA, dns.TypeAAAA:
		ipv6 := question.Qtype == dns.TypeAAAA
		addrs, ok := s.table.LookupIP(question.Name, ipv6)
		if !ok {
			return nil
		}
		// Round robin, as Docker: a new order for every answer.
		rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
		resp := reply(q)
		hdr := dns.RR_Header{Name: question.Name, Rrtype: question.Qtype, Class: dns.ClassINET, Ttl: ttl}
		for _, a := range addrs {
			if ipv6 {
				resp.Answer = append(resp.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
			} else {
				resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
			}
		}
		return resp
	case dns.TypeMX:
		// A known name has no MX: NOERROR lets a mail client fall back to
		// its address (RFC 5321 section 5.1).
		if _, ok := s.table.LookupIP(question.Name, false); ok {
			return reply(q)
		}
	case dns.TypePTR:
		addr, ok := ptrAddr(question.Name)
		if !ok {
			return nil
		}
		name, ok := s.table.LookupAddr(addr)
		if !ok {
			return nil
		}
		resp := reply(q)
		resp.Answer = append(resp.Answer, &dns.PTR{
			Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: ttl},
			Ptr: dns.Fqdn(name),
		})
		return resp
	}
	return nil
}

func reply(q *dns.Msg) *dns.Msg {
	resp := new(dns.Msg).SetReply(q)
	resp.RecursionAvailable = true
	return resp
}

// maxSize is the largest answer the client takes: 64k over TCP, else its
// EDNS0 buffer size, at least 512.
func maxSize(q *dns.Msg, tcp bool) int {
	if tcp {
		return dns.MaxMsgSize
	}
	if opt := q.IsEdns0(); opt != nil && int(opt.UDPSize()) > dns.MinMsgSize {
		return int(opt.UDPSize())
	}
	return dns.MinMsgSize
}

// forward asks the upstreams in turn over the client's protocol; a
// truncated UDP answer is asked again over TCP. An upstream that answers
// SERVFAIL or REFUSED is skipped, as in Docker; any other answer, NXDOMAIN
// included, goes back to the client. It returns nil when no upstream
// answered.
func (s *Server) forward(q *dns.Msg, tcp bool) *dns.Msg {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	select {
	case s.forwards <- struct{}{}:
		cancel()
		defer func() { <-s.forwards }()
	case <-ctx.Done():
		cancel()
		return new(dns.Msg).SetRcode(q, dns.RcodeRefused)
	}

	out, err := q.Pack()
	if err != nil {
		return nil
	}
	network := "udp"
	if tcp {
		network = "tcp"
	}
	for _, up := range s.upstreams {
		resp, err := s.exchange(network, up, out, q.Id)
		if err == nil && resp.Truncated && network == "udp" {
			if full, err := s.exchange("tcp", up, out, q.Id); err == nil {
				resp = full
			}
		}
		if err != nil || resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
			continue
		}
		return resp
	}
	return nil
}

// exchange sends the packed query out to addr and returns the reply that
// carries id.
func (s *Server) exchange(network, addr string, out []byte, id uint16) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	conn, err := s.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	// Shutdown cancels ctx: unblock the read at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if network == "udp" {
		return exchangeUDP(conn, out, id)
	}
	return exchangeTCP(conn, out, id)
}

func exchangeUDP(conn net.Conn, out []byte, id uint16) (*dns.Msg, error) {
	if _, err := conn.Write(out); err != nil {
		return nil, err
	}
	// Read all an upstream sends, even past the advertised size: some
	// servers ignore EDNS0 (Docker does the same).
	buf := make([]byte, dns.MaxMsgSize)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		// Skip garbage and late replies to other queries until the
		// deadline.
		resp := new(dns.Msg)
		if resp.Unpack(buf[:n]) == nil && resp.Response && resp.Id == id {
			return resp, nil
		}
	}
}

func exchangeTCP(conn net.Conn, out []byte, id uint16) (*dns.Msg, error) {
	msg := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(out)), uint16(len(out)))
	if _, err := conn.Write(append(msg, out...)); err != nil {
		return nil, err
	}
	var size [2]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint16(size[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, err
	}
	resp := new(dns.Msg)
	if err := resp.Unpack(buf); err != nil {
		return nil, err
	}
	if !resp.Response || resp.Id != id {
		return nil, dns.ErrId
	}
	return resp, nil
}

// ptrAddr returns the address a reverse name stands for: four labels under
// in-addr.arpa or 32 nibbles under ip6.arpa. Shorter reverse names (whole
// subnets) are not addresses and get forwarded.
func ptrAddr(name string) (netip.Addr, bool) {
	name = strings.ToLower(dns.Fqdn(name))
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, l := range labels {
			v, err := strconv.ParseUint(l, 10, 8)
			if err != nil {
				return netip.Addr{}, false
			}
			b[3-i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, l := range labels {
			v, err := strconv.ParseUint(l, 16, 4)
			if err != nil || len(l) != 1 {
				return netip.Addr{}, false
			}
			// The first label is the last nibble.
			nibble := 31 - i
			b[nibble/2] |= byte(v) << (4 * (1 - nibble%2))
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
