package pid1

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/runtime/process"
	"github.com/berth-sh/berth/runtime/seccomp"
)

// ExecWorkload is the workload-exec mode (argv[1] == WorkloadExecArg): it
// reads its spec on ConfigFD, applies the process settings and execve's the
// workload. It never returns: on failure it writes Docker's message to stderr
// and exits with 126, 127 or 128. main.go must dispatch to it before doing
// anything else.
func ExecWorkload() {
	// Capabilities, keepcaps, no_new_privs and the bounding set are
	// per-thread; execve from the same thread makes them the process's.
	runtime.LockOSThread()
	code, msg := execWorkload()
	if !reportStatus(code, msg) {
		fmt.Fprintln(os.Stderr, msg)
	}
	os.Exit(code)
}

// reportStatus writes the failure to StatusFD for the init, which tells the
// monitor (and so the CLI, as Docker's daemon tells its client). It reports
// whether that worked; if not the message goes to stderr instead.
func reportStatus(code int, msg string) bool {
	b, err := json.Marshal(Message{Error: msg, ExitCode: code})
	if err != nil {
		return false
	}
	n, err := unix.Write(StatusFD, b)
	return err == nil && n == len(b)
}

// fixStdioPermissions gives the user the stdio descriptors the init passed
// (pipes, the pty slave), as runc does: a non-root workload must be able to
// open /dev/stdout or its terminal again. /dev/null is left alone, and so is
// the group (the pty's is tty).
func fixStdioPermissions(uid uint32) error {
	var null unix.Stat_t
	if err := unix.Stat("/dev/null", &null); err != nil {
		return &fs.PathError{Op: "stat", Path: "/dev/null", Err: err}
	}
	for fd := 0; fd <= 2; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return os.NewSyscallError("fstat", err)
		}
		if st.Uid == uid || (st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == null.Rdev) {
			continue
		}
		if err := unix.Fchown(fd, int(uid), int(st.Gid)); err != nil {
			// A read-only /dev or an owner outside reach: leave it, as runc does.
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EROFS) {
				continue
			}
			return fmt.Errorf("chown stdio fd %d: %w", fd, os.NewSyscallError("fchown", err))
		}
	}
	return nil
}

// setupError is a failure before execve that is not the executable's fault.
func setupError(err error) (int, string) {
	return process.ExitStartFailed, "berth: start workload: " + err.Error()
}

// execWorkload only returns on failure, with the exit code and message.
func execWorkload() (int, string) {
	// Until execve this process is berth's binary running inside the
	// container; keep /proc/<pid>/exe and /proc/<pid>/fd out of reach.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return setupError(os.NewSyscallError("prctl(PR_SET_DUMPABLE)", err))
	}
	ws, err := readSpec()
	if err != nil {
		return setupError(err)
	}
	if len(ws.Args) == 0 {
		return setupError(process.ErrNoCommand)
	}
	capMask, err := capabilityMask(ws.Capabilities)
	if err != nil {
		return setupError(err)
	}
	syscall.Umask(int(ws.Umask))
	for _, rl := range ws.Rlimits {
		// syscall.Setrlimit, not unix: it also drops Go's saved NOFILE
		// limit, which syscall.Exec would otherwise restore.
		lim := syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		if err := syscall.Setrlimit(rl.Resource, &lim); err != nil {
			return setupError(fmt.Errorf("setrlimit %s (%s): %w", rl.Name, rl, os.NewSyscallError("setrlimit", err)))
		}
	}
	// As root first; a directory root may not enter (a root-squashed
	// volume owned by the user) is retried as the user, like runc.
	chdirLater := false
	if err := unix.Chdir(ws.Cwd); err != nil {
		if !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
			return setupError(fmt.Errorf("working directory: %w", &fs.PathError{Op: "chdir", Path: ws.Cwd, Err: err}))
		}
		chdirLater = true
	}
	if err := fixStdioPermissions(ws.User.UID); err != nil {
		return setupError(err)
	}
	if err := dropBounding(capMask); err != nil {
		return setupError(err)
	}
	if err := setUser(ws.User); err != nil {
		return setupError(err)
	}
	if chdirLater {
		if err := unix.Chdir(ws.Cwd); err != nil {
			return setupError(fmt.Errorf("working directory: %w", &fs.PathError{Op: "chdir", Path: ws.Cwd, Err: err}))
		}
	}
	if err := verifyCwd(); err != nil {
		return setupError(err)
	}
	// A filter loaded without no_new_privs needs CAP_SYS_ADMIN in the
	// effective set at that moment. It is not in the bounding set unless
	// asked for, so execve takes it away again.
	effective := capMask
	if len(ws.Seccomp) > 0 && !ws.NoNewPrivileges {
		effective |= 1 << unix.CAP_SYS_ADMIN
	}
	if err := setCaps(capMask|effective, effective); err != nil {
		return setupError(err)
	}
	if ws.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return setupError(os.NewSyscallError("prctl(PR_SET_NO_NEW_PRIVS)", err))
		}
	}
	name := ws.Args[0]
	if strings.Contains(name, "/") && !path.IsAbs(name) {
		name = path.Join(ws.Cwd, name)
	}
	exe, err := process.LookPath("/", name, ws.Env)
	if err != nil {
		return process.ExecError(ws.Args[0], err)
	}
	if ws.PidsLimit > 0 {
		// Only now is this process all of the container's cgroup: its Go
		// threads end with the execve below, the init has left.
		if _, err := unix.Write(PidsFD, []byte(strconv.FormatInt(ws.PidsLimit, 10))); err != nil {
			return setupError(fmt.Errorf("set the pids limit: %w", os.NewSyscallError("write", err)))
		}
	}
	if err := closeExtraFDs(); err != nil {
		return setupError(err)
	}
	// Last: the filter then governs only execve and the Go runtime's own
	// calls, never the setup above.
	if len(ws.Seccomp) > 0 {
		if err := seccomp.Install(ws.Seccomp); err != nil {
			return setupError(err)
		}
	}
	err = syscall.Exec(exe, ws.Args, ws.Env)
	return process.ExecError(exe, &fs.PathError{Op: "exec", Path: exe, Err: err})
}

