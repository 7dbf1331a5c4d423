package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Prepare builds the container's view of the file system from s and makes
// it the process's root: see the package doc for the steps and decisions.
// It must run in a new mount namespace (it refuses the host's), and it is
// single-shot: on success the process is inside the new root with cwd "/";
// on failure the namespace is left half-built and the caller must exit.
func Prepare(s Spec) error {
	if s.Root == "" {
		return errors.New("rootfs: Spec.Root is empty")
	}
	if err := refuseHostNamespace("mnt", "mount"); err != nil {
		return err
	}
	if s.Hostname != "" {
		// sethostname in the host's UTS namespace would rename the host.
		if err := refuseHostNamespace("uts", "UTS"); err != nil {
			return err
		}
	}
	// Check the whole spec before the first mount, so that a bad spec
	// changes nothing.
	devs, err := s.devices()
	if err != nil {
		return err
	}
	mounts := make([]Mount, len(s.Mounts))
	for i, m := range s.Mounts {
		t, err := containerPath(m.Target)
		if err != nil {
			return fmt.Errorf("rootfs: mount %q: %w", m.Target, err)
		}
		if t == "/" {
			return &MountError{Op: "mount", Source: m.Source, Target: t, FSType: m.Type, Err: errors.New("a mount on top of the rootfs is not allowed")}
		}
		m.Target = t
		mounts[i] = m
	}
	masked, err := cleanPaths(s.maskedPaths())
	if err != nil {
		return fmt.Errorf("rootfs: masked path: %w", err)
	}
	readonly, err := cleanPaths(s.readonlyPaths())
	if err != nil {
		return fmt.Errorf("rootfs: read-only path: %w", err)
	}

	// Refuse a planted /proc, /sys or /dev before the first mount; it is
	// checked again on the bound rootfs below.
	if err := CheckProc(s.Root); err != nil {
		return err
	}
	// rslave first, recursively: from here on no mount made below
	// propagates to the host, while host unmounts still reach us.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return &MountError{Op: "make rslave", Target: "/", Flags: unix.MS_SLAVE | unix.MS_REC, Err: err}
	}
	if err := unix.Mount(s.Root, s.Root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return &MountError{Op: "bind", Source: s.Root, Target: s.Root, Flags: unix.MS_BIND | unix.MS_REC, Err: err}
	}
	// Opened after the bind, so that the descriptor is the top mount and
	// everything below is mounted on the bind.
	rootfd, err := unix.Open(s.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &MountError{Op: "open", Target: s.Root, Err: err}
	}
	defer unix.Close(rootfd)
	if err := checkSpecialAt(rootfd); err != nil {
		return err
	}

	p := &preparer{root: rootfd, spec: &s, devs: devs}
	if err := p.standardMounts(mounts); err != nil {
		return err
	}
	for _, m := range mounts {
		if err := p.userMount(m); err != nil {
			return err
		}
	}
	for _, m := range masked {
		if err := p.mask(m); err != nil {
			return err
		}
	}
	for _, r := range readonly {
		if err := p.readonly(r); err != nil {
			return err
		}
	}
	if s.Hostname != "" {
		if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
			return &MountError{Op: "sethostname", Target: s.Hostname, Err: err}
		}
	}
	if err := pivotRoot(rootfd); err != nil {
		return err
	}
	if s.ReadOnly {
		// Only the root mount: /dev, /dev/shm, /proc and the extra mounts
		// keep their own flags. mount_setattr changes nothing else about
		// the mount (nosuid, nodev stay as they were).
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(unix.AT_FDCWD, "/", 0, attr); err != nil {
			return &MountError{Op: "remount read-only", Target: "/", Flags: unix.MS_RDONLY, Err: err}
		}
	}
	return nil
}

// initNamespaceInodes are the fixed nsfs inode numbers the kernel gives the
// initial namespaces (include/linux/proc_ns.h: PROC_UTS_INIT_INO,
// PROC_IPC_INIT_INO, and PROC_MNT_INIT_INO and PROC_NET_INIT_INO on newer
// kernels). Dynamically made namespaces get inode numbers from 0xF0000000 up,
// so a match is always the host's.
func initNamespaceInodes() map[string]uint64 {
	return map[string]uint64{"mnt": 0xEFFFFFF8, "uts": 0xEFFFFFFE, "ipc": 0xEFFFFFFF, "net": 0xEFFFFFF9}
}

