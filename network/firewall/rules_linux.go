package firewall

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// The table and its chains. Base chains hold only the fixed skeleton, rebuilt in every batch;
// owners' rules live in the regular chains, where their order does not matter: every drop an
// owner adds sits in a chain that runs before every accept another owner adds.
const (
	tableName = "berth"
	// tableOwner tags the rules of the table's own skeleton; Owners does not list it.
	tableOwner = "berth"

	chainForward     = "forward"     // filter/forward: dispatch
	chainInput       = "input"       // filter/input: dispatch
	chainPrerouting  = "prerouting"  // nat/prerouting: DNAT of traffic arriving from outside
	chainOutput      = "output"      // nat/output: DNAT of the host's own connections
	chainPostrouting = "postrouting" // nat/postrouting: dispatch

	chainInternal   = "internal"   // internal networks: nothing in or out but their own bridge
	chainBridgeIn   = "bridge-in"  // into a bridge: only replies, published ports and itself
	chainBridgeOut  = "bridge-out" // out of a bridge: everything valid
	chainLocalnet   = "localnet"   // 127.0.0.0/8 arriving on a bridge with route_localnet
	chainPorts      = "ports"      // DNAT of published ports
	chainMasquerade = "masquerade" // egress, localhost and hairpin masquerade
)

// Registers, payload offsets and constants that nft writes for the same rules.
const (
	reg1 = 1
	reg2 = 2

	ipv4SrcOff = 12
	ipv4DstOff = 16
	ipv6SrcOff = 8
	ipv6DstOff = 24
	dportOff   = 2

	// ipsDstNAT is IPS_DST_NAT in ct status: the connection was DNATed.
	ipsDstNAT = 1 << 5
)

var (
	loopback4  = netip.MustParsePrefix("127.0.0.0/8")
	multicast4 = netip.MustParsePrefix("224.0.0.0/4")
	multicast6 = netip.MustParsePrefix("ff00::/8")
)

func berthTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: tableName}
}

// chainSpec is one chain of the skeleton with its fixed rules.
type chainSpec struct {
	name  string
	typ   nftables.ChainType
	hook  *nftables.ChainHook
	prio  *nftables.ChainPriority
	rules [][]expr.Any
}

// skeleton is the fixed part of the table. Every base chain has policy accept: berth only ever
// drops what concerns its own bridges.
func skeleton() []chainSpec {
	jump := func(chain string) expr.Any { return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain} }
	fibLocal := []expr.Any{
		&expr.Fib{Register: reg1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
	return []chainSpec{
		// Regular chains first: the base chains jump to them.
		{name: chainInternal},
		{name: chainBridgeIn},
		{name: chainBridgeOut},
		{name: chainLocalnet},
		{name: chainPorts},
		{name: chainMasquerade},
		{
			name: chainForward, typ: nftables.ChainTypeFilter,
			hook: nftables.ChainHookForward, prio: nftables.ChainPriorityFilter,
			rules: [][]expr.Any{
				{jump(chainInternal)},
				cat(ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), counter(), accept()),
				cat(ctDNAT(), counter(), accept()),
				{jump(chainBridgeIn)},
				{jump(chainBridgeOut)},
			},
		},
		{
			name: chainInput, typ: nftables.ChainTypeFilter,
			hook: nftables.ChainHookInput, prio: nftables.ChainPriorityFilter,
			rules: [][]expr.Any{{jump(chainLocalnet)}},
		},
		{
			name: chainPrerouting, typ: nftables.ChainTypeNAT,
			hook: nftables.ChainHookPrerouting, prio: nftables.ChainPriorityNATDest,
			rules: [][]expr.Any{
				// A packet for 127.0.0.0/8 that arrives from outside is never DNATed: the
				// kernel then drops it as a martian, so a port published on 127.0.0.1 stays
				// local (moby#41872) whatever route_localnet says.
				cat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, "lo"), addr(dst, loopback4, expr.CmpOpEq), ret()),
				cat(fibLocal, []expr.Any{jump(chainPorts)}),
			},
		},
		{
			name: chainOutput, typ: nftables.ChainTypeNAT,
			hook: nftables.ChainHookOutput, prio: nftables.ChainPriorityNATDest,
			rules: [][]expr.Any{cat(fibLocal, []expr.Any{jump(chainPorts)})},
		},
		{
			name: chainPostrouting, typ: nftables.ChainTypeNAT,
			hook: nftables.ChainHookPostrouting, prio: nftables.ChainPriorityNATSource,
			rules: [][]expr.Any{{jump(chainMasquerade)}},
		},
	}
}

// ruleSpec is one owner's rule before it has a table.
type ruleSpec struct {
	chain string
	exprs []expr.Any
}

