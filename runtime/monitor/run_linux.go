package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/events"
	"github.com/berth-sh/berth/internal/memtrim"
	"github.com/berth-sh/berth/internal/scm"
	"github.com/berth-sh/berth/network/firewall"
	"github.com/berth-sh/berth/network/resolver"
	"github.com/berth-sh/berth/runtime/cgroup"
	"github.com/berth-sh/berth/runtime/jsonlog"
	"github.com/berth-sh/berth/runtime/pid1"
)

// initEnv is the init's environment (the workload's is in its config): one
// P keeps the Go runtime's threads, which count against the container's
// pids limit and memory, few; GC at a smaller heap keeps its memory low.
var initEnv = []string{"GOMAXPROCS=1", "GOGC=50"}

const (
	// Docker's restart backoff (moby's restartmanager).
	restartFirstDelay = 100 * time.Millisecond
	restartMaxDelay   = time.Minute
	restartResetAfter = 10 * time.Second
	// requestTimeout bounds how long a client may take to send its request.
	requestTimeout = 10 * time.Second
	// attachWait bounds how long an exited container's monitor waits for
	// the client that started it with AttachReplay to attach.
	attachWait = 30 * time.Second
)

// RunMonitor is the monitor mode's entry point (argv[1] == MonitorArg):
// main.go calls os.Exit(RunMonitor(os.Args[2])). It returns once the
// container has exited and its exit is recorded: 0, or 1 when the
// container could not be started (the reason is in state.json).
func RunMonitor(bundle string) int {
	var rep *os.File
	if fd, err := strconv.Atoi(os.Getenv(reportEnv)); err == nil && fd > 2 {
		rep = os.NewFile(uintptr(fd), "berth-monitor-report")
	}
	if os.Getenv(detachEnv) == "1" {
		return detach(bundle, rep)
	}
	// Published ports stay reserved as long as this process lives.
	held := heldFiles()
	defer func() {
		for _, f := range held {
			f.Close()
		}
	}()
	if rep != nil {
		defer rep.Close()
	}
	spec, err := readSpec(bundle)
	if err != nil {
		sendReport(rep, report{State: State{Status: StatusExited, Error: err.Error()}, Error: err.Error()})
		return 1
	}
	m := &monitor{spec: spec, held: held, exited: make(chan struct{}), done: make(chan struct{}), stopped: make(chan struct{}), hub: newHub(spec.AttachReplay)}
	code := m.run(rep)
	if code == 0 && len(spec.OnExit) > 0 && !m.handedOver.Load() {
		// In place of the monitor, so that nothing calls it alive any more.
		err := syscall.Exec(spec.OnExit[0], spec.OnExit, monitorEnv())
		fmt.Fprintf(os.Stderr, "berth monitor: run %s: %v\n", spec.OnExit[0], err)
		return 1
	}
	return code
}

// detach is stage 1: start the monitor proper and exit, so that it is
// reparented away from the CLI and is not a session leader.
func detach(bundle string, rep *os.File) int {
	held := heldFiles()
	cmd := exec.Command("/proc/self/exe", MonitorArg, bundle)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(monitorEnv(), reportEnv+"="+strconv.Itoa(reportFD), heldEnv+"="+strconv.Itoa(len(held)))
	cmd.ExtraFiles = append([]*os.File{rep}, held...)
	if err := cmd.Start(); err != nil {
		msg := fmt.Sprintf("monitor: start: %v", err)
		sendReport(rep, report{State: State{Status: StatusExited, Error: msg}, Error: msg})
		return 1
	}
	return 0
}

// heldFiles are the descriptors Start passed after the report pipe, marked
// close-on-exec: no process the monitor starts (the init, berth rm) may
// inherit them.
func heldFiles() []*os.File {
	n, _ := strconv.Atoi(os.Getenv(heldEnv))
	var out []*os.File
	for i := range n {
		fd := reportFD + 1 + i
		unix.CloseOnExec(fd)
		out = append(out, os.NewFile(uintptr(fd), "held"))
	}
	return out
}

func sendReport(f *os.File, r report) {
	if f == nil {
		return
	}
	b, _ := json.Marshal(r)
	_, _ = f.Write(append(b, '\n'))
}

