package pid1

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/memtrim"
	"github.com/berth-sh/berth/runtime/process"
	"github.com/berth-sh/berth/runtime/rootfs"
)

// initialPIDNamespaceInode is PROC_PID_INIT_INO (include/linux/proc_ns.h):
// the host's PID namespace always has this nsfs inode number.
const initialPIDNamespaceInode = 0xEFFFFFFC

// reapInterval bounds how long a zombie can wait for the init when SIGCHLD
// notifications were coalesced or dropped by a full signal channel.
const reapInterval = time.Second

// Main is the init mode's entry point: it reads the Config on ConfigFD,
// closes that descriptor and runs the container. It returns the status to
// exit with.
func Main() int {
	f := os.NewFile(ConfigFD, "berth-init-config")
	if f == nil {
		fmt.Fprintf(os.Stderr, "berth init: no config on fd %d\n", ConfigFD)
		return process.ExitStartFailed
	}
	cfg, err := ReadConfig(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth init: %v\n", err)
		return process.ExitStartFailed
	}
	return Run(cfg)
}

// Run builds the container from cfg and runs its workload as PID 1 would:
// see the package doc for the steps. It returns the workload's exit status
// (its code, or 128+signal), or 128 with a message on stderr when the
// container could not be set up. It must be called as PID 1 of a new PID
// namespace, in new mount, UTS and IPC namespaces.
func Run(cfg Config) int {
	code, err := run(&cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth init: %v\n", err)
		return process.ExitStartFailed
	}
	return code
}

func run(cfg *Config) (int, error) {
	// The cgroup namespace unshared below belongs to this thread only, and
	// the mounts and the workload's fork must happen from it.
	goruntime.LockOSThread()
	if err := checkPIDNamespace(); err != nil {
		return 0, err
	}
	// Inherited descriptors (the control socket, the memfd the init runs
	// from) must not reach the workload-exec child.
	_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	ctl := openControl()
	if cfg.Tty && ctl == nil {
		return 0, errors.New("pid1: a tty needs the monitor's control socket")
	}
	// A cgroup namespace of its own, rooted at the cgroup the monitor put
	// the init in before sending the config: created any earlier (with the
	// clone), it would be rooted at the monitor's cgroup on hosts where the
	// init is moved into its cgroup after the clone (v1, hybrid).
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return 0, fmt.Errorf("pid1: %w", os.NewSyscallError("unshare(CLONE_NEWCGROUP)", err))
	}
	// Nothing in the container may open /proc/1/exe (berth's binary) or
	// /proc/1/fd; non-dumpable makes those root-owned and ptrace-checked, and
	// the default capabilities have no CAP_SYS_PTRACE.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("pid1: prctl(PR_SET_DUMPABLE): %w", os.NewSyscallError("prctl", err))
	}
	// Before the workload exists, so that no signal for it is lost; a
	// registered handler is also what makes the kernel deliver signals sent
	// from inside the namespace to its PID 1.
	sigs := make(chan os.Signal, 128)
	signal.Notify(sigs)
	defer signal.Stop(sigs)

	if err := writeSysctls(cfg.Sysctls, cfg.HostNetwork); err != nil {
		return 0, err
	}
	spec := cfg.Rootfs
	if cfg.Hostname != "" {
		spec.Hostname = cfg.Hostname
	}
	if err := rootfs.Prepare(spec); err != nil {
		return 0, fmt.Errorf("pid1: prepare rootfs: %w", err)
	}
	ws := cfg.workload()
	if !path.IsAbs(ws.Cwd) {
		return 0, fmt.Errorf("pid1: working directory %q is not absolute", ws.Cwd)
	}
	ws.Cwd = path.Clean(ws.Cwd)
	// After pivot_root "/" is the container's root and the process holds no
	// descriptor or cwd outside it, so MkdirAll cannot be led out of it.
	if err := os.MkdirAll(ws.Cwd, 0o755); err != nil {
		return 0, fmt.Errorf("pid1: create working directory: %w", err)
	}
	stdio := []uintptr{0, 1, 2}
	var slave *os.File
	if cfg.Tty {
		master, s, err := openPty(cfg.ConsoleSize)
		if err != nil {
			return 0, err
		}
		err = ctl.send(Message{Pty: true}, master)
		master.Close()
		if err != nil {
			s.Close()
			return 0, err
		}
		slave = s
		stdio = []uintptr{slave.Fd(), slave.Fd(), slave.Fd()}
	}
	sess := sameSession
	if cfg.Tty {
		sess = withTerminal
	}
	// The workload is born in the init's cgroup, the container's; before it
	// may run, the monitor moves the init out of it (see Message.Leave).
	var leave func(int) error
	if ctl != nil {
		leave = func(int) error {
			r, err := ctl.request(Message{Leave: true})
			if err == nil && !r.Left {
				err = fmt.Errorf("pid1: leave the container's cgroup: %s", r.Error)
			}
			return err
		}
	}
	if cfg.PidsLimit > 0 {
		ws.PidsLimit = cfg.PidsLimit
	}
	child, status, err := startWorkload(&ws, stdio, sess, leave)
	if slave != nil {
		slave.Close()
	}
	if err != nil {
		return 0, err
	}
	msg, err := readStatus(status)
	status.Close()
	if err != nil {
		msg = Message{Error: err.Error(), ExitCode: process.ExitStartFailed}
	}
	switch {
	case ctl != nil:
		if err := ctl.send(msg); err != nil {
			fmt.Fprintf(os.Stderr, "berth init: %v\n", err)
		}
	case msg.Error != "":
		// Nobody to report to: the message goes where the workload's
		// output would have.
		fmt.Fprintln(os.Stderr, msg.Error)
	}
	// PID 1 lives as long as the container: once it has run a while, only
	// the pages it uses stay resident (short-lived containers skip the cost
	// of faulting back the pages their teardown needs).
	trim := time.AfterFunc(memtrim.Delay, memtrim.Text)
	defer trim.Stop()
	sv := &supervisor{cfg: cfg, ctl: ctl, child: child, execs: map[int]int{}, pids: map[int]int{}}
	if ctl != nil {
		sv.requests = ctl.receive()
	}
	return sv.run(sigs), nil
}

