package firewall

import (
	"fmt"
	"os"
	"path/filepath"
)

// PrepareBridge sets the sysctls that forwarding through bridge needs, in the calling thread's
// network namespace: net.ipv4.ip_forward=1, without which nothing is routed, and
// net.ipv4.conf.<bridge>.route_localnet=1, without which a connection from the host to a port
// published on 127.0.0.1 leaves towards the bridge with a loopback source and is dropped as a
// martian. The loopback addresses this opens on the bridge are closed again by AddNetwork's
// rules for everything but the host's own connections. IPv6 forwarding is left alone: turning
// it on changes how every interface treats router advertisements.
func PrepareBridge(bridge string) error {
	if err := checkIfName("bridge", bridge); err != nil {
		return fmt.Errorf("firewall: %w", err)
	}
	for _, s := range []struct{ path, value string }{
		{"/proc/sys/net/ipv4/ip_forward", "1"},
		{filepath.Join("/proc/sys/net/ipv4/conf", bridge, "route_localnet"), "1"},
	} {
		if err := writeSysctl(s.path, s.value); err != nil {
			return fmt.Errorf("firewall: bridge %s: %w", bridge, err)
		}
	}
	return nil
}

// writeSysctl writes value unless it is there already, so that a read-only /proc/sys that
// already has the right value is no error.
func writeSysctl(path, value string) error {
	if b, err := os.ReadFile(path); err == nil && string(b) == value+"\n" {
		return nil
	}
	return os.WriteFile(path, []byte(value), 0o644)
}