// monitor is the state of one monitor process.
type monitor struct {
	spec Spec
	cg   *cgroup.Cgroup
	// held are the published ports' sockets, let go when the container
	// ends for good.
	held []*os.File

	mu     sync.Mutex
	state  State
	pid    int
	exited chan struct{} // closed, under mu, once the init has exited (not yet reaped)
	done   chan struct{} // closed once the exit is recorded in state.json

	hub *hub
	// link talks to the init of the current run (exec sessions).
	link *initLink
	// health runs the healthcheck of the current run.
	health healthChecker
	// userStopped: a stop or kill by the user; no restart follows. stopped
	// is closed with it, ending a restart's wait.
	userStopped atomic.Bool
	stopped     chan struct{}
	stopOnce    sync.Once
	// backoff is the restart policy's current delay.
	backoff time.Duration
	// dns is the container's DNS server, once it has one; dnsTable its
	// names. Guarded by mu.
	dns      *resolver.Server
	dnsTable *resolver.Table
	// handedOver: OnExit is not run, because an attached client that asked
	// for it (docker run --rm in the foreground) received the exit and does
	// the work itself, or because a restart stopped the container.
	handedOver atomic.Bool
}

func (m *monitor) setState(f func(*State)) State {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.state)
	// A failed write leaves the previous state on disk; there is nobody to
	// tell but the state itself.
	if err := writeJSONAtomic(filepath.Join(m.spec.Bundle, stateFile), m.state); err != nil && m.state.Error == "" {
		m.state.Error = fmt.Sprintf("monitor: write state: %v", err)
	}
	return m.state
}

func (m *monitor) getState() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// fail records a start failure and reports it.
func (m *monitor) fail(rep *os.File, err error) int {
	return m.failWith(rep, err, -1)
}

// failWith records a start failure with the exit code the container ends
// with (127 for a command not found, as Docker's).
func (m *monitor) failWith(rep *os.File, err error, code int) int {
	st := m.setState(func(s *State) {
		s.Status = StatusExited
		s.ExitCode = code
		s.Error = err.Error()
		s.FinishedAt = time.Now().UTC()
	})
	sendReport(rep, report{State: st, Error: err.Error()})
	return 1
}

type waitResult struct {
	status syscall.WaitStatus
	err    error
}

func (m *monitor) run(rep *os.File) int {
	// SIGPIPE: a client that hangs up must not kill the monitor. SIGHUP
	// and SIGINT: the monitor has no terminal and only stops on request.
	signal.Ignore(syscall.SIGPIPE, syscall.SIGHUP, syscall.SIGINT)
	// SIGTERM (a host shutdown) stops the container as `stop` would.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)
	// The OOM killer must pick the container's processes, never the
	// process that records their fate (conmon does the same).
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte("-1000"), 0)

	m.setState(func(s *State) { s.Status = StatusCreated; s.MonitorPid = os.Getpid() })

	logw, err := jsonlog.NewWriter(filepath.Join(m.spec.Bundle, m.spec.ID+"-json.log"), m.spec.Log)
	if err != nil {
		return m.fail(rep, fmt.Errorf("monitor: %w", err))
	}
	defer logw.Close()

	sock := socketPath(m.spec.RunDir)
	_ = os.Remove(sock) // a stale socket of a dead monitor
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return m.fail(rep, fmt.Errorf("monitor: listen: %w", err))
	}
	// Listen creates it with the umask; only root may drive the container.
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return m.fail(rep, fmt.Errorf("monitor: %w", err))
	}

	if m.spec.DNS != nil {
		if err := m.startDNS(m.spec.DNS); err != nil {
			ln.Close()
			return m.fail(rep, err)
		}
	}
	defer m.stopDNS()

	var conns sync.WaitGroup
	served := make(chan struct{})
	first := true
	var res runResult
	for {
		res = m.runOnce(logw, func() {
			if !first {
				return
			}
			// The workload runs: tell Start, then serve the CLI.
			sendReport(rep, report{State: m.getState()})
			rep.Close()
			// Start-up is over: once the container has run a while, only
			// the pages used stay.
			trim := time.AfterFunc(memtrim.Delay, memtrim.Text)
			go func() {
				<-m.done
				trim.Stop()
			}()
			go func() {
				defer close(served)
				m.serve(ln, &conns)
			}()
			go func() {
				if _, ok := <-term; ok {
					conns.Add(1)
					go m.stopAsync(&conns)
				}
			}()
		})
		if res.startErr != nil && first {
			ln.Close()
			return m.failWith(rep, res.startErr, res.startCode)
		}
		first = false
		delay, again := m.restartDelay(res)
		if !again {
			break
		}
		m.setState(func(s *State) { s.Status = StatusRestarting })
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-m.stopped:
		}
		t.Stop()
		if m.userStopped.Load() {
			break
		}
		m.setState(func(s *State) { s.RestartCount++ })
	}
	if err := logw.Close(); err != nil && res.errMsg == "" {
		res.errMsg = err.Error()
	}
	if m.spec.Unpublish {
		// Before the exit is recorded, so that a start that follows (a
		// restart) publishes after this; a failure leaves the rules to
		// the next start, rm or system gc.
		_ = firewall.RemovePorts(m.spec.ID)
	}
	// The ports are free once the container has exited, as with Docker.
	for _, f := range m.held {
		f.Close()
	}
	final := m.setState(func(s *State) {
		s.Status = StatusExited
		if res.startErr == nil {
			s.ExitCode, s.OOMKilled, s.FinishedAt, s.Error = res.code, res.oom, res.finished, res.errMsg
		}
	})
	close(m.done)
	m.hub.finish(final)
	if m.spec.AttachReplay {
		// The client that started the container attaches right after the
		// start; a short-lived container must not be gone by then.
		t := time.NewTimer(attachWait)
		select {
		case <-m.hub.attached:
		case <-t.C:
		}
		t.Stop()
	}
	ln.Close() // also unlinks the socket
	<-served
	conns.Wait()
	return 0
}

