// Package cgroup owns the control groups of berth's containers: it creates one cgroup per
// container under a "berth" parent at the root of every hierarchy, writes its resource limits,
// places processes in it, freezes, kills, measures and removes it. It gives the runtime one
// interface on cgroup v1 (legacy), hybrid and v2 (unified) hosts, on top of
// github.com/containerd/cgroups/v3.
//
// It must never touch a cgroup it did not create: Create refuses a name whose directory already
// exists in any hierarchy, every method works only inside <root>/berth/<name>, and the parent
// "berth" itself is created when missing but never removed or given processes (on v2 a cgroup
// with processes could not have controllers enabled for its children). The one write outside
// is the one v2 demands: enabling cpu, cpuset, memory and pids in cgroup.subtree_control of
// the root and of the parent, which only adds controllers and never removes any.
//
// Hybrid hosts (v1 controllers plus a controller-less cgroup2 mount at /sys/fs/cgroup/unified)
// are handled as runc handles them: the limits live in the v1 hierarchies, and the cgroup is also
// made in the unified hierarchy, which containerd/cgroups supports cleanly (cgroup2.NewManager
// takes the mount point), so that every process is tracked there too and KillAll can use the
// kernel's race-free cgroup.kill (Linux 5.14+) instead of a freeze-and-kill loop. Limits,
// freezing, stats and OOM come from v1. FD reports ErrNotSupported on hybrid hosts as on v1,
// because clone3 CLONE_INTO_CGROUP only places the child in the unified cgroup: its v1
// memberships, where the limits are, would still be its parent's.
//
// Resource fields follow Docker's HostConfig semantics and checks (moby daemon/daemon_unix.go);
// errors name the field in snake case (memory, memory_swap, memory_reservation, cpus,
// cpu_shares, cpuset_cpus, cpuset_mems, pids_limit) and match ErrInvalid.
package cgroup

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
)

// Mode is how cgroups are mounted on the host.
type Mode int

const (
	// Unavailable means no cgroup file system was found at /sys/fs/cgroup.
	Unavailable Mode = iota
	// Legacy is cgroup v1 only: one hierarchy per controller under /sys/fs/cgroup.
	Legacy
	// Hybrid is cgroup v1 controllers plus cgroup v2 at /sys/fs/cgroup/unified, usually without
	// controllers, used for process tracking.
	Hybrid
	// Unified is cgroup v2 only, mounted at /sys/fs/cgroup.
	Unified
)

func (m Mode) String() string {
	switch m {
	case Legacy:
		return "legacy (cgroup v1)"
	case Hybrid:
		return "hybrid (cgroup v1 controllers, cgroup v2 for tracking)"
	case Unified:
		return "unified (cgroup v2)"
	default:
		return "unavailable"
	}
}

// DefaultParent is the cgroup, directly under the root of each hierarchy, that holds the cgroups
// of berth's containers.
const DefaultParent = "berth"

// Resources are the limits of one container, with Docker's meanings. Zero values mean "not set".
// Update changes only the fields that are set.
type Resources struct {
	// Memory is the hard memory limit in bytes (memory.limit_in_bytes / memory.max); Docker's
	// minimum is 6 MiB.
	Memory int64
	// MemorySwap is memory plus swap in bytes, as Docker's --memory-swap; -1 means unlimited
	// swap. When Create gets Memory without MemorySwap it sets twice Memory, as Docker does. On
	// v2 memory.swap.max gets MemorySwap-Memory. Without swap accounting on the host it is
	// dropped, as Docker drops it (with a warning there).
	MemorySwap int64
	// MemoryReservation is the soft limit in bytes (memory.soft_limit_in_bytes / memory.low).
	MemoryReservation int64
	// CPUs is the number of CPUs of CPU time: quota = CPUs*100000 per period of 100000 µs
	// (cpu.cfs_quota_us and cpu.cfs_period_us / cpu.max). From 0.01 to the number of host CPUs.
	CPUs float64
	// CPUShares is the v1 relative weight (cpu.shares), clamped to 2..262144 as the kernel
	// and Docker do. On v2 it becomes cpu.weight with the formula of runc and crun, see
	// SharesToWeight.
	CPUShares uint64
	// CpusetCpus and CpusetMems are lists such as "0-2,4" (cpuset.cpus, cpuset.mems).
	CpusetCpus, CpusetMems string
	// PidsLimit is pids.max: 0 is unset, -1 unlimited.
	PidsLimit int64
}

