package monitor

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-sh/berth/runtime/cgroup"
)

const (
	// detachEnv marks stage 1 of the monitor, which only starts stage 2.
	detachEnv = "_BERTH_MONITOR_DETACH"
	// reportEnv names the fd on which the monitor reports to Start.
	reportEnv = "_BERTH_MONITOR_REPORT_FD"
	// reportFD is that fd: the first of ExtraFiles.
	reportFD = 3
	// heldEnv says how many descriptors follow reportFD: sockets the
	// monitor holds while the container runs (published ports).
	heldEnv = "_BERTH_MONITOR_HELD_FDS"
	// pollInterval paces Wait.
	pollInterval = 50 * time.Millisecond
	// cleanupTimeout bounds KillAll in Delete and in the monitor.
	cleanupTimeout = 10 * time.Second
)

// report is what the monitor sends Start once the container runs or failed.
type report struct {
	State State  `json:"state"`
	Error string `json:"error,omitempty"`
}

// Start writes spec to <Bundle>/config.json, starts its monitor detached
// (self MonitorArg <bundle>, double fork, new session) and returns once the
// monitor reports the container running or failed to start it. ctx bounds
// the wait, not the monitor: a cancelled Start leaves a monitor that Stop,
// Kill and Delete handle as usual. The monitor holds copies of held (the
// sockets reserving published ports) until it exits.
func Start(ctx context.Context, self string, spec Spec, held ...*os.File) (State, error) {
	if err := spec.check(); err != nil {
		return State{}, err
	}
	if !filepath.IsAbs(self) {
		return State{}, fmt.Errorf("monitor %s: start: berth binary %q is not an absolute path", spec.ID, self)
	}
	for _, d := range []string{spec.Bundle, spec.RunDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return State{}, fmt.Errorf("monitor %s: start: %w", spec.ID, err)
		}
	}
	// The lock is held by whoever starts the container and then by its
	// monitor until the container has ended for good (it goes down with the
	// held files): a second start, even one racing a start whose CLI was
	// killed, finds it taken.
	lock, err := os.OpenFile(filepath.Join(spec.Bundle, lockFile), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return State{}, fmt.Errorf("monitor %s: start: %w", spec.ID, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return State{}, fmt.Errorf("monitor %s: start: %w", spec.ID, ErrBusy)
	}
	held = append(held[:len(held):len(held)], lock)
	if st, err := Status(spec.Bundle); err == nil && st.Status != StatusExited {
		return State{}, fmt.Errorf("monitor %s: start: %w (monitor pid %d)", spec.ID, ErrRunning, st.MonitorPid)
	}
	if err := os.Remove(filepath.Join(spec.Bundle, stateFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return State{}, fmt.Errorf("monitor %s: start: %w", spec.ID, err)
	}
	if err := writeJSONAtomic(filepath.Join(spec.Bundle, configFile), spec.toFile()); err != nil {
		return State{}, fmt.Errorf("monitor %s: start: write spec: %w", spec.ID, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return State{}, fmt.Errorf("monitor %s: start: %w", spec.ID, err)
	}
	defer r.Close()
	cmd := exec.Command(self, MonitorArg, spec.Bundle)
	cmd.Env = append(monitorEnv(), detachEnv+"=1", reportEnv+"="+strconv.Itoa(reportFD), heldEnv+"="+strconv.Itoa(len(held)))
	// nil stdio is /dev/null: the monitor never writes to the terminal,
	// and holding the CLI's pipes would keep a caller reading them waiting.
	cmd.ExtraFiles = append([]*os.File{w}, held...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return State{}, fmt.Errorf("monitor %s: start monitor: %w", spec.ID, err)
	}
	// Stage 1 exits as soon as it has started the monitor; reaping it here
	// leaves no zombie behind the CLI.
	if err := cmd.Wait(); err != nil {
		return State{}, fmt.Errorf("monitor %s: start monitor: %w", spec.ID, err)
	}
	rep, err := readReport(ctx, r)
	if err != nil {
		if st, serr := Status(spec.Bundle); serr == nil && st.Error != "" {
			return st, fmt.Errorf("monitor %s: start: %w (%s)", spec.ID, err, st.Error)
		}
		return State{}, fmt.Errorf("monitor %s: start: %w", spec.ID, err)
	}
	if rep.Error != "" {
		return rep.State, &StartError{Msg: rep.Error, ExitCode: rep.State.ExitCode}
	}
	return rep.State, nil
}

// Busy reports whether a monitor runs the container in bundle, or a start of
// it is under way (Start's lock is taken).
func Busy(bundle string) bool {
	f, err := os.OpenFile(filepath.Join(bundle, lockFile), os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	return false
}

// monitorEnv is the CLI's environment without the monitor's own markers.
func monitorEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, detachEnv+"=") || strings.HasPrefix(kv, reportEnv+"=") || strings.HasPrefix(kv, heldEnv+"=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// readReport reads the monitor's one-line report; EOF without one means
// the monitor died before reporting.
func readReport(ctx context.Context, r *os.File) (report, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = r.SetReadDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = r.SetReadDeadline(time.Now()) })
	defer stop()
	line, err := bufio.NewReader(r).ReadBytes('\n')
	if err != nil {
		if ctx.Err() != nil {
			return report{}, fmt.Errorf("waiting for the monitor: %w", ctx.Err())
		}
		return report{}, fmt.Errorf("the monitor exited without reporting: %w", err)
	}
	var rep report
	if err := json.Unmarshal(line, &rep); err != nil {
		return report{}, fmt.Errorf("bad report from the monitor: %w", err)
	}
	return rep, nil
}

// Status reads <bundle>/state.json. When it says created or running but
// the monitor process is gone (killed: a monitor always records "exited"
// before it exits), the container is gone too, since its init had
// PDEATHSIG SIGKILL: Status reports "exited" with ExitCode 137 and Error
// "monitor died". FinishedAt then stays unknown (zero).
func Status(bundle string) (State, error) {
	var st State
	if err := readJSON(filepath.Join(bundle, stateFile), &st); err != nil {
		return State{}, fmt.Errorf("monitor: status: %w", err)
	}
	if st.Status != StatusExited && !monitorAlive(st.MonitorPid, bundle) {
		st.Status = StatusExited
		st.ExitCode = exitMonitorDied
		st.Error = "monitor died"
	}
	return st, nil
}

// monitorAlive checks pid by its command line, not only its existence, so
// that a recycled pid is not taken for the monitor.
func monitorAlive(pid int, bundle string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if len(args) < 3 || args[1] != MonitorArg || args[2] != bundle {
		return false
	}
	// A zombie keeps its cmdline readable only while it has its mm; check
	// the state too.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

// Wait returns the container's final state once it has exited, or when ctx
// ends: from the monitor, which answers the moment the exit is recorded,
// or by polling state.json when there is no monitor to ask.
func Wait(ctx context.Context, bundle, runDir string) (State, error) {
	resp, err := call(ctx, runDir, request{Op: "wait"})
	if err == nil && resp.State != nil {
		return *resp.State, nil
	}
	if ctx.Err() != nil {
		return State{}, fmt.Errorf("monitor: wait %s: %w", bundle, ctx.Err())
	}
	return pollExit(ctx, bundle)
}

// pollExit polls state.json until the container has exited or ctx ends.
func pollExit(ctx context.Context, bundle string) (State, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		st, err := Status(bundle)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return State{}, err
		}
		if err == nil && st.Status == StatusExited {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("monitor: wait %s: %w", bundle, ctx.Err())
		case <-t.C:
		}
	}
}