// runResult is how one run of the container ended.
type runResult struct {
	// startErr: the run never started (startCode is its exit code).
	startErr  error
	startCode int
	code      int
	oom       bool
	started   time.Time
	finished  time.Time
	errMsg    string
}

// runOnce runs the container once: a fresh cgroup, stdio and init, which
// it waits for and tears down. running is called once the workload runs.
// The exit is recorded in the state (status exited).
func (m *monitor) runOnce(logw *jsonlog.Writer, running func()) runResult {
	fail := func(err error, code int) runResult {
		m.setState(func(s *State) {
			s.Status = StatusExited
			s.ExitCode = code
			s.Error = err.Error()
			s.FinishedAt = time.Now().UTC()
		})
		return runResult{startErr: err, startCode: code}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	cg, err := cgroup.Create(ctx, m.spec.ID, startupResources(m.spec.Cgroup))
	cancel()
	if err != nil {
		return fail(fmt.Errorf("monitor: %w", err), -1)
	}
	ctx, cancel = context.WithTimeout(context.Background(), cleanupTimeout)
	icg, err := cgroup.Create(ctx, initCgroupName(m.spec.ID), cgroup.Resources{})
	cancel()
	if err != nil {
		_ = cg.Delete()
		return fail(fmt.Errorf("monitor: %w", err), -1)
	}
	m.mu.Lock()
	m.cg, m.pid, m.exited = cg, 0, make(chan struct{})
	m.mu.Unlock()
	defer func() { _ = cg.Delete() }() // for the failure paths; a no-op once deleted
	defer func() { _ = icg.Delete() }()

	p, err := newInitPipes(m.spec.Stdin && !m.spec.Init.Tty)
	if err != nil {
		return fail(fmt.Errorf("monitor: %w", err), -1)
	}
	m.hub.begin()
	if p.stdinW != nil {
		m.hub.setStdin(p.stdinW, false, m.spec.StdinOnce)
	}

	started := make(chan error, 1)
	waited := make(chan waitResult, 1)
	go m.startAndWait(p, started, waited)
	err = <-started
	p.closeChildEnds()

	// The log copiers end at EOF, which comes when the last process of
	// the container holding the pipes (or the pty) is gone.
	var copiers sync.WaitGroup
	copyOut := func(name string, r *os.File) {
		copiers.Add(1)
		go func() {
			defer copiers.Done()
			defer r.Close()
			m.copyOutput(logw.Stream(name), name, r)
		}()
	}
	copyOut("stdout", p.stdoutR)
	copyOut("stderr", p.stderrR)

	startCode := -1
	if err == nil {
		err = m.prepare()
		if err == nil {
			cfg := m.spec.Init
			cfg.PidsLimit = m.spec.Cgroup.PidsLimit
			err = json.NewEncoder(p.cfgW).Encode(cfg)
			if err != nil {
				err = fmt.Errorf("monitor: send config to the init: %w", err)
			}
		}
		p.cfgW.Close()
		if err == nil {
			var master *os.File
			master, startCode, err = m.awaitStart(p.ctl, icg)
			if master != nil {
				m.hub.setStdin(master, true, false)
				copyOut("stdout", master)
			}
		}
		if err != nil {
			m.signal(syscall.SIGKILL)
		}
	} else {
		p.cfgW.Close()
	}
	if err != nil {
		<-waited // the init was never started, or is being SIGKILLed
		m.cleanupCgroup()
		p.ctl.Close()
		m.hub.closeStdin()
		copiers.Wait()
		return fail(err, startCode)
	}
	link := newInitLink(p.ctl, m.placeInContainer)
	linkDone := make(chan struct{})
	go func() {
		defer close(linkDone)
		link.dispatch()
	}()
	startedAt := time.Now().UTC()
	m.mu.Lock()
	m.link = link
	m.mu.Unlock()
	m.setState(func(s *State) {
		s.Status, s.StartedAt = StatusRunning, startedAt
		s.ExitCode, s.Error, s.OOMKilled, s.FinishedAt = 0, "", false, time.Time{}
	})
	m.health.begin(m)
	m.event("start")
	running()
	if m.userStopped.Load() {
		// Stopped while this run was being started (a restart).
		_ = m.signal(m.spec.stopSignal())
	}

	res := <-waited
	finished := time.Now().UTC()
	m.health.end()
	code, errMsg := -1, ""
	if res.err != nil {
		errMsg = res.err.Error()
	} else {
		code = exitCode(res.status)
	}
	// Processes put into the cgroup from outside the PID namespace survive
	// the init; they must not hold the log pipes or the cgroup.
	if err := m.cleanupKill(); err != nil && errMsg == "" {
		errMsg = err.Error()
	}
	copiers.Wait()
	oom, _ := cg.OOMKilled()
	if err := cg.Delete(); err != nil && errMsg == "" {
		errMsg = err.Error()
	}
	<-linkDone // the init is gone, so its end of the socket is closed
	p.ctl.Close()
	m.hub.closeStdin()
	// Recorded before the exit is: whoever sees the exit (a foreground
	// run, a wait) and removes the container writes its destroy after.
	if oom {
		m.event("oom")
	}
	m.event("die", "exitCode", strconv.Itoa(code), "execDuration", strconv.Itoa(int(finished.Sub(startedAt).Seconds())))
	st := m.setState(func(s *State) {
		s.Status, s.ExitCode, s.OOMKilled, s.FinishedAt, s.Error = StatusExited, code, oom, finished, errMsg
	})
	m.hub.end(st)
	return runResult{code: code, oom: oom, started: startedAt, finished: finished, errMsg: errMsg}
}

// restartDelay applies the restart policy to a run that ended: whether the
// container is started again, and after how long (Docker's backoff: 100 ms
// doubling up to a minute, back to 100 ms after a run of 10 s or more).
// A stop or kill by the user, or a run that never started, ends it.
func (m *monitor) restartDelay(res runResult) (time.Duration, bool) {
	if m.userStopped.Load() || res.startErr != nil {
		return 0, false
	}
	if res.finished.Sub(res.started) >= restartResetAfter {
		m.backoff = 0
	}
	switch {
	case m.backoff == 0:
		m.backoff = restartFirstDelay
	case m.backoff < restartMaxDelay:
		m.backoff *= 2
	}
	m.backoff = min(m.backoff, restartMaxDelay)
	r := m.spec.Restart
	switch r.Name {
	case RestartAlways, RestartUnlessStopped:
		return m.backoff, true
	case RestartOnFailure:
		if r.MaxRetries > 0 && m.getState().RestartCount >= r.MaxRetries {
			return 0, false
		}
		return m.backoff, res.code != 0
	}
	return 0, false
}

// waitRecorded waits until the state no longer says running: the exit of
// the run whose init exited is being recorded.
func (m *monitor) waitRecorded() {
	for m.getState().Status == StatusRunning {
		select {
		case <-m.done:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stopAsync stops the container for SIGTERM; it counts as a connection
// so that run waits for it.
func (m *monitor) stopAsync(conns *sync.WaitGroup) {
	defer conns.Done()
	_ = m.stop(m.spec.stopTimeout())
}

func exitCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return -1
}

// startAndWait forks the init and waits for it, on one locked thread that
// ends only once the init is reaped: PDEATHSIG fires when the thread that
// forked exits, not the process (go.dev/issue/27505).
func (m *monitor) startAndWait(p *initPipes, started chan<- error, waited chan<- waitResult) {
	runtime.LockOSThread()
	// Never unlocked: the thread exits with this goroutine, after the init.
	pid, err := m.forkInit(p)
	if err != nil {
		started <- err
		waited <- waitResult{err: err}
		return
	}
	m.mu.Lock()
	m.pid = pid
	m.state.Pid = pid
	m.mu.Unlock()
	started <- nil
	// Wait without reaping first: while the zombie exists its pid cannot
	// be reused, so signal can use the pid until exited is closed.
	var info unix.Siginfo
	var werr error
	for {
		werr = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if werr != unix.EINTR {
			break
		}
	}
	m.mu.Lock()
	close(m.exited)
	m.mu.Unlock()
	var ws syscall.WaitStatus
	for {
		_, werr = syscall.Wait4(pid, &ws, 0, nil)
		if werr != syscall.EINTR {
			break
		}
	}
	if werr != nil {
		waited <- waitResult{err: fmt.Errorf("monitor: wait for the init: %w", os.NewSyscallError("wait4", werr))}
		return
	}
	waited <- waitResult{status: ws}
}

// forkInit starts the init from a sealed copy of berth, stopped on its
// config pipe. The init makes its cgroup namespace itself, once it is in
// its cgroup (pid1).
func (m *monitor) forkInit(p *initPipes) (int, error) {
	exe, err := sealedSelf()
	if err != nil {
		return 0, err
	}
	defer exe.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, fmt.Errorf("monitor: %w", err)
	}
	defer devnull.Close()
	stdin := p.stdinR
	if stdin == nil {
		stdin = devnull
	}
	// The init executes the memfd by its number in the child, after Go
	// has moved the descriptors into place (golang/go#61751). Positions
	// 3 and 4 are pid1.ConfigFD and pid1.ControlFD.
	// 5 is pid1.PidsFD: the container cgroup's pids.max, or /dev/null.
	pids := devnull
	if m.spec.Cgroup.PidsLimit > 0 {
		f, err := m.cg.PidsMaxFile()
		if err != nil {
			return 0, fmt.Errorf("monitor: %w", err)
		}
		defer f.Close()
		pids = f
	}
	files := []uintptr{stdin.Fd(), p.stdoutW.Fd(), p.stderrW.Fd(), p.cfgR.Fd(), p.ctlChild.Fd(), pids.Fd(), exe.Fd()}
	path := "/proc/self/fd/" + strconv.Itoa(len(files)-1)
	netFlag := uintptr(syscall.CLONE_NEWNET)
	if m.spec.HostNetwork {
		netFlag = 0
	}
	if m.spec.NetNS != "" {
		// This thread (locked, dedicated to the init) joins the container's
		// persistent namespace; the init is born in it.
		fd, err := unix.Open(m.spec.NetNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, fmt.Errorf("monitor: network namespace: %w", &os.PathError{Op: "open", Path: m.spec.NetNS, Err: err})
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			return 0, fmt.Errorf("monitor: join network namespace %s: %w", m.spec.NetNS, os.NewSyscallError("setns", err))
		}
		netFlag = 0
	}
	sys := &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS |
			syscall.CLONE_NEWIPC | netFlag,
		// Makes / rprivate in the new mount namespace, so the container's
		// mounts never propagate to the host.
		Unshareflags: syscall.CLONE_NEWNS,
		Pdeathsig:    syscall.SIGKILL,
	}
	attr := &syscall.ProcAttr{Dir: "/", Env: initEnv, Files: files, Sys: sys}
	// Inside, ps shows "berth init", not the host path of the binary.
	argv := []string{"berth", InitArg}
	// cgroup v2: born in the cgroup. Elsewhere (v1, hybrid) FD refuses and
	// AddProc moves the init while it still waits for its config.
	if fd, closeFD, err := m.cg.FD(); err == nil {
		defer closeFD()
		sys.UseCgroupFD, sys.CgroupFD = true, fd
		pid, err := syscall.ForkExec(path, argv, attr)
		if err == nil {
			return pid, nil
		}
		// clone3 refused (old kernel, seccomp): fall back to AddProc.
		sys.UseCgroupFD, sys.CgroupFD = false, 0
	}
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		return 0, fmt.Errorf("monitor: start the init: %w", &os.PathError{Op: "fork/exec", Path: path, Err: err})
	}
	if err := m.cg.AddProc(pid); err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, 0, nil)
		return 0, fmt.Errorf("monitor: %w", err)
	}
	return pid, nil
}

