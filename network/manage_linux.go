package network

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/berth-sh/berth/network/firewall"
	"github.com/berth-sh/berth/network/ipam"
	"github.com/berth-sh/berth/network/resolver"
)

// Create makes network name: its record, its bridge and (through package
// firewall) its rules. Nothing is left behind when it fails.
func (s *Store) Create(name string, o Options) (*Network, error) {
	if reserved[name] {
		return nil, invalidf("%s is a pre-defined network and cannot be created", name)
	}
	unlock, err := s.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	others, err := s.List()
	if err != nil {
		return nil, err
	}
	host, err := hostPrefixes()
	if err != nil {
		return nil, err
	}
	n, err := plan(name, o, others, host)
	if err != nil {
		return nil, err
	}
	return s.bringUp(n)
}

// bringUp makes the bridge and the firewall rules of a planned network and
// saves its record; nothing is left when it fails.
func (s *Store) bringUp(n *Network) (*Network, error) {
	if err := createBridge(n); err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	if err := addRules(n); err != nil {
		_ = removeRules(n)
		_ = deleteBridge(n)
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	// A firewall berth cannot open for the bridge (firewalld, ufw, a
	// hand-written table dropping forwarded traffic) would leave the
	// network dead: say which and how to allow it, and make nothing.
	if !n.Internal {
		msg, err := firewall.Detect(firewallNetwork(n))
		if err == nil && msg != "" {
			err = &userError{msg: msg, kind: ErrBlocked}
		}
		if err != nil {
			_ = removeRules(n)
			_ = deleteBridge(n)
			return nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
	}
	if err := s.save(n); err != nil {
		_ = removeRules(n)
		_ = deleteBridge(n)
		return nil, err
	}
	s.event(n, "create")
	return n, nil
}

func firewallNetwork(n *Network) firewall.Network {
	fw := firewall.Network{Name: n.Name, Bridge: n.Bridge, Subnet: n.IPv4.Prefix, Internal: n.Internal, NoMasquerade: !n.Masquerade}
	if n.IPv6 != nil {
		fw.Subnet6 = n.IPv6.Prefix
	}
	return fw
}

// addRules installs the network's nftables rules (egress masquerade unless
// internal, isolation from other networks) and, where a foreign firewall
// such as Docker's would drop its traffic, the accept rules that firewall
// honours.
func addRules(n *Network) error {
	fw := firewallNetwork(n)
	if err := firewall.PrepareBridge(n.Bridge); err != nil {
		return err
	}
	if err := firewall.AddNetwork(fw); err != nil {
		return err
	}
	return firewall.AllowForward(fw)
}

func removeRules(n *Network) error {
	return errors.Join(firewall.RemoveNetwork(n.Name), firewall.DisallowForward(n.Name))
}

// DefaultNetwork is the network a container publishing ports without
// --network joins, as Docker's default bridge: made on first use.
const DefaultNetwork = "bridge"

// EnsureDefault makes the default network if it is not there yet.
func (s *Store) EnsureDefault() (*Network, error) {
	unlock, err := s.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if n, err := s.load(DefaultNetwork); err == nil {
		return n, nil
	}
	others, err := s.List()
	if err != nil {
		return nil, err
	}
	host, err := hostPrefixes()
	if err != nil {
		return nil, err
	}
	n, err := plan(DefaultNetwork, Options{}, others, host)
	if err != nil {
		return nil, err
	}
	n.Bridge = "berth0"
	return s.bringUp(n)
}

// Remove deletes a network with no containers: its rules, bridge and record.
func (s *Store) Remove(nameOrID string) error {
	unlock, err := s.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	n, err := s.Get(nameOrID)
	if err != nil {
		return err
	}
	if len(n.Endpoints) > 0 {
		return &userError{msg: fmt.Sprintf("error while removing network: network %s id %s has active endpoints", n.Name, n.ID), kind: ErrInUse}
	}
	if err := removeRules(n); err != nil {
		return err
	}
	if err := deleteBridge(n); err != nil {
		return err
	}
	if err := s.remove(n); err != nil {
		return err
	}
	s.event(n, "destroy")
	return nil
}

// Attachment is one network a container asks to be on (docker run
// --network, --network-alias, --ip, --mac-address).
type Attachment struct {
	Network string
	Aliases []string `json:",omitempty"`
	IPv4    string   `json:",omitempty"`
	IPv6    string   `json:",omitempty"`
	MAC     string   `json:",omitempty"`
	// IfName names the container's interface (compose's interface_name);
	// empty is eth0, eth1, ... in network order.
	IfName string `json:",omitempty"`
}

// Connect puts the container's namespace (nsPath) on a network as ifName:
// an address leased (the asked one, or the next round-robin), a veth to
// the bridge, the default route through this network when defaultRoute,
// and DNS records for names (the container's name, short id, hostname)
// and the attachment's aliases. Connecting again returns the existing
// endpoint.
func (s *Store) Connect(id, name, nsPath string, a Attachment, ifName string, defaultRoute bool, names []string) (*Network, *Endpoint, error) {
	unlock, err := s.Lock()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	n, err := s.Get(a.Network)
	if err != nil {
		return nil, nil, err
	}
	if ep, ok := n.Endpoints[id]; ok {
		return n, ep, nil
	}
	if !validIfName.MatchString(ifName) || ifName == "lo" || strings.Trim(ifName, ".") == "" {
		return nil, nil, invalidf("network %s: invalid interface name %q", n.Name, ifName)
	}
	ep := &Endpoint{Name: name, Veth: vethName(id, n), MAC: a.MAC, Aliases: a.Aliases}
	if ep.IPv4, err = lease(n.Name, n.IPv4, a.IPv4, id, false); err != nil {
		return nil, nil, err
	}
	if n.IPv6 != nil {
		if ep.IPv6, err = lease(n.Name, n.IPv6, a.IPv6, id, true); err != nil {
			n.IPv4.Release(id)
			return nil, nil, err
		}
	} else if a.IPv6 != "" {
		return nil, nil, invalidf("network %s: an IPv6 address needs a network with IPv6 enabled", n.Name)
	}
	if err := plugVeth(nsPath, n, ep, ifName, defaultRoute); err != nil {
		return nil, nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	if n.Endpoints == nil {
		n.Endpoints = map[string]*Endpoint{}
	}
	n.Endpoints[id] = ep
	if err := s.save(n); err != nil {
		_ = unplugVeth(ep)
		return nil, nil, err
	}
	// Docker's order: the container name, the aliases, then the rest.
	dnsNames := append(append(names[:1:1], a.Aliases...), names[1:]...)
	if err := s.setRecord(n, resolver.Entry{ID: id, Names: dnsNames, IPv4: ep.IPv4, IPv6: ep.IPv6}); err != nil {
		_ = s.disconnect(n, id, true)
		return nil, nil, err
	}
	s.event(n, "connect", "container", id)
	return n, ep, nil
}

// lease takes the address asked for (an IPv6 one when six), or the next
// free one, in sub for the container id.
func lease(network string, sub *ipam.Subnet, asked, id string, six bool) (netip.Addr, error) {
	if asked == "" {
		addr, err := sub.Allocate(id)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("network %s: %w", network, err)
		}
		return addr, nil
	}
	addr, err := netip.ParseAddr(asked)
	if err != nil || addr.Is6() != six || addr.Is4In6() {
		family := "IPv4"
		if six {
			family = "IPv6"
		}
		return netip.Addr{}, invalidf("invalid %s address %q", family, asked)
	}
	if err := sub.Claim(addr, id); err != nil {
		return netip.Addr{}, invalidf("network %s: %v", network, err)
	}
	return addr, nil
}

// setRecord replaces the container's DNS entry on n (none when e has no
// names).
func (s *Store) setRecord(n *Network, e resolver.Entry) error {
	return resolver.Update(s.RecordsPath(n.Name), func(r *resolver.NetworkRecords) error {
		r.Network, r.Internal = n.Name, n.Internal
		kept := r.Entries[:0]
		for _, old := range r.Entries {
			if old.ID != e.ID {
				kept = append(kept, old)
			}
		}
		r.Entries = kept
		if len(e.Names) > 0 {
			r.Entries = append(r.Entries, e)
		}
		return nil
	})
}

// Disconnect takes the container off a network: veth, lease, endpoint.
func (s *Store) Disconnect(id, network string) error {
	unlock, err := s.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	n, err := s.Get(network)
	if err != nil {
		return err
	}
	return s.disconnect(n, id, true)
}

// disconnect forgets the container's endpoint on n: DNS record, lease and
// record, and its veth when unplug (otherwise the veth goes with the
// namespace, see Unplug).
func (s *Store) disconnect(n *Network, id string, unplug bool) error {
	ep, ok := n.Endpoints[id]
	if !ok {
		return nil
	}
	if unplug {
		if err := unplugVeth(ep); err != nil {
			return fmt.Errorf("network %s: %w", n.Name, err)
		}
	}
	if err := s.setRecord(n, resolver.Entry{ID: id}); err != nil {
		return err
	}
	for _, sub := range n.subnets() {
		sub.Release(id)
	}
	delete(n.Endpoints, id)
	if err := s.save(n); err != nil {
		return err
	}
	s.event(n, "disconnect", "container", id)
	return nil
}

// Unplug takes the container off every network it is on and removes its
// namespace (nsPath). Its veths are not deleted one by one: deleting a
// link waits for the kernel's RCU grace periods (20-40 ms each here, in
// the path of every `run --rm`), while the namespace's teardown, which
// takes the veths with it, runs in the kernel's own time once nothing
// holds it.
func (s *Store) Unplug(id, nsPath string) error {
	unlock, err := s.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	all, err := s.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range all {
		if _, ok := n.Endpoints[id]; ok {
			errs = append(errs, s.disconnect(n, id, false))
		}
	}
	return errors.Join(append(errs, DeleteNetNS(nsPath))...)
}

// Containers lists the ids of the containers on n, sorted.
func (n *Network) Containers() []string {
	var ids []string
	for id := range n.Endpoints {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
