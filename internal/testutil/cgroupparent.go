package testutil

import (
	"os"
	"path/filepath"
)

// CgroupParents lists the directories named parent directly under each cgroup hierarchy
// (/sys/fs/cgroup/<controller>/parent on v1 and hybrid hosts, /sys/fs/cgroup/parent on v2).
func CgroupParents(parent string) []string {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parent))
	if fi, err := os.Stat(filepath.Join("/sys/fs/cgroup", parent)); err == nil && fi.IsDir() {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", parent))
	}
	return dirs
}

// RemoveNewCgroupParents runs m (a test binary's m.Run) and then removes the cgroup parent
// directories named parent that did not exist before, when they are empty: containers started
// by tests create berth's parent, and tests must leave the host as they found it.
func RemoveNewCgroupParents(parent string, run func() int) int {
	before := map[string]bool{}
	for _, d := range CgroupParents(parent) {
		before[d] = true
	}
	code := run()
	for _, d := range CgroupParents(parent) {
		if !before[d] {
			_ = os.Remove(d) // rmdir: only when empty
		}
	}
	return code
}