// sealedSelf copies the running binary into a sealed memfd (runc's
// exeseal.CloneSelfExe): the container's init runs from it, so nothing in
// the container can ever write berth's file (CVE-2019-5736).
func sealedSelf() (*os.File, error) {
	fd, err := unix.MemfdCreate("berth", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", os.NewSyscallError("memfd_create", err))
	}
	mem := os.NewFile(uintptr(fd), "memfd:berth")
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		mem.Close()
		return nil, fmt.Errorf("monitor: copy self: %w", err)
	}
	_, err = io.Copy(mem, src)
	src.Close()
	if err != nil {
		mem.Close()
		return nil, fmt.Errorf("monitor: copy self: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	// F_SEAL_WRITE fails with EBUSY while the kernel still holds references
	// to the pages just copied (seen with many containers starting at once);
	// they go within milliseconds.
	for try := 0; ; try++ {
		_, err = unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals)
		if err != unix.EBUSY || try == 50 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		mem.Close()
		return nil, fmt.Errorf("monitor: seal self: %w", os.NewSyscallError("fcntl(F_ADD_SEALS)", err))
	}
	return mem, nil
}

// startupPids is the room a pids limit gets while the container starts:
// berth's init (a Go process: six threads with GOMAXPROCS=1) and the
// workload-exec process's threads until its execve are in the container's
// cgroup until then.
const startupPids = 16

