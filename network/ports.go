package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// PortSpec is one published port as asked: HostPort 0 takes a free port
// when the container starts, and so does a range HostPort-HostPortEnd
// (the first free one in it); a zero HostIP means every host address.
type PortSpec struct {
	Proto         string
	HostIP        netip.Addr `json:",omitzero"`
	HostPort      uint16     `json:",omitempty"`
	HostPortEnd   uint16     `json:",omitempty"`
	ContainerPort uint16
	// Twin is the IPv6 side of the spec before it, published on the
	// same host port.
	Twin bool `json:",omitempty"`
}

func (p PortSpec) String() string {
	host := "0.0.0.0"
	if p.HostIP.IsValid() {
		host = p.HostIP.String()
	}
	if p.HostIP.Is6() {
		host = "[" + host + "]"
		s := fmt.Sprintf("%d/%s -> %s:%d", p.ContainerPort, p.Proto, host, p.HostPort)
		if p.HostPortEnd != 0 {
			s += fmt.Sprintf("-%d", p.HostPortEnd)
		}
		return s
	}
	s := fmt.Sprintf("%d/%s -> %s", p.ContainerPort, p.Proto, netip.AddrPortFrom(netip.MustParseAddr(host), p.HostPort))
	if p.HostPortEnd != 0 {
		s += fmt.Sprintf("-%d", p.HostPortEnd)
	}
	return s
}

// HostAddrPort is where the port is published on the host: its host address (an IPv6 twin's is
// always [::]), or 0.0.0.0 when none was given, and its host port.
func (p PortSpec) HostAddrPort() netip.AddrPort {
	host := netip.IPv4Unspecified()
	if p.HostIP.IsValid() {
		host = p.HostIP
	}
	return netip.AddrPortFrom(host, p.HostPort)
}

// ParsePorts reads docker run's -p values ([ip:][hostPort:]containerPort
// [/proto], ranges of equal length, or a host range for one container
// port) with compose-go's parser, which is docker's, one PortSpec per port.
func ParsePorts(values []string) ([]PortSpec, error) {
	var out []PortSpec
	for _, v := range values {
		cfgs, err := types.ParsePortConfig(v)
		if err != nil {
			return nil, invalidf("invalid port %q: %v", v, err)
		}
		for _, c := range cfgs {
			p := PortSpec{Proto: c.Protocol, ContainerPort: uint16(c.Target)}
			if p.Proto == "" {
				p.Proto = "tcp"
			}
			if p.Proto != "tcp" && p.Proto != "udp" {
				return nil, invalidf("invalid port %q: protocol %s is not supported by berth (tcp, udp)", v, p.Proto)
			}
			if c.HostIP != "" {
				ip, err := netip.ParseAddr(strings.Trim(c.HostIP, "[]"))
				if err != nil {
					return nil, invalidf("invalid port %q: bad host IP %q", v, c.HostIP)
				}
				if ip.Is4In6() {
					ip = ip.Unmap()
				}
				if !ip.IsUnspecified() || ip.Is6() {
					// "::" stays: IPv6 only, where no address means both.
					p.HostIP = ip
				}
			}
			if c.Published != "" {
				first, last, isRange := strings.Cut(c.Published, "-")
				n, err := strconv.ParseUint(first, 10, 16)
				if err != nil || n == 0 {
					return nil, invalidf("invalid port %q: bad host port %q", v, c.Published)
				}
				p.HostPort = uint16(n)
				if isRange {
					end, err := strconv.ParseUint(last, 10, 16)
					if err != nil || end < n {
						return nil, invalidf("invalid port %q: bad host port range %q", v, c.Published)
					}
					if end > n {
						p.HostPortEnd = uint16(end)
					}
				}
			}
			if p.ContainerPort == 0 {
				return nil, invalidf("invalid port %q: no container port", v)
			}
			out = append(out, p)
		}
	}
	return out, nil
}
