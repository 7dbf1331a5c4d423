package resolver

import (
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
)

// Table answers name and address lookups for one container from the record
// files of the networks it is on.
//
// Every lookup stats each file and rereads the ones whose inode, size or
// mtime changed, so a record written with Update is visible to the next
// query: a container started right after its dependency resolves it at
// once, with no reload interval to race. A stat per network per query is
// cheap next to the query itself. A missing file is an empty network; a
// file that cannot be read or parsed leaves the last good records in use
// until it changes again.
//
// A Table is safe for concurrent use.
type Table struct {
	mu       sync.Mutex
	networks []*networkFile
	// links maps the container's link aliases to the names they stand for.
	links map[string]string
}

// networkFile is one record file and the index built from its last good
// content.
type networkFile struct {
	path string
	info fs.FileInfo // of the file last read; nil when none was
	name string      // NetworkRecords.Network, lower case
	// names maps a lower-case name to the addresses of every entry that
	// has it, IPv4 and IPv6 apart, in file order.
	names map[string]*addrs
	// ptr maps each entry address to "<Names[0]>.<Network>".
	ptr map[netip.Addr]string
}

type addrs struct{ v4, v6 []netip.Addr }

// NewTable returns a Table over the record files at paths, one per network
// the container is on, in the container's endpoint order: when a name is
// known on several networks, the first of them answers, as in Docker.
func NewTable(paths ...string) *Table {
	t := &Table{}
	for _, p := range paths {
		t.networks = append(t.networks, &networkFile{path: p})
	}
	return t
}

// SetPaths replaces the record files the Table reads: the container joined
// or left a network.
func (t *Table) SetPaths(paths ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.networks = nil
	for _, p := range paths {
		t.networks = append(t.networks, &networkFile{path: p})
	}
}

// SetLinks makes each alias of links (Docker's --link and compose's links:,
// which only the linking container sees) resolve as the name it maps to.
func (t *Table) SetLinks(links map[string]string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.links = map[string]string{}
	for alias, target := range links {
		t.links[normalize(alias)] = normalize(target)
	}
}

// LookupIP returns the addresses of name, IPv6 ones if ipv6 is set, else
// IPv4 ones. name matches case-insensitively, with or without its trailing
// dot, an entry name on any of the networks, or "<entry name>.<network>" on
// that network only (Docker's rule, so "a.b.c" is tried as "a.b.c"
// everywhere, then "a.b" on network "c", then "a" on network "b.c"). The
// first network that knows the name answers with the addresses of all its
// entries of that name, without duplicates, in file order.
//
// found reports whether the name is known at all: a known name with no
// address of the family gives (nil, true), which the Server answers with an
// empty NOERROR rather than forwarding it.
func (t *Table) LookupIP(name string, ipv6 bool) (addrs []netip.Addr, found bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()

	name = normalize(name)
	if name == "" {
		return nil, false
	}
	if target, ok := t.links[name]; ok {
		name = target
	}
	try := func(name, network string) ([]netip.Addr, bool) {
		for _, n := range t.networks {
			if network != "" && network != n.name {
				continue
			}
			if a, ok := n.names[name]; ok {
				if ipv6 {
					return slices.Clone(a.v6), true
				}
				return slices.Clone(a.v4), true
			}
		}
		return nil, false
	}
	if a, ok := try(name, ""); ok {
		return a, true
	}
	for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
		if a, ok := try(name[:i], name[i+1:]); ok {
			return a, true
		}
	}
	return nil, false
}

// LookupAddr returns the name a PTR query for addr answers, as Docker does:
// the entry's first name and the network name, "<Names[0]>.<Network>",
// from the first network that has the address.
func (t *Table) LookupAddr(addr netip.Addr) (name string, found bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()

	addr = addr.Unmap()
	for _, n := range t.networks {
		if name, ok := n.ptr[addr]; ok {
			return name, true
		}
	}
	return "", false
}

func (t *Table) refresh() {
	for _, n := range t.networks {
		n.refresh()
	}
}

func (n *networkFile) refresh() {
	fi, err := os.Stat(n.path)
	if errors.Is(err, fs.ErrNotExist) {
		if n.info != nil {
			*n = networkFile{path: n.path}
		}
		return
	}
	if err != nil || unchanged(n.info, fi) {
		return
	}
	f, err := os.Open(n.path)
	if err != nil {
		return
	}
	defer f.Close()
	// Stat what was opened: Update may have replaced the file since.
	fi, err = f.Stat()
	if err != nil {
		return
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return
	}
	n.info = fi
	if r, err := parseRecords(n.path, b); err == nil {
		n.load(r)
	}
}

// unchanged reports whether cur is the file old was taken from, with the
// same content as far as a stat can tell. Update replaces the file by
// rename, so the inode alone catches every rewrite by Update, even two
// within one mtime tick.
func unchanged(old, cur fs.FileInfo) bool {
	return old != nil && os.SameFile(old, cur) &&
		old.Size() == cur.Size() && old.ModTime().Equal(cur.ModTime())
}

func (n *networkFile) load(r NetworkRecords) {
	n.name = normalize(r.Network)
	n.names = map[string]*addrs{}
	n.ptr = map[netip.Addr]string{}
	for _, e := range r.Entries {
		v4, v6 := e.IPv4.Unmap(), e.IPv6
		if !v4.Is4() {
			v4 = netip.Addr{}
		}
		if !v6.Is6() || v6.Is4In6() {
			v6 = netip.Addr{}
		}
		seen := map[string]bool{}
		for _, name := range e.Names {
			key := normalize(name)
			if key == "" || seen[key] {
				continue
			}
			seen[key] = true
			a := n.names[key]
			if a == nil {
				a = &addrs{}
				n.names[key] = a
			}
			a.v4 = appendNew(a.v4, v4)
			a.v6 = appendNew(a.v6, v6)
		}
		if len(e.Names) == 0 {
			continue
		}
		ptr := strings.TrimSuffix(e.Names[0], ".")
		if r.Network != "" {
			ptr += "." + r.Network
		}
		for _, a := range []netip.Addr{v4, v6} {
			if _, dup := n.ptr[a]; a.IsValid() && !dup {
				n.ptr[a] = ptr
			}
		}
	}
}

func appendNew(list []netip.Addr, a netip.Addr) []netip.Addr {
	if !a.IsValid() || slices.Contains(list, a) {
		return list
	}
	return append(list, a)
}

func normalize(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}