// startupResources are the container's limits while it starts.
func startupResources(r cgroup.Resources) cgroup.Resources {
	if r.PidsLimit > 0 {
		r.PidsLimit += startupPids
	}
	return r
}

// initCgroupName is the cgroup berth's init lives in once the workload
// runs, beside the container's. With Docker the workload is PID 1 and the
// limits cover exactly it and what it starts; berth's init must neither
// count against them (its Go runtime's threads, its memory) nor starve when
// the workload exhausts them: a Go process that cannot create a thread
// dies. So the init leaves the container's cgroup right before the
// workload's execve (Message.Leave; its cgroup namespace stays rooted at
// the container's), the workload sets the exact pids limit itself (see
// pid1.Config.PidsLimit), and every process the init starts later (exec,
// probes) is placed in the container's cgroup before it runs.
func initCgroupName(id string) string { return id + "-init" }

// placeInContainer moves a process the init started (an exec session's
// workload-exec, still waiting for its spec) into the container's cgroup.
func (m *monitor) placeInContainer(pid int) error {
	m.mu.Lock()
	cg := m.cg
	m.mu.Unlock()
	return cg.AddProc(pid)
}

// prepare runs while the init waits for its config: it undoes the
// monitor's OOM protection for the container and brings up lo.
func (m *monitor) prepare() error {
	m.mu.Lock()
	pid := m.pid
	m.mu.Unlock()
	p := fmt.Sprintf("/proc/%d/oom_score_adj", pid)
	if err := os.WriteFile(p, []byte("0"), 0); err != nil {
		return fmt.Errorf("monitor: reset the init's oom_score_adj: %w", err)
	}
	if m.spec.HostNetwork || m.spec.NetNS != "" {
		// The host's, or a namespace berth made with lo up.
		return nil
	}
	if err := loopbackUp(pid); err != nil {
		return fmt.Errorf("monitor: bring up lo: %w", err)
	}
	return nil
}

