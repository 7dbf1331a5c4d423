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

// Reserve binds every port of specs, taking a free port where HostPort is
// 0, or the first free one of a range. A spec with Twin set takes the port
// its predecessor got (the IPv6 side of a port published on both
// families).
func Reserve(specs []PortSpec) (*Reservation, error) {
	r := &Reservation{}
	for i, p := range specs {
		host := netip.IPv4Unspecified()
		if p.HostIP.IsValid() {
			host = p.HostIP
		}
		if p.Twin && i > 0 {
			p.HostPort, p.HostPortEnd = r.Ports[i-1].HostPort, 0
		}
		first, last := p.HostPort, max(p.HostPortEnd, p.HostPort)
		var f *os.File
		var err error
		for port := int(first); port <= int(last); port++ {
			if f, p.HostPort, err = bind(p.Proto, netip.AddrPortFrom(host, uint16(port))); !errors.Is(err, syscall.EADDRINUSE) {
				break
			}
		}
		if err != nil {
			r.Close()
			addr := netip.AddrPortFrom(host, p.HostPort).String()
			if p.HostPortEnd != 0 {
				addr = fmt.Sprintf("%s:%d-%d", host, first, last)
			}
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, &PortInUseError{Addr: addr, Proto: p.Proto, First: first, Last: last}
			}
			if errors.Is(err, syscall.EADDRNOTAVAIL) {
				return nil, invalidf("cannot publish %s: %s is not an address of this host", addr, host)
			}
			return nil, fmt.Errorf("reserve %s/%s: %w", addr, p.Proto, err)
		}
		p.HostPortEnd = 0
		r.Ports = append(r.Ports, p)
		r.Files = append(r.Files, f)
	}
	return r, nil
}

// bind makes the socket that holds addr (port 0: a free one), and returns
// it with the port it got.
func bind(proto string, addr netip.AddrPort) (*os.File, uint16, error) {
	family := "4"
	if addr.Addr().Is6() {
		family = "6" // IPV6_V6ONLY: beside the IPv4 socket of the same port
	}
	if proto == "udp" {
		c, err := net.ListenPacket("udp"+family, addr.String())
		if err != nil {
			return nil, addr.Port(), err
		}
		defer c.Close()
		f, err := c.(*net.UDPConn).File()
		return f, uint16(c.LocalAddr().(*net.UDPAddr).Port), err
	}
	l, err := net.Listen("tcp"+family, addr.String())
	if err != nil {
		return nil, addr.Port(), err
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	return f, uint16(l.Addr().(*net.TCPAddr).Port), err
}

// PortInUseError is Reserve's answer when a host port (or every port of a
// range) is taken. Holder, when the caller can tell, names what has it.
type PortInUseError struct {
	Addr        string // as Docker prints it
	Proto       string
	First, Last uint16
	Holder      string
}

func (e *PortInUseError) Error() string {
	// Docker's words, and what holds the port when known.
	msg := fmt.Sprintf("Bind for %s failed: port is already allocated", e.Addr)
	if e.Holder != "" {
		msg += " (" + e.Holder + ")"
	}
	return msg
}

// Is makes the error match ErrInvalid.
func (e *PortInUseError) Is(target error) bool { return target == ErrInvalid }

// Close releases the ports (the monitor keeps its own copies).
func (r *Reservation) Close() {
	for _, f := range r.Files {
		f.Close()
	}
	r.Files = nil
}
