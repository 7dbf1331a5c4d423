// Package network owns berth's bridge networks: their records under the
// state root, the Linux bridge of each, the persistent network namespace of
// each container and the veth pairs that join them (see design.md,
// Network). Addresses come from package ipam; nftables rules from package
// firewall; DNS records are written for package resolver.
package network

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/berth-sh/berth/network/ipam"
)

const (
	// DriverBridge is the one driver berth has.
	DriverBridge = "bridge"
	// bridgePrefix starts every link berth makes, so that gc finds them.
	bridgePrefix = "berth-"
	vethPrefix   = "vb"
	// Docker's driver options berth honours.
	optMTU        = "com.docker.network.driver.mtu"
	optMasquerade = "com.docker.network.bridge.enable_ip_masquerade"
)

var (
	// ErrNotFound is matched by "network X not found".
	ErrNotFound = errors.New("network not found")
	// ErrInvalid is matched by every error about the user's input.
	ErrInvalid = errors.New("invalid network configuration")
	// ErrInUse is matched when a network still has containers.
	ErrInUse = errors.New("network has active endpoints")
	// ErrBlocked is matched when a firewall berth cannot open drops the
	// network's forwarded traffic.
	ErrBlocked = errors.New("a firewall blocks the network")
)

type userError struct {
	msg  string
	kind error
}

func (e *userError) Error() string        { return e.msg }
func (e *userError) Is(target error) bool { return target == e.kind }

func invalidf(format string, args ...any) error {
	return &userError{msg: fmt.Sprintf(format, args...), kind: ErrInvalid}
}

// Options are `network create`'s (and compose's networks:) settings.
type Options struct {
	Driver  string
	Subnet  string // CIDR; "" chooses one from Docker's pools
	Gateway string // "" is the subnet's first address
	// EnableIPv6 gives the network an IPv6 subnet too: Subnet6, or a
	// unique local /64 chosen at random (as Docker 27 does).
	EnableIPv6 bool
	Subnet6    string
	Gateway6   string
	Internal   bool
	Attachable bool
	Labels     map[string]string
	DriverOpts map[string]string
}

// Endpoint is one container on a network.
type Endpoint struct {
	Name    string // the container's name
	Veth    string // the host side of its veth pair
	IPv4    netip.Addr
	IPv6    netip.Addr `json:",omitzero"`
	MAC     string     `json:",omitempty"`
	Aliases []string   `json:",omitempty"`
}

// Network is a network's record, $ROOT/networks/<name>.json.
type Network struct {
	Name       string
	ID         string
	Created    time.Time
	Driver     string
	Bridge     string
	MTU        int `json:",omitempty"`
	Internal   bool
	Masquerade bool
	Attachable bool
	Labels     map[string]string `json:",omitempty"`
	Options    map[string]string `json:",omitempty"`
	IPv4       *ipam.Subnet
	EnableIPv6 bool         `json:",omitempty"`
	IPv6       *ipam.Subnet `json:",omitempty"`
	// Endpoints by container id.
	Endpoints map[string]*Endpoint `json:",omitempty"`
}

