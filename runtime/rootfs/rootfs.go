package rootfs

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultShmSize is the size of /dev/shm when Spec.ShmSize is zero: Docker's 64 MiB.
const DefaultShmSize int64 = 64 << 20

// Spec is what Prepare builds. Paths other than Root and bind sources are
// container paths: absolute, resolved inside Root.
type Spec struct {
	// Root is the container's rootfs directory on the host (an overlay mount
	// point, or a plain directory). It is trusted: it comes from berth, not
	// from the image.
	Root string
	// ReadOnly remounts / read-only once everything else is in place
	// (compose read_only). /dev, /dev/shm, /dev/pts, /dev/mqueue and /proc
	// stay writable, as in Docker.
	ReadOnly bool
	// ShmSize is the size of /dev/shm in bytes; zero means DefaultShmSize.
	ShmSize int64
	// Mounts are applied after the standard mounts and device nodes, in
	// order, before the masked and read-only paths.
	Mounts []Mount
	// MaskedPaths are hidden: files by /dev/null bound over them, directories
	// by an empty read-only tmpfs. Missing paths are skipped. nil means
	// DefaultMaskedPaths() (none when Privileged); empty means none.
	MaskedPaths []string
	// ReadonlyPaths are bound onto themselves read-only. Missing paths are
	// skipped. nil means DefaultReadonlyPaths() (none when Privileged).
	ReadonlyPaths []string
	// Privileged drops the default masked and read-only paths and leaves
	// /sys and /sys/fs/cgroup writable. It adds no host devices: pass
	// HostDevices() in Devices for that.
	Privileged bool
	// Devices are created in addition to DefaultDevices(); one with the path
	// of a default device replaces it.
	Devices []Device
	// Hostname, when set, is set with sethostname(2). Prepare refuses if the
	// process shares its UTS namespace with /proc/1.
	Hostname string
}

// Mount is one extra mount of a container.
type Mount struct {
	// Source is a host path for a bind mount (symlinks in it are followed on
	// the host, as Docker does), or the source name of a file system mount
	// ("tmpfs", "shm", ...).
	Source string
	// Target is the absolute path in the container. It is resolved inside
	// Root and created when missing: an empty file for a bind of anything
	// but a directory, a directory otherwise.
	Target string
	// Type is "bind" for a bind mount (so is any mount with MS_BIND in
	// Flags), or a file system type such as "tmpfs".
	Type string
	// Flags are MS_* mount flags. For a bind, MS_REC makes it recursive
	// (Docker's "rbind") and MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC and
	// the atime flags are applied to the bound tree.
	Flags uintptr
	// Data is the file system's option string ("size=65536k,mode=1777");
	// ignored for binds.
	Data string
	// Propagation is MS_PRIVATE, MS_SLAVE, MS_SHARED or MS_UNBINDABLE,
	// optionally with MS_REC; zero means MS_PRIVATE|MS_REC, Docker's
	// default "rprivate".
	Propagation uintptr
}

// Device is a device node created in the container's /dev.
type Device struct {
	// Path is the node's path in the container; it must be under /dev.
	Path string
	// Type is 'c' for a character device or 'b' for a block device.
	Type rune
	// Major and Minor are the device numbers.
	Major, Minor uint32
	// Mode holds the permission bits; zero means 0666.
	Mode os.FileMode
	// UID and GID own the node.
	UID, GID uint32
	// HostPath is the host node bound over an empty file when mknod(2) is
	// refused (in a user namespace); empty means Path.
	HostPath string
}

// DefaultDevices returns the nodes every container gets, Docker's (runc's
// AllowedDevices): null, zero, full, random, urandom and tty, all 0666.
// /dev/ptmx is not one of them: it is a symlink to pts/ptmx, so that the
// container uses its own devpts instance. /dev/console is the caller's
// business (it exists only with a terminal).
func DefaultDevices() []Device {
	return []Device{
		{Path: "/dev/null", Type: 'c', Major: 1, Minor: 3, Mode: 0o666},
		{Path: "/dev/zero", Type: 'c', Major: 1, Minor: 5, Mode: 0o666},
		{Path: "/dev/full", Type: 'c', Major: 1, Minor: 7, Mode: 0o666},
		{Path: "/dev/random", Type: 'c', Major: 1, Minor: 8, Mode: 0o666},
		{Path: "/dev/urandom", Type: 'c', Major: 1, Minor: 9, Mode: 0o666},
		{Path: "/dev/tty", Type: 'c', Major: 5, Minor: 0, Mode: 0o666},
	}
}

// staticMaskedPaths is moby's daemon/pkg/oci/defaults.go list, in its order;
// a function, not a variable, so that no caller can change the defaults.
func staticMaskedPaths() []string {
	return []string{
		"/proc/acpi",
		"/proc/asound",
		"/proc/interrupts", // GHSA-6fw5-f8r9-fgfm
		"/proc/kcore",
		"/proc/keys",
		"/proc/latency_stats",
		"/proc/sched_debug",
		"/proc/scsi",
		"/proc/timer_list",
		"/proc/timer_stats",
		"/sys/devices/virtual/powercap", // GHSA-jq35-85cj-fj4p
		"/sys/firmware",
	}
}

// DefaultMaskedPaths returns Docker's default masked paths: moby's fixed
// list, then /sys/devices/system/cpu/cpu<N>/thermal_throttle for each
// possible CPU where that directory exists on this host (GHSA-6fw5-f8r9-fgfm).
// It reads the host's /sys each time, as the CPUs are the host's.
func DefaultMaskedPaths() []string {
	paths := staticMaskedPaths()
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return paths
	}
	for _, cpu := range parseCPUList(string(b)) {
		p := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/thermal_throttle", cpu)
		if _, err := os.Stat(p); err == nil {
			paths = append(paths, p)
		}
	}
	return paths
}

