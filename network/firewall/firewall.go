// Package firewall owns berth's packet filtering and NAT: the nftables table "inet berth" with
// forwarding, isolation and egress masquerade for each bridge network, and the DNAT rules that
// publish container ports on the host (kernel NAT, no userland proxy, so servers see the
// client's real address). It talks to the kernel over netlink with github.com/google/nftables
// and never runs the nft or iptables programs.
//
// Every function acts on the network namespace of the calling thread: a caller that works in
// another namespace locks its OS thread and switches it first. Every rule berth writes carries
// its owner in the rule's comment (UserData), NetworkOwner or ContainerOwner, so that a network
// or a container can be removed exactly, after a crash too, and so that a gc can list what is
// installed with Owners.
//
// It must not touch any other table, with one deliberate exception: when another firewall drops
// forwarded traffic (Docker's iptables FORWARD policy DROP), an accept in berth's own table is
// not enough, because every base chain on a hook must accept. AllowForward then adds two accept
// rules for the bridge to Docker's DOCKER-USER chain (or the top of FORWARD) in "ip filter" and
// "ip6 filter", written with only the expressions iptables-nft itself uses so that
// `iptables -L` still lists them, and tagged with the network's owner like everything else. It
// never changes another table's policy. Detect reports the firewalls berth cannot fix this way.
//
// The bridge itself needs two sysctls, which PrepareBridge sets: ip_forward, and route_localnet
// so that the host's connections to 127.0.0.1 can be DNATed to a container.
package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

var (
	// ErrInvalid is matched by every error about a bad network, port or owner.
	ErrInvalid = errors.New("invalid value")
	// ErrNotSupported is returned outside Linux: nftables is a Linux kernel feature.
	ErrNotSupported = errors.New("not supported")
)

// A Network is a bridge network as the firewall sees it.
type Network struct {
	// Name identifies the network's rules (NetworkOwner(Name)); required.
	Name string
	// Bridge is the Linux bridge the network's containers are attached to; required.
	Bridge string
	// Subnet is the network's address range, IPv4 or IPv6; required.
	Subnet netip.Prefix
	// Subnet6 is the IPv6 range of a dual-stack network (Subnet is then its IPv4 one);
	// optional.
	Subnet6 netip.Prefix
	// Internal networks get no masquerade and cannot forward to or from any other interface,
	// as with `internal: true` in compose.
	Internal bool
	// NoMasquerade leaves the network's egress unmasqueraded (Docker's
	// com.docker.network.bridge.enable_ip_masquerade=false): its containers reach other
	// networks with their own addresses, which those networks must route back.
	NoMasquerade bool
}

// subnets are the network's address ranges, one per family.
func (n Network) subnets() []netip.Prefix {
	if n.Subnet6.IsValid() {
		return []netip.Prefix{n.Subnet, n.Subnet6}
	}
	return []netip.Prefix{n.Subnet}
}

// has reports whether the network has addresses of the IPv6 family (six) or the IPv4 one.
func (n Network) has(six bool) bool {
	for _, p := range n.subnets() {
		if p.Addr().Is6() == six {
			return true
		}
	}
	return false
}

// A Port is one published port: traffic to HostIP:HostPort on the host goes to
// ContainerIP:ContainerPort.
type Port struct {
	// Proto is "tcp" or "udp"; required.
	Proto string
	// HostIP limits the port to one host address; the zero Addr (or 0.0.0.0, ::) means every
	// host address of ContainerIP's family. 127.0.0.0/8 addresses are reachable from the host
	// only, never from another machine.
	HostIP netip.Addr
	// HostPort is the published port; required.
	HostPort uint16
	// ContainerIP is the container's address on Bridge; required.
	ContainerIP netip.Addr
	// ContainerPort is the port inside the container; required.
	ContainerPort uint16
	// Bridge is the bridge ContainerIP lives on; required (the host's own connections to the
	// port leave through it and are masqueraded there).
	Bridge string
}