// loopbackUp sets IFF_UP on lo in the network namespace of pid, from a
// thread moved there and back. If it cannot move back, the thread stays
// locked and dies with its goroutine instead of serving others.
func loopbackUp(pid int) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- func() error {
			self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return &os.PathError{Op: "open", Path: "/proc/thread-self/ns/net", Err: err}
			}
			defer unix.Close(self)
			path := fmt.Sprintf("/proc/%d/ns/net", pid)
			target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return &os.PathError{Op: "open", Path: path, Err: err}
			}
			defer unix.Close(target)
			if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
				return os.NewSyscallError("setns", err)
			}
			err = setLinkUp("lo")
			if unix.Setns(self, unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
			return err
		}()
	}()
	return <-errc
}

func setLinkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return os.NewSyscallError("ioctl(SIOCGIFFLAGS)", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return os.NewSyscallError("ioctl(SIOCSIFFLAGS)", err)
	}
	return nil
}

// signal sends sig to the init unless it has exited: the pid is ours
// until reaped, and exited is closed before the reap, under mu. A paused
// container is thawed after the signal when Docker would (thawsFor), since
// a frozen cgroup holds even SIGKILL until then; signal first, so that no
// frozen process runs again before the signal is pending.
func (m *monitor) signal(sig syscall.Signal) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-m.exited:
		return ErrNotRunning
	default:
	}
	if m.pid == 0 {
		return ErrNotRunning
	}
	if err := syscall.Kill(m.pid, sig); err != nil {
		return fmt.Errorf("kill %d: %w", m.pid, err)
	}
	if m.cg != nil && m.thawsFor(sig) {
		if frozen, err := m.cg.Frozen(); err == nil && frozen {
			if err := m.cg.Thaw(); err != nil {
				return fmt.Errorf("unpause after signal %d: %w", sig, err)
			}
		}
	}
	return nil
}

// markStopped records a stop or kill by the user: no restart follows.
func (m *monitor) markStopped() {
	m.stopOnce.Do(func() {
		m.userStopped.Store(true)
		close(m.stopped)
	})
}

// thawsFor is Docker's rule for a signal sent to a paused container
// (daemon/kill.go): it unpauses after SIGKILL and after the stop signal,
// and after any signal when the container has no stop signal of its own.
func (m *monitor) thawsFor(sig syscall.Signal) bool {
	return m.spec.StopSignal == 0 || sig == syscall.SIGKILL || sig == m.spec.stopSignal()
}