// parseCPUList parses the kernel's CPU list format ("0-3,5,7-8"). Malformed
// parts are skipped rather than failing: the kernel writes this file, and the
// entries only decide which thermal_throttle directories are looked for.
func parseCPUList(s string) []int {
	var cpus []int
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				continue
			}
		}
		// A bound keeps a corrupt file from making a huge slice.
		for c := a; c <= b && c < 1<<16; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// DefaultReadonlyPaths returns Docker's default read-only paths (moby's
// daemon/pkg/oci/defaults.go).
func DefaultReadonlyPaths() []string {
	return []string{
		"/proc/bus",
		"/proc/fs",
		"/proc/irq",
		"/proc/sys",
		"/proc/sysrq-trigger",
	}
}

// maskedPaths is the list Prepare applies for s.
func (s *Spec) maskedPaths() []string {
	if s.MaskedPaths != nil {
		return s.MaskedPaths
	}
	if s.Privileged {
		return nil
	}
	return DefaultMaskedPaths()
}

// readonlyPaths is the list Prepare applies for s.
func (s *Spec) readonlyPaths() []string {
	if s.ReadonlyPaths != nil {
		return s.ReadonlyPaths
	}
	if s.Privileged {
		return nil
	}
	return DefaultReadonlyPaths()
}

// shmSize is the /dev/shm size Prepare uses for s.
func (s *Spec) shmSize() int64 {
	if s.ShmSize > 0 {
		return s.ShmSize
	}
	return DefaultShmSize
}

// devices is the default devices with s.Devices added, a later entry for
// the same path replacing an earlier one.
func (s *Spec) devices() ([]Device, error) {
	out := DefaultDevices()
	for _, d := range s.Devices {
		p, err := containerPath(d.Path)
		if err != nil {
			return nil, fmt.Errorf("rootfs: device %q: %w", d.Path, err)
		}
		if p == "/dev" || !strings.HasPrefix(p, "/dev/") {
			return nil, fmt.Errorf("rootfs: device %q: not under /dev", d.Path)
		}
		if d.Type != 'c' && d.Type != 'b' {
			return nil, fmt.Errorf("rootfs: device %q: type %q is not 'c' or 'b'", d.Path, d.Type)
		}
		d.Path = p
		replaced := false
		for i := range out {
			if out[i].Path == p {
				out[i], replaced = d, true
			}
		}
		if !replaced {
			out = append(out, d)
		}
	}
	return out, nil
}

// containerPath checks that p is an absolute container path and cleans it
// lexically. Symlinks are not looked at here: the resolver does that inside
// the rootfs.
func containerPath(p string) (string, error) {
	if !path.IsAbs(p) {
		return "", fmt.Errorf("path %q is not absolute", p)
	}
	return path.Clean(p), nil
}

// MountError is a failed step of Prepare. It keeps what was asked so that the
// message names it, and unwraps to the errno.
type MountError struct {
	Op     string // "mount", "bind", "mkdir", "mknod", "pivot_root", ...
	Source string
	Target string // a container path, or a host path for steps outside the rootfs
	FSType string
	Flags  uintptr
	Data   string
	Err    error
}

func (e *MountError) Error() string {
	var b strings.Builder
	b.WriteString("rootfs: ")
	b.WriteString(e.Op)
	if e.FSType != "" {
		b.WriteString(" " + e.FSType)
	}
	if e.Source != "" && e.Source != e.FSType {
		b.WriteString(" " + strconv.Quote(e.Source))
	}
	if e.Target != "" {
		if e.FSType != "" || e.Source != "" {
			b.WriteString(" on")
		}
		b.WriteString(" " + e.Target)
	}
	if e.Flags != 0 {
		b.WriteString(" (flags " + flagString(e.Flags) + ")")
	}
	if e.Data != "" {
		b.WriteString(" (data " + strconv.Quote(e.Data) + ")")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *MountError) Unwrap() error { return e.Err }

// UnsafePathError is an image whose /proc, /sys or /dev (or another mount
// point that must be an ordinary directory) is a symlink or not a directory.
// Mounting over it would follow the image's redirection.
type UnsafePathError struct {
	Path    string // container path
	Problem string // "is a symlink", "is not a directory"
}

func (e *UnsafePathError) Error() string {
	return "rootfs: " + e.Path + " " + e.Problem + ": refusing (CVE-2019-16884 class)"
}

// specialDirs must be ordinary directories (or missing) in an image:
// procfs, sysfs and the /dev tmpfs are mounted on them.
func specialDirs() []string { return []string{"/proc", "/sys", "/dev"} }

// CheckProc refuses a rootfs whose /proc, /sys or /dev is a symlink or
// anything but a directory, before anything is mounted over it. A missing
// one is fine: Prepare creates it. Root itself is trusted.
func CheckProc(root string) error {
	for _, p := range specialDirs() {
		fi, err := os.Lstat(filepath.Join(root, p))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("rootfs: check %s: %w", p, err)
		}
		if problem := specialProblem(fi.Mode()); problem != "" {
			return &UnsafePathError{Path: p, Problem: problem}
		}
	}
	return nil
}

// specialProblem says what is wrong with a special directory of mode m.
func specialProblem(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "is a symlink"
	case !m.IsDir():
		return "is not a directory"
	}
	return ""
}
