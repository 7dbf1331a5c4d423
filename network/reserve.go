package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
)

// Reservation holds the host ports of a container's published ports: bound
// sockets that the container's monitor keeps while the container runs, so
// that nothing else takes them, and a conflict fails before anything
// starts. Traffic to them is DNATed to the container before it could reach
// these sockets.
type Reservation struct {
	// Ports are the specs with every HostPort set.
	Ports []PortSpec
	// Files are the sockets, for the monitor to inherit.
	Files []*os.File
}

// Reserve binds every port of specs, taking a free port where HostPort is 0.
func Reserve(specs []PortSpec) (*Reservation, error) {
	r := &Reservation{}
	for _, p := range specs {
		host := netip.IPv4Unspecified()
		if p.HostIP.IsValid() {
			host = p.HostIP
		}
		addr := netip.AddrPortFrom(host, p.HostPort).String()
		var f *os.File
		var err error
		switch p.Proto {
		case "udp":
			var c net.PacketConn
			if c, err = net.ListenPacket("udp4", addr); err == nil {
				p.HostPort = uint16(c.LocalAddr().(*net.UDPAddr).Port)
				f, err = c.(*net.UDPConn).File()
				c.Close()
			}
		default:
			var l net.Listener
			if l, err = net.Listen("tcp4", addr); err == nil {
				p.HostPort = uint16(l.Addr().(*net.TCPAddr).Port)
				f, err = l.(*net.TCPListener).File()
				l.Close()
			}
		}
		if err != nil {
			r.Close()
			if errors.Is(err, syscall.EADDRINUSE) {
				// Docker's words.
				return nil, &userError{msg: fmt.Sprintf("Bind for %s failed: port is already allocated", addr), kind: ErrInvalid}
			}
			if errors.Is(err, syscall.EADDRNOTAVAIL) {
				return nil, invalidf("cannot publish %s: %s is not an address of this host", addr, host)
			}
			return nil, fmt.Errorf("reserve %s/%s: %w", addr, p.Proto, err)
		}
		r.Ports = append(r.Ports, p)
		r.Files = append(r.Files, f)
	}
	return r, nil
}

// Close releases the ports (the monitor keeps its own copies).
func (r *Reservation) Close() {
	for _, f := range r.Files {
		f.Close()
	}
	r.Files = nil
}
