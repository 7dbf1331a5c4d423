package firewall

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// attempts bounds the retries of a batch that lost a race: another berth removed a rule
// between our listing and our batch, and the kernel refused the whole batch with ENOENT.
const attempts = 3

// AddNetwork installs the rules of network n: forwarding from its bridge and replies back in,
// isolation from every other interface (only replies and published ports enter the bridge),
// and masquerade of its subnet leaving through another interface, except to multicast. An
// internal network gets no masquerade and forwards nothing to or from other interfaces.
// Calling it again replaces the network's rules, so a retry never duplicates them.
//
// The bridge also needs the sysctls that PrepareBridge sets, and, where another firewall drops
// forwarded traffic, AllowForward.
func AddNetwork(n Network) error {
	err := n.check()
	if err == nil {
		err = replace(NetworkOwner(n.Name), networkRules(n))
	}
	if err != nil {
		return fmt.Errorf("firewall: network %q: %w", n.Name, err)
	}
	return nil
}

// RemoveNetwork removes every rule of the network called name, in berth's table and the accept
// rules AllowForward put into other firewalls. Removing a network that has none is no error.
func RemoveNetwork(name string) error {
	if err := removeOwner(NetworkOwner(name)); err != nil {
		return fmt.Errorf("firewall: network %q: %w", name, err)
	}
	return nil
}

// AddPorts publishes ports for the container with this id: DNAT from every host address the
// port names, for traffic from outside and from the host itself (127.0.0.1 included, given
// PrepareBridge), plus the masquerade that localhost and hairpin connections need. The client's
// address is kept everywhere else. ports is the container's whole set: a second call replaces
// the first, and an empty one removes them all. UDP conntrack entries for the host ports are
// flushed, so a client that kept sending to the port reaches the new container.
//
// It does not reserve the host ports: DNAT takes precedence over any listener on the host,
// so the caller must hold them.
func AddPorts(id string, ports []Port) error {
	owner := ContainerOwner(id)
	if err := checkOwner(owner); err != nil {
		return fmt.Errorf("firewall: container %s: %w", id, err)
	}
	var (
		rules []ruleSpec
		udp   []publishedPort
	)
	for _, p := range ports {
		p, err := p.check()
		if err != nil {
			return fmt.Errorf("firewall: container %s: %w", id, err)
		}
		rules = append(rules, portRules(p)...)
		if p.Proto == "udp" {
			udp = append(udp, publishedPort{proto: unix.IPPROTO_UDP, hostIP: p.HostIP, port: p.HostPort, v6: p.ContainerIP.Is6()})
		}
	}
	old, err := ownedPorts(owner)
	if err != nil {
		return fmt.Errorf("firewall: container %s: %w", id, err)
	}
	if err := replace(owner, rules); err != nil {
		return fmt.Errorf("firewall: container %s: %w", id, err)
	}
	if err := flushConntrack(append(old, udp...)); err != nil {
		return fmt.Errorf("firewall: container %s: ports are published, but %w", id, err)
	}
	return nil
}

// RemovePorts removes the published ports of the container with this id and flushes the UDP
// conntrack entries of their host ports. It needs nothing but the rules, so it works after the
// container and its network namespace are gone; removing ports that are not there is no error.
func RemovePorts(id string) error {
	if err := removeOwner(ContainerOwner(id)); err != nil {
		return fmt.Errorf("firewall: container %s: %w", id, err)
	}
	return nil
}

// RemoveOwner removes every rule tagged with owner (a NetworkOwner or ContainerOwner tag, as
// Owners lists them), in berth's table and in the other firewalls AllowForward wrote to, and
// flushes the UDP conntrack entries of the ports it unpublishes. It is what a gc calls for
// owners that no longer exist.
//
// It leaves the table itself, even when nothing else is left in it: another berth may be adding
// to it at this very moment. Flush removes the table.
func RemoveOwner(owner string) error {
	if err := removeOwner(owner); err != nil {
		return fmt.Errorf("firewall: %w", err)
	}
	return nil
}

func removeOwner(owner string) error {
	if err := checkOwner(owner); err != nil {
		return err
	}
	var udp []publishedPort
	err := retry(func(c *nftables.Conn) error {
		rules, foreign, err := snapshot(c)
		if err != nil {
			return err
		}
		udp = udp[:0]
		for _, r := range append(rules, foreign...) {
			if ruleOwner(r) != owner {
				continue
			}
			if err := c.DelRule(r); err != nil {
				return err
			}
			if pp, ok := decodePort(r); ok && pp.proto == unix.IPPROTO_UDP {
				udp = append(udp, pp)
			}
		}
		return commit(c)
	})
	if err != nil {
		return err
	}
	return flushConntrack(udp)
}

// Owners lists the owners of the rules berth has installed, in its own table and in other
// firewalls, sorted: the NetworkOwner and ContainerOwner tags. A gc compares them with what
// should exist and calls RemoveOwner for the rest.
func Owners() ([]string, error) {
	c, err := dial()
	if err != nil {
		return nil, fmt.Errorf("firewall: %w", err)
	}
	defer func() { _ = c.CloseLasting() }()
	rules, foreign, err := snapshot(c)
	if err != nil {
		return nil, fmt.Errorf("firewall: %w", err)
	}
	rules = append(rules, foreign...)
	seen := map[string]bool{}
	var owners []string
	for _, r := range rules {
		o := ruleOwner(r)
		if o == tableOwner || !strings.HasPrefix(o, ownerPrefix) || seen[o] {
			continue
		}
		seen[o] = true
		owners = append(owners, o)
	}
	sort.Strings(owners)
	return owners, nil
}