// checkPIDNamespace refuses to act as a container's init anywhere but as
// PID 1 of a PID namespace other than the host's: Run kills every process it
// can see when the workload ends.
func checkPIDNamespace() error {
	if os.Getpid() != 1 {
		return fmt.Errorf("pid1: refusing to run as pid %d: the init must be PID 1 of a new PID namespace", os.Getpid())
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return fmt.Errorf("pid1: cannot check the PID namespace: %w", &os.PathError{Op: "stat", Path: "/proc/self/ns/pid", Err: err})
	}
	if st.Ino == initialPIDNamespaceInode {
		return errors.New("pid1: refusing to run in the host's PID namespace")
	}
	return nil
}

// writeSysctls writes sysctls through /proc/sys, which is still the host's
// procfs mount (writable) but acts on the caller's namespaces. Keys are
// checked against the namespaces actually in use: compared with /proc/1,
// which is the host's init as long as /proc is the host's.
func writeSysctls(sysctls map[string]string, hostNet bool) error {
	if len(sysctls) == 0 {
		return nil
	}
	if !hostNet {
		// The initial namespace or /proc/1's; not the parent's (see
		// Config.HostNetwork).
		whose, err := rootfs.HostNamespaceOf("net", false)
		if err != nil && !errors.Is(err, rootfs.ErrCannotTell) {
			return fmt.Errorf("pid1: cannot check the net namespace: %w", err)
		}
		hostNet = whose != ""
	}
	hostIPC, err := sameNamespace("ipc")
	if err != nil {
		return err
	}
	if err := process.CheckSysctlsIn(sysctls, process.Namespaces{HostNetwork: hostNet, HostIPC: hostIPC}); err != nil {
		return fmt.Errorf("pid1: %w", err)
	}
	for key, val := range sysctls {
		// runc's rule: in the "/" form a dot belongs to a name (eth0.100).
		rel := key
		if !strings.Contains(key, "/") {
			rel = strings.ReplaceAll(key, ".", "/")
		}
		p := "/proc/sys/" + rel
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return fmt.Errorf("pid1: sysctl %s: %w", key, err)
		}
		_, err = f.WriteString(val)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("pid1: sysctl %s=%s: %w", key, val, err)
		}
	}
	return nil
}

// sameNamespace reports whether the init's kind namespace counts as the
// host's (rootfs.HostNamespace: the initial one, the host's init's or the
// parent's). When nothing could be compared it says no: this is a second
// line of defence, and the caller, which knows the service's network_mode
// and ipc, checks the keys first.
func sameNamespace(kind string) (bool, error) {
	whose, err := rootfs.HostNamespace(kind)
	switch {
	case errors.Is(err, rootfs.ErrCannotTell):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("pid1: cannot check the %s namespace: %w", kind, err)
	}
	return whose != "", nil
}

