package cgroup

import (
	"errors"
	"strings"
	"testing"
)

const mib = 1024 * 1024

func testInfo() hostInfo {
	return hostInfo{
		numCPU: 4,
		cpus:   func() (string, error) { return "0-3", nil },
		mems:   func() (string, error) { return "0", nil },
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"0123abcdef", "berth-test-1a2b", "A_b-c"} {
		if err := validName("name", ok); err != nil {
			t.Errorf("validName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "../x", "a.b", "-x", "_x", "a b", strings.Repeat("a", maxNameLen+1)} {
		err := validName("name", bad)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "name: ") {
			t.Errorf("validName(%q) = %v, want an ErrInvalid naming the field", bad, err)
		}
	}
}

func TestCheckResources(t *testing.T) {
	good := []Resources{
		{},
		{Memory: 6 * mib},
		{Memory: 64 * mib, MemorySwap: -1, MemoryReservation: 32 * mib},
		{Memory: 64 * mib, MemorySwap: 64 * mib},
		{CPUs: 0.01}, {CPUs: 4}, {CPUShares: 1}, {CPUShares: 1 << 20},
		{CpusetCpus: "0-2,3", CpusetMems: "0"},
		{PidsLimit: -1}, {PidsLimit: 1},
	}
	for _, r := range good {
		if err := r.check(testInfo(), false); err != nil {
			t.Errorf("check(%+v) = %v, want nil", r, err)
		}
	}
	bad := []struct {
		r    Resources
		want string
	}{
		{Resources{Memory: 1024}, "memory: 1KiB is below the 6MiB minimum"},
		{Resources{Memory: -5}, "memory: -5 is negative"},
		{Resources{MemorySwap: 64 * mib}, "memory_swap: 64MiB needs a memory limit too"},
		{Resources{Memory: 64 * mib, MemorySwap: 32 * mib}, "memory_swap: 32MiB is below the memory limit 64MiB"},
		{Resources{MemorySwap: -2}, "memory_swap: -2 is invalid"},
		{Resources{MemoryReservation: 1}, "memory_reservation: 1B is below the 6MiB minimum"},
		{Resources{Memory: 16 * mib, MemoryReservation: 32 * mib}, "memory_reservation: 32MiB is above the memory limit 16MiB"},
		{Resources{CPUs: 5}, "cpus: range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available"},
		{Resources{CPUs: 0.001}, "cpus: range of CPUs is from 0.01 to 4.00"},
		{Resources{CPUs: -1}, "cpus: range of CPUs"},
		{Resources{CpusetCpus: "0-9"}, "cpuset_cpus: requested CPUs are not available - requested 0-9, available: 0-3"},
		{Resources{CpusetCpus: "x"}, `cpuset_cpus: invalid value "x"`},
		{Resources{CpusetCpus: "3-1"}, `cpuset_cpus: invalid value "3-1"`},
		{Resources{CpusetMems: "1"}, "cpuset_mems: requested memory nodes are not available - requested 1, available: 0"},
		{Resources{PidsLimit: -2}, "pids_limit: -2 is invalid"},
	}
	for _, c := range bad {
		err := c.r.check(testInfo(), false)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("check(%+v) = %v, want an ErrInvalid starting %q", c.r, err, c.want)
		}
	}
	// docker update may change swap alone.
	if err := (Resources{MemorySwap: 64 * mib}).check(testInfo(), true); err != nil {
		t.Errorf("update with swap alone: %v", err)
	}
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 0, 1: 1, 2: 1, 1024: 100, 262144: 10000, 1 << 20: 10000} {
		if got := SharesToWeight(shares); got != want {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
	prev := uint64(0)
	for s := uint64(2); s <= 262144; s *= 2 {
		w := SharesToWeight(s)
		if w < prev || w < 1 || w > 10000 {
			t.Errorf("SharesToWeight(%d) = %d after %d: not monotonic in 1..10000", s, w, prev)
		}
		prev = w
	}
	if got := clampShares(1); got != 2 {
		t.Errorf("clampShares(1) = %d, want 2", got)
	}
	if got := clampShares(1 << 20); got != 262144 {
		t.Errorf("clampShares(1<<20) = %d, want 262144", got)
	}
}

func TestCPUQuota(t *testing.T) {
	for cpus, want := range map[float64]int64{0.01: 1000, 0.5: 50000, 1: 100000, 1.5: 150000, 2.333: 233300} {
		if got := cpuQuota(cpus); got != want {
			t.Errorf("cpuQuota(%v) = %d, want %d", cpus, got, want)
		}
	}
}

func TestParseList(t *testing.T) {
	got, err := parseList("0-2,5\n")
	if err != nil || len(got) != 4 || !got[0] || !got[2] || !got[5] || got[3] {
		t.Errorf("parseList = %v, %v", got, err)
	}
	for _, bad := range []string{"a", "1-", "-1", "2-1", "0,,1", "99999999"} {
		if _, err := parseList(bad); err == nil {
			t.Errorf("parseList(%q) succeeded", bad)
		}
	}
}