// Flush removes berth's table and every rule berth put into other firewalls: everything the
// package ever installed. Call it only when no berth network or port should remain, under
// the lock that keeps other berth processes from adding rules meanwhile.
func Flush() error {
	err := retry(func(c *nftables.Conn) error {
		var (
			exists  bool
			foreign []*nftables.Rule
		)
		err := consistent(func() error {
			var err error
			if exists, err = tableExists(c); err != nil {
				return err
			}
			foreign, err = foreignRules(c)
			return err
		})
		if err != nil {
			return err
		}
		if exists {
			c.DelTable(berthTable())
		}
		for _, r := range foreign {
			if strings.HasPrefix(ruleOwner(r), ownerPrefix) {
				if err := c.DelRule(r); err != nil {
					return err
				}
			}
		}
		return commit(c)
	})
	if err != nil {
		return fmt.Errorf("firewall: %w", err)
	}
	return nil
}

// dial opens one netlink socket for all the calls of an operation, in the network namespace of
// the calling thread.
func dial() (*nftables.Conn, error) {
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("opening the nftables netlink socket: %w", err)
	}
	return c, nil
}

// commit sends the queued batch, which the kernel applies whole or not at all.
func commit(c *nftables.Conn) error {
	if err := c.Flush(); err != nil {
		return fmt.Errorf("applying the nftables batch: %w", err)
	}
	return nil
}

// retry runs op on a fresh connection until it succeeds, fails for another reason than a lost
// race, or has run attempts times. op lists what it needs and queues one batch.
func retry(op func(c *nftables.Conn) error) error {
	var err error
	for range attempts {
		err = func() error {
			c, err := dial()
			if err != nil {
				return err
			}
			defer func() { _ = c.CloseLasting() }()
			return op(c)
		}()
		if !errors.Is(err, unix.ENOENT) {
			break
		}
	}
	return err
}

// replace makes want the complete set of owner's rules in berth's table, creating or
// repairing the table's skeleton in the same atomic batch.
func replace(owner string, want []ruleSpec) error {
	return retry(func(c *nftables.Conn) error {
		rules, _, err := snapshot(c)
		if err != nil {
			return err
		}
		t := addSkeleton(c)
		for _, r := range rules {
			if ruleOwner(r) == owner {
				if err := c.DelRule(r); err != nil {
					return err
				}
			}
		}
		ud := comment(owner)
		for _, s := range want {
			c.AddRule(&nftables.Rule{Table: t, Chain: &nftables.Chain{Table: t, Name: s.chain}, Exprs: s.exprs, UserData: ud})
		}
		return commit(c)
	})
}

// addSkeleton queues the table, its chains and the base chains' fixed rules. Creating what
// exists is no error, and the base chains are flushed and refilled, so the batch is the same
// whether the table is new, complete or damaged.
func addSkeleton(c *nftables.Conn) *nftables.Table {
	t := c.AddTable(berthTable())
	ud := comment(tableOwner)
	for _, s := range skeleton() {
		ch := &nftables.Chain{Table: t, Name: s.name}
		if s.hook != nil {
			accept := nftables.ChainPolicyAccept
			ch.Type, ch.Hooknum, ch.Priority, ch.Policy = s.typ, s.hook, s.prio, &accept
		}
		c.AddChain(ch)
		if s.hook == nil {
			continue
		}
		c.FlushChain(ch)
		for _, exprs := range s.rules {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs, UserData: ud})
		}
	}
	return t
}

// snapshot reads every rule of berth's table and of the iptables chains berth may write to, as
// one consistent view.
func snapshot(c *nftables.Conn) (berth, foreign []*nftables.Rule, err error) {
	err = consistent(func() error {
		var err error
		if berth, err = berthRules(c); err != nil {
			return err
		}
		foreign, err = foreignRules(c)
		return err
	})
	return berth, foreign, err
}

func tableExists(c *nftables.Conn) (bool, error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("listing tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == tableName {
			return true, nil
		}
	}
	return false, nil
}

// berthRules lists every rule in berth's table, none if there is no table.
func berthRules(c *nftables.Conn) ([]*nftables.Rule, error) {
	exists, err := tableExists(c)
	if err != nil || !exists {
		return nil, err
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("listing chains: %w", err)
	}
	var rules []*nftables.Rule
	for _, ch := range chains {
		if ch.Table.Name != tableName {
			continue
		}
		rs, err := chainRules(c, ch)
		if err != nil {
			return nil, err
		}
		rules = append(rules, rs...)
	}
	return rules, nil
}

// chainRules lists the rules of ch with their table and chain set, ready for DelRule.
func chainRules(c *nftables.Conn, ch *nftables.Chain) ([]*nftables.Rule, error) {
	rules, err := c.GetRules(ch.Table, ch)
	if err != nil {
		return nil, fmt.Errorf("listing rules of %s: %w", chainName(ch), err)
	}
	for _, r := range rules {
		r.Table, r.Chain = ch.Table, ch
	}
	return rules, nil
}

// ownedPorts decodes owner's published UDP ports, for the conntrack flush when AddPorts
// replaces them.
func ownedPorts(owner string) ([]publishedPort, error) {
	c, err := dial()
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.CloseLasting() }()
	rules, _, err := snapshot(c)
	if err != nil {
		return nil, err
	}
	var udp []publishedPort
	for _, r := range rules {
		if ruleOwner(r) != owner {
			continue
		}
		if pp, ok := decodePort(r); ok && pp.proto == unix.IPPROTO_UDP {
			udp = append(udp, pp)
		}
	}
	return udp, nil
}

func chainName(ch *nftables.Chain) string {
	return fmt.Sprintf("chain %s in table %s %s", ch.Name, familyName(ch.Table.Family), ch.Table.Name)
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprintf("family-%d", f)
}
