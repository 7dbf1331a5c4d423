package process

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Infinity is RLIM_INFINITY, what Docker's -1 ("unlimited") becomes.
const Infinity = ^uint64(0)

// Rlimit is one resource limit for the workload.
type Rlimit struct {
	Name     string // Docker's name: "nofile", "nproc", ...
	Resource int    // Linux RLIMIT_* number (not the host OS's: containers are Linux)
	Soft     uint64 // Infinity for unlimited
	Hard     uint64 // Infinity for unlimited
}

// rlimitResource maps Docker's ulimit names (docker/go-units) to Linux's
// RLIMIT_* numbers, spelled out so the package builds the same on any GOOS.
func rlimitResource(name string) (int, bool) {
	switch name {
	case "cpu":
		return 0, true
	case "fsize":
		return 1, true
	case "data":
		return 2, true
	case "stack":
		return 3, true
	case "core":
		return 4, true
	case "rss":
		return 5, true
	case "nproc":
		return 6, true
	case "nofile":
		return 7, true
	case "memlock":
		return 8, true
	case "locks":
		return 10, true
	case "sigpending":
		return 11, true
	case "msgqueue":
		return 12, true
	case "nice":
		return 13, true
	case "rtprio":
		return 14, true
	case "rttime":
		return 15, true
	}
	return 0, false
}

// ParseUlimit parses docker run's --ulimit value, "name=soft[:hard]", with
// docker/go-units' rules and texts: hard defaults to soft, -1 (or
// "unlimited") is unlimited, soft must not exceed hard, an unlimited soft
// needs an unlimited hard.
func ParseUlimit(s string) (Rlimit, error) {
	name, vals, ok := strings.Cut(s, "=")
	if !ok {
		return Rlimit{}, fmt.Errorf("invalid ulimit argument: %s", s)
	}
	if _, known := rlimitResource(name); !known {
		return Rlimit{}, fmt.Errorf("invalid ulimit type: %s", name)
	}
	parts := strings.Split(vals, ":")
	if len(parts) > 2 {
		return Rlimit{}, fmt.Errorf("too many limit value arguments - %s, can only have up to two, `soft[:hard]`", vals)
	}
	soft, err := parseLimitValue(name, parts[0])
	if err != nil {
		return Rlimit{}, err
	}
	hard := soft
	if len(parts) == 2 {
		if hard, err = parseLimitValue(name, parts[1]); err != nil {
			return Rlimit{}, err
		}
	}
	return NewRlimit(name, soft, hard)
}

func parseLimitValue(name, v string) (int64, error) {
	if v == "unlimited" {
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid ulimit value %q for %s: %w", v, name, err)
	}
	return n, nil
}

// NewRlimit checks a limit given in Docker's int64 form (-1 = unlimited).
func NewRlimit(name string, soft, hard int64) (Rlimit, error) {
	res, known := rlimitResource(name)
	if !known {
		return Rlimit{}, fmt.Errorf("invalid ulimit type: %s", name)
	}
	// go-units lets other negatives through and they become huge limits
	// after the uint64 cast; refuse them instead.
	for _, v := range []int64{soft, hard} {
		if v < -1 {
			return Rlimit{}, fmt.Errorf("invalid ulimit value %d for %s: must be -1 (unlimited) or at least 0", v, name)
		}
	}
	if hard != -1 {
		if soft == -1 {
			return Rlimit{}, fmt.Errorf("ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: %d", hard)
		}
		if soft > hard {
			return Rlimit{}, fmt.Errorf("ulimit soft limit must be less than or equal to hard limit: %d > %d", soft, hard)
		}
	}
	return Rlimit{Name: name, Resource: res, Soft: uint64(soft), Hard: uint64(hard)}, nil
}

// ComposeUlimit converts a compose `ulimits` entry: either a single number
// (`nproc: 65535`, soft = hard) or `{soft, hard}`, as docker compose does
// (a non-zero soft/hard overrides the single value).
func ComposeUlimit(name string, single, soft, hard int) (Rlimit, error) {
	s, h := single, single
	if soft != 0 {
		s = soft
	}
	if hard != 0 {
		h = hard
	}
	r, err := NewRlimit(name, int64(s), int64(h))
	if err != nil {
		return Rlimit{}, fmt.Errorf("ulimits.%s: %w", name, err)
	}
	return r, nil
}

// String gives the docker run form back; unlimited is printed as -1.
func (r Rlimit) String() string {
	return r.Name + "=" + limitString(r.Soft, "-1") + ":" + limitString(r.Hard, "-1")
}

func limitString(v uint64, inf string) string {
	if v == Infinity {
		return inf
	}
	return strconv.FormatUint(v, 10)
}

// CheckUlimits refuses limits that an unprivileged process could not set:
// setrlimit/prlimit may lower a hard limit and move the soft limit up to the
// hard one, but raising a hard limit above the current one needs
// CAP_SYS_RESOURCE in the initial user namespace (the kernel checks
// capable(), not ns_capable(), so a user namespace's root does not count).
// host returns the current limits of the process that will apply them
// (HostRlimit for the calling process).
//
// berth as real root has CAP_SYS_RESOURCE, and the check that matters then is
// CheckUlimitsPrivileged; use this one when berth cannot raise hard limits
// (rootless, or the capability dropped from its bounding set).
func CheckUlimits(limits []Rlimit, host func(resource int) (unix.Rlimit, error)) error {
	var errs []error
	for _, l := range limits {
		cur, err := host(l.Resource)
		if err != nil {
			errs = append(errs, fmt.Errorf("ulimit %s: read the host limit: %w", l.Name, err))
			continue
		}
		if l.Hard > cur.Max {
			errs = append(errs, fmt.Errorf("ulimit %s: hard limit %s is above the host's hard limit %s; raising a hard limit needs CAP_SYS_RESOURCE",
				l.Name, limitString(l.Hard, "unlimited"), limitString(cur.Max, "unlimited")))
		}
	}
	return errors.Join(errs...)
}

// CheckUlimitsPrivileged refuses what fails even with CAP_SYS_RESOURCE: a
// nofile limit above fs.nr_open (/proc/sys/fs/nr_open, see NrOpen). The
// kernel refuses that with EPERM for everyone, so nofile=-1 (unlimited)
// always fails; Docker surfaces it as "operation not permitted" from runc.
func CheckUlimitsPrivileged(limits []Rlimit, nrOpen uint64) error {
	var errs []error
	for _, l := range limits {
		if l.Name == "nofile" && l.Hard > nrOpen {
			errs = append(errs, fmt.Errorf("ulimit nofile: hard limit %s is above the host's fs.nr_open %d; the kernel refuses a nofile limit above /proc/sys/fs/nr_open even for root",
				limitString(l.Hard, "unlimited"), nrOpen))
		}
	}
	return errors.Join(errs...)
}

// NrOpen reads fs.nr_open, the kernel's ceiling for RLIMIT_NOFILE.
func NrOpen() (uint64, error) {
	return readProcUint("/proc/sys/fs/nr_open")
}

func readProcUint(p string) (uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", p, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", p, err)
	}
	return n, nil
}
