package resolver

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var (
	web1 = Entry{ID: "aaaa11112222", Names: []string{"proj-web-1", "web", "aaaa11112222", "webhost"},
		IPv4: netip.MustParseAddr("172.20.0.2"), IPv6: netip.MustParseAddr("fd00:20::2")}
	web2 = Entry{ID: "bbbb11112222", Names: []string{"proj-web-2", "web", "bbbb11112222"},
		IPv4: netip.MustParseAddr("172.20.0.3"), IPv6: netip.MustParseAddr("fd00:20::3")}
	web3 = Entry{ID: "cccc11112222", Names: []string{"proj-web-3", "web", "cccc11112222"},
		IPv4: netip.MustParseAddr("172.20.0.4")}
	db1 = Entry{ID: "dddd11112222", Names: []string{"proj-db-1", "db", "Database.Local"},
		IPv4: netip.MustParseAddr("172.20.0.5")}
	// web1 again on the back network, with another address.
	web1Back = Entry{ID: web1.ID, Names: web1.Names, IPv4: netip.MustParseAddr("172.21.0.2")}
	cache1   = Entry{ID: "eeee11112222", Names: []string{"proj-cache-1", "cache"},
		IPv4: netip.MustParseAddr("172.21.0.3")}
	secret1 = Entry{ID: "ffff11112222", Names: []string{"other-secret-1", "secret"},
		IPv4: netip.MustParseAddr("172.22.0.2")}
)