// Stop asks the monitor to stop the container: stop signal, then SIGKILL
// to the cgroup after timeout (negative: wait for ever). It returns once
// the container has exited, or when ctx ends. A container without a
// monitor socket is already stopped, which is not an error (docker stop).
func Stop(ctx context.Context, runDir string, timeout time.Duration) error {
	return stop(ctx, runDir, timeout, false)
}

// StopKeeping is Stop for a restart: the monitor does not run Spec.OnExit
// (a --rm container is not removed).
func StopKeeping(ctx context.Context, runDir string, timeout time.Duration) error {
	return stop(ctx, runDir, timeout, true)
}

func stop(ctx context.Context, runDir string, timeout time.Duration, keep bool) error {
	ms := timeout.Milliseconds()
	if timeout < 0 {
		ms = -1
	}
	_, err := call(ctx, runDir, request{Op: "stop", TimeoutMs: &ms, Keep: keep})
	if errors.Is(err, ErrNotRunning) {
		return nil
	}
	return err
}

// Kill sends sig to the container's init, which forwards it to the
// workload (SIGKILL kills the init and so the whole container).
func Kill(ctx context.Context, runDir string, sig syscall.Signal) error {
	_, err := call(ctx, runDir, request{Op: "kill", Signal: int(sig)})
	return err
}

