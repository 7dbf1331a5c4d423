package ipam

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestDefaultPools(t *testing.T) {
	p := DefaultPools()
	if len(p) != 15+16 || p[0].String() != "172.17.0.0/16" || p[14].String() != "172.31.0.0/16" || p[15].String() != "192.168.0.0/20" || p[30].String() != "192.168.240.0/20" {
		t.Errorf("pools %v", p)
	}
}

func TestChooseSubnetSkipsUsed(t *testing.T) {
	used := []netip.Prefix{
		netip.MustParsePrefix("172.17.0.1/16"), // docker0
		netip.MustParsePrefix("172.18.5.0/24"), // a route
		netip.MustParsePrefix("10.0.0.0/8"),
	}
	got, err := ChooseSubnet(DefaultPools(), used)
	if err != nil || got.String() != "172.19.0.0/16" {
		t.Errorf("ChooseSubnet = %v, %v; want 172.19.0.0/16", got, err)
	}
	if _, err := ChooseSubnet(DefaultPools()[:1], used); err == nil {
		t.Error("a fully used pool list gave a subnet")
	}
}

func TestAllocateRoundRobin(t *testing.T) {
	s, err := NewSubnet(netip.MustParsePrefix("10.77.0.0/29"), netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Gateway.String() != "10.77.0.1" {
		t.Fatalf("gateway %v", s.Gateway)
	}
	var got []string
	for _, o := range []string{"a", "b", "c", "d", "e"} {
		a, err := s.Allocate(o)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	// .0 network, .1 gateway, .7 broadcast: five host addresses.
	if want := "10.77.0.2 10.77.0.3 10.77.0.4 10.77.0.5 10.77.0.6"; strings.Join(got, " ") != want {
		t.Errorf("allocated %v, want %s", got, want)
	}
	if _, err := s.Allocate("f"); !errors.Is(err, ErrExhausted) {
		t.Errorf("full subnet: %v", err)
	}
	// A released address is not the next one given while others are free.
	s.Release("b")
	s.Release("d")
	a, _ := s.Allocate("g")
	if a.String() != "10.77.0.3" {
		t.Errorf("after releasing .3 and .5 the next is %v, want .3 (round-robin from .6 wraps)", a)
	}
	a, _ = s.Allocate("h")
	if a.String() != "10.77.0.5" {
		t.Errorf("then %v, want .5", a)
	}
	if l, ok := s.Lease("h"); !ok || l != a {
		t.Errorf("Lease(h) = %v, %v", l, ok)
	}
}

func TestClaim(t *testing.T) {
	s, _ := NewSubnet(netip.MustParsePrefix("10.77.0.0/24"), netip.MustParsePrefix("10.77.0.254/32").Addr())
	if err := s.Claim(netip.MustParseAddr("10.77.0.2"), "web"); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim(netip.MustParseAddr("10.77.0.2"), "web"); err != nil {
		t.Errorf("claiming its own address again: %v", err)
	}
	for addr, want := range map[string]string{
		"10.77.0.2":   "already in use",
		"10.77.1.2":   "no configured subnet or ip-range contain the IP address 10.77.1.2",
		"10.77.0.255": "no configured subnet",
		"10.77.0.0":   "no configured subnet",
		"10.77.0.254": "is the gateway",
	} {
		if err := s.Claim(netip.MustParseAddr(addr), "db"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Claim(%s) = %v, want %q", addr, err, want)
		}
	}
	// Dynamic allocation skips the claimed address (the gateway is .254, so .1 is free).
	a, _ := s.Allocate("x")
	b, _ := s.Allocate("y")
	if a.String() != "10.77.0.1" || b.String() != "10.77.0.3" {
		t.Errorf("allocated %v and %v beside a claimed .2, want .1 and .3", a, b)
	}
}

func TestNewSubnetRefuses(t *testing.T) {
	for _, tc := range []struct{ prefix, gw string }{
		{"10.77.0.1/24", ""},          // host bits
		{"10.77.0.0/31", ""},          // too small
		{"10.77.0.0/24", "10.78.0.1"}, // gateway outside
	} {
		var gw netip.Addr
		if tc.gw != "" {
			gw = netip.MustParseAddr(tc.gw)
		}
		if _, err := NewSubnet(netip.MustParsePrefix(tc.prefix), gw); err == nil {
			t.Errorf("NewSubnet(%s, %s) accepted", tc.prefix, tc.gw)
		}
	}
}

func TestSubnetJSON(t *testing.T) {
	s, _ := NewSubnet(netip.MustParsePrefix("fd00:77::/64"), netip.Addr{})
	a, _ := s.Allocate("c1")
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Subnet
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Leases[a] != "c1" || back.Gateway != s.Gateway || back.Last != a {
		t.Errorf("round trip %s -> %+v", b, back)
	}
}
