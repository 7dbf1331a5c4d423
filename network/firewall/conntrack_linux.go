package firewall

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// flushConntrack deletes the conntrack entries of connections to the host ports pp. Without it
// a UDP client that kept sending while a port was (un)published keeps its old entry, and with
// it the old destination, for as long as it sends (moby#8795).
func flushConntrack(pp []publishedPort) error {
	var errs []error
	for _, p := range pp {
		f := &netlink.ConntrackFilter{}
		err := f.AddProtocol(p.proto)
		if err == nil {
			err = f.AddPort(netlink.ConntrackOrigDstPort, p.port)
		}
		if err == nil && p.hostIP.IsValid() {
			err = f.AddIP(netlink.ConntrackOrigDstIP, p.hostIP.AsSlice())
		}
		fam := netlink.InetFamily(unix.AF_INET)
		if p.v6 {
			fam = unix.AF_INET6
		}
		if err == nil {
			err = conntrackDelete(fam, f)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("flushing conntrack for port %d: %w", p.port, err))
		}
	}
	return errors.Join(errs...)
}

// conntrackDelete retries a conntrack dump that changed under it, which happens whenever
// connections come and go while it runs.
func conntrackDelete(fam netlink.InetFamily, f netlink.CustomConntrackFilter) error {
	var err error
	for range attempts {
		_, err = netlink.ConntrackDeleteFilters(netlink.ConntrackTable, fam, f)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}