// session is how a started process relates to the init's session.
type session int

const (
	sameSession  session = iota // the workload without a tty
	newSession                  // an exec: its process group is killed with it
	withTerminal                // a tty on fd 0 becomes its controlling terminal
)

// startWorkload re-executes berth in workload-exec mode as the init's child
// with stdio as its fds 0-2 (a tty becomes its controlling terminal, in a
// session of its own), hands it ws on a pipe at ConfigFD and returns the
// read end of its status pipe (StatusFD). syscall.ForkExec rather than
// os/exec: the init reaps with wait4(-1), and os.Process would hold a pidfd
// and race for the same status.
func startWorkload(ws *workloadSpec, stdio []uintptr, s session, place func(pid int) error) (int, *os.File, error) {
	data, err := json.Marshal(ws)
	if err != nil {
		return 0, nil, fmt.Errorf("pid1: encode workload spec: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, nil, fmt.Errorf("pid1: workload spec pipe: %w", err)
	}
	defer r.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		w.Close()
		return 0, nil, fmt.Errorf("pid1: workload status pipe: %w", err)
	}
	defer statusW.Close()
	sys := &syscall.SysProcAttr{}
	switch s {
	case newSession:
		sys.Setsid = true
	case withTerminal:
		sys.Setsid, sys.Setctty, sys.Ctty = true, true, 0
	}
	// /proc/self/exe is the binary the init runs from (a sealed memfd when
	// started by the monitor); it stays reachable after pivot_root since
	// the link does not go through the mount tree.
	files := append(stdio, r.Fd(), statusW.Fd())
	if ws.PidsLimit > 0 {
		files = append(files, PidsFD)
	}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"berth", WorkloadExecArg}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   []string{},
		Files: files,
		Sys:   sys,
	})
	if err != nil {
		w.Close()
		statusR.Close()
		return 0, nil, fmt.Errorf("pid1: start workload: %w", &os.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: err})
	}
	// The child waits for its spec: nothing of the workload runs before it
	// is where it belongs.
	if place != nil {
		if err := place(pid); err != nil {
			w.Close()
			statusR.Close()
			_ = unix.Kill(pid, unix.SIGKILL)
			return 0, nil, err
		}
	}
	// A goroutine, since a spec larger than the pipe buffer would block
	// until the child reads it; errors show up as the child's failure.
	go func() {
		_, _ = w.Write(data)
		w.Close()
	}()
	return pid, statusR, nil
}

// supervisor is PID 1's state: the workload, the exec sessions it runs
// for the monitor, and the monitor's requests.
type supervisor struct {
	cfg      *Config
	ctl      *control
	child    int
	requests <-chan received
	// pending are requests that arrived while waiting for a Placed reply.
	pending []received
	execs   map[int]int // pid -> exec id
	pids    map[int]int // exec id -> pid
}

// place asks the monitor to put pid, just started for exec id, into the
// container's cgroup (the init lives outside it), and waits for the answer.
func (sv *supervisor) place(id, pid int) error {
	if err := sv.ctl.sendAbout(Message{ExecID: id, Place: pid}, pid); err != nil {
		return err
	}
	for r := range sv.requests {
		switch {
		case r.msg.ExecID == id && r.msg.Placed:
			closeFiles(r.files)
			return nil
		case r.msg.ExecID == id && r.msg.Error != "":
			closeFiles(r.files)
			return fmt.Errorf("exec: place the process in the container's cgroup: %s", r.msg.Error)
		default:
			sv.pending = append(sv.pending, r)
		}
	}
	sv.requests = nil
	return errors.New("exec: the monitor is gone")
}

// run is PID 1's loop: reap, forward signals, serve exec requests, and once
// the workload is gone kill and reap the rest (exec sessions included). It
// returns the workload's exit status. It runs on the init's locked main
// thread, so that every process it starts is in the container's cgroup
// namespace.
func (sv *supervisor) run(sigs <-chan os.Signal) int {
	ticker := time.NewTicker(reapInterval)
	defer ticker.Stop()
	status, done := sv.reap()
	for !done {
		if len(sv.pending) > 0 {
			r := sv.pending[0]
			sv.pending = sv.pending[1:]
			sv.handle(r)
			continue
		}
		select {
		case sig := <-sigs:
			s, ok := sig.(syscall.Signal)
			switch {
			case !ok:
			case s == unix.SIGCHLD:
				status, done = sv.reap()
			case s == unix.SIGURG:
				// The Go runtime's preemption signal, also sent to
				// ourselves; never the workload's business.
			default:
				// ESRCH: the workload just exited; its SIGCHLD follows.
				_ = unix.Kill(sv.child, s)
			}
		case r, ok := <-sv.requests:
			if !ok {
				sv.requests = nil // the monitor is gone; PDEATHSIG follows
				continue
			}
			sv.handle(r)
		case <-ticker.C:
			status, done = sv.reap()
		}
	}
	killAll()
	return status
}

