package monitor

import (
	"context"
	"fmt"
	"net"
	"os"
	goruntime "runtime"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/network/resolver"
)

// dnsAddress is where Docker's embedded DNS answers in every container.
var dnsAddress = net.JoinHostPort(resolver.Address, "53")

// startDNS serves the container's names on 127.0.0.11:53 inside its network
// namespace: the sockets are opened there, while forwarding to upstreams
// goes out from the monitor's own namespace (the host's), where resolvers
// such as 127.0.0.53 are.
func (m *monitor) startDNS(cfg *DNSConfig) error {
	if m.spec.NetNS == "" {
		return fmt.Errorf("monitor: DNS server: the container has no network namespace of its own")
	}
	udp, tcp, err := listenIn(m.spec.NetNS)
	if err != nil {
		return fmt.Errorf("monitor: DNS server: %w", err)
	}
	table := resolver.NewTable(cfg.Records...)
	table.SetLinks(cfg.Links)
	srv := resolver.NewServer(resolver.Config{
		Table:     table,
		Upstreams: cfg.Upstreams,
		NoForward: cfg.NoForward,
		NdotsSet:  cfg.NdotsSet,
	})
	m.mu.Lock()
	m.dns, m.dnsTable = srv, table
	m.mu.Unlock()
	go func() { _ = srv.Serve(udp, tcp) }()
	return nil
}

// updateDNS gives the DNS server the records of the container's networks
// after a network connect or disconnect, starting it if the container had
// none (it was on the default network only).
func (m *monitor) updateDNS(cfg *DNSConfig) error {
	if cfg == nil {
		return fmt.Errorf("monitor: dns: no configuration given")
	}
	m.mu.Lock()
	srv, table := m.dns, m.dnsTable
	m.mu.Unlock()
	if srv == nil {
		return m.startDNS(cfg)
	}
	table.SetPaths(cfg.Records...)
	table.SetLinks(cfg.Links)
	srv.SetNoForward(cfg.NoForward)
	return nil
}

// stopDNS shuts the DNS server down, if there is one.
func (m *monitor) stopDNS() {
	m.mu.Lock()
	srv := m.dns
	m.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
	}
}

// UpdateDNS tells the monitor of a running container what its DNS server
// serves now (see Spec.DNS).
func UpdateDNS(ctx context.Context, runDir string, cfg *DNSConfig) error {
	_, err := call(ctx, runDir, request{Op: "dns", DNS: cfg})
	return err
}

// listenIn opens the DNS server's UDP and TCP sockets inside the network
// namespace at path, from a thread that goes back to the monitor's
// namespace afterwards (or stays locked and dies with its goroutine).
func listenIn(path string) (net.PacketConn, net.Listener, error) {
	type result struct {
		udp net.PacketConn
		tcp net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- result{err: &os.PathError{Op: "open", Path: "/proc/thread-self/ns/net", Err: err}}
			return
		}
		defer unix.Close(self)
		target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- result{err: &os.PathError{Op: "open", Path: path, Err: err}}
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			done <- result{err: os.NewSyscallError("setns", err)}
			return
		}
		var r result
		r.udp, r.err = net.ListenPacket("udp4", dnsAddress)
		if r.err == nil {
			r.tcp, r.err = net.Listen("tcp4", dnsAddress)
			if r.err != nil {
				r.udp.Close()
			}
		}
		if unix.Setns(self, unix.CLONE_NEWNET) == nil {
			goruntime.UnlockOSThread()
		}
		done <- r
	}()
	r := <-done
	return r.udp, r.tcp, r.err
}