// stop is Docker's stop: the stop signal, a grace period (negative: for
// ever), then SIGKILL to the whole cgroup; it returns once the exit is
// recorded, so that a caller reading state.json next sees it.
func (m *monitor) stop(timeout time.Duration) error {
	st := m.getState()
	up := st.Status == StatusRunning || st.Status == StatusRestarting
	m.markStopped()
	if err := m.signal(m.spec.stopSignal()); err == nil {
		m.event("kill", "signal", strconv.Itoa(int(m.spec.stopSignal())))
	} else if !errors.Is(err, ErrNotRunning) {
		// Docker drops the grace period to 2 s when the signal fails.
		timeout = 2 * time.Second
	}
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		killed := false
		select {
		case <-m.exited:
		case <-t.C:
			killed = true
		}
		t.Stop()
		// Once the init has exited, the monitor's own teardown kills and
		// deletes the cgroup; racing it here would find the cgroup gone.
		if killed {
			if err := m.cleanupKill(); err != nil {
				select {
				case <-m.exited: // exited meanwhile: the teardown has it
				default:
					return err
				}
			} else {
				m.event("kill", "signal", strconv.Itoa(int(syscall.SIGKILL)))
			}
		}
	}
	t := time.NewTimer(2 * cleanupTimeout)
	defer t.Stop()
	select {
	case <-m.done:
		if up {
			m.event("stop")
		}
		return nil
	case <-t.C:
		return errors.New("the container did not exit after SIGKILL")
	}
}

// event records a container event in the journal of Spec.EventsDir;
// extra are more attributes, in pairs. A failure loses the event only.
func (m *monitor) event(action string, extra ...string) {
	if m.spec.EventsDir == "" {
		return
	}
	attrs := make(map[string]string, len(m.spec.EventAttributes)+len(extra)/2)
	for k, v := range m.spec.EventAttributes {
		attrs[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = extra[i+1]
	}
	_ = events.Journal{Dir: m.spec.EventsDir}.Append(events.Event{
		Type: events.TypeContainer, Action: action, Actor: events.Actor{ID: m.spec.ID, Attributes: attrs},
	})
}

func (m *monitor) cleanupKill() error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	m.mu.Lock()
	cg := m.cg
	m.mu.Unlock()
	return cg.KillAll(ctx)
}

func (m *monitor) cleanupCgroup() {
	if m.cleanupKill() == nil {
		m.mu.Lock()
		cg := m.cg
		m.mu.Unlock()
		_ = cg.Delete()
	}
}

// serve answers the control socket until ln is closed; every connection
// is handled by a goroutine counted in conns.
func (m *monitor) serve(ln *net.UnixListener, conns *sync.WaitGroup) {
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer conn.Close()
			m.handle(conn)
		}()
	}
}

func (m *monitor) handle(conn *net.UnixConn) {
	_ = conn.SetReadDeadline(time.Now().Add(requestTimeout))
	lc := &lineConn{conn: conn}
	line, files, err := lc.readLine(256 << 10)
	if err != nil {
		return
	}
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		closeFiles(files)
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	if req.Op == "exec" {
		m.exec(lc, &req, files)
		return
	}
	closeFiles(files) // only exec passes descriptors
	resp := response{OK: true}
	switch req.Op {
	case "attach":
		if json.NewEncoder(conn).Encode(resp) != nil {
			return
		}
		// Frames follow the request.
		if m.hub.attach(conn, bufio.NewReader(lc.rest()), req.Stdin) && req.Remove {
			m.handedOver.Store(true)
		}
		return
	case "wait":
		// The next exit of the container, as docker wait: a restart policy
		// may start it again afterwards.
		m.mu.Lock()
		exited := m.exited
		m.mu.Unlock()
		select {
		case <-m.done:
		case <-exited:
			m.waitRecorded()
		}
		st := m.getState()
		resp.State = &st
	case "state":
		st := m.getState()
		resp.State = &st
	case "dns":
		err = m.updateDNS(req.DNS)
	case "kill":
		if req.Signal <= 0 || req.Signal > 64 {
			err = fmt.Errorf("invalid signal %d", req.Signal)
		} else {
			// A kill by the user is a stop for the restart policy, as in Docker.
			m.markStopped()
			if err = m.signal(syscall.Signal(req.Signal)); err == nil {
				m.event("kill", "signal", strconv.Itoa(req.Signal))
			}
		}
	case "stop":
		timeout := m.spec.stopTimeout()
		if req.TimeoutMs != nil {
			timeout = time.Duration(*req.TimeoutMs) * time.Millisecond
			if *req.TimeoutMs < 0 {
				timeout = -1
			}
		}
		if req.Keep {
			// A restart: the container is started again, not removed.
			m.handedOver.Store(true)
		}
		err = m.stop(timeout)
	default:
		err = fmt.Errorf("unknown op %q", req.Op)
	}
	if err != nil {
		resp = response{Error: err.Error()}
	}
	_ = json.NewEncoder(conn).Encode(resp)
}