// readSpec decodes the workload spec from ConfigFD and closes it.
func readSpec() (workloadSpec, error) {
	var ws workloadSpec
	f := os.NewFile(ConfigFD, "workload-spec")
	if f == nil {
		return ws, fmt.Errorf("no workload spec on fd %d", ConfigFD)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ws); err != nil {
		return ws, fmt.Errorf("read workload spec: %w", err)
	}
	return ws, nil
}

// capabilityNumbers maps capability names to their numbers
// (include/uapi/linux/capability.h).
func capabilityNumbers() map[string]uint {
	return map[string]uint{
		"CAP_CHOWN": unix.CAP_CHOWN, "CAP_DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE,
		"CAP_DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH, "CAP_FOWNER": unix.CAP_FOWNER,
		"CAP_FSETID": unix.CAP_FSETID, "CAP_KILL": unix.CAP_KILL, "CAP_SETGID": unix.CAP_SETGID,
		"CAP_SETUID": unix.CAP_SETUID, "CAP_SETPCAP": unix.CAP_SETPCAP,
		"CAP_LINUX_IMMUTABLE": unix.CAP_LINUX_IMMUTABLE, "CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE,
		"CAP_NET_BROADCAST": unix.CAP_NET_BROADCAST, "CAP_NET_ADMIN": unix.CAP_NET_ADMIN,
		"CAP_NET_RAW": unix.CAP_NET_RAW, "CAP_IPC_LOCK": unix.CAP_IPC_LOCK, "CAP_IPC_OWNER": unix.CAP_IPC_OWNER,
		"CAP_SYS_MODULE": unix.CAP_SYS_MODULE, "CAP_SYS_RAWIO": unix.CAP_SYS_RAWIO,
		"CAP_SYS_CHROOT": unix.CAP_SYS_CHROOT, "CAP_SYS_PTRACE": unix.CAP_SYS_PTRACE,
		"CAP_SYS_PACCT": unix.CAP_SYS_PACCT, "CAP_SYS_ADMIN": unix.CAP_SYS_ADMIN,
		"CAP_SYS_BOOT": unix.CAP_SYS_BOOT, "CAP_SYS_NICE": unix.CAP_SYS_NICE,
		"CAP_SYS_RESOURCE": unix.CAP_SYS_RESOURCE, "CAP_SYS_TIME": unix.CAP_SYS_TIME,
		"CAP_SYS_TTY_CONFIG": unix.CAP_SYS_TTY_CONFIG, "CAP_MKNOD": unix.CAP_MKNOD,
		"CAP_LEASE": unix.CAP_LEASE, "CAP_AUDIT_WRITE": unix.CAP_AUDIT_WRITE,
		"CAP_AUDIT_CONTROL": unix.CAP_AUDIT_CONTROL, "CAP_SETFCAP": unix.CAP_SETFCAP,
		"CAP_MAC_OVERRIDE": unix.CAP_MAC_OVERRIDE, "CAP_MAC_ADMIN": unix.CAP_MAC_ADMIN,
		"CAP_SYSLOG": unix.CAP_SYSLOG, "CAP_WAKE_ALARM": unix.CAP_WAKE_ALARM,
		"CAP_BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND, "CAP_AUDIT_READ": unix.CAP_AUDIT_READ,
		"CAP_PERFMON": unix.CAP_PERFMON, "CAP_BPF": unix.CAP_BPF,
		"CAP_CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
	}
}