// Stats are a snapshot of a cgroup's usage. Limits of 0 mean "no limit".
type Stats struct {
	MemoryUsage uint64 // bytes charged to the cgroup now
	MemoryLimit uint64 // bytes
	// MemoryInactiveFile is the page cache the kernel may reclaim first (total_inactive_file
	// on v1, inactive_file on v2): Docker shows MemoryUsage without it.
	MemoryInactiveFile uint64
	CPUUsageNs         uint64 // CPU time used by the cgroup's tasks, in nanoseconds
	PidsCurrent        uint64 // tasks (threads count) in the cgroup
	PidsLimit          uint64
	// IOReadBytes and IOWriteBytes are the bytes read from and written to block devices, over
	// all devices (blkio io_service_bytes on v1, io.stat rbytes and wbytes on v2).
	IOReadBytes, IOWriteBytes uint64
}

var (
	// ErrNotSupported is returned where the host or OS cannot do what was asked: FD on v1 and
	// hybrid hosts, everything on other operating systems.
	ErrNotSupported = errors.New("not supported")
	// ErrInvalid is matched by every error about a bad name or resource value.
	ErrInvalid = errors.New("invalid value")
	// ErrNotEmpty is returned by Delete while processes remain in the cgroup.
	ErrNotEmpty = errors.New("processes remain in the cgroup")
)

const (
	// minMemory is Docker's linuxMinMemory, "Minimum memory limit allowed is 6MB".
	minMemory = 6 * 1024 * 1024
	// cpuPeriod is Docker's fixed CFS period for --cpus, in microseconds.
	cpuPeriod = 100000
	minShares = 2
	maxShares = 262144
	// maxNameLen keeps <root>/<controller>/berth/<name> far from PATH_MAX and matches the
	// length of the longest ids berth makes (64 hex digits) with room to spare.
	maxNameLen = 128
)

