package network

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/network/firewall"
)

// GCReport counts what GC removed.
type GCReport struct {
	Endpoints, Links, NetNS, Rules int
}

// GC removes what a crash left of berth's networking with no owner any
// more: endpoints (veth, lease, DNS entry) of containers that are gone,
// berth links no network or endpoint accounts for, persistent namespaces
// under runRoot without a container, and nftables rules whose network is
// gone or whose container is not running. container reports whether a
// container exists and whether it runs.
func (s *Store) GC(runRoot string, container func(id string) (exists, running bool)) (GCReport, error) {
	var rep GCReport
	unlock, err := s.Lock()
	if err != nil {
		return rep, err
	}
	defer unlock()
	nets, err := s.List()
	if err != nil {
		return rep, err
	}
	var errs []error
	bridges, veths := map[string]bool{}, map[string]bool{}
	names := map[string]bool{}
	for _, n := range nets {
		names[n.Name], bridges[n.Bridge] = true, true
		for _, id := range n.Containers() {
			if exists, _ := container(id); !exists {
				if err := s.disconnect(n, id, true); err != nil {
					errs = append(errs, err)
					continue
				}
				rep.Endpoints++
				continue
			}
			veths[n.Endpoints[id].Veth] = true
		}
	}
	links, err := retryDump(func() ([]netlink.Link, error) { return netlink.LinkList() })
	if err != nil {
		return rep, err
	}
	for _, l := range links {
		name := l.Attrs().Name
		_, isBridge := l.(*netlink.Bridge)
		orphan := isBridge && (strings.HasPrefix(name, bridgePrefix) || name == "berth0") && !bridges[name] ||
			!isBridge && strings.HasPrefix(name, vethPrefix) && l.Type() == "veth" && !veths[name]
		if !orphan {
			continue
		}
		if err := netlink.LinkDel(l); err != nil {
			// A veth whose namespace the kernel is tearing down goes on its own.
			if !errors.Is(err, unix.ENODEV) {
				errs = append(errs, err)
			}
			continue
		}
		rep.Links++
	}
	dir := filepath.Join(runRoot, "netns")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, e := range ents {
		if exists, _ := container(e.Name()); exists {
			continue
		}
		if err := DeleteNetNS(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.NetNS++
	}
	owners, err := firewall.Owners()
	if err != nil {
		return rep, errors.Join(append(errs, err)...)
	}
	for _, o := range owners {
		orphan := false
		switch {
		case strings.HasPrefix(o, firewall.ContainerOwner("")):
			_, running := container(strings.TrimPrefix(o, firewall.ContainerOwner("")))
			orphan = !running
		case strings.HasPrefix(o, firewall.NetworkOwner("")):
			orphan = !names[strings.TrimPrefix(o, firewall.NetworkOwner(""))]
		}
		if !orphan {
			continue
		}
		if err := firewall.RemoveOwner(o); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Rules++
	}
	return rep, errors.Join(errs...)
}