// networkRules are the rules of one bridge network.
func networkRules(n Network) []ruleSpec {
	br := n.Bridge
	var rules []ruleSpec
	if n.Internal {
		rules = []ruleSpec{
			{chainInternal, cat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, br), counter(), drop())},
			{chainInternal, cat(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, br), counter(), drop())},
		}
	} else {
		rules = []ruleSpec{
			// Nothing enters the bridge from elsewhere unless it is a reply or was DNATed to a
			// published port (both accepted earlier in forward): that is the isolation between
			// networks and from direct access to container addresses.
			{chainBridgeIn, cat(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, br), counter(), drop())},
			// An invalid packet would skip NAT and leak a container address.
			{chainBridgeOut, cat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ctState(expr.CtStateBitINVALID), counter(), drop())},
			{chainBridgeOut, cat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), counter(), accept())},
		}
		for _, subnet := range n.subnets() {
			mcast := multicast4
			if subnet.Addr().Is6() {
				mcast = multicast6
			}
			if !n.NoMasquerade {
				rules = append(rules, ruleSpec{chainMasquerade, cat(
					addr(src, subnet, expr.CmpOpEq),
					ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, br),
					addr(dst, mcast, expr.CmpOpNeq),
					counter(), masquerade())})
			}
			// Hairpin: a container reaching its own or a sibling's published port through a
			// host address. Without it the answer would come straight from the container's
			// address and be dropped. With br_netfilter such a packet is bridged after DNAT
			// and reaches postrouting without an input interface, so this matches the source
			// subnet.
			rules = append(rules, ruleSpec{chainMasquerade, cat(
				addr(src, subnet, expr.CmpOpEq),
				ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br),
				ctDNAT(), counter(), masquerade())})
		}
	}
	if n.has(false) {
		rules = append(rules, ruleSpec{chainLocalnet, localnetDrop(br)})
	}
	return rules
}

// localnetDrop drops new connections to 127.0.0.0/8 that arrive on the bridge: route_localnet,
// which the bridge needs for published ports on 127.0.0.1, would otherwise let containers reach
// the host's loopback services (CVE-2020-8558). Replies to the host's own 127.0.0.1
// connections are established and pass.
func localnetDrop(br string) []expr.Any {
	return cat(
		ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br),
		addr(dst, loopback4, expr.CmpOpEq),
		ctStateNot(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED),
		counter(), drop())
}

// portRules are the rules of one published port; p has been checked.
func portRules(p Port) []ruleSpec {
	var rules []ruleSpec
	l4 := l4proto(p.Proto)
	dnat := family(p.ContainerIP)
	if p.HostIP.IsValid() {
		dnat = addr(dst, netip.PrefixFrom(p.HostIP, p.HostIP.BitLen()), expr.CmpOpEq)
	}
	dnat = cat(dnat, dport(l4, p.HostPort), counter(), dnatTo(p.ContainerIP, p.ContainerPort))
	rules = append(rules, ruleSpec{chainPorts, dnat})

	if p.ContainerIP.Is4() && (!p.HostIP.IsValid() || p.HostIP.IsLoopback()) {
		// From the host on 127.0.0.1: the container cannot answer 127.0.0.1.
		rules = append(rules, ruleSpec{chainMasquerade, cat(
			addr(src, loopback4, expr.CmpOpEq), ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, p.Bridge),
			addr(dst, netip.PrefixFrom(p.ContainerIP, p.ContainerIP.BitLen()), expr.CmpOpEq),
			dport(l4, p.ContainerPort), ctDNAT(), counter(), masquerade())})
	}
	return rules
}

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func counter() []expr.Any    { return []expr.Any{&expr.Counter{}} }
func accept() []expr.Any     { return []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}} }
func drop() []expr.Any       { return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}} }
func ret() []expr.Any        { return []expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}} }
func masquerade() []expr.Any { return []expr.Any{&expr.Masq{}} }

// ifname matches iifname or oifname the way iptables-nft writes -i/-o: the name and its NUL,
// so that the rule reads back as `-i name` there and as `iifname "name"` in nft.
func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: reg1},
		&expr.Cmp{Op: op, Register: reg1, Data: append([]byte(name), 0)},
	}
}

// family matches the address family of a; in an inet table every address match needs it.
func family(a netip.Addr) []expr.Any {
	proto := byte(unix.NFPROTO_IPV4)
	if a.Is6() {
		proto = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{proto}},
	}
}

type direction bool

const (
	src direction = false
	dst direction = true
)

// addr matches the source or destination address against p, with its family dependency.
func addr(d direction, p netip.Prefix, op expr.CmpOp) []expr.Any {
	a := p.Masked().Addr()
	raw := a.AsSlice()
	off := uint32(ipv4SrcOff)
	switch {
	case a.Is4() && d == dst:
		off = ipv4DstOff
	case a.Is6() && d == src:
		off = ipv6SrcOff
	case a.Is6() && d == dst:
		off = ipv6DstOff
	}
	out := cat(family(a), []expr.Any{&expr.Payload{
		DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(len(raw)),
	}})
	if p.Bits() < a.BitLen() {
		out = append(out, &expr.Bitwise{
			SourceRegister: reg1, DestRegister: reg1, Len: uint32(len(raw)),
			Mask: net.CIDRMask(p.Bits(), a.BitLen()), Xor: make([]byte, len(raw)),
		})
	}
	return append(out, &expr.Cmp{Op: op, Register: reg1, Data: raw})
}