// writeRecords replaces the record file of network in dir.
func writeRecords(t *testing.T, dir, network string, entries ...Entry) string {
	t.Helper()
	path := filepath.Join(dir, network+".json")
	err := Update(path, func(r *NetworkRecords) error {
		r.Network, r.Entries = network, entries
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// testNetworks writes three networks and returns a Table over the first
// two: the container is on proj_default and proj_back, not other_default.
func testNetworks(t *testing.T) (*Table, []string) {
	dir := t.TempDir()
	paths := []string{
		writeRecords(t, dir, "proj_default", web1, web2, web3, db1),
		writeRecords(t, dir, "proj_back", web1Back, cache1),
		writeRecords(t, dir, "other_default", secret1),
	}
	return NewTable(paths[:2]...), paths
}

func ips(s ...string) []netip.Addr {
	var a []netip.Addr
	for _, x := range s {
		a = append(a, netip.MustParseAddr(x))
	}
	return a
}

func TestTableLookupIP(t *testing.T) {
	table, _ := testNetworks(t)
	tests := []struct {
		name  string
		query string
		ipv6  bool
		want  []netip.Addr
		found bool
	}{
		{"service, all replicas", "web", false, ips("172.20.0.2", "172.20.0.3", "172.20.0.4"), true},
		{"service AAAA", "web", true, ips("fd00:20::2", "fd00:20::3"), true},
		{"container name", "proj-web-2", false, ips("172.20.0.3"), true},
		{"short id", "aaaa11112222", false, ips("172.20.0.2"), true},
		{"hostname", "webhost", false, ips("172.20.0.2"), true},
		{"trailing dot", "db.", false, ips("172.20.0.5"), true},
		{"case", "PROJ-Db-1.", false, ips("172.20.0.5"), true},
		{"dotted name", "database.local", false, ips("172.20.0.5"), true},
		{"v4-only AAAA", "db", true, nil, true},
		{"first network wins", "proj-web-1", false, ips("172.20.0.2"), true},
		{"second network", "cache", false, ips("172.21.0.3"), true},
		{"qualified", "web.proj_default", false, ips("172.20.0.2", "172.20.0.3", "172.20.0.4"), true},
		{"qualified other network", "proj-web-1.proj_back.", false, ips("172.21.0.2"), true},
		{"qualified case", "Cache.PROJ_BACK", false, ips("172.21.0.3"), true},
		{"qualified wrong network", "cache.proj_default", false, nil, false},
		{"qualified dotted name", "database.local.proj_default", false, ips("172.20.0.5"), true},
		{"network not joined", "secret", false, nil, false},
		{"network not joined qualified", "secret.other_default", false, nil, false},
		{"unknown", "example.com", false, nil, false},
		{"root", ".", false, nil, false},
		{"empty", "", false, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := table.LookupIP(tt.query, tt.ipv6)
			if found != tt.found || !slices.Equal(got, tt.want) {
				t.Errorf("LookupIP(%q, %v) = %v, %v; want %v, %v", tt.query, tt.ipv6, got, found, tt.want, tt.found)
			}
		})
	}
}

func TestTableLinks(t *testing.T) {
	table, _ := testNetworks(t)
	table.SetLinks(map[string]string{"Database": "proj-db-1", "kv": "cache", "web": "proj-web-3"})
	for query, want := range map[string][]netip.Addr{
		"database.": ips("172.20.0.5"),
		"KV":        ips("172.21.0.3"),
		"web":       ips("172.20.0.4"), // the link wins over the service name, for this container
		"proj-db-1": ips("172.20.0.5"),
	} {
		if got, found := table.LookupIP(query, false); !found || !slices.Equal(got, want) {
			t.Errorf("LookupIP(%q) with links = %v, %v; want %v", query, got, found, want)
		}
	}
	table.SetLinks(map[string]string{"gone": "nosuch"})
	if got, found := table.LookupIP("gone", false); found {
		t.Errorf("a link to a name nobody has resolves to %v", got)
	}
}

func TestTableLookupAddr(t *testing.T) {
	table, _ := testNetworks(t)
	tests := []struct {
		addr  string
		want  string
		found bool
	}{
		{"172.20.0.2", "proj-web-1.proj_default", true},
		{"fd00:20::3", "proj-web-2.proj_default", true},
		{"::ffff:172.20.0.5", "proj-db-1.proj_default", true},
		{"172.21.0.2", "proj-web-1.proj_back", true},
		{"172.22.0.2", "", false},
		{"10.0.0.1", "", false},
	}
	for _, tt := range tests {
		got, found := table.LookupAddr(netip.MustParseAddr(tt.addr))
		if got != tt.want || found != tt.found {
			t.Errorf("LookupAddr(%s) = %q, %v; want %q, %v", tt.addr, got, found, tt.want, tt.found)
		}
	}
}

func TestTableReload(t *testing.T) {
	table, paths := testNetworks(t)
	if _, ok := table.LookupIP("late", false); ok {
		t.Fatal("late known before it was written")
	}
	// Two rewrites in a row, too fast for mtime alone to tell apart.
	writeRecords(t, filepath.Dir(paths[0]), "proj_default", web1)
	writeRecords(t, filepath.Dir(paths[0]), "proj_default", web1, Entry{ID: "1", Names: []string{"late"}, IPv4: netip.MustParseAddr("172.20.0.9")})
	if got, _ := table.LookupIP("late", false); !slices.Equal(got, ips("172.20.0.9")) {
		t.Errorf("late = %v after Update", got)
	}
	if got, _ := table.LookupIP("web", false); !slices.Equal(got, ips("172.20.0.2")) {
		t.Errorf("web = %v after its replicas were removed", got)
	}

	// A corrupt file keeps the last good records.
	if err := os.WriteFile(paths[0], []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := table.LookupIP("late", false); !ok {
		t.Error("a corrupt file dropped the last good records")
	}

	// A removed file is an empty network.
	if err := os.Remove(paths[0]); err != nil {
		t.Fatal(err)
	}
	if _, ok := table.LookupIP("late", false); ok {
		t.Error("late still known after its network file was removed")
	}
	if _, ok := table.LookupIP("cache", false); !ok {
		t.Error("cache lost with another network's file")
	}
}

func TestPtrAddr(t *testing.T) {
	tests := []struct {
		name string
		want string // "" for not an address
	}{
		{"2.0.20.172.in-addr.arpa.", "172.20.0.2"},
		{"2.0.20.172.IN-ADDR.ARPA", "172.20.0.2"},
		{"0.20.172.in-addr.arpa.", ""},
		{"256.0.20.172.in-addr.arpa.", ""},
		{"x.0.20.172.in-addr.arpa.", ""},
		{"2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.0.d.f.ip6.arpa.", "fd00:20::2"},
		{"A.b.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.0.d.f.ip6.arpa.", "fd00:20::ba"},
		{"2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.0.d.f.ip6.arpa.", ""},
		{"22.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.0.d.f.ip6.arpa.", ""},
		{"example.com.", ""},
	}
	for _, tt := range tests {
		got, ok := ptrAddr(tt.name)
		if (tt.want == "" && ok) || (tt.want != "" && (!ok || got != netip.MustParseAddr(tt.want))) {
			t.Errorf("ptrAddr(%q) = %v, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
}