// validIfName is what a container's interface may be called: at most
// IFNAMSIZ-1 bytes, none of them '/', ':' or blank.
var validIfName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,15}$`)

// validName is Docker's network name rule.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// reserved are Docker's predefined networks, which berth does not make.
var reserved = map[string]bool{"bridge": true, "host": true, "none": true, "default": true}

// Store is the networks directory of a state root.
type Store struct{ dir string }

// OpenStore returns the store of root ($ROOT/networks).
func OpenStore(root string) (*Store, error) {
	dir := filepath.Join(root, "networks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Store{dir: dir}, nil
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name+".json") }

// RecordsPath is where the DNS records of network name live (package
// resolver's file format).
func (s *Store) RecordsPath(name string) string {
	return filepath.Join(s.dir, name+".records.json")
}

// Lock takes the store's exclusive lock: every change of a network record
// (create, remove, connect, disconnect) happens under it.
func (s *Store) Lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", s.dir, err)
	}
	return func() { f.Close() }, nil
}

// List returns every network, by name.
func (s *Store) List() ([]*Network, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []*Network
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasSuffix(name, ".records") || strings.HasPrefix(name, ".") {
			continue
		}
		n, err := s.load(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *Store) load(name string) (*Network, error) {
	b, err := os.ReadFile(s.path(name))
	if err != nil {
		return nil, err
	}
	var n Network
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("read network %s: %w", name, err)
	}
	return &n, nil
}

// Get finds a network by name, full id or unique id prefix, as Docker does.
func (s *Store) Get(nameOrID string) (*Network, error) {
	if validName.MatchString(nameOrID) {
		if n, err := s.load(nameOrID); err == nil {
			return n, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var found []*Network
	for _, n := range all {
		if n.ID == nameOrID || len(nameOrID) >= 3 && strings.HasPrefix(n.ID, nameOrID) {
			found = append(found, n)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	if len(found) > 1 {
		return nil, invalidf("network %s is ambiguous (%d matches found based on ID prefix)", nameOrID, len(found))
	}
	return nil, &userError{msg: fmt.Sprintf("network %s not found", nameOrID), kind: ErrNotFound}
}

// save replaces the record atomically.
func (s *Store) save(n *Network) error {
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path(n.Name) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path(n.Name))
}

func (s *Store) remove(n *Network) error {
	for _, p := range []string{s.path(n.Name), s.RecordsPath(n.Name), s.RecordsPath(n.Name) + ".lock"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func newID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// plan checks o and makes the record of a new network named name; used are
// the prefixes it must not overlap (the host's and other networks').
func plan(name string, o Options, others []*Network, hostPrefixes []netip.Prefix) (*Network, error) {
	if !validName.MatchString(name) {
		return nil, invalidf("invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}

	for _, n := range others {
		if n.Name == name {
			return nil, invalidf("network with name %s already exists", name)
		}
	}
	if o.Driver != "" && o.Driver != DriverBridge {
		return nil, invalidf("network %s: driver %q is not supported by berth: it makes bridge networks only", name, o.Driver)
	}
	n := &Network{Name: name, Created: time.Now().UTC(), Driver: DriverBridge, Internal: o.Internal,
		Attachable: o.Attachable, Labels: o.Labels, Options: o.DriverOpts, Masquerade: true}
	for k, v := range o.DriverOpts {
		switch k {
		case optMTU:
			var mtu int
			if _, err := fmt.Sscan(v, &mtu); err != nil || mtu < 68 || mtu > 65535 {
				return nil, invalidf("network %s: invalid %s %q: an MTU between 68 and 65535", name, optMTU, v)
			}
			n.MTU = mtu
		case optMasquerade:
			switch v {
			case "true":
			case "false":
				n.Masquerade = false
			default:
				return nil, invalidf("network %s: invalid %s %q: true or false", name, optMasquerade, v)
			}
		default:
			return nil, invalidf("network %s: driver option %q is not supported by berth (%s, %s)", name, k, optMTU, optMasquerade)
		}
	}
	var used, used6 []netip.Prefix
	for _, other := range others {
		if other.IPv4 != nil {
			used = append(used, other.IPv4.Prefix)
		}
		if other.IPv6 != nil {
			used6 = append(used6, other.IPv6.Prefix)
		}
	}
	sub, err := planSubnet(name, o.Subnet, o.Gateway, false, used, hostPrefixes)
	if err != nil {
		return nil, err
	}
	n.IPv4 = sub
	switch {
	case o.EnableIPv6:
		sub, err := planSubnet(name, o.Subnet6, o.Gateway6, true, used6, hostPrefixes)
		if err != nil {
			return nil, err
		}
		n.EnableIPv6, n.IPv6 = true, sub
	case o.Subnet6 != "" || o.Gateway6 != "":
		return nil, invalidf("network %s: an IPv6 subnet or gateway needs IPv6 enabled (--ipv6, enable_ipv6: true)", name)
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	n.ID = id
	n.Bridge = bridgePrefix + id[:15-len(bridgePrefix)]
	return n, nil
}

// subnets are the network's address spaces: IPv4, and IPv6 when enabled.
func (n *Network) subnets() []*ipam.Subnet {
	if n.IPv6 != nil {
		return []*ipam.Subnet{n.IPv4, n.IPv6}
	}
	return []*ipam.Subnet{n.IPv4}
}

// planSubnet checks a subnet and gateway asked for (IPv6 ones when six) or
// chooses a subnet that overlaps neither used (other networks') nor the
// host's prefixes.
func planSubnet(name, subnet, gateway string, six bool, used, host []netip.Prefix) (*ipam.Subnet, error) {
	family, example := "IPv4", "172.28.0.0/16"
	if six {
		family, example = "IPv6", "fd00:1:2::/64"
	}
	var prefix netip.Prefix
	if subnet != "" {
		p, err := netip.ParsePrefix(subnet)
		if err != nil || p.Addr().Is6() != six || p.Addr().Is4In6() {
			return nil, invalidf("network %s: invalid subnet %q: an %s CIDR such as %s", name, subnet, family, example)
		}
		for _, u := range used {
			if p.Overlaps(u) {
				// Docker's words.
				return nil, invalidf("invalid pool request: Pool overlaps with other one on this address space")
			}
		}
		prefix = p
	} else {
		if gateway != "" {
			return nil, invalidf("network %s: an %s gateway needs an %s subnet", name, family, family)
		}
		var err error
		if six {
			prefix, err = ipam.ChooseULA(append(used, host...))
		} else {
			prefix, err = ipam.ChooseSubnet(ipam.DefaultPools(), append(used, host...))
		}
		if err != nil {
			return nil, err
		}
	}
	var gw netip.Addr
	if gateway != "" {
		a, err := netip.ParseAddr(gateway)
		if err != nil || a.Is6() != six {
			return nil, invalidf("network %s: invalid %s gateway %q", name, family, gateway)
		}
		gw = a
	}
	sub, err := ipam.NewSubnet(prefix, gw)
	if err != nil {
		return nil, invalidf("network %s: %v", name, err)
	}
	return sub, nil
}

// vethName is the host side of a container's veth on network n: unique per
// (container, network), within IFNAMSIZ.
func vethName(containerID string, n *Network) string {
	return vethPrefix + containerID[:7] + n.ID[:6]
}