// call sends one request and reads the answer. A missing socket or one
// nobody listens on means the monitor is gone: ErrNotRunning.
func call(ctx context.Context, runDir string, req request) (response, error) {
	path := socketPath(runDir)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if monitorGone(err) {
			return response{}, fmt.Errorf("monitor: %s %s: %w", req.Op, path, ErrNotRunning)
		}
		return response{}, fmt.Errorf("monitor: %s: %w", req.Op, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		if monitorGone(err) && ctx.Err() == nil {
			err = ErrNotRunning
		}
		return response{}, fmt.Errorf("monitor: %s %s: %w", req.Op, path, err)
	}
	var resp response
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&resp); err != nil {
		switch {
		case ctx.Err() != nil:
			err = ctx.Err()
		case monitorGone(err):
			err = ErrNotRunning
		}
		return response{}, fmt.Errorf("monitor: %s %s: %w", req.Op, path, err)
	}
	if !resp.OK {
		if resp.Error == ErrNotRunning.Error() {
			return resp, fmt.Errorf("monitor: %s: %w", req.Op, ErrNotRunning)
		}
		return resp, fmt.Errorf("monitor: %s: %s", req.Op, resp.Error)
	}
	return resp, nil
}

// monitorGone tells whether err means the monitor is not there to answer:
// no socket, nobody listening, or a connection closed unanswered. The last
// happens to a client that connects while the monitor shuts down after the
// container's exit (it was queued, never accepted), and to a monitor that
// was killed, which takes its container with it (PDEATHSIG).
func monitorGone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Delete removes what a container leaves once it has exited: whatever is
// still in its cgroup is killed and the cgroup removed (a monitor that died
// could not), and state.json, config.json and runDir are removed. The log
// and the rest of the bundle stay: the bundle belongs to the caller, who
// also mounted the rootfs there. It refuses a container whose monitor is
// alive and not done (ErrRunning).
func Delete(bundle, runDir string) error {
	st, err := Status(bundle)
	switch {
	case err == nil && st.Status != StatusExited:
		return fmt.Errorf("monitor: delete %s: %w (monitor pid %d)", bundle, ErrRunning, st.MonitorPid)
	case err == nil && monitorAlive(st.MonitorPid, bundle):
		// Exited but still tearing down: it deletes its cgroup and socket
		// right before it exits.
		return fmt.Errorf("monitor: delete %s: %w: the monitor (pid %d) is finishing", bundle, ErrRunning, st.MonitorPid)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("monitor: delete: %w", err)
	}
	var errs []error
	if spec, err := readSpec(bundle); err == nil {
		errs = append(errs, deleteCgroup(spec.ID), deleteCgroup(initCgroupName(spec.ID)))
	} else if !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, f := range []string{stateFile, configFile} {
		if err := os.Remove(filepath.Join(bundle, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(runDir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("monitor: delete %s: %w", bundle, err)
	}
	return nil
}

// deleteCgroup kills and removes the cgroup of id if it exists.
func deleteCgroup(id string) error {
	cg, err := cgroup.Load(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := cg.KillAll(ctx); err != nil {
		return err
	}
	return cg.Delete()
}

// AttachOptions choose what an attached client takes part in.
type AttachOptions struct {
	// Stdin sends the client's input to the container.
	Stdin bool
	// Remove takes the container's OnExit work (its removal) over from the
	// monitor once the client has received the exit.
	Remove bool
}

// Attachment is a client's connection to a container's stdio.
type Attachment struct {
	conn    *net.UnixConn
	r       *bufio.Reader
	writeMu sync.Mutex
}

// Attach connects to the container's monitor: output arrives from then on
// (or from the start, with Spec.AttachReplay for the first client).
func Attach(ctx context.Context, runDir string, o AttachOptions) (*Attachment, error) {
	path := socketPath(runDir)
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if monitorGone(err) {
			return nil, fmt.Errorf("monitor: attach %s: %w", path, ErrNotRunning)
		}
		return nil, fmt.Errorf("monitor: attach: %w", err)
	}
	conn := c.(*net.UnixConn)
	a := &Attachment{conn: conn, r: bufio.NewReader(conn)}
	if err := json.NewEncoder(conn).Encode(request{Op: "attach", Stdin: o.Stdin, Remove: o.Remove}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("monitor: attach %s: %w", path, err)
	}
	line, err := a.r.ReadBytes('\n')
	if err != nil {
		conn.Close()
		if monitorGone(err) {
			err = ErrNotRunning
		}
		return nil, fmt.Errorf("monitor: attach %s: %w", path, err)
	}
	var resp response
	if err := json.Unmarshal(line, &resp); err != nil || !resp.OK {
		conn.Close()
		return nil, fmt.Errorf("monitor: attach %s: refused: %s", path, resp.Error)
	}
	return a, nil
}

// ErrDetached is returned by Stream when the input ended with it: the
// client detached (docker's ctrl-p ctrl-q) and the container runs on.
var ErrDetached = errors.New("detached from the container")

// Stream copies stdin (nil: none) to the container and its output to
// stdout and stderr until the container exits, and returns its final
// state. An input that ends with ErrDetached ends the stream with that
// error; a plain end of input closes the container's stdin.
func (a *Attachment) Stream(stdin io.Reader, stdout, stderr io.Writer) (State, error) {
	detached := make(chan struct{})
	if stdin != nil {
		go func() {
			buf := make([]byte, maxFrame)
			for {
				n, err := stdin.Read(buf)
				if n > 0 && a.send(frameStdin, buf[:n]) != nil {
					return
				}
				if errors.Is(err, ErrDetached) {
					close(detached)
					a.conn.Close()
					return
				}
				if err != nil {
					_ = a.send(frameClose, nil)
					return
				}
			}
		}()
	}
	var buf []byte
	for {
		kind, p, err := readFrame(a.r, buf)
		if err != nil {
			select {
			case <-detached:
				return State{}, ErrDetached
			default:
			}
			return State{}, fmt.Errorf("monitor: lost the container's output stream: %w", err)
		}
		buf = p[:0]
		switch kind {
		case frameStdout:
			if _, err := stdout.Write(p); err != nil {
				return State{}, err
			}
		case frameStderr:
			if _, err := stderr.Write(p); err != nil {
				return State{}, err
			}
		case frameExit:
			var st State
			if err := json.Unmarshal(p, &st); err != nil {
				return State{}, fmt.Errorf("monitor: bad exit from the monitor: %w", err)
			}
			return st, nil
		}
	}
}

// Resize sets the container's terminal size (a tty container only).
func (a *Attachment) Resize(height, width uint16) error {
	var p [4]byte
	binary.BigEndian.PutUint16(p[:], height)
	binary.BigEndian.PutUint16(p[2:], width)
	return a.send(frameResize, p[:])
}

func (a *Attachment) send(kind byte, p []byte) error {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	_, err := a.conn.Write(encodeFrame(kind, p))
	return err
}

// Close ends the attachment; the container runs on.
func (a *Attachment) Close() error { return a.conn.Close() }
