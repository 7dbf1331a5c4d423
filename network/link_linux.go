package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/network/ipam"
)

// retryDump runs a netlink dump again when the kernel says it changed
// under it (ErrDumpInterrupted), as the reference notes require.
func retryDump[T any](f func() (T, error)) (T, error) {
	var v T
	var err error
	for range 5 {
		v, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}

// hostPrefixes are the addresses and routes of the current network
// namespace, which a new network's subnet must not overlap.
func hostPrefixes() ([]netip.Prefix, error) {
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	routes, err := retryDump(func() ([]netlink.Route, error) { return netlink.RouteList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []netip.Prefix
	add := func(n *net.IPNet) {
		if n == nil {
			return
		}
		if p, ok := prefixOf(n); ok && p.Bits() > 0 {
			out = append(out, p.Masked())
		}
	}
	for _, a := range addrs {
		add(a.IPNet)
	}
	for _, r := range routes {
		add(r.Dst)
	}
	return out, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// writeSysctl writes a /proc/sys/net key of the current network namespace.
func writeSysctl(key, value string) error {
	p := filepath.Join("/proc/sys/net", key)
	if err := os.WriteFile(p, []byte(value), 0); err != nil {
		return fmt.Errorf("sysctl net.%s=%s: %w", key, value, err)
	}
	return nil
}

// createBridge makes n's bridge with its gateway address, up, with the
// sysctls berth's published ports and egress need.
func createBridge(n *Network) (err error) {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge, MTU: n.MTU}}
	if err := netlink.LinkAdd(br); err != nil {
		if errors.Is(err, syscall.EEXIST) {
			// Not this state root's (it would have found its own): another berth state root
			// in this network namespace, or something else, has the name.
			return invalidf("create bridge %s: a link of that name already exists in this network namespace and is not this state root's (another berth state root's, or a leftover: `ip link del %s` if nothing uses it)", n.Bridge, n.Bridge)
		}
		return fmt.Errorf("create bridge %s: %w", n.Bridge, err)
	}
	defer func() {
		if err != nil {
			_ = netlink.LinkDel(br)
		}
	}()
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", n.Bridge, err)
	}
	sysctls := map[string]string{
		"ipv4/conf/" + n.Bridge + "/route_localnet": "1", // published ports on 127.0.0.1
		"ipv4/conf/" + n.Bridge + "/rp_filter":      "2",
		"ipv6/conf/" + n.Bridge + "/accept_ra":      "0",
	}
	if n.IPv6 != nil {
		// The gateway is usable at once, without duplicate address detection.
		sysctls["ipv6/conf/"+n.Bridge+"/disable_ipv6"] = "0"
		sysctls["ipv6/conf/"+n.Bridge+"/accept_dad"] = "0"
	}
	for key, val := range sysctls {
		if err := writeSysctl(key, val); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for _, sub := range n.subnets() {
		gw := netip.PrefixFrom(sub.Gateway, sub.Prefix.Bits())
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipNet(gw), Flags: unix.IFA_F_NODAD}); err != nil {
			return fmt.Errorf("bridge %s: address %s: %w", n.Bridge, gw, err)
		}
	}
	if !n.Internal {
		if err := writeSysctl("ipv4/ip_forward", "1"); err != nil {
			return err
		}
		if n.IPv6 != nil {
			// As Docker with IPv6 networks; it stops the host taking router
			// advertisements on interfaces left at accept_ra=1.
			if err := writeSysctl("ipv6/conf/all/forwarding", "1"); err != nil {
				return err
			}
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bridge %s: up: %w", n.Bridge, err)
	}
	return nil
}

// deleteBridge removes n's bridge; a missing one is no error.
func deleteBridge(n *Network) error {
	link, err := netlink.LinkByName(n.Bridge)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bridge %s: %w", n.Bridge, err)
	}
	if err := netlink.LinkDel(link); err != nil {
		return fmt.Errorf("delete bridge %s: %w", n.Bridge, err)
	}
	return nil
}