// ErrCannotTell is HostNamespace's answer when nothing could be compared.
var ErrCannotTell = errors.New("cannot tell whether the namespace is the host's")

// HostNamespace tells whether this process's kind namespace ("mnt", "uts",
// "ipc", "net") is the host's, and whose it shares ("" when it is its own).
// /proc must still be the host's procfs. Three things are compared in turn:
//   - the fixed inode of the initial namespace, where the kernel has one;
//   - /proc/1 (the host's init), where it may be looked at: a sandbox can
//     deny even root that (ptrace access mode checks);
//   - the parent (PPid from /proc/self/status, a host PID here, where
//     getppid says 0 in a new PID namespace).
//
// When neither of the last two can be read, the error wraps ErrCannotTell.
// The init and its rootfs both ask, before they act on a namespace.
func HostNamespace(kind string) (string, error) {
	return HostNamespaceOf(kind, true)
}

// HostNamespaceOf is HostNamespace, comparing with the parent's namespace
// only when parent is set.
func HostNamespaceOf(kind string, parent bool) (string, error) {
	var self unix.Stat_t
	p := "/proc/self/ns/" + kind
	if err := unix.Stat(p, &self); err != nil {
		return "", &os.PathError{Op: "stat", Path: p, Err: err}
	}
	if self.Ino == initNamespaceInodes()[kind] {
		return "the host (the initial namespace)", nil
	}
	same := func(p string) (bool, error) {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return false, err
		}
		return st.Dev == self.Dev && st.Ino == self.Ino, nil
	}
	checked := false
	var errs []error
	if eq, err := same("/proc/1/ns/" + kind); err == nil {
		if eq {
			return "/proc/1 (the host's init)", nil
		}
		checked = true
	} else {
		errs = append(errs, err)
	}
	if parent {
		if ppid, err := parentPID(); err != nil {
			errs = append(errs, err)
		} else if ppid > 0 {
			eq, err := same("/proc/" + strconv.Itoa(ppid) + "/ns/" + kind)
			if err == nil && eq {
				return "the parent process", nil
			}
			if err == nil {
				checked = true
			} else {
				errs = append(errs, err)
			}
		}
	}
	if !checked {
		return "", &cannotTellError{errors.Join(errs...)}
	}
	return "", nil
}

// cannotTellError carries why nothing could be compared; it matches ErrCannotTell.
type cannotTellError struct{ why error }

func (e *cannotTellError) Error() string        { return ErrCannotTell.Error() + ": " + e.why.Error() }
func (e *cannotTellError) Is(target error) bool { return target == ErrCannotTell }
func (e *cannotTellError) Unwrap() error        { return e.why }

// refuseHostNamespace fails when this process's kind namespace ("mnt",
// "uts") is the host's, or when that cannot be told: the caller must have
// given the init a namespace of its own.
func refuseHostNamespace(kind, name string) error {
	whose, err := HostNamespace(kind)
	switch {
	case errors.Is(err, ErrCannotTell):
		return fmt.Errorf("rootfs: cannot tell whether the %s namespace is the host's, refusing: %w", name, errors.Unwrap(err))
	case err != nil:
		return fmt.Errorf("rootfs: cannot check the %s namespace: %w", name, err)
	case whose != "":
		return fmt.Errorf("rootfs: refusing to prepare a rootfs in the %s namespace of %s: the init must run in a new one", name, whose)
	}
	return nil
}

// parentPID reads this process's parent PID from /proc/self/status. Unlike
// getppid(2), which answers 0 for PID 1 of a new PID namespace, the host's
// procfs names the parent by its host PID.
func parentPID() (int, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, errors.New("no PPid in /proc/self/status")
}

