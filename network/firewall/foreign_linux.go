package firewall

import (
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The iptables-nft names berth writes to: Docker's chain for user rules, jumped to first
// from FORWARD, and FORWARD itself when there is no DOCKER-USER.
const (
	iptTable      = "filter"
	iptForward    = "FORWARD"
	iptDockerUser = "DOCKER-USER"
)

// iptFamilies are the tables of iptables-nft (ip filter) and ip6tables-nft (ip6 filter).
var iptFamilies = []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6}

// AllowForward makes another firewall let network n's traffic through, where berth can: when
// the table "ip filter" (or "ip6 filter") has a FORWARD chain that drops what it does not
// accept, as Docker's iptables rules do with their policy DROP, it inserts two accepts for
// n's bridge, one for traffic in and one for traffic out, at the top of Docker's DOCKER-USER
// chain when FORWARD jumps to it, else at the top of FORWARD. The rules carry only what
// iptables-nft itself writes for `-i bridge -j ACCEPT` plus a comment, so `iptables -L` and
// iptables-save show them as
//
//	-A DOCKER-USER -i berth-1 -m comment --comment "berth:net:web" -j ACCEPT
//
// They accept by bridge only: berth's own table still decides what may cross it. Calling it
// again replaces them; RemoveNetwork and DisallowForward remove them. Where no such firewall
// exists it does nothing, so call it whenever the network is brought up: a firewall that
// started later (or `iptables -F`) is handled then. Firewalls it cannot fix are what Detect
// reports.
func AllowForward(n Network) error {
	if err := n.check(); err != nil {
		return fmt.Errorf("firewall: network %q: %w", n.Name, err)
	}
	owner := NetworkOwner(n.Name)
	err := retry(func(c *nftables.Conn) error {
		ipts := make([]ipTables, len(iptFamilies))
		err := consistent(func() error {
			for i, fam := range iptFamilies {
				var err error
				if ipts[i], err = readIPTables(c, fam); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, ipt := range ipts {
			for _, r := range ipt.rules {
				if ruleOwner(r) == owner {
					if err := c.DelRule(r); err != nil {
						return err
					}
				}
			}
			if ipt.forward == nil || !blocks(ipt.forward, ipt.chainRules(iptForward)) {
				continue
			}
			target := ipt.target()
			for _, key := range []expr.MetaKey{expr.MetaKeyOIFNAME, expr.MetaKeyIIFNAME} {
				c.InsertRule(&nftables.Rule{
					Table: target.Table, Chain: target,
					// Counter then verdict, in the order iptables-nft writes them.
					Exprs:    cat(ifname(key, expr.CmpOpEq, n.Bridge), counter(), accept()),
					UserData: comment(owner),
				})
			}
		}
		return commit(c)
	})
	if err != nil {
		return fmt.Errorf("firewall: network %q: allowing forwarding in iptables: %w", n.Name, err)
	}
	return nil
}

// DisallowForward removes the accept rules AllowForward added for the network called name,
// and nothing else; RemoveNetwork does it too.
func DisallowForward(name string) error {
	owner := NetworkOwner(name)
	if err := checkOwner(owner); err != nil {
		return fmt.Errorf("firewall: network %q: %w", name, err)
	}
	err := retry(func(c *nftables.Conn) error {
		_, rules, err := snapshot(c)
		if err != nil {
			return err
		}
		for _, r := range rules {
			if ruleOwner(r) == owner {
				if err := c.DelRule(r); err != nil {
					return err
				}
			}
		}
		return commit(c)
	})
	if err != nil {
		return fmt.Errorf("firewall: network %q: %w", name, err)
	}
	return nil
}

// Detect describes, in one line, every firewall in the calling thread's network namespace that
// drops network n's forwarded traffic and that berth has not opened: a forward chain outside
// berth's table with policy drop or ending in a rule that drops everything. It returns "" when
// nothing blocks n. The iptables FORWARD chain counts as open once AllowForward has run;
// anything else (firewalld, ufw, a hand-written table) needs the user. It cannot see rules of
// iptables-legacy, which live outside nftables.
func Detect(n Network) (string, error) {
	if err := n.check(); err != nil {
		return "", fmt.Errorf("firewall: network %q: %w", n.Name, err)
	}
	c, err := dial()
	if err != nil {
		return "", fmt.Errorf("firewall: %w", err)
	}
	defer func() { _ = c.CloseLasting() }()
	var msg string
	err = consistent(func() error {
		var err error
		msg, err = detect(c, n)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("firewall: network %q: %w", n.Name, err)
	}
	return msg, nil
}

func detect(c *nftables.Conn, n Network) (string, error) {
	chains, err := c.ListChains()
	if err != nil {
		return "", fmt.Errorf("listing chains: %w", err)
	}
	var found []string
	for _, ch := range chains {
		if ch.Hooknum == nil || *ch.Hooknum != unix.NF_INET_FORWARD {
			continue
		}
		fam := ch.Table.Family
		switch {
		case fam == nftables.TableFamilyINet && ch.Table.Name == tableName:
			continue
		case fam == nftables.TableFamilyIPv4 && !n.has(false),
			fam == nftables.TableFamilyIPv6 && !n.has(true):
			continue
		case fam != nftables.TableFamilyINet && fam != nftables.TableFamilyIPv4 &&
			fam != nftables.TableFamilyIPv6 && fam != nftables.TableFamilyBridge:
			continue
		}
		rules, err := chainRules(c, ch)
		if err != nil {
			return "", err
		}
		if !blocks(ch, rules) {
			continue
		}
		how := "has policy drop"
		if ch.Policy == nil || *ch.Policy != nftables.ChainPolicyDrop {
			how = "ends in a rule that drops or rejects everything"
		}
		if (fam == nftables.TableFamilyIPv4 || fam == nftables.TableFamilyIPv6) && ch.Table.Name == iptTable && ch.Name == iptForward {
			ipt, err := readIPTables(c, fam)
			if err != nil {
				return "", err
			}
			if ipt.allows(n) {
				continue
			}
			cmd := "iptables"
			if fam == nftables.TableFamilyIPv6 {
				cmd = "ip6tables"
			}
			if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
				how += " (as Docker sets it)"
			}
			target := ipt.target().Name
			found = append(found, fmt.Sprintf("the iptables %s chain in table %s %s %s and blocks network %q: "+
				"let berth add its accept rules (AllowForward), or run `%s -I %s -i %s -j ACCEPT` and `%s -I %s -o %s -j ACCEPT`",
				iptForward, familyName(fam), iptTable, how, n.Name, cmd, target, n.Bridge, cmd, target, n.Bridge))
			continue
		}
		hint := fmt.Sprintf("accept forwarding from and to bridge %s there", n.Bridge)
		if ch.Table.Name == "firewalld" {
			hint = fmt.Sprintf("add the bridge to a trusted zone: `firewall-cmd --zone=trusted --add-interface=%s`", n.Bridge)
		}
		found = append(found, fmt.Sprintf("%s %s (hook forward) and blocks network %q: %s", chainName(ch), how, n.Name, hint))
	}
	return strings.Join(found, "; "), nil
}

// blocks reports whether a forward base chain drops what its rules do not accept: policy drop,
// or a last rule that is nothing but an (optionally counted) drop or reject, the latter native
// or as iptables-nft writes `-j REJECT`.
func blocks(ch *nftables.Chain, rules []*nftables.Rule) bool {
	if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
		return true
	}
	if len(rules) == 0 {
		return false
	}
	last := rules[len(rules)-1]
	final := false
	for _, e := range last.Exprs {
		switch e := e.(type) {
		case *expr.Counter:
		case *expr.Verdict:
			final = e.Kind == expr.VerdictDrop
		case *expr.Reject:
			final = true
		case *expr.Target:
			final = e.Name == "REJECT"
		default:
			return false
		}
	}
	return final
}

// ipTables is what berth reads of one iptables-nft filter table.
type ipTables struct {
	forward    *nftables.Chain // nil: no FORWARD base chain
	dockerUser *nftables.Chain // nil: no DOCKER-USER chain
	rules      []*nftables.Rule
}

func readIPTables(c *nftables.Conn, fam nftables.TableFamily) (ipTables, error) {
	var ipt ipTables
	chains, err := c.ListChainsOfTableFamily(fam)
	if err != nil {
		return ipt, fmt.Errorf("listing %s chains: %w", familyName(fam), err)
	}
	for _, ch := range chains {
		if ch.Table.Name != iptTable {
			continue
		}
		switch {
		case ch.Name == iptForward && ch.Hooknum != nil && *ch.Hooknum == unix.NF_INET_FORWARD:
			ipt.forward = ch
		case ch.Name == iptDockerUser && ch.Hooknum == nil:
			ipt.dockerUser = ch
		default:
			continue
		}
		rules, err := chainRules(c, ch)
		if err != nil {
			return ipt, err
		}
		ipt.rules = append(ipt.rules, rules...)
	}
	return ipt, nil
}

func (ipt ipTables) chainRules(name string) []*nftables.Rule {
	var rules []*nftables.Rule
	for _, r := range ipt.rules {
		if r.Chain.Name == name {
			rules = append(rules, r)
		}
	}
	return rules
}

// target is where berth's accepts go: DOCKER-USER when FORWARD jumps to it, else FORWARD.
func (ipt ipTables) target() *nftables.Chain {
	if ipt.dockerUser == nil {
		return ipt.forward
	}
	for _, r := range ipt.chainRules(iptForward) {
		for _, e := range r.Exprs {
			if v, ok := e.(*expr.Verdict); ok && (v.Kind == expr.VerdictJump || v.Kind == expr.VerdictGoto) && v.Chain == iptDockerUser {
				return ipt.dockerUser
			}
		}
	}
	return ipt.forward
}

// allows reports whether berth's accepts for n, in and out, are in the chain FORWARD
// reaches first.
func (ipt ipTables) allows(n Network) bool {
	owner := NetworkOwner(n.Name)
	var in, out bool
	for _, r := range ipt.chainRules(ipt.target().Name) {
		if ruleOwner(r) != owner {
			continue
		}
		in = in || matchesIfname(r, expr.MetaKeyOIFNAME, n.Bridge)
		out = out || matchesIfname(r, expr.MetaKeyIIFNAME, n.Bridge)
	}
	return in && out
}

func matchesIfname(r *nftables.Rule, key expr.MetaKey, name string) bool {
	for i, e := range r.Exprs {
		m, ok := e.(*expr.Meta)
		if !ok || m.Key != key || i+1 >= len(r.Exprs) {
			continue
		}
		if c, ok := r.Exprs[i+1].(*expr.Cmp); ok && c.Op == expr.CmpOpEq && strings.TrimRight(string(c.Data), "\x00") == name {
			return true
		}
	}
	return false
}

// foreignRules lists the rules of the iptables-nft filter tables (ip and ip6) that may carry
// berth's tags: FORWARD and DOCKER-USER.
func foreignRules(c *nftables.Conn) ([]*nftables.Rule, error) {
	var rules []*nftables.Rule
	for _, fam := range iptFamilies {
		ipt, err := readIPTables(c, fam)
		if err != nil {
			return nil, err
		}
		rules = append(rules, ipt.rules...)
	}
	return rules, nil
}