// CreateNetNS makes a persistent network namespace at path (a bind mount of
// the namespace, like `ip netns add`) with lo up.
func CreateNetNS(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o600)
	if err != nil {
		return fmt.Errorf("network namespace: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// The namespace is entered on this thread only; it goes back, or
		// stays locked and dies with the goroutine.
		goruntime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		err = func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return os.NewSyscallError("unshare(CLONE_NEWNET)", err)
			}
			src := "/proc/self/task/" + strconv.Itoa(unix.Gettid()) + "/ns/net"
			if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
				return &os.PathError{Op: "mount", Path: path, Err: err}
			}
			lo, err := netlink.LinkByName("lo")
			if err == nil {
				err = netlink.LinkSetUp(lo)
			}
			if err != nil {
				return fmt.Errorf("lo: %w", err)
			}
			// The defaults every interface made in the namespace later
			// starts with (the reference notes' container sysctls): a
			// gratuitous ARP when an address comes up, so neighbours
			// forget the last owner of a reused address at once, and no
			// duplicate address detection holding up IPv6 addresses.
			for key, val := range map[string]string{
				"ipv4/conf/default/arp_notify": "1",
				"ipv6/conf/default/accept_dad": "0",
			} {
				if err := writeSysctl(key, val); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
			return nil
		}()
		if netns.Set(orig) == nil {
			goruntime.UnlockOSThread()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		_ = DeleteNetNS(path)
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	return nil
}

// IsNetNS reports whether path is a persistent network namespace (a bind
// mount of one), not the empty file a CreateNetNS interrupted before its
// mount leaves.
func IsNetNS(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// DeleteNetNS unmounts and removes a persistent namespace; a missing one
// is no error. The namespace goes once nothing else holds it.
func DeleteNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		return &os.PathError{Op: "umount", Path: path, Err: err}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// plugVeth connects the namespace at nsPath to n's bridge: a veth whose peer
// is born in the namespace as ifName, with addr, up, and the default route
// through the gateway when defaultRoute.
func plugVeth(nsPath string, n *Network, ep *Endpoint, ifName string, defaultRoute bool) (err error) {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", nsPath, err)
	}
	defer ns.Close()
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s of network %s: %w", n.Bridge, n.Name, err)
	}
	// The name is the container's and the network's: a link by that name
	// is what an interrupted plug of this same endpoint left. It goes (and
	// its peer in the namespace with it) before the new one is made.
	if old, err := netlink.LinkByName(ep.Veth); err == nil {
		if err := netlink.LinkDel(old); err != nil {
			return fmt.Errorf("remove the leftover veth %s: %w", ep.Veth, err)
		}
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: ep.Veth, MTU: n.MTU, MasterIndex: br.Attrs().Index},
		PeerName:      ifName,
		PeerNamespace: netlink.NsFd(int(ns)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s: %w", ep.Veth, err)
	}
	defer func() {
		if err != nil {
			_ = netlink.LinkDel(veth)
		}
	}()
	host, err := netlink.LinkByName(ep.Veth)
	if err != nil {
		return err
	}
	// Hairpin: a container can reach its own published ports.
	if err := netlink.LinkSetHairpin(host, true); err != nil {
		return fmt.Errorf("veth %s: hairpin: %w", ep.Veth, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("veth %s: up: %w", ep.Veth, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	peer, err := h.LinkByName(ifName)
	if err != nil {
		return fmt.Errorf("%s in the container: %w", ifName, err)
	}
	if ep.MAC != "" {
		mac, err := net.ParseMAC(ep.MAC)
		if err != nil {
			return invalidf("invalid MAC address %q", ep.MAC)
		}
		if err := h.LinkSetHardwareAddr(peer, mac); err != nil {
			return fmt.Errorf("%s: MAC address: %w", ifName, err)
		}
	}
	for _, a := range []struct {
		ip  netip.Addr
		sub *ipam.Subnet
	}{{ep.IPv4, n.IPv4}, {ep.IPv6, n.IPv6}} {
		if !a.ip.IsValid() {
			continue
		}
		addr := netip.PrefixFrom(a.ip, a.sub.Prefix.Bits())
		if err := h.AddrAdd(peer, &netlink.Addr{IPNet: ipNet(addr), Flags: unix.IFA_F_NODAD}); err != nil {
			return fmt.Errorf("%s: address %s: %w", ifName, addr, err)
		}
	}
	if err := h.LinkSetUp(peer); err != nil {
		return fmt.Errorf("%s: up: %w", ifName, err)
	}
	if ep.MAC == "" {
		if l, err := h.LinkByName(ifName); err == nil {
			ep.MAC = l.Attrs().HardwareAddr.String()
		}
	}
	if defaultRoute && !n.Internal {
		for _, sub := range n.subnets() {
			if err := h.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: sub.Gateway.AsSlice()}); err != nil {
				return fmt.Errorf("%s: default route via %s: %w", ifName, sub.Gateway, err)
			}
		}
	}
	return nil
}

// unplugVeth removes a container's veth (its peer goes with it); a missing
// one is no error.
func unplugVeth(ep *Endpoint) error {
	link, err := netlink.LinkByName(ep.Veth)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	return netlink.LinkDel(link)
}
