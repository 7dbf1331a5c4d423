package firewall

import (
	"net/netip"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// TestDecodePort: what RemoveOwner reads back from a DNAT rule is what AddPorts wrote.
func TestDecodePort(t *testing.T) {
	tests := []struct {
		name string
		p    Port
		want publishedPort
	}{
		{"every address", Port{Proto: "udp", HostPort: 5353, ContainerIP: netip.MustParseAddr("10.77.0.2"), ContainerPort: 53, Bridge: "b"},
			publishedPort{proto: unix.IPPROTO_UDP, port: 5353}},
		{"one address", Port{Proto: "tcp", HostIP: netip.MustParseAddr("192.0.2.1"), HostPort: 8080, ContainerIP: netip.MustParseAddr("10.77.0.2"), ContainerPort: 80, Bridge: "b"},
			publishedPort{proto: unix.IPPROTO_TCP, hostIP: netip.MustParseAddr("192.0.2.1"), port: 8080}},
		{"IPv6", Port{Proto: "udp", HostIP: netip.MustParseAddr("2001:db8::1"), HostPort: 53, ContainerIP: netip.MustParseAddr("fd00::2"), ContainerPort: 5353, Bridge: "b"},
			publishedPort{proto: unix.IPPROTO_UDP, hostIP: netip.MustParseAddr("2001:db8::1"), port: 53, v6: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.p.check()
			if err != nil {
				t.Fatal(err)
			}
			var found int
			for _, r := range portRules(p) {
				got, ok := decodePort(&nftables.Rule{Exprs: r.exprs})
				if r.chain != chainPorts {
					if ok {
						t.Errorf("the %s rule decodes as a published port: %+v", r.chain, got)
					}
					continue
				}
				found++
				if !ok || got != tt.want {
					t.Errorf("decodePort = %+v, %v; want %+v", got, ok, tt.want)
				}
			}
			if found != 1 {
				t.Errorf("%d DNAT rules, want 1", found)
			}
		})
	}
}

func TestRuleOwner(t *testing.T) {
	xtc := xt.Comment("berth:net:restored")
	tests := []struct {
		name string
		r    *nftables.Rule
		want string
	}{
		{"UserData", &nftables.Rule{UserData: comment("berth:ctr:c1")}, "berth:ctr:c1"},
		{"comment after another TLV", &nftables.Rule{UserData: append([]byte{7, 2, 1, 2}, comment("berth:net:a")...)}, "berth:net:a"},
		{"iptables-nft comment match", &nftables.Rule{Exprs: []expr.Any{&expr.Match{Name: "comment", Info: &xtc}}}, "berth:net:restored"},
		{"none", &nftables.Rule{Exprs: accept()}, ""},
		{"truncated UserData", &nftables.Rule{UserData: []byte{0, 200, 'b'}}, ""},
	}
	for _, tt := range tests {
		if got := ruleOwner(tt.r); got != tt.want {
			t.Errorf("%s: ruleOwner = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestBlocks(t *testing.T) {
	drop, accept := nftables.ChainPolicyDrop, nftables.ChainPolicyAccept
	rule := func(e ...expr.Any) *nftables.Rule { return &nftables.Rule{Exprs: e} }
	tests := []struct {
		name   string
		policy *nftables.ChainPolicy
		rules  []*nftables.Rule
		want   bool
	}{
		{"policy drop", &drop, nil, true},
		{"policy accept, no rules", &accept, nil, false},
		{"final counted drop", &accept, []*nftables.Rule{rule(&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})}, true},
		{"final reject", &accept, []*nftables.Rule{rule(&expr.Reject{})}, true},
		{"final iptables -j REJECT", &accept, []*nftables.Rule{rule(&expr.Counter{}, &expr.Target{Name: "REJECT"})}, true},
		{"final iptables -j LOG", &accept, []*nftables.Rule{rule(&expr.Counter{}, &expr.Target{Name: "LOG"})}, false},
		{"final drop with a match", &accept, []*nftables.Rule{rule(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, "eth0")[0], &expr.Verdict{Kind: expr.VerdictDrop})}, false},
		{"drop, then accept", &accept, []*nftables.Rule{rule(&expr.Verdict{Kind: expr.VerdictDrop}), rule(&expr.Verdict{Kind: expr.VerdictAccept})}, false},
	}
	for _, tt := range tests {
		if got := blocks(&nftables.Chain{Policy: tt.policy}, tt.rules); got != tt.want {
			t.Errorf("%s: blocks = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestInternalHasNoWayOut: an internal network's rules neither accept nor masquerade.
func TestInternalHasNoWayOut(t *testing.T) {
	n := Network{Name: "i", Bridge: "berth-i", Subnet: netip.MustParsePrefix("10.77.2.0/24"), Internal: true}
	for _, r := range networkRules(n) {
		for _, e := range r.exprs {
			switch e := e.(type) {
			case *expr.Masq:
				t.Errorf("internal network masquerades in %s", r.chain)
			case *expr.Verdict:
				if e.Kind != expr.VerdictDrop {
					t.Errorf("internal network has a %v verdict in %s", e.Kind, r.chain)
				}
			}
		}
	}
}