// capabilityMask turns names ("CAP_CHOWN" or "chown") into a bit mask. An
// unknown name is an error: process.Capabilities has validated the list, so
// one here means a mismatch between berth's tables, not user input.
func capabilityMask(names []string) (uint64, error) {
	nums := capabilityNumbers()
	var mask uint64
	for _, n := range names {
		key := strings.ToUpper(n)
		if !strings.HasPrefix(key, "CAP_") {
			key = "CAP_" + key
		}
		c, ok := nums[key]
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		mask |= 1 << c
	}
	return mask, nil
}

// dropBounding removes every capability not in keep from the bounding set
// (which needs CAP_SETPCAP, so before the user switch) and clears the
// ambient set.
func dropBounding(keep uint64) error {
	last, err := process.LastCap()
	if err != nil {
		return err
	}
	for c := 0; c <= last && c < 64; c++ {
		if keep&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, os.NewSyscallError("prctl(PR_CAPBSET_DROP)", err))
		}
	}
	// EINVAL: a kernel without ambient capabilities, where there is
	// nothing to clear.
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return os.NewSyscallError("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", err)
	}
	return nil
}

// setUser switches to the workload's user, keeping the permitted set
// across setresuid (PR_SET_KEEPCAPS) so that setCaps can then pick the
// exact sets. Go's Setgroups/Setresgid/Setresuid change every thread.
func setUser(u process.User) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_KEEPCAPS)", err)
	}
	gids := make([]int, len(u.AdditionalGids))
	for i, g := range u.AdditionalGids {
		gids[i] = int(g)
	}
	if err := syscall.Setgroups(gids); err != nil {
		return fmt.Errorf("setgroups %v: %w", gids, os.NewSyscallError("setgroups", err))
	}
	if err := syscall.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("setresgid %d: %w", u.GID, os.NewSyscallError("setresgid", err))
	}
	if err := syscall.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("setresuid %d: %w", u.UID, os.NewSyscallError("setresuid", err))
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_KEEPCAPS)", err)
	}
	return nil
}

// setCaps sets this thread's permitted and effective sets and empties the
// inheritable set, with capset(2) version 3 (64 bits in two words).
func setCaps(permitted, effective uint64) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		data[i].Permitted = uint32(permitted >> (32 * i))
		data[i].Effective = uint32(effective >> (32 * i))
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set capabilities (permitted %#x, effective %#x): %w", permitted, effective, os.NewSyscallError("capset", err))
	}
	return nil
}

// verifyCwd refuses a working directory outside the root (CVE-2024-21626):
// getcwd fails with ENOENT, or answers "(unreachable)...", for a cwd that
// the root cannot reach.
func verifyCwd() error {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Getcwd(buf)
	if err != nil {
		return fmt.Errorf("working directory outside the container (possible breakout): %w", os.NewSyscallError("getcwd", err))
	}
	cwd := strings.TrimRight(string(buf[:n]), "\x00")
	if !path.IsAbs(cwd) {
		return fmt.Errorf("working directory %q is not inside the container (possible breakout)", cwd)
	}
	return nil
}

// closeExtraFDs marks every descriptor above stderr close-on-exec: no
// descriptor of berth's (the spec pipe, the Go runtime's epoll and pidfds)
// may reach the workload. CLOEXEC rather than closing, since the Go runtime
// still uses some until execve.
func closeExtraFDs() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return os.NewSyscallError("close_range", err)
	}
	// Kernels before 5.11: walk /proc/self/fd.
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		unix.CloseOnExec(fd)
	}
	return nil
}
