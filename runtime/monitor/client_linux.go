package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
// Kill and Delete handle as usual.
func Start(ctx context.Context, self string, spec Spec) (State, error) {
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
	cmd.Env = append(monitorEnv(), detachEnv+"=1", reportEnv+"="+strconv.Itoa(reportFD))
	// nil stdio is /dev/null: the monitor never writes to the terminal,
	// and holding the CLI's pipes would keep a caller reading them waiting.
	cmd.ExtraFiles = []*os.File{w}
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
		return rep.State, fmt.Errorf("monitor %s: start: %s", spec.ID, rep.Error)
	}
	return rep.State, nil
}

// monitorEnv is the CLI's environment without the monitor's own markers.
func monitorEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, detachEnv+"=") || strings.HasPrefix(kv, reportEnv+"=") {
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

// Wait polls state.json until the container has exited or ctx ends.
func Wait(ctx context.Context, bundle string) (State, error) {
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
	ms := timeout.Milliseconds()
	if timeout < 0 {
		ms = -1
	}
	_, err := call(ctx, runDir, request{Op: "stop", TimeoutMs: &ms})
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
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
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
		return response{}, fmt.Errorf("monitor: %s %s: %w", req.Op, path, err)
	}
	var resp response
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&resp); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
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
		errs = append(errs, deleteCgroup(spec.ID))
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