// reap collects every exited child without blocking, tells the monitor
// about exec sessions that ended, and reports the workload's exit status
// once it has been collected.
func (sv *supervisor) reap() (status int, done bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return status, done
		}
		if !ws.Exited() && !ws.Signaled() {
			continue
		}
		if pid == sv.child {
			status, done = process.ExitCode(ws), true
		}
		if id, ok := sv.execs[pid]; ok {
			delete(sv.execs, pid)
			delete(sv.pids, id)
			sv.report(Message{ExecID: id, Exited: true, ExitCode: process.ExitCode(ws)})
		}
	}
}

func (sv *supervisor) report(m Message, files ...*os.File) {
	if err := sv.ctl.send(m, files...); err != nil {
		fmt.Fprintf(os.Stderr, "berth init: %v\n", err)
	}
}

// handle serves one request of the monitor.
func (sv *supervisor) handle(r received) {
	defer closeFiles(r.files)
	switch {
	case r.msg.Exec != nil && r.msg.ExecID > 0:
		if err := sv.startExec(r.msg.ExecID, r.msg.Exec, r.files); err != nil {
			sv.report(Message{ExecID: r.msg.ExecID, Error: err.Error(), ExitCode: process.ExitStartFailed})
		}
	case r.msg.Kill:
		if pid, ok := sv.pids[r.msg.ExecID]; ok {
			// The exec runs in a session of its own: its whole group goes.
			_ = unix.Kill(-pid, unix.SIGKILL)
		}
	}
}

// startExec starts an exec session as the workload is started: through
// workload-exec, with the container's capabilities (all with Privileged),
// seccomp filter, no_new_privs and rlimits, and the request's user,
// working directory, environment and stdio or tty.
func (sv *supervisor) startExec(id int, req *ExecRequest, files []*os.File) error {
	ws := sv.cfg.workload()
	ws.Args, ws.Env, ws.User = req.Args, req.Env, req.User
	ws.Cwd = "/"
	if req.Cwd != "" {
		ws.Cwd = path.Clean(req.Cwd)
	}
	if !path.IsAbs(ws.Cwd) {
		return fmt.Errorf("exec: working directory %q is not absolute", req.Cwd)
	}
	if req.Privileged {
		caps, err := process.Capabilities(nil, nil, true)
		if err != nil {
			return fmt.Errorf("exec: %w", err)
		}
		ws.Capabilities = caps
	}
	var stdio []uintptr
	sess := newSession
	if req.Tty {
		master, slave, err := openPty(req.ConsoleSize)
		if err != nil {
			return err
		}
		defer slave.Close()
		err = sv.ctl.send(Message{ExecID: id, Pty: true}, master)
		master.Close()
		if err != nil {
			return err
		}
		stdio, sess = []uintptr{slave.Fd(), slave.Fd(), slave.Fd()}, withTerminal
	} else {
		if len(files) != 3 {
			return fmt.Errorf("exec: %d stdio descriptors passed, want 3", len(files))
		}
		stdio = []uintptr{files[0].Fd(), files[1].Fd(), files[2].Fd()}
	}
	pid, status, err := startWorkload(&ws, stdio, sess, func(pid int) error { return sv.place(id, pid) })
	if err != nil {
		return err
	}
	msg, err := readStatus(status)
	status.Close()
	if err != nil {
		msg = Message{Error: err.Error(), ExitCode: process.ExitStartFailed}
	}
	msg.ExecID = id
	if msg.Error == "" {
		sv.execs[pid], sv.pids[id] = id, pid
	}
	// A failed one exits by itself and is reaped without a report.
	sv.report(msg)
	return nil
}

// killAll SIGKILLs every other process of the PID namespace (kill(-1) from
// its PID 1 reaches exactly those) and reaps them, so that the container is
// gone when Run returns, as it would be once PID 1 exits anyway.
func killAll() {
	_ = unix.Kill(-1, unix.SIGKILL)
	for {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
	}
}
