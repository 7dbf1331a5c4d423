package container

import (
	"net/netip"
	"strings"
	"testing"
)

func TestResolvConf(t *testing.T) {
	got := string(resolvConf([]byte("# generated\nnameserver 127.0.0.53\nsearch example.test\noptions edns0\n"), nil))
	if want := "# generated\nsearch example.test\noptions edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"; got != want {
		t.Errorf("only a local nameserver: %q, want %q", got, want)
	}
	got = string(resolvConf([]byte("nameserver 10.0.0.2\nnameserver ::1\n"), nil))
	if got != "nameserver 10.0.0.2\n" {
		t.Errorf("a reachable nameserver: %q", got)
	}
}

func TestHostsFile(t *testing.T) {
	got := string(hostsFile("abc", []netip.Addr{netip.MustParseAddr("172.18.0.2")}, []string{"10.0.0.9\tdb"}))
	if !strings.HasPrefix(got, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n") || !strings.HasSuffix(got, "ff02::2\tip6-allrouters\n10.0.0.9\tdb\n172.18.0.2\tabc\n") {
		t.Errorf("hosts:\n%s", got)
	}
}
