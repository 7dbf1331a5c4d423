package container

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-sh/berth/network/resolver"
	"github.com/berth-sh/berth/runtime/rootfs"
)

// hostResolvConf and hostHosts are read for the container's resolv.conf and
// (with the host's network) hosts; variables for tests.
var (
	hostResolvConf = "/etc/resolv.conf"
	hostHosts      = "/etc/hosts"
)

// Docker's fallback nameservers when the host has only local ones, which a
// container in its own network namespace cannot reach.
var fallbackNameservers = []string{"8.8.8.8", "8.8.4.4"}

// writeEtcFiles writes the container's /etc/hosts, /etc/hostname and
// /etc/resolv.conf into its run dir, as Docker writes them, and returns the
// bind mounts that put them in place. host is the host's resolv.conf; addrs
// are the container's own addresses (none without networks: its network
// namespace then has only lo).
func (c *Container) writeEtcFiles(host []byte, addrs []netip.Addr) ([]rootfs.Mount, error) {
	if err := os.MkdirAll(c.RunDir, 0o700); err != nil {
		return nil, err
	}
	resolv := resolvConf(host, c.Options.DNS)
	if c.embeddedDNS() {
		// The monitor's DNS server, as Docker's embedded one on user networks.
		resolv = resolver.ResolvConf(host, c.Options.DNSSearch, c.Options.DNSOptions)
	}
	extra, err := c.extraHosts()
	if err != nil {
		return nil, err
	}
	hosts := hostsFile(c.Process.Hostname, addrs, extra)
	if c.Options.NetworkMode == "host" {
		// The host's network: its names and its resolvers, as they are.
		if b, err := os.ReadFile(hostHosts); err == nil {
			hosts = b
		}
		resolv = host
	}
	files := map[string][]byte{
		"hosts":       hosts,
		"hostname":    []byte(c.Process.Hostname + "\n"),
		"resolv.conf": resolv,
	}
	var mounts []rootfs.Mount
	for _, name := range []string{"hostname", "hosts", "resolv.conf"} {
		p := filepath.Join(c.RunDir, name)
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return nil, err
		}
		mounts = append(mounts, rootfs.Mount{Source: p, Target: "/etc/" + name, Type: "bind"})
	}
	return mounts, nil
}

// hostsFile is Docker's /etc/hosts: localhost entries, the --add-host
// lines, then each of the container's addresses with its hostname.
func hostsFile(hostname string, addrs []netip.Addr, extra []string) []byte {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	for _, a := range addrs {
		fmt.Fprintf(&b, "%s\t%s\n", a, hostname)
	}
	return b.Bytes()
}

// resolvConf is the host's resolv.conf without the nameservers a container
// cannot reach (loopback ones), as Docker filters it for its default bridge;
// when none is left, Docker's public fallbacks. servers (--dns) replace the
// host's nameservers.
func resolvConf(host []byte, servers []string) []byte {
	if len(servers) > 0 {
		var b bytes.Buffer
		for _, s := range servers {
			fmt.Fprintf(&b, "nameserver %s\n", s)
		}
		return b.Bytes()
	}
	var out bytes.Buffer
	kept := 0
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil && a.IsLoopback() {
				continue
			}
			kept++
		}
		out.WriteString(line + "\n")
	}
	if kept == 0 {
		for _, s := range fallbackNameservers {
			fmt.Fprintf(&out, "nameserver %s\n", s)
		}
	}
	return out.Bytes()
}
