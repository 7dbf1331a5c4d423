package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-sh/berth/network"
	"github.com/berth-sh/berth/network/firewall"
	"github.com/berth-sh/berth/network/resolver"
	"github.com/berth-sh/berth/runtime/monitor"
)

// netnsPath is the container's persistent network namespace: it outlives
// the container's processes (restarts keep their addresses) until rm.
func (c *Container) netnsPath() string {
	return filepath.Join(filepath.Dir(filepath.Dir(c.RunDir)), "netns", c.ID)
}

func (c *Container) networks() (*network.Store, error) {
	return network.OpenStore(filepath.Dir(filepath.Dir(c.bundle)))
}

// plug gives the container its network namespace, on its networks, the
// first time it starts; later starts find it in place. It returns the
// namespace's path ("" for a container without networks, which gets a fresh
// namespace with only lo from its monitor), its addresses, and its first
// network's endpoint (where published ports go).
func (c *Container) plug() (string, []netip.Addr, *firstEndpoint, error) {
	if len(c.Options.Networks) == 0 {
		return "", nil, nil, nil
	}
	store, err := c.networks()
	if err != nil {
		return "", nil, nil, err
	}
	path := c.netnsPath()
	fresh := false
	if !network.IsNetNS(path) {
		// Missing, or the empty file of a creation that was interrupted.
		if err := network.DeleteNetNS(path); err != nil {
			return "", nil, nil, err
		}
		if err := network.CreateNetNS(path); err != nil {
			return "", nil, nil, err
		}
		fresh = true
	}
	var addrs []netip.Addr
	var first *firstEndpoint
	for i, a := range c.Options.Networks {
		n, ep, err := store.Connect(c.ID, c.Name, path, a, ifName(a, i), i == 0, c.dnsNames())
		if err != nil {
			if fresh {
				_ = store.Unplug(c.ID, path)
			}
			return "", nil, nil, err
		}
		if i == 0 {
			first = &firstEndpoint{bridge: n.Bridge, ip: ep.IPv4, ip6: ep.IPv6, gateway: n.IPv4.Gateway}
		}
		addrs = append(addrs, ep.IPv4)
		if ep.IPv6.IsValid() {
			addrs = append(addrs, ep.IPv6)
		}
	}
	return path, addrs, first, nil
}

// ifName is the container's interface on its i-th network: eth<i>, or the
// attachment's own name (compose's interface_name).
func ifName(a network.Attachment, i int) string {
	if a.IfName != "" {
		return a.IfName
	}
	return fmt.Sprintf("eth%d", i)
}

// firstEndpoint is the container's place on its first network.
type firstEndpoint struct {
	bridge  string
	ip      netip.Addr
	ip6     netip.Addr // when the network has IPv6
	gateway netip.Addr
}

// portSpecs are the ports to publish: -p's, and with -P every port the
// image or --expose exposes, on a free host port.
func (c *Container) portSpecs() []network.PortSpec {
	specs := append([]network.PortSpec{}, c.Options.Ports...)
	if c.Options.PublishAll {
		exposed, _ := ExposedPorts(append(slices.Clone(c.Process.ImageExposed), c.Options.Expose...))
		for _, e := range exposed {
			port, proto, _ := strings.Cut(e, "/")
			n, _ := strconv.ParseUint(port, 10, 16)
			if proto == "sctp" {
				continue // berth publishes tcp and udp
			}
			if !slices.ContainsFunc(specs, func(p network.PortSpec) bool { return p.ContainerPort == uint16(n) && p.Proto == proto }) {
				specs = append(specs, network.PortSpec{Proto: proto, ContainerPort: uint16(n)})
			}
		}
	}
	if c.first == nil || !c.first.ip6.IsValid() {
		return specs
	}
	// On a network with IPv6, a port given no host address is published on
	// both families, on the same host port, as with Docker.
	var both []network.PortSpec
	for _, p := range specs {
		both = append(both, p)
		if !p.HostIP.IsValid() {
			both = append(both, network.PortSpec{Proto: p.Proto, HostIP: netip.IPv6Unspecified(), ContainerPort: p.ContainerPort, Twin: true})
		}
	}
	return both
}