func l4proto(proto string) byte {
	if proto == "udp" {
		return unix.IPPROTO_UDP
	}
	return unix.IPPROTO_TCP
}

// dport matches `tcp dport port` (or udp).
func dport(proto byte, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{proto}},
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: dportOff, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

// ctState matches `ct state` against any of bits.
func ctState(bits uint32) []expr.Any {
	return ctBits(expr.CtKeySTATE, bits, expr.CmpOpNeq)
}

// ctStateNot matches a `ct state` that has none of bits.
func ctStateNot(bits uint32) []expr.Any {
	return ctBits(expr.CtKeySTATE, bits, expr.CmpOpEq)
}

// ctDNAT matches `ct status dnat`.
func ctDNAT() []expr.Any {
	return ctBits(expr.CtKeySTATUS, ipsDstNAT, expr.CmpOpNeq)
}

func ctBits(key expr.CtKey, bits uint32, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: key, Register: reg1},
		&expr.Bitwise{
			SourceRegister: reg1, DestRegister: reg1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4),
		},
		&expr.Cmp{Op: op, Register: reg1, Data: make([]byte, 4)},
	}
}

func dnatTo(a netip.Addr, port uint16) []expr.Any {
	fam := uint32(unix.NFPROTO_IPV4)
	if a.Is6() {
		fam = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Immediate{Register: reg1, Data: a.AsSlice()},
		&expr.Immediate{Register: reg2, Data: binaryutil.BigEndian.PutUint16(port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: fam, RegAddrMin: reg1, RegProtoMin: reg2, Specified: true},
	}
}

// comment is the rule's UserData: the owner as nft's comment, which iptables-nft also reads
// back as `-m comment --comment`.
func comment(owner string) []byte {
	return append([]byte{0 /* NFTNL_UDATA_RULE_COMMENT */, byte(len(owner) + 1)}, append([]byte(owner), 0)...)
}

// ruleOwner returns the comment of r: from UserData as berth and nft write it, or from an
// xt comment match as iptables-nft writes it (a rule berth put into DOCKER-USER comes back
// that way after an iptables-save and iptables-restore).
func ruleOwner(r *nftables.Rule) string {
	ud := r.UserData
	for len(ud) >= 2 {
		typ, n := ud[0], int(ud[1])
		if len(ud) < 2+n {
			break
		}
		if typ == 0 {
			return string(bytes.TrimRight(ud[2:2+n], "\x00"))
		}
		ud = ud[2+n:]
	}
	for _, e := range r.Exprs {
		if m, ok := e.(*expr.Match); ok && m.Name == "comment" {
			if c, ok := m.Info.(*xt.Comment); ok {
				return string(*c)
			}
		}
	}
	return ""
}

// publishedPort reads back the host side of a DNAT rule that portRules wrote, for the
// conntrack flush when the rule goes.
type publishedPort struct {
	proto  byte
	hostIP netip.Addr // zero: any
	port   uint16
	v6     bool
}

func decodePort(r *nftables.Rule) (publishedPort, bool) {
	var (
		pp      publishedPort
		payload *expr.Payload
		meta    *expr.Meta
		isDNAT  bool
	)
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case *expr.Meta:
			meta, payload = e, nil
		case *expr.Payload:
			payload, meta = e, nil
		case *expr.Cmp:
			switch {
			case meta != nil && meta.Key == expr.MetaKeyL4PROTO && len(e.Data) == 1:
				pp.proto = e.Data[0]
			case meta != nil && meta.Key == expr.MetaKeyNFPROTO && len(e.Data) == 1:
				pp.v6 = e.Data[0] == unix.NFPROTO_IPV6
			case payload != nil && payload.Base == expr.PayloadBaseTransportHeader && payload.Offset == dportOff && len(e.Data) == 2:
				pp.port = binary.BigEndian.Uint16(e.Data)
			case payload != nil && payload.Base == expr.PayloadBaseNetworkHeader && (payload.Offset == ipv4DstOff || payload.Offset == ipv6DstOff):
				if a, ok := netip.AddrFromSlice(e.Data); ok {
					pp.hostIP = a
				}
			}
			meta, payload = nil, nil
		case *expr.NAT:
			isDNAT = e.Type == expr.NATTypeDestNAT
		default:
			meta, payload = nil, nil
		}
	}
	return pp, isDNAT && pp.proto != 0 && pp.port != 0
}
