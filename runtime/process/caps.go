package process

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// capNames lists Linux capabilities by number. A function, not a variable,
// so no caller can change it.
func capNames() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
		"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
		"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
		"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
		"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
		"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
		"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
		"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
		"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
		"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
		"CAP_CHECKPOINT_RESTORE",
	}
}

// DefaultCapabilities returns Docker's 14 default capabilities, in moby's
// order (daemon/pkg/oci/caps DefaultCapabilities).
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

// Capabilities is CapabilitiesFor with the running kernel's cap_last_cap.
// "Every capability" (privileged, or cap_add ALL) means every one this
// process's bounding set has: berth cannot give what it lacks itself (in a
// container, or a sandbox without CAP_SYS_RESOURCE), and asking the kernel
// for it would fail the start.
func Capabilities(add, drop []string, privileged bool) ([]string, error) {
	last, err := LastCap()
	if err != nil {
		return nil, err
	}
	caps, err := CapabilitiesFor(last, add, drop, privileged)
	if err != nil || !privileged && !slices.ContainsFunc(add, func(c string) bool { return strings.EqualFold(c, "ALL") }) {
		return caps, err
	}
	names := capNames()
	held := caps[:0]
	for _, c := range caps {
		if n := slices.Index(names, c); n < 0 || inBoundingSet(n) {
			held = append(held, c)
		}
	}
	return held, nil
}

// LastCap reads /proc/sys/kernel/cap_last_cap, the highest capability number
// the kernel knows.
func LastCap() (int, error) {
	n, err := readProcUint("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// CapabilitiesFor computes the workload's capability set (bounding =
// effective = permitted) from Docker's defaults with moby's TweakCapabilities
// rules, for a kernel whose highest capability is lastCap:
//
//   - privileged: every capability the kernel knows; add and drop are
//     ignored (not even validated), as in moby;
//   - no add and no drop: the 14 defaults;
//   - names are case-insensitive, with or without "CAP_"; "ALL" is special;
//   - add contains ALL: every capability except those in drop;
//   - otherwise drop contains ALL: exactly the added ones;
//   - otherwise the defaults minus drop, plus add. So a capability both added
//     and dropped by name is KEPT (add is applied last); drop wins only over
//     add=ALL.
//
// Unknown names fail with moby's `unknown capability: "CAP_FOO"`; a name the
// running kernel does not have fails with moby's "not supported" text.
// The result is sorted by name and without duplicates.
func CapabilitiesFor(lastCap int, add, drop []string, privileged bool) ([]string, error) {
	all := supportedCaps(lastCap)
	if privileged {
		return sortedUnique(all), nil
	}
	if len(add) == 0 && len(drop) == 0 {
		return sortedUnique(DefaultCapabilities()), nil
	}
	capDrop, err := normalizeCaps(drop, lastCap)
	if err != nil {
		return nil, fmt.Errorf("cap_drop: %w", err)
	}
	capAdd, err := normalizeCaps(add, lastCap)
	if err != nil {
		return nil, fmt.Errorf("cap_add: %w", err)
	}
	var caps []string
	switch {
	case slices.Contains(capAdd, "ALL"):
		for _, c := range all {
			if !slices.Contains(capDrop, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(capDrop, "ALL"):
		caps = capAdd
	default:
		for _, c := range DefaultCapabilities() {
			if !slices.Contains(capDrop, c) {
				caps = append(caps, c)
			}
		}
		caps = append(caps, capAdd...)
	}
	return sortedUnique(caps), nil
}

func supportedCaps(lastCap int) []string {
	names := capNames()
	if lastCap+1 < len(names) {
		names = names[:max(lastCap+1, 0)]
	}
	return names
}

func normalizeCaps(in []string, lastCap int) ([]string, error) {
	names := capNames()
	out := make([]string, 0, len(in))
	for _, c := range in {
		c = strings.ToUpper(c)
		if c == "ALL" {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		i := slices.Index(names, c)
		switch {
		case i < 0:
			return nil, fmt.Errorf("unknown capability: %q", c)
		case i > lastCap:
			return nil, fmt.Errorf("capability not supported by your kernel or not available in the current environment: %q (cap_last_cap is %s)", c, strconv.Itoa(lastCap))
		}
		out = append(out, c)
	}
	return out, nil
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