// ExposedPorts expands exposed ports ("80", "53/udp", "8000-8002/tcp") to
// one "port/proto" each, sorted and without duplicates, as Docker's
// ExposedPorts lists them.
func ExposedPorts(list []string) ([]string, error) {
	var out []string
	for _, e := range list {
		ports, proto, _ := strings.Cut(e, "/")
		switch proto {
		case "":
			proto = "tcp"
		case "tcp", "udp", "sctp":
		default:
			return nil, invalidf("invalid proto %q in exposed port %q", proto, e)
		}
		first, last, isRange := strings.Cut(ports, "-")
		lo, err := strconv.ParseUint(first, 10, 16)
		hi := lo
		if err == nil && isRange {
			hi, err = strconv.ParseUint(last, 10, 16)
		}
		if err != nil || lo == 0 || hi < lo {
			return nil, invalidf("invalid range format for --expose: %s", e)
		}
		for p := lo; p <= hi; p++ {
			if s := fmt.Sprintf("%d/%s", p, proto); !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// extraHosts are the --add-host lines of /etc/hosts, host-gateway resolved.
func (c *Container) extraHosts() ([]string, error) {
	var out []string
	for _, h := range c.Options.ExtraHosts {
		name, ip, _ := strings.Cut(h, ":")
		if ip == "host-gateway" {
			if c.first == nil {
				return nil, invalidf("--add-host %s: host-gateway needs a network (--network or -p)", h)
			}
			ip = c.first.gateway.String()
		}
		out = append(out, ip+"\t"+name)
	}
	if !c.embeddedDNS() {
		// On the default bridge, with no DNS server, links are host lines,
		// as Docker writes them: the other container's address, the alias,
		// its name.
		for target, aliases := range c.links() {
			if ip := c.defaultBridgeAddr(target); ip.IsValid() {
				out = append(out, ip.String()+"\t"+strings.Join(aliases, " "))
			}
		}
		slices.Sort(out[len(c.Options.ExtraHosts):])
	}
	return out, nil
}

// links maps each linked container's name to its names for this container:
// the alias, then the name itself.
func (c *Container) links() map[string][]string {
	out := map[string][]string{}
	for _, l := range c.Options.Links {
		name, alias, _ := strings.Cut(strings.TrimPrefix(l, "/"), ":")
		if alias != "" && alias != name && !slices.Contains(out[name], alias) {
			out[name] = append(out[name], alias)
		}
		if !slices.Contains(out[name], name) {
			out[name] = append(out[name], name)
		}
	}
	return out
}

// defaultBridgeAddr is the address of container name on the default
// network, if it is there.
func (c *Container) defaultBridgeAddr(name string) netip.Addr {
	other, err := Lookup(filepath.Dir(filepath.Dir(c.bundle)), name)
	if err != nil {
		return netip.Addr{}
	}
	store, err := c.networks()
	if err != nil {
		return netip.Addr{}
	}
	n, err := store.Get(network.DefaultNetwork)
	if err != nil {
		return netip.Addr{}
	}
	if ep, ok := n.Endpoints[other.ID]; ok {
		return ep.IPv4
	}
	return netip.Addr{}
}

// embeddedDNS reports whether the container's monitor serves DNS: on user
// networks, not on the default one (as with Docker's default bridge).
func (c *Container) embeddedDNS() bool {
	for _, a := range c.Options.Networks {
		if a.Network != network.DefaultNetwork {
			return true
		}
	}
	return false
}

// unplugNetworks takes the container off its networks and removes its
// network namespace (container removal).
func (c *Container) unplugNetworks() error {
	if len(c.Options.Networks) == 0 {
		return nil
	}
	store, err := c.networks()
	if err != nil {
		return err
	}
	return store.Unplug(c.ID, c.netnsPath())
}

// Connect puts the container on one more network (docker network
// connect): at once when its namespace exists, and on every later start.
func (c *Container) Connect(a network.Attachment) error {
	for _, have := range c.Options.Networks {
		if have.Network == a.Network {
			return invalidf("endpoint with name %s already exists in network %s", c.Name, a.Network)
		}
	}
	store, err := c.networks()
	if err != nil {
		return err
	}
	if _, err := store.Get(a.Network); err != nil {
		return err
	}
	if _, err := os.Stat(c.netnsPath()); err == nil {
		if _, _, err := store.Connect(c.ID, c.Name, c.netnsPath(), a, ifName(a, len(c.Options.Networks)), len(c.Options.Networks) == 0, c.dnsNames()); err != nil {
			return err
		}
	}
	c.Options.Networks = append(c.Options.Networks, a)
	if err := c.save(); err != nil {
		return err
	}
	return c.refreshDNS()
}

// Disconnect takes the container off a network (docker network disconnect).
func (c *Container) Disconnect(name string) error {
	store, err := c.networks()
	if err != nil {
		return err
	}
	n, err := store.Get(name)
	if err != nil {
		return err
	}
	kept := c.Options.Networks[:0]
	found := false
	for _, a := range c.Options.Networks {
		if a.Network == n.Name || a.Network == n.ID {
			found = true
			continue
		}
		kept = append(kept, a)
	}
	if !found {
		return invalidf("container %s is not connected to network %s", c.ID, n.Name)
	}
	if err := store.Disconnect(c.ID, n.Name); err != nil {
		return err
	}
	c.Options.Networks = kept
	if err := c.save(); err != nil {
		return err
	}
	return c.refreshDNS()
}

// refreshDNS gives a running container's DNS server the names of the
// networks it is on now. A container that had no DNS server (it was on the
// default network only) gets one, and its resolv.conf is pointed at it, as
// Docker does on network connect.
func (c *Container) refreshDNS() error {
	st, err := c.Status()
	if err != nil || st.Status != StatusRunning && st.Status != StatusPaused {
		return nil // the next start reads the networks
	}
	host, err := os.ReadFile(hostResolvConf)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read the host's resolv.conf: %w", err)
	}
	resolvPath := filepath.Join(c.RunDir, "resolv.conf")
	current, err := os.ReadFile(resolvPath)
	if err != nil {
		return err
	}
	served := bytes.Contains(current, []byte("nameserver "+resolver.Address+"\n"))
	cfg := c.dnsConfig(host)
	if cfg == nil {
		if !served {
			return nil
		}
		// Off its last user network: the server stays, forwarding only.
		cfg = &monitor.DNSConfig{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := monitor.UpdateDNS(ctx, c.RunDir, cfg); err != nil {
		if errors.Is(err, monitor.ErrNotRunning) {
			return nil
		}
		return err
	}
	if served {
		return nil
	}
	// In place: the file is bind-mounted into the container by inode.
	f, err := os.OpenFile(resolvPath, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(resolver.ResolvConf(host, c.Options.DNSSearch, c.Options.DNSOptions))
	return errors.Join(err, f.Close())
}

// dnsNames are the names the container answers to on its networks, besides
// its aliases: its name, its short id and its hostname, as with Docker.
func (c *Container) dnsNames() []string {
	names := []string{c.Name}
	for _, n := range []string{c.ShortID(), c.Process.Hostname} {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// dnsConfig is what the container's monitor serves on 127.0.0.11: the
// records of its networks, forwarding to the --dns servers or the host's.
func (c *Container) dnsConfig(host []byte) *monitor.DNSConfig {
	if !c.embeddedDNS() {
		return nil
	}
	store, err := c.networks()
	if err != nil {
		return nil
	}
	cfg := &monitor.DNSConfig{NoForward: true}
	for _, a := range c.Options.Networks {
		n, err := store.Get(a.Network)
		if err != nil || n.Name == network.DefaultNetwork {
			continue
		}
		cfg.Records = append(cfg.Records, store.RecordsPath(n.Name))
		if !n.Internal {
			cfg.NoForward = false
		}
	}
	for _, s := range c.Options.DNS {
		cfg.Upstreams = append(cfg.Upstreams, net.JoinHostPort(s, "53"))
	}
	if len(cfg.Upstreams) == 0 {
		cfg.Upstreams = resolver.HostUpstreams(host)
	}
	for _, o := range c.Options.DNSOptions {
		if strings.HasPrefix(o, "ndots:") {
			cfg.NdotsSet = true
		}
	}
	for target, aliases := range c.links() {
		for _, a := range aliases {
			if a != target {
				if cfg.Links == nil {
					cfg.Links = map[string]string{}
				}
				cfg.Links[a] = target
			}
		}
	}
	return cfg
}

// publish installs the DNAT rules of the container's published ports (as
// bound: free host ports taken) and records them.
func (c *Container) publish(ports []network.PortSpec) error {
	if c.first == nil {
		return errors.New("the container is on no network")
	}
	var rules []firewall.Port
	for _, p := range ports {
		ip := c.first.ip
		if p.HostIP.Is6() {
			if !c.first.ip6.IsValid() {
				return invalidf("cannot publish %s: the container has no IPv6 address (its network has no IPv6: network create --ipv6)", p)
			}
			ip = c.first.ip6
		}
		rules = append(rules, firewall.Port{Proto: p.Proto, HostIP: p.HostIP, HostPort: p.HostPort,
			ContainerIP: ip, ContainerPort: p.ContainerPort, Bridge: c.first.bridge})
	}
	if err := firewall.AddPorts(c.ID, rules); err != nil {
		return err
	}
	c.Published = ports
	return c.save()
}

// unpublish removes the rules of the container's published ports.
func (c *Container) unpublish() error {
	if len(c.Options.Ports) == 0 && !c.Options.PublishAll {
		return nil
	}
	return firewall.RemovePorts(c.ID)
}

// checkNetworkMode refuses what Docker refuses with --network host, none or
// container:X: other networks, and published ports or DNS settings where
// they cannot apply.
func checkNetworkMode(root string, o Options) error {
	mode, target, _ := strings.Cut(o.NetworkMode, ":")
	switch mode {
	case "":
		return nil
	case "host", "none":
		if target != "" {
			return invalidf("invalid network mode %q", o.NetworkMode)
		}
	case "container":
		if target == "" {
			return invalidf("invalid network mode %q: container:<name|id>", o.NetworkMode)
		}
		if _, err := Lookup(root, target); err != nil {
			return invalid(err)
		}
		if len(o.DNS) > 0 || len(o.DNSSearch) > 0 || len(o.DNSOptions) > 0 {
			// Docker's words.
			return invalidf("conflicting options: dns and the network mode")
		}
		if o.Hostname != "" {
			return invalidf("conflicting options: hostname and the network mode")
		}
	default:
		return invalidf("invalid network mode %q: host, none, container:<name|id> or a network name", o.NetworkMode)
	}
	if len(o.Networks) > 0 {
		return invalidf("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
	}
	if len(o.Ports) > 0 {
		if mode == "host" {
			return invalidf("published ports are discarded when using host network mode: the container's ports are the host's")
		}
		return invalidf("conflicting options: port publishing and the container type network mode")
	}
	return nil
}

// sharedNetNS is the namespace a container:<X> container joins: X's
// persistent one, or that of X's running init.
func (c *Container) sharedNetNS() (string, error) {
	_, target, _ := strings.Cut(c.Options.NetworkMode, ":")
	other, err := Lookup(filepath.Dir(filepath.Dir(c.bundle)), target)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(other.netnsPath()); err == nil {
		return other.netnsPath(), nil
	}
	st, err := other.State()
	if err != nil {
		return "", err
	}
	if st.Status != StatusRunning || st.Pid == 0 {
		return "", invalidf("cannot join network namespace of container %s: it is not running", other.ID)
	}
	return fmt.Sprintf("/proc/%d/ns/net", st.Pid), nil
}

// InspectNetworkSettings is Docker's NetworkSettings block: the published
// ports while the container runs, and its place on each network. The
// top-level addresses are the default bridge's, as in Docker.
type InspectNetworkSettings struct {
	Ports               map[string][]PortBinding
	IPAddress           string
	IPPrefixLen         int
	Gateway             string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	IPv6Gateway         string
	MacAddress          string
	Networks            map[string]*InspectEndpoint
}

// PortBinding is one host side of a published port.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// InspectEndpoint is the container on one network, with Docker's names.
type InspectEndpoint struct {
	Aliases             []string
	MacAddress          string
	NetworkID           string
	Gateway             string
	IPAddress           string
	IPPrefixLen         int
	IPv6Gateway         string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	DNSNames            []string
}

// networkSettings describes where the container is on its networks; a
// network's fields are empty while the container is not plugged in.
func (c *Container) networkSettings(running bool) InspectNetworkSettings {
	ns := InspectNetworkSettings{Ports: map[string][]PortBinding{}, Networks: map[string]*InspectEndpoint{}}
	if running {
		for _, p := range c.Published {
			key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
			host := "0.0.0.0"
			if p.HostIP.IsValid() {
				host = p.HostIP.String()
			}
			ns.Ports[key] = append(ns.Ports[key], PortBinding{HostIP: host, HostPort: strconv.Itoa(int(p.HostPort))})
		}
	}
	store, err := c.networks()
	if err != nil {
		return ns
	}
	for _, a := range c.Options.Networks {
		e := &InspectEndpoint{Aliases: a.Aliases, MacAddress: a.MAC}
		ns.Networks[a.Network] = e
		n, err := store.Get(a.Network)
		if err != nil {
			continue
		}
		e.NetworkID = n.ID
		ep, ok := n.Endpoints[c.ID]
		if !ok {
			continue
		}
		e.MacAddress, e.Gateway = ep.MAC, n.IPv4.Gateway.String()
		e.IPAddress, e.IPPrefixLen = ep.IPv4.String(), n.IPv4.Prefix.Bits()
		if ep.IPv6.IsValid() && n.IPv6 != nil {
			e.GlobalIPv6Address, e.GlobalIPv6PrefixLen, e.IPv6Gateway = ep.IPv6.String(), n.IPv6.Prefix.Bits(), n.IPv6.Gateway.String()
		}
		if n.Name != network.DefaultNetwork {
			e.DNSNames = append(append(c.dnsNames()[:1:1], a.Aliases...), c.dnsNames()[1:]...)
		} else {
			ns.IPAddress, ns.IPPrefixLen, ns.Gateway, ns.MacAddress = e.IPAddress, e.IPPrefixLen, e.Gateway, e.MacAddress
			ns.GlobalIPv6Address, ns.GlobalIPv6PrefixLen, ns.IPv6Gateway = e.GlobalIPv6Address, e.GlobalIPv6PrefixLen, e.IPv6Gateway
		}
	}
	return ns
}

// portHolder names what holds a taken host port: the berth container that
// publishes it, or a process outside berth.
func portHolder(root string, e *network.PortInUseError) string {
	all, err := list(root)
	if err != nil {
		return ""
	}
	for _, o := range all {
		st, err := o.State()
		if err != nil || st.Status != StatusRunning && st.Status != StatusRestarting && st.Status != StatusPaused {
			continue
		}
		for _, p := range o.Published {
			if p.Proto == e.Proto && p.HostPort >= e.First && p.HostPort <= e.Last {
				return "in use by container " + o.Name
			}
		}
	}
	return "in use by a process outside berth"
}
