// Package hostcheck finds out, before any command fails deep inside, whether this host can run
// berth's containers: root, the kernel's version, the namespaces a container gets, overlayfs
// under the state root, cgroups, nftables, and bridge and veth links.
//
// Each check does what berth does for real, on a small scale and where nothing else can see it:
// namespaces, links and nftables rules are made in throwaway namespaces of an OS thread that dies
// afterwards, the overlay is mounted in a private mount namespace in a temporary directory under
// the state root, and the cgroup is made and removed under berth's own parent. It must never
// change the host's interfaces, routes, firewall or mounts, and must leave nothing behind.
package hostcheck

import (
	"fmt"
	"strconv"
	"strings"
)

// The names of the checks, in the order Run reports them.
const (
	CheckRoot       = "root"
	CheckKernel     = "kernel"
	CheckNamespaces = "namespaces"
	CheckOverlay    = "overlayfs"
	CheckCgroups    = "cgroups"
	CheckNftables   = "nftables"
	CheckLinks      = "bridge"
)

// Names lists every check in the order Run reports them.
var Names = []string{CheckRoot, CheckKernel, CheckNamespaces, CheckOverlay, CheckCgroups, CheckNftables, CheckLinks}

// MinKernel is the oldest kernel berth runs on: openat2 with RESOLVE_IN_ROOT (Linux 5.6) keeps
// every path berth opens in a container's rootfs inside it.
var MinKernel = [2]int{5, 6}

// A Result is the outcome of one check.
type Result struct {
	// Name is the check's short name, one of Names.
	Name string
	// OK is true when berth can do what the check tried.
	OK bool
	// Detail says what was checked and what was found.
	Detail string
	// Fix says what to do about a failure; empty when OK.
	Fix string `json:",omitempty"`
}

// Options tell Run where berth keeps its state.
type Options struct {
	// Root is berth's state directory; required. The overlay check mounts under it, since
	// containers' overlays live there and not every file system can hold an overlay's upper
	// directory.
	Root string
}

// AllOK reports whether every result passed.
func AllOK(rs []Result) bool {
	for _, r := range rs {
		if !r.OK {
			return false
		}
	}
	return true
}

// parseRelease reads the version at the start of a uname release such as "6.18.44-fc-v669",
// "5.10.0-28-amd64" or "4.8".
func parseRelease(release string) ([2]int, error) {
	var v [2]int
	fields := strings.SplitN(release, ".", 3)
	if len(fields) < 2 {
		return v, fmt.Errorf("kernel release %q: want MAJOR.MINOR", release)
	}
	minor := fields[1]
	if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = minor[:i]
	}
	var err error
	if v[0], err = strconv.Atoi(fields[0]); err != nil {
		return v, fmt.Errorf("kernel release %q: want MAJOR.MINOR", release)
	}
	if v[1], err = strconv.Atoi(minor); err != nil {
		return v, fmt.Errorf("kernel release %q: want MAJOR.MINOR", release)
	}
	return v, nil
}

// kernelResult judges a uname release against MinKernel.
func kernelResult(release string) Result {
	r := Result{Name: CheckKernel}
	want := fmt.Sprintf("%d.%d", MinKernel[0], MinKernel[1])
	v, err := parseRelease(release)
	switch {
	case err != nil:
		r.Detail = err.Error()
		r.Fix = "berth needs Linux " + want + " or newer"
	case v[0] < MinKernel[0] || v[0] == MinKernel[0] && v[1] < MinKernel[1]:
		r.Detail = fmt.Sprintf("Linux %s is older than %s", release, want)
		r.Fix = "upgrade the kernel to Linux " + want + " or newer (berth needs openat2)"
	default:
		r.OK = true
		r.Detail = fmt.Sprintf("Linux %s (berth needs %s or newer)", release, want)
	}
	return r
}

// controllersFromProcCgroup lists the cgroup v1 controllers of a /proc/<pid>/cgroup file
// ("4:memory:/path", "2:cpu,cpuacct:/"), sorted as they come, without named hierarchies
// (name=systemd) and the v2 entry ("0::/").
func controllersFromProcCgroup(content string) []string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(content, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[1] == "" {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "" || strings.HasPrefix(c, "name=") || seen[c] {
				continue
			}
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// neededControllers are the controllers whose limits berth's containers use most (memory,
// pids, cpu); a host without them runs containers that ignore those limits.
var neededControllers = []string{"cpu", "memory", "pids"}

// missingControllers lists the needed controllers missing from have.
func missingControllers(have []string) []string {
	set := map[string]bool{}
	for _, c := range have {
		set[c] = true
	}
	var out []string
	for _, c := range neededControllers {
		if !set[c] {
			out = append(out, c)
		}
	}
	return out
}