// initPipes are the init's stdio, its config pipe and its control socket;
// the child ends go to the init, the others stay with the monitor.
type initPipes struct {
	stdinR, stdinW   *os.File // only when the container keeps stdin open
	stdoutR, stdoutW *os.File
	stderrR, stderrW *os.File
	cfgR, cfgW       *os.File
	ctl, ctlChild    *os.File // SOCK_SEQPACKET pair: pid1.Message from the init
}

func newInitPipes(stdin bool) (p *initPipes, err error) {
	p = &initPipes{}
	defer func() {
		if err != nil {
			p.closeAll()
		}
	}()
	if stdin {
		if p.stdinR, p.stdinW, err = os.Pipe(); err != nil {
			return nil, err
		}
	}
	if p.stdoutR, p.stdoutW, err = os.Pipe(); err != nil {
		return nil, err
	}
	if p.stderrR, p.stderrW, err = os.Pipe(); err != nil {
		return nil, err
	}
	if p.cfgR, p.cfgW, err = os.Pipe(); err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	p.ctl, p.ctlChild = os.NewFile(uintptr(fds[0]), "init-control"), os.NewFile(uintptr(fds[1]), "init-control-child")
	return p, nil
}

// closeChildEnds closes the monitor's copies of what the init inherited.
func (p *initPipes) closeChildEnds() {
	for _, f := range []*os.File{p.stdinR, p.stdoutW, p.stderrW, p.cfgR, p.ctlChild} {
		if f != nil {
			f.Close()
		}
	}
}

func (p *initPipes) closeAll() {
	p.closeChildEnds()
	for _, f := range []*os.File{p.stdinW, p.stdoutR, p.stderrR, p.cfgW, p.ctl} {
		if f != nil {
			f.Close()
		}
	}
}

// copyOutput copies one of the container's output streams to the log and
// to attached clients until EOF (or EIO: a pty whose last slave closed).
// Log write errors (disk full) are consumed so the stream keeps draining:
// the workload must never block on its stdout.
func (m *monitor) copyOutput(log io.Writer, name string, r io.Reader) {
	buf := make([]byte, maxFrame)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			_, _ = log.Write(buf[:n])
			m.hub.output(name, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// awaitStart reads the init's reports: the pty master first for a tty,
// then whether the workload's execve worked. A failure carries the exit
// code the container ends with; an init that dies first is a failure too.
func (m *monitor) awaitStart(ctl *os.File, icg *cgroup.Cgroup) (master *os.File, code int, err error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, rerr := unix.Recvmsg(int(ctl.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if rerr == unix.EINTR {
			continue
		}
		if rerr != nil {
			return master, -1, fmt.Errorf("monitor: read the init's report: %w", os.NewSyscallError("recvmsg", rerr))
		}
		if n == 0 {
			return master, -1, errors.New("monitor: the init exited before starting the workload (its reason is in the container's log)")
		}
		var msg pid1.Message
		if err := json.Unmarshal(buf[:n], &msg); err != nil {
			return master, -1, fmt.Errorf("monitor: bad report from the init: %w", err)
		}
		switch {
		case msg.Leave:
			m.mu.Lock()
			pid := m.pid
			m.mu.Unlock()
			reply := pid1.Message{Left: true}
			if err := icg.AddProc(pid); err != nil {
				reply = pid1.Message{Error: err.Error()}
			}
			b, _ := json.Marshal(reply)
			if err := scm.Send(int(ctl.Fd()), b, nil); err != nil {
				return master, -1, fmt.Errorf("monitor: reply to the init: %w", err)
			}
		case msg.Pty:
			f, err := receivedFile(oob[:oobn])
			if err != nil {
				return master, -1, err
			}
			master = f
		case msg.Error != "":
			return master, msg.ExitCode, errors.New(msg.Error)
		case msg.Started:
			return master, 0, nil
		}
	}
}

// receivedFile takes the one descriptor of an SCM_RIGHTS message.
func receivedFile(oob []byte) (*os.File, error) {
	files := scm.Files(oob)
	if len(files) != 1 {
		scm.Close(files)
		return nil, fmt.Errorf("monitor: the init's pty message carries %d descriptors, want 1", len(files))
	}
	return files[0], nil
}
