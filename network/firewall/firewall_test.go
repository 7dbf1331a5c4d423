package firewall

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestOwnerTags(t *testing.T) {
	if got, want := NetworkOwner("web_default"), "berth:net:web_default"; got != want {
		t.Errorf("NetworkOwner = %q, want %q", got, want)
	}
	if got, want := ContainerOwner("0123abcd"), "berth:ctr:0123abcd"; got != want {
		t.Errorf("ContainerOwner = %q, want %q", got, want)
	}
	for _, bad := range []string{"", "berth:", "docker:net:a", "berth:net:" + strings.Repeat("x", 120), "berth:net:\"a\"", "berth:net:a\nb"} {
		if err := checkOwner(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("checkOwner(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestNetworkCheck(t *testing.T) {
	good := Network{Name: "web_default", Bridge: "berth-0a1b2c3d", Subnet: netip.MustParsePrefix("172.18.0.0/16")}
	tests := []struct {
		name string
		edit func(n *Network)
		ok   bool
	}{
		{"valid", func(n *Network) {}, true},
		{"IPv6", func(n *Network) { n.Subnet = netip.MustParsePrefix("fd00:77::/64") }, true},
		{"internal", func(n *Network) { n.Internal = true }, true},
		{"no name", func(n *Network) { n.Name = "" }, false},
		{"name too long for a tag", func(n *Network) { n.Name = strings.Repeat("n", 125) }, false},
		{"no bridge", func(n *Network) { n.Bridge = "" }, false},
		{"bridge longer than IFNAMSIZ", func(n *Network) { n.Bridge = "berth-0123456789" }, false},
		{"bridge with a slash", func(n *Network) { n.Bridge = "../lo" }, false},
		{"no subnet", func(n *Network) { n.Subnet = netip.Prefix{} }, false},
		{"IPv4-mapped subnet", func(n *Network) { n.Subnet = netip.MustParsePrefix("::ffff:10.0.0.0/104") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := good
			tt.edit(&n)
			err := n.check()
			if tt.ok && err != nil {
				t.Errorf("check() = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalid) {
				t.Errorf("check() = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestPortCheck(t *testing.T) {
	good := Port{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("172.18.0.2"), ContainerPort: 80, Bridge: "berth-1"}
	tests := []struct {
		name     string
		edit     func(p *Port)
		ok       bool
		wantHost netip.Addr
	}{
		{"valid", func(p *Port) {}, true, netip.Addr{}},
		{"udp", func(p *Port) { p.Proto = "udp" }, true, netip.Addr{}},
		{"0.0.0.0 is every address", func(p *Port) { p.HostIP = netip.MustParseAddr("0.0.0.0") }, true, netip.Addr{}},
		{"one host address", func(p *Port) { p.HostIP = netip.MustParseAddr("192.0.2.1") }, true, netip.MustParseAddr("192.0.2.1")},
		{"loopback", func(p *Port) { p.HostIP = netip.MustParseAddr("127.0.0.1") }, true, netip.MustParseAddr("127.0.0.1")},
		{"IPv6", func(p *Port) {
			p.HostIP, p.ContainerIP = netip.MustParseAddr("::"), netip.MustParseAddr("fd00::2")
		}, true, netip.Addr{}},
		{"sctp", func(p *Port) { p.Proto = "sctp" }, false, netip.Addr{}},
		{"upper-case protocol", func(p *Port) { p.Proto = "TCP" }, false, netip.Addr{}},
		{"host port 0", func(p *Port) { p.HostPort = 0 }, false, netip.Addr{}},
		{"container port 0", func(p *Port) { p.ContainerPort = 0 }, false, netip.Addr{}},
		{"no container address", func(p *Port) { p.ContainerIP = netip.Addr{} }, false, netip.Addr{}},
		{"unspecified container address", func(p *Port) { p.ContainerIP = netip.MustParseAddr("0.0.0.0") }, false, netip.Addr{}},
		{"no bridge", func(p *Port) { p.Bridge = "" }, false, netip.Addr{}},
		{":: for an IPv4 container", func(p *Port) { p.HostIP = netip.MustParseAddr("::") }, false, netip.Addr{}},
		{"IPv6 host address for an IPv4 container", func(p *Port) { p.HostIP = netip.MustParseAddr("2001:db8::1") }, false, netip.Addr{}},
		{"::1", func(p *Port) {
			p.HostIP, p.ContainerIP = netip.MustParseAddr("::1"), netip.MustParseAddr("fd00::2")
		}, false, netip.Addr{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			tt.edit(&p)
			got, err := p.check()
			if !tt.ok {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("check() = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("check() = %v, want nil", err)
			}
			if got.HostIP != tt.wantHost {
				t.Errorf("HostIP after check = %v, want %v", got.HostIP, tt.wantHost)
			}
		})
	}
}

func TestPortString(t *testing.T) {
	tests := []struct {
		p    Port
		want string
	}{
		{Port{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("172.18.0.2"), ContainerPort: 80}, "8080->172.18.0.2:80/tcp"},
		{Port{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 53, ContainerIP: netip.MustParseAddr("172.18.0.2"), ContainerPort: 53}, "127.0.0.1:53->172.18.0.2:53/udp"},
		{Port{Proto: "tcp", HostIP: netip.MustParseAddr("2001:db8::1"), HostPort: 443, ContainerIP: netip.MustParseAddr("fd00::2"), ContainerPort: 443}, "[2001:db8::1]:443->[fd00::2]:443/tcp"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
