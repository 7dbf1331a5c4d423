package testutil

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cgroupMount is one cgroup file system from /proc/self/mountinfo.
type cgroupMount struct {
	dir     string
	v2      bool
	options []string // super options of a v1 mount: its controllers, and name= for named ones
}

// cgroupMounts reads the cgroup mounts of this process. It is read here rather than asked of
// runtime/cgroup, so that the tests of that package can use these checks without a cycle.
func cgroupMounts() ([]cgroupMount, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []cgroupMount
	for _, line := range strings.Split(string(b), "\n") {
		// "36 25 0:31 / /sys/fs/cgroup/cpu rw,relatime shared:13 - cgroup cgroup rw,cpu"
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		switch qf[0] {
		case "cgroup":
			out = append(out, cgroupMount{dir: pf[4], options: strings.Split(qf[2], ",")})
		case "cgroup2":
			out = append(out, cgroupMount{dir: pf[4], v2: true})
		}
	}
	return out, nil
}

// RequireCgroupV1 returns the mount point of the cgroup v1 hierarchy of controller (such as
// "memory", "pids", "freezer"), or skips the test naming what is missing.
func RequireCgroupV1(t testing.TB, controller string) string {
	t.Helper()
	mounts, err := cgroupMounts()
	if err != nil {
		t.Skipf("needs cgroup v1 with the %s controller: %v", controller, err)
	}
	for _, m := range mounts {
		if !m.v2 && slices.Contains(m.options, controller) {
			return m.dir
		}
	}
	t.Skipf("needs cgroup v1 with the %s controller: no such hierarchy is mounted (pure cgroup v2 host?)", controller)
	return ""
}

// RequireCgroupV2 returns the mount point of the cgroup v2 hierarchy, /sys/fs/cgroup on a v2
// host or /sys/fs/cgroup/unified on a hybrid one, or skips the test naming what is missing.
// With controllers, the root of that hierarchy must offer each of them (cgroup.controllers):
// the unified hierarchy of a hybrid host usually offers none, as its controllers stay on v1.
func RequireCgroupV2(t testing.TB, controllers ...string) string {
	t.Helper()
	mounts, err := cgroupMounts()
	if err != nil {
		t.Skipf("needs cgroup v2: %v", err)
	}
	for _, m := range mounts {
		if !m.v2 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(m.dir, "cgroup.controllers"))
		if err != nil {
			t.Skipf("needs cgroup v2: %v", err)
		}
		have := strings.Fields(string(b))
		for _, c := range controllers {
			if !slices.Contains(have, c) {
				t.Skipf("needs cgroup v2 with the %v controllers: %s offers only %v (a hybrid host keeps its controllers on v1)", controllers, m.dir, have)
			}
		}
		return m.dir
	}
	t.Skip("needs cgroup v2: no cgroup2 file system is mounted")
	return ""
}
