package process

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Namespaces says which of the container's namespaces are the host's, for
// the sysctl check.
type Namespaces struct {
	HostNetwork bool // network_mode: host
	HostIPC     bool // ipc: host
}

// CheckSysctls is CheckSysctlsIn with a private IPC namespace.
func CheckSysctls(sysctls map[string]string, hostNetwork bool) error {
	return CheckSysctlsIn(sysctls, Namespaces{HostNetwork: hostNetwork})
}

// CheckSysctlsIn allows only sysctls that belong to a namespace the container
// owns, with runc's rules (Docker passes compose sysctls to runc unchecked):
//
//   - IPC: kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem,
//     kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced and
//     fs.mqueue.*, unless the IPC namespace is the host's;
//   - network: net.*, unless the network namespace is the host's;
//   - UTS: kernel.domainname (kernel.hostname is refused: it is the
//     `hostname` field's job).
//
// Anything else would change the host for everyone and is refused. Keys may
// use "/" instead of "." as runc allows; "", "." and ".." components are
// refused since the key becomes a path under /proc/sys. Every bad key is
// reported, in sorted order.
func CheckSysctlsIn(sysctls map[string]string, ns Namespaces) error {
	keys := make([]string, 0, len(sysctls))
	for k := range sysctls {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []error
	for _, k := range keys {
		if err := checkSysctl(k, ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ipcSysctl says whether the key (as path components) is one of the IPC
// namespace's sysctls.
func ipcSysctl(parts []string) bool {
	if len(parts) >= 3 && parts[0] == "fs" && parts[1] == "mqueue" {
		return true
	}
	if len(parts) != 2 || parts[0] != "kernel" {
		return false
	}
	switch parts[1] {
	case "msgmax", "msgmnb", "msgmni", "sem", "shmall", "shmmax", "shmmni", "shm_rmid_forced":
		return true
	}
	return false
}

// checkSysctl works on path components, since the key becomes a path under
// /proc/sys: in the "/" form a dot is part of a name, so "net.x/y" is not
// under net/ at all.
func checkSysctl(key string, ns Namespaces) error {
	sep := "."
	if strings.Contains(key, "/") {
		sep = "/"
	}
	parts := strings.Split(key, sep)
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return fmt.Errorf("sysctl %q: invalid name", key)
		}
	}
	isKernel := func(name string) bool { return len(parts) == 2 && parts[0] == "kernel" && parts[1] == name }
	switch {
	case ipcSysctl(parts):
		if ns.HostIPC {
			return fmt.Errorf("sysctl %q is not allowed in the hosts ipc namespace", key)
		}
		return nil
	case len(parts) >= 2 && parts[0] == "net":
		if ns.HostNetwork {
			return fmt.Errorf("sysctl %q is not allowed in the hosts network namespace", key)
		}
		return nil
	case isKernel("domainname"):
		return nil
	case isKernel("hostname"):
		return fmt.Errorf("sysctl %q is not allowed as it conflicts with the OCI %q field", key, "hostname")
	}
	return fmt.Errorf("sysctl %q is not in a separate kernel namespace", key)
}