func (p Port) String() string {
	host := ""
	if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
		host = p.HostIP.String()
		if p.HostIP.Is6() {
			host = "[" + host + "]"
		}
		host += ":"
	}
	return fmt.Sprintf("%s%d->%s/%s", host, p.HostPort, netip.AddrPortFrom(p.ContainerIP, p.ContainerPort), p.Proto)
}

const (
	// ownerPrefix starts every tag berth writes, in its own table and in others.
	ownerPrefix = "berth:"
	// maxOwnerLen keeps a tag inside what nft and iptables show in full (comments are at most
	// 128 bytes in nft and 255 in the iptables comment match).
	maxOwnerLen = 128
	// ifNameMax is IFNAMSIZ minus the terminating NUL.
	ifNameMax = 15
)

// NetworkOwner is the tag on the rules of the network called name.
func NetworkOwner(name string) string { return ownerPrefix + "net:" + name }

// ContainerOwner is the tag on the published-port rules of the container with this id.
func ContainerOwner(id string) string { return ownerPrefix + "ctr:" + id }

func checkOwner(owner string) error {
	if len(owner) > maxOwnerLen {
		return invalidf("owner %q: longer than %d bytes", owner, maxOwnerLen)
	}
	if !strings.HasPrefix(owner, ownerPrefix) || len(owner) == len(ownerPrefix) {
		return invalidf("owner %q: not a berth owner tag", owner)
	}
	for _, r := range owner {
		if r < 0x20 || r == 0x7f || r == '"' {
			return invalidf("owner %q: control character or quote", owner)
		}
	}
	return nil
}

func checkIfName(what, name string) error {
	if name == "" || len(name) > ifNameMax || strings.ContainsAny(name, "/ \t\n\x00") || name == "." || name == ".." {
		return invalidf("%s %q: not an interface name", what, name)
	}
	return nil
}

func (n Network) check() error {
	if n.Name == "" {
		return invalidf("empty network name")
	}
	if err := checkOwner(NetworkOwner(n.Name)); err != nil {
		return err
	}
	if err := checkIfName("bridge", n.Bridge); err != nil {
		return err
	}
	if !n.Subnet.IsValid() || n.Subnet.Addr().Is4In6() {
		return invalidf("subnet %v: not an IPv4 or IPv6 prefix", n.Subnet)
	}
	if n.Subnet6.IsValid() && (!n.Subnet6.Addr().Is6() || n.Subnet6.Addr().Is4In6() || !n.Subnet.Addr().Is4()) {
		return invalidf("subnets %v and %v: want an IPv4 and an IPv6 prefix", n.Subnet, n.Subnet6)
	}
	return nil
}

// check validates p and returns it normalised: an unspecified HostIP becomes the zero Addr.
func (p Port) check() (Port, error) {
	switch p.Proto {
	case "tcp", "udp":
	default:
		return p, invalidf("port %v: protocol %q: want tcp or udp", p, p.Proto)
	}
	if p.HostPort == 0 || p.ContainerPort == 0 {
		return p, invalidf("port %v: port 0", p)
	}
	if !p.ContainerIP.IsValid() || p.ContainerIP.Is4In6() || p.ContainerIP.IsUnspecified() {
		return p, invalidf("port %v: container address %v", p, p.ContainerIP)
	}
	if err := checkIfName("port "+p.String()+": bridge", p.Bridge); err != nil {
		return p, err
	}
	if p.HostIP.IsUnspecified() {
		if p.HostIP.Is4() != p.ContainerIP.Is4() {
			return p, invalidf("port %v: host address %v is of another family than the container's", p, p.HostIP)
		}
		p.HostIP = netip.Addr{}
	}
	if p.HostIP.IsValid() {
		if p.HostIP.Is4In6() || p.HostIP.Is4() != p.ContainerIP.Is4() {
			return p, invalidf("port %v: host address %v is of another family than the container's", p, p.HostIP)
		}
		if p.HostIP.Is6() && p.HostIP.IsLoopback() {
			// route_localnet exists for IPv4 only: a packet from ::1 cannot leave the host
			// towards a bridge, so there is nothing a DNAT rule could do.
			return p, invalidf("port %v: ::1 cannot be forwarded to a container", p)
		}
	}
	return p, nil
}

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }
