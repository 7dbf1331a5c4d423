// Package ipam chooses subnets for berth's networks and allocates addresses
// in them as Docker users expect: subnets from Docker's default pools that
// overlap nothing on the host, addresses handed out round-robin (not
// lowest-free: a released address is not reused at once), static addresses
// honoured. It keeps no state of its own: a Subnet is plain data that the
// caller persists under its own lock.
package ipam

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// ErrExhausted is matched when a subnet has no free address left.
var ErrExhausted = errors.New("no available addresses")

// DefaultPools are Docker's default local address pools, in the order
// Docker takes them: 172.17.0.0/16 to 172.31.0.0/16, then 192.168.0.0/16
// cut into /20s.
func DefaultPools() []netip.Prefix {
	var out []netip.Prefix
	for b := 17; b <= 31; b++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(b), 0, 0}), 16))
	}
	for c := 0; c < 256; c += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(c), 0}), 20))
	}
	return out
}

// ChooseSubnet returns the first of pools that overlaps none of used (the
// host's addresses and routes, and the subnets of other networks).
func ChooseSubnet(pools, used []netip.Prefix) (netip.Prefix, error) {
	for _, p := range pools {
		free := true
		for _, u := range used {
			if p.Overlaps(u) {
				free = false
				break
			}
		}
		if free {
			return p.Masked(), nil
		}
	}
	// Docker's words.
	return netip.Prefix{}, errors.New("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
}

// ChooseULA returns a unique local IPv6 /64 (RFC 4193: fd00::/8 with a
// random 40-bit global id) that overlaps none of used, as Docker 27 chooses
// one for an IPv6 network given no subnet.
func ChooseULA(used []netip.Prefix) (netip.Prefix, error) {
	for range 16 {
		var b [16]byte
		b[0] = 0xfd
		if _, err := rand.Read(b[1:6]); err != nil {
			return netip.Prefix{}, err
		}
		p := netip.PrefixFrom(netip.AddrFrom16(b), 64)
		if !slices.ContainsFunc(used, p.Overlaps) {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("could not find an available, non-overlapping IPv6 address pool to assign to the network")
}

// Subnet is one network's address space and its leases, as JSON.
type Subnet struct {
	Prefix  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
	// Last is the address handed out last: the next search starts after it.
	Last netip.Addr `json:"last,omitzero"`
	// Leases maps each address in use to its owner (a container id).
	Leases map[netip.Addr]string `json:"leases,omitempty"`
}

// NewSubnet checks prefix and gateway (the first host address when zero)
// and returns an empty Subnet.
func NewSubnet(prefix netip.Prefix, gateway netip.Addr) (*Subnet, error) {
	if !prefix.IsValid() {
		return nil, errors.New("invalid subnet")
	}
	if prefix != prefix.Masked() {
		return nil, fmt.Errorf("invalid subnet %s: it has host bits set (use %s)", prefix, prefix.Masked())
	}
	if prefix.Addr().Is4() && prefix.Bits() > 30 || prefix.Addr().Is6() && prefix.Bits() > 126 {
		return nil, fmt.Errorf("invalid subnet %s: too small for a gateway and a container", prefix)
	}
	if !gateway.IsValid() {
		gateway = prefix.Addr().Next()
	}
	s := &Subnet{Prefix: prefix, Gateway: gateway}
	if !s.usable(gateway) {
		return nil, fmt.Errorf("gateway %s is not a host address of subnet %s", gateway, prefix)
	}
	return s, nil
}

// usable reports whether a is a host address of the subnet: inside it, not
// its network address, and (IPv4) not its broadcast address.
func (s *Subnet) usable(a netip.Addr) bool {
	if !s.Prefix.Contains(a) || a == s.Prefix.Addr() {
		return false
	}
	return !a.Is4() || a != broadcast(s.Prefix)
}

// broadcast is the last address of an IPv4 prefix.
func broadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := 32 - p.Bits()
	for i := 3; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	return netip.AddrFrom4(b)
}

// Allocate leases the next free address after the last one handed out,
// wrapping around, to owner.
func (s *Subnet) Allocate(owner string) (netip.Addr, error) {
	start := s.Last
	if !start.IsValid() || !s.Prefix.Contains(start) {
		start = s.Prefix.Addr()
	}
	a := start
	for {
		a = a.Next()
		if !s.Prefix.Contains(a) {
			a = s.Prefix.Addr()
		}
		if a == start {
			return netip.Addr{}, fmt.Errorf("subnet %s: %w", s.Prefix, ErrExhausted)
		}
		if _, taken := s.Leases[a]; s.usable(a) && a != s.Gateway && !taken {
			break
		}
	}
	s.lease(a, owner)
	s.Last = a
	return a, nil
}

// Claim leases a given address to owner (a static ipv4_address): it must be
// a free host address of the subnet. Claiming what owner already holds is
// no error.
func (s *Subnet) Claim(a netip.Addr, owner string) error {
	if !s.usable(a) {
		// Docker's words.
		return fmt.Errorf("no configured subnet or ip-range contain the IP address %s", a)
	}
	if a == s.Gateway {
		return fmt.Errorf("address %s is the gateway of subnet %s", a, s.Prefix)
	}
	if o, taken := s.Leases[a]; taken {
		if o == owner {
			return nil
		}
		return fmt.Errorf("address %s is already in use", a)
	}
	s.lease(a, owner)
	return nil
}

func (s *Subnet) lease(a netip.Addr, owner string) {
	if s.Leases == nil {
		s.Leases = map[netip.Addr]string{}
	}
	s.Leases[a] = owner
}

// Release frees every address owner holds and returns how many.
func (s *Subnet) Release(owner string) int {
	n := 0
	for a, o := range s.Leases {
		if o == owner {
			delete(s.Leases, a)
			n++
		}
	}
	return n
}

// Lease returns the address owner holds, if any.
func (s *Subnet) Lease(owner string) (netip.Addr, bool) {
	for a, o := range s.Leases {
		if o == owner {
			return a, true
		}
	}
	return netip.Addr{}, false
}