// fieldError is a bad value of one field; its text starts with the field's name.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string        { return e.field + ": " + e.msg }
func (e *fieldError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

// validName accepts the names berth gives cgroups: container ids and test names. Slashes and
// dots are refused so that a name can never reach outside the parent.
func validName(field, name string) error {
	if name == "" {
		return invalid(field, "empty")
	}
	if len(name) > maxNameLen {
		return invalid(field, "%q is longer than %d characters", name, maxNameLen)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			i > 0 && (r == '-' || r == '_')
		if !ok {
			return invalid(field, "%q may only hold letters, digits, '-' and '_', and must start with a letter or digit", name)
		}
	}
	return nil
}

// hostInfo is what the checks need to know about the host; cpus and mems are cpuset lists
// and are only read when a cpuset is asked for.
type hostInfo struct {
	numCPU     int
	cpus, mems func() (string, error)
}

// check returns the first bad field of r, in Docker's terms. update relaxes the checks that
// Docker relaxes for `docker update` (swap without memory in the same request).
func (r Resources) check(h hostInfo, update bool) error {
	if r.Memory < 0 {
		return invalid("memory", "%d is negative", r.Memory)
	}
	if r.Memory > 0 && r.Memory < minMemory {
		return invalid("memory", "%s is below the %s minimum", size(r.Memory), size(minMemory))
	}
	switch {
	case r.MemorySwap < -1:
		return invalid("memory_swap", "%d is invalid: use a size, or -1 for unlimited swap", r.MemorySwap)
	case r.MemorySwap > 0 && r.Memory == 0 && !update:
		return invalid("memory_swap", "%s needs a memory limit too (memory_swap is memory plus swap)", size(r.MemorySwap))
	case r.MemorySwap > 0 && r.Memory > 0 && r.MemorySwap < r.Memory:
		return invalid("memory_swap", "%s is below the memory limit %s (memory_swap is memory plus swap)", size(r.MemorySwap), size(r.Memory))
	}
	switch {
	case r.MemoryReservation < 0:
		return invalid("memory_reservation", "%d is negative", r.MemoryReservation)
	case r.MemoryReservation > 0 && r.MemoryReservation < minMemory:
		return invalid("memory_reservation", "%s is below the %s minimum", size(r.MemoryReservation), size(minMemory))
	case r.Memory > 0 && r.MemoryReservation > r.Memory:
		return invalid("memory_reservation", "%s is above the memory limit %s", size(r.MemoryReservation), size(r.Memory))
	}
	if math.IsNaN(r.CPUs) || math.IsInf(r.CPUs, 0) || r.CPUs < 0 || r.CPUs > 0 && r.CPUs < 0.01 || r.CPUs > float64(h.numCPU) {
		// Docker's text (daemon/daemon_unix.go verifyPlatformContainerResources).
		return invalid("cpus", "range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", h.numCPU, h.numCPU)
	}
	if err := checkCpuset("cpuset_cpus", "CPUs", r.CpusetCpus, h.cpus); err != nil {
		return err
	}
	if err := checkCpuset("cpuset_mems", "memory nodes", r.CpusetMems, h.mems); err != nil {
		return err
	}
	if r.PidsLimit < -1 {
		return invalid("pids_limit", "%d is invalid: use a positive limit, or -1 for unlimited", r.PidsLimit)
	}
	return nil
}

func checkCpuset(field, what, list string, available func() (string, error)) error {
	if list == "" {
		return nil
	}
	want, err := parseList(list)
	if err != nil {
		return invalid(field, "invalid value %q: %v", list, err)
	}
	avail, err := available()
	if err != nil {
		return fmt.Errorf("%s: reading the available %s: %w", field, what, err)
	}
	have, err := parseList(avail)
	if err != nil {
		return fmt.Errorf("%s: available %s %q: %w", field, what, avail, err)
	}
	for n := range want {
		if !have[n] {
			// Docker's wording (pkg/sysinfo, daemon_unix.go).
			return invalid(field, "requested %s are not available - requested %s, available: %s", what, list, strings.TrimSpace(avail))
		}
	}
	return nil
}

// parseList parses a kernel cpu/node list such as "0-3,5".
func parseList(s string) (map[int]bool, error) {
	out := map[int]bool{}
	s = strings.TrimSpace(s)
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q is not a number or range", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a number or range", part)
			}
		}
		// A bound keeps "0-2000000000" from allocating the world.
		if b > 1<<16 {
			return nil, fmt.Errorf("%d is out of range", b)
		}
		for n := a; n <= b; n++ {
			out[n] = true
		}
	}
	return out, nil
}

func size(n int64) string { return units.BytesSize(float64(n)) }

// clampShares keeps cpu.shares in the kernel's range, as Docker does (with a warning there).
func clampShares(s uint64) uint64 {
	switch {
	case s == 0:
		return 0
	case s < minShares:
		return minShares
	case s > maxShares:
		return maxShares
	}
	return s
}

// cpuQuota converts CPUs to a CFS quota per cpuPeriod, through Docker's NanoCPUs so that the
// rounding matches `docker run --cpus`.
func cpuQuota(cpus float64) int64 {
	nano := int64(math.Round(cpus * 1e9))
	return nano * cpuPeriod / 1e9
}

// SharesToWeight maps v1 cpu.shares (2..262144, default 1024) to v2 cpu.weight (1..10000,
// default 100) as runc and crun do: 0 stays 0 (unset), <=2 gives 1, >=262144 gives 10000, and
// otherwise, with l = log2(shares), weight = ceil(10^((l*l + 125*l)/612 - 7/34)), a quadratic
// in l that maps 2 to 1, 1024 to 100 and 262144 to 10000.
func SharesToWeight(shares uint64) uint64 {
	switch {
	case shares == 0:
		return 0
	case shares <= minShares:
		return 1
	case shares >= maxShares:
		return 10000
	}
	l := math.Log2(float64(shares))
	return uint64(math.Ceil(math.Pow(10, (l*l+125*l)/612.0-7.0/34.0)))
}

// sortedUnique returns the pids in order, once each.
func sortedUnique(pids []int) []int {
	sort.Ints(pids)
	out := pids[:0]
	for i, p := range pids {
		if i == 0 || p != pids[i-1] {
			out = append(out, p)
		}
	}
	return out
}