// cleanPaths checks and cleans container paths and drops duplicates.
func cleanPaths(in []string) ([]string, error) {
	var out []string
	for _, p := range in {
		c, err := containerPath(p)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// checkSpecialAt is CheckProc on an open rootfs, without following anything.
func checkSpecialAt(rootfd int) error {
	for _, p := range specialDirs() {
		var st unix.Stat_t
		err := unix.Fstatat(rootfd, strings.TrimPrefix(p, "/"), &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.ENOENT {
			continue
		}
		if err != nil {
			return &MountError{Op: "stat", Target: p, Err: err}
		}
		if problem := specialProblem(modeOf(st.Mode)); problem != "" {
			return &UnsafePathError{Path: p, Problem: problem}
		}
	}
	return nil
}

// modeOf turns the file-type bits of a stat mode into an fs.FileMode.
func modeOf(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFREG:
		return 0
	}
	return fs.ModeIrregular
}

// preparer holds what the steps of Prepare share.
type preparer struct {
	root int // O_PATH descriptor of the bind-mounted rootfs
	spec *Spec
	devs []Device // DefaultDevices plus Spec.Devices, checked
}

// fdPath names descriptor fd for mount(2). /proc here is still the host's
// procfs (the container's is mounted inside the rootfs), and the magic link
// pins the exact file the descriptor was opened on.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// stdMount is one of Docker's default mounts.
type stdMount struct {
	target, fstype, source string
	flags                  uintptr
	data                   string
}

// standardMounts mounts /proc, /sys, /sys/fs/cgroup, /dev and what belongs
// in it, skipping any a user mount replaces.
func (p *preparer) standardMounts(user []Mount) error {
	replaced := map[string]bool{}
	for _, m := range user {
		replaced[m.Target] = true
	}
	s := p.spec
	sysFlags := uintptr(unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV)
	if !s.Privileged || s.ReadOnly {
		sysFlags |= unix.MS_RDONLY
	}
	mounts := []stdMount{
		{"/proc", "proc", "proc", unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV, ""},
		{"/sys", "sysfs", "sysfs", sysFlags, ""},
		cgroupMount(sysFlags),
		{"/dev", "tmpfs", "tmpfs", unix.MS_NOSUID | unix.MS_STRICTATIME, "mode=755,size=65536k"},
		{"/dev/pts", "devpts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{"/dev/shm", "tmpfs", "shm", unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV, "mode=1777,size=" + strconv.FormatInt(s.shmSize(), 10)},
		{"/dev/mqueue", "mqueue", "mqueue", unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV, ""},
	}
	ownDev := !replaced["/dev"]
	for _, m := range mounts {
		if replaced[m.target] || (!ownDev && strings.HasPrefix(m.target, "/dev/")) {
			continue
		}
		if err := p.mountStd(m); err != nil {
			return err
		}
		if m.target == "/dev" {
			// Nodes and symlinks go in before pts/shm/mqueue, on the fresh
			// tmpfs, which nothing from the image can have touched.
			if err := p.devices(); err != nil {
				return err
			}
		}
	}
	if ownDev {
		return p.devSymlinks()
	}
	return nil
}

// cgroupMount is /sys/fs/cgroup: cgroup2 on a v2 host, else an empty tmpfs
// (runc's per-controller v1 layout is not implemented; see the package doc).
// Read-only exactly when /sys is.
func cgroupMount(sysFlags uintptr) stdMount {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return stdMount{"/sys/fs/cgroup", "cgroup2", "cgroup", sysFlags, ""}
	}
	return stdMount{"/sys/fs/cgroup", "tmpfs", "tmpfs", sysFlags, "mode=755"}
}

// mountStd mounts one standard file system on its directory, which must be
// an ordinary directory reached through no symlink.
func (p *preparer) mountStd(m stdMount) error {
	kind := createDir
	if m.target == "/sys/fs/cgroup" {
		// Inside the fresh (read-only) sysfs: present or not, never made.
		kind = createNone
	}
	fd, _, err := resolveStrict(p.root, m.target, kind)
	if errors.Is(err, unix.ENOENT) && kind == createNone {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Mount(m.source, fdPath(fd), m.fstype, m.flags, m.data); err != nil {
		return &MountError{Op: "mount", Source: m.source, Target: m.target, FSType: m.fstype, Flags: m.flags, Data: m.data, Err: err}
	}
	return nil
}

// resolveStrict resolves a standard mount point: any symlink on the way is
// refused as unsafe, and the target must be a directory.
func resolveStrict(rootfd int, target string, kind createKind) (int, string, error) {
	comps := splitPath(target)
	for i := range comps {
		var st unix.Stat_t
		rel := path.Join(comps[:i+1]...)
		err := unix.Fstatat(rootfd, rel, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.ENOENT {
			break
		}
		if err != nil {
			return -1, "", &MountError{Op: "stat", Target: "/" + rel, Err: err}
		}
		if problem := specialProblem(modeOf(st.Mode)); problem != "" {
			return -1, "", &UnsafePathError{Path: "/" + rel, Problem: problem}
		}
	}
	fd, rel, err := resolveInRoot(rootfd, target, kind)
	if err != nil {
		return -1, "", &MountError{Op: "open mount point", Target: target, Err: err}
	}
	if "/"+rel != target {
		// A symlink appeared between the check and the walk.
		unix.Close(fd)
		return -1, "", &UnsafePathError{Path: target, Problem: "resolves elsewhere (to /" + rel + ")"}
	}
	return fd, rel, nil
}

// devices makes the device nodes in the fresh /dev.
func (p *preparer) devices() error {
	for _, d := range p.devs {
		if err := p.device(d); err != nil {
			return err
		}
	}
	return nil
}

// device makes one node with mknod, or, where mknod is refused (a user
// namespace), binds the host's node over an empty file, as runc does.
func (p *preparer) device(d Device) error {
	dirfd, _, err := resolveStrict(p.root, path.Dir(d.Path), createDir)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	name := path.Base(d.Path)
	perm := uint32(d.Mode.Perm())
	if perm == 0 {
		perm = 0o666
	}
	typ := uint32(unix.S_IFCHR)
	if d.Type == 'b' {
		typ = unix.S_IFBLK
	}
	rdev := unix.Mkdev(d.Major, d.Minor)
	err = unix.Mknodat(dirfd, name, typ|perm, int(rdev))
	if err == unix.EPERM {
		return p.bindDevice(dirfd, name, d, typ, rdev)
	}
	if err != nil {
		return &MountError{Op: "mknod", Target: d.Path, Err: err}
	}
	// Check what is there before changing it: mode and owner are set on
	// the node we made, never through a symlink.
	if err := checkNode(dirfd, name, typ, rdev); err != nil {
		return &MountError{Op: "mknod", Target: d.Path, Err: err}
	}
	// mknod applied the umask; the node gets exactly the asked mode.
	if err := unix.Fchmodat(dirfd, name, perm, 0); err != nil {
		return &MountError{Op: "chmod", Target: d.Path, Err: err}
	}
	if err := unix.Fchownat(dirfd, name, int(d.UID), int(d.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &MountError{Op: "chown", Target: d.Path, Err: err}
	}
	return nil
}

// checkNode verifies that name in dirfd is a device of type typ and rdev.
func checkNode(dirfd int, name string, typ uint32, rdev uint64) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != typ || st.Rdev != rdev {
		return fmt.Errorf("not the expected device %d:%d", unix.Major(rdev), unix.Minor(rdev))
	}
	return nil
}

// bindDevice binds the host node of d over an empty file name in dirfd.
func (p *preparer) bindDevice(dirfd int, name string, d Device, typ uint32, rdev uint64) error {
	host := d.HostPath
	if host == "" {
		host = d.Path
	}
	src, err := unix.Open(host, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &MountError{Op: "open device", Source: host, Target: d.Path, Err: err}
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return &MountError{Op: "stat device", Source: host, Target: d.Path, Err: err}
	}
	if st.Mode&unix.S_IFMT != typ || st.Rdev != rdev {
		return &MountError{Op: "bind device", Source: host, Target: d.Path, Err: fmt.Errorf("host node is not device %d:%d", d.Major, d.Minor)}
	}
	if err := createAt(dirfd, name, true); err != nil {
		return &MountError{Op: "create", Target: d.Path, Err: err}
	}
	dst, err := Openat2(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW, strictResolve)
	if err != nil {
		return &MountError{Op: "open", Target: d.Path, Err: err}
	}
	defer unix.Close(dst)
	if err := bindFD(src, dst, false, 0); err != nil {
		return &MountError{Op: "bind", Source: host, Target: d.Path, Flags: unix.MS_BIND, Err: err}
	}
	return nil
}

// devSymlinks makes Docker's /dev symlinks: fd, stdin, stdout, stderr, core
// (when the container's /proc/kcore exists) and ptmx -> pts/ptmx, the last
// so that ptys come from the container's own devpts instance.
func (p *preparer) devSymlinks() error {
	dirfd, _, err := resolveStrict(p.root, "/dev", createNone)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	links := [][2]string{
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
	}
	if fd, err := openStrict(p.root, "proc/kcore", 0); err == nil {
		unix.Close(fd)
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	for _, l := range links {
		if err := unix.Symlinkat(l[0], dirfd, l[1]); err != nil && err != unix.EEXIST {
			return &MountError{Op: "symlink", Source: l[0], Target: "/dev/" + l[1], Err: err}
		}
	}
	if err := unix.Unlinkat(dirfd, "ptmx", 0); err != nil && err != unix.ENOENT {
		return &MountError{Op: "unlink", Target: "/dev/ptmx", Err: err}
	}
	if err := unix.Symlinkat("pts/ptmx", dirfd, "ptmx"); err != nil {
		return &MountError{Op: "symlink", Source: "pts/ptmx", Target: "/dev/ptmx", Err: err}
	}
	return nil
}

// lxcfsTargets are the files under /proc a mount may cover (runc's
// checkProcMount allow-list, for lxcfs); every other /proc target is refused
// because a mount there could hide or replace kernel interfaces that the
// masks and read-only binds protect.
func lxcfsTargets() []string {
	return []string{
		"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
		"/proc/swaps", "/proc/uptime", "/proc/loadavg", "/proc/slabinfo",
		"/proc/sys/kernel/ns_last_pid", "/proc/sys/crypto/fips_enabled",
	}
}

// isBind reports whether m is a bind mount.
func isBind(m Mount) bool { return m.Type == "bind" || m.Flags&unix.MS_BIND != 0 }

// userMount applies one Mount of the spec.
func (p *preparer) userMount(m Mount) error {
	fail := func(op string, err error) error {
		return &MountError{Op: op, Source: m.Source, Target: m.Target, FSType: m.Type, Flags: m.Flags, Data: m.Data, Err: err}
	}
	kind := createDir
	var src = -1
	if isBind(m) {
		// The source is a host path chosen by berth or by the user, so
		// host symlinks in it are followed, as Docker does.
		fd, err := unix.Open(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail("open source", err)
		}
		src = fd
		defer unix.Close(src)
		var st unix.Stat_t
		if err := unix.Fstat(src, &st); err != nil {
			return fail("stat source", err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			kind = createFile
		}
	}
	fd, rel, err := resolveInRoot(p.root, m.Target, kind)
	if err != nil {
		return fail("open mount point", err)
	}
	defer unix.Close(fd)
	resolved := "/" + rel
	if resolved == "/" {
		return fail("mount", errors.New("mount point resolves to the top of the rootfs"))
	}
	if (resolved == "/proc" || strings.HasPrefix(resolved, "/proc/")) && !slices.Contains(lxcfsTargets(), resolved) {
		return fail("mount", fmt.Errorf("mount point resolves to %s: mounts under /proc are not allowed", resolved))
	}
	if err := checkKind(fd, kind); err != nil {
		return fail("mount", fmt.Errorf("mount point %s: %w", resolved, err))
	}
	if src >= 0 {
		if err := bindFD(src, fd, m.Flags&unix.MS_REC != 0, m.Flags); err != nil {
			return fail("bind", err)
		}
	} else {
		data := m.Data
		if m.Type == "tmpfs" && !hasOption(data, "mode") {
			// Keep the mode of the directory being covered, as runc does,
			// so that a tmpfs on /tmp stays 1777.
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err == nil {
				data = joinOptions(data, "mode="+strconv.FormatUint(uint64(st.Mode&0o7777), 8))
			}
		}
		if err := unix.Mount(m.Source, fdPath(fd), m.Type, m.Flags, data); err != nil {
			return &MountError{Op: "mount", Source: m.Source, Target: m.Target, FSType: m.Type, Flags: m.Flags, Data: data, Err: err}
		}
	}
	prop := m.Propagation
	if prop == 0 {
		prop = unix.MS_PRIVATE | unix.MS_REC
	}
	// Reopened: fd still names the covered directory, and the propagation
	// change must reach the new mount.
	top, err := openStrict(p.root, rel, 0)
	if err != nil {
		return fail("reopen mount point", err)
	}
	defer unix.Close(top)
	if err := unix.Mount("", fdPath(top), "", prop, ""); err != nil {
		return &MountError{Op: "set propagation", Target: m.Target, Flags: prop, Err: err}
	}
	return nil
}

// checkKind verifies that the mount point fd is a directory (createDir) or
// not one (createFile), so that a file bind never lands on a directory.
func checkKind(fd int, kind createKind) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case kind == createDir && !isDir:
		return unix.ENOTDIR
	case kind == createFile && isDir:
		return unix.EISDIR
	}
	return nil
}

// hasOption reports whether the option string data sets key.
func hasOption(data, key string) bool {
	for _, o := range strings.Split(data, ",") {
		if k, _, _ := strings.Cut(o, "="); k == key {
			return true
		}
	}
	return false
}

func joinOptions(data, opt string) string {
	if data == "" {
		return opt
	}
	return data + "," + opt
}

// bindFD binds what src names onto dst with the new mount API: a detached
// clone (recursive when rec), given its attributes while detached, then
// attached. The bound tree is never visible with other attributes than the
// asked ones, and read-only with rec is recursively read-only.
func bindFD(src, dst int, rec bool, flags uintptr) error {
	treeFlags := uint(unix.OPEN_TREE_CLONE | unix.O_CLOEXEC | unix.AT_EMPTY_PATH)
	atFlags := uint(unix.AT_EMPTY_PATH)
	if rec {
		treeFlags |= unix.AT_RECURSIVE
		atFlags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(src, "", treeFlags)
	if err != nil {
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(tree)
	if attr := mountAttr(flags); attr.Attr_set != 0 || attr.Attr_clr != 0 {
		if err := unix.MountSetattr(tree, "", atFlags, attr); err != nil {
			return fmt.Errorf("mount_setattr: %w", err)
		}
	}
	if err := unix.MoveMount(tree, "", dst, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// mountAttr translates MS_* flags to mount_setattr attributes. An atime
// mode replaces the inherited one, which the kernel wants cleared first.
func mountAttr(flags uintptr) *unix.MountAttr {
	a := &unix.MountAttr{}
	for _, f := range []struct {
		ms   uintptr
		attr uint64
	}{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
		{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
		{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
		{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
		{unix.MS_NOSYMFOLLOW, unix.MOUNT_ATTR_NOSYMFOLLOW},
	} {
		if flags&f.ms != 0 {
			a.Attr_set |= f.attr
		}
	}
	switch {
	case flags&unix.MS_NOATIME != 0:
		a.Attr_clr, a.Attr_set = unix.MOUNT_ATTR__ATIME, a.Attr_set|unix.MOUNT_ATTR_NOATIME
	case flags&unix.MS_STRICTATIME != 0:
		a.Attr_clr, a.Attr_set = unix.MOUNT_ATTR__ATIME, a.Attr_set|unix.MOUNT_ATTR_STRICTATIME
	case flags&unix.MS_RELATIME != 0:
		a.Attr_clr, a.Attr_set = unix.MOUNT_ATTR__ATIME, a.Attr_set|unix.MOUNT_ATTR_RELATIME
	}
	return a
}

// mask hides a path: a file under the container's /dev/null (checked to be
// the real 1:3 node, CVE-2025-31133), a directory under an empty read-only
// tmpfs. A missing path is skipped.
func (p *preparer) mask(target string) error {
	fd, rel, err := resolveInRoot(p.root, target, createNone)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &MountError{Op: "open masked path", Target: target, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &MountError{Op: "stat masked path", Target: target, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		const flags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
		if err := unix.Mount("tmpfs", fdPath(fd), "tmpfs", flags, "mode=755"); err != nil {
			return &MountError{Op: "mask", Source: "tmpfs", Target: "/" + rel, FSType: "tmpfs", Flags: flags, Data: "mode=755", Err: err}
		}
		return nil
	}
	null, err := openStrict(p.root, "dev/null", 0)
	if err != nil {
		return &MountError{Op: "open", Target: "/dev/null", Err: err}
	}
	defer unix.Close(null)
	var nst unix.Stat_t
	if err := unix.Fstat(null, &nst); err != nil {
		return &MountError{Op: "stat", Target: "/dev/null", Err: err}
	}
	if nst.Mode&unix.S_IFMT != unix.S_IFCHR || nst.Rdev != unix.Mkdev(1, 3) {
		return &MountError{Op: "mask", Source: "/dev/null", Target: target, Err: errors.New("the container's /dev/null is not the null device (1:3)")}
	}
	if err := bindFD(null, fd, false, 0); err != nil {
		return &MountError{Op: "mask", Source: "/dev/null", Target: "/" + rel, Flags: unix.MS_BIND, Err: err}
	}
	return nil
}

// readonly binds a path onto itself, recursively read-only, keeping its
// other flags (nosuid, noexec, nodev of /proc). A missing path is skipped.
func (p *preparer) readonly(target string) error {
	fd, rel, err := resolveInRoot(p.root, target, createNone)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &MountError{Op: "open read-only path", Target: target, Err: err}
	}
	defer unix.Close(fd)
	if err := bindFD(fd, fd, true, unix.MS_RDONLY); err != nil {
		return &MountError{Op: "bind read-only", Source: "/" + rel, Target: "/" + rel, Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, Err: err}
	}
	return nil
}

// pivotRoot makes rootfd the root with runc's pivot_root(".", ".") dance:
// the old root ends stacked on the new one, is made rslave (so that
// unmounting it does not propagate to the host), then lazily detached. No
// put_old directory is needed, so none is left behind in the rootfs.
func pivotRoot(rootfd int) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return &MountError{Op: "open", Target: "/", Err: err}
	}
	defer unix.Close(oldroot)
	if err := unix.Fchdir(rootfd); err != nil {
		return &MountError{Op: "chdir", Target: "rootfs", Err: err}
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return &MountError{Op: "pivot_root", Target: ".", Err: err}
	}
	// cwd to the old root, which now sits on top of "/", to detach it.
	if err := unix.Fchdir(oldroot); err != nil {
		return &MountError{Op: "chdir", Target: "old root", Err: err}
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return &MountError{Op: "make rslave", Target: "old root", Flags: unix.MS_SLAVE | unix.MS_REC, Err: err}
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &MountError{Op: "unmount", Target: "old root", Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &MountError{Op: "chdir", Target: "/", Err: err}
	}
	return nil
}

// HostDevices lists the host's device nodes under /dev, for a privileged
// container (Docker gives it every host device). Like runc's list it leaves
// out /dev/pts, /dev/shm, /dev/mqueue, /dev/fd, udev/lxc bookkeeping and
// /dev/console (the container gets its own console when it has a terminal).
func HostDevices() ([]Device, error) {
	var out []Device
	err := filepath.WalkDir("/dev", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone meanwhile
			}
			return err
		}
		if e.IsDir() {
			switch e.Name() {
			case "pts", "shm", "mqueue", "fd", ".lxc", ".lxd-mounts", ".udev":
				return fs.SkipDir
			}
			return nil
		}
		if p == "/dev/console" {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if err == unix.ENOENT {
				return nil
			}
			return &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		var typ rune
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			typ = 'c'
		case unix.S_IFBLK:
			typ = 'b'
		default:
			return nil
		}
		out = append(out, Device{
			Path: p, Type: typ, Major: unix.Major(st.Rdev), Minor: unix.Minor(st.Rdev),
			Mode: os.FileMode(st.Mode & 0o777), UID: st.Uid, GID: st.Gid,
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rootfs: list host devices: %w", err)
	}
	return out, nil
}

// flagString names MS_* flags for error messages.
func flagString(f uintptr) string {
	names := []struct {
		bit  uintptr
		name string
	}{
		{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"},
		{unix.MS_NOEXEC, "noexec"}, {unix.MS_REMOUNT, "remount"}, {unix.MS_BIND, "bind"},
		{unix.MS_MOVE, "move"}, {unix.MS_REC, "rec"}, {unix.MS_PRIVATE, "private"},
		{unix.MS_SLAVE, "slave"}, {unix.MS_SHARED, "shared"}, {unix.MS_UNBINDABLE, "unbindable"},
		{unix.MS_NOATIME, "noatime"}, {unix.MS_NODIRATIME, "nodiratime"},
		{unix.MS_RELATIME, "relatime"}, {unix.MS_STRICTATIME, "strictatime"},
		{unix.MS_NOSYMFOLLOW, "nosymfollow"},
	}
	var parts []string
	for _, n := range names {
		if f&n.bit != 0 {
			parts = append(parts, n.name)
			f &^= n.bit
		}
	}
	if f != 0 {
		parts = append(parts, fmt.Sprintf("%#x", f))
	}
	return strings.Join(parts, ",")
}
