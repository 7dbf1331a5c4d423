package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/testutil"
	"github.com/berth-sh/berth/runtime/cgroup"
	"github.com/berth-sh/berth/runtime/jsonlog"
	"github.com/berth-sh/berth/runtime/pid1"
	"github.com/berth-sh/berth/runtime/process"
	"github.com/berth-sh/berth/runtime/rootfs"
)

// startHelperArg makes the test binary a short-lived CLI that calls Start
// for the spec in the bundle named by argv[2], prints the State and exits.
const startHelperArg = "monitor-test-start"

// TestMain dispatches the modes main.go will dispatch. The test process
// is a child subreaper, so the monitors (reparented when stage 1 exits)
// end up its children and the tests can reap them instead of leaving
// zombies to a host PID 1 that may not reap.
func TestMain(m *testing.M) {
	if code, ok := Dispatch(os.Args); ok {
		os.Exit(code)
	}
	if len(os.Args) > 2 && os.Args[1] == startHelperArg {
		spec, err := readSpec(os.Args[2])
		if err == nil {
			var st State
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			st, err = Start(ctx, self(), spec)
			cancel()
			_ = json.NewEncoder(os.Stdout).Encode(st)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Geteuid() == 0 {
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	// The containers' cgroups go under berth's own parent in each hierarchy. `make test` removes
	// that parent once every test binary is done when it did not exist before: doing it here would
	// race the other packages' containers, which share it.
	os.Exit(m.Run())
}

func self() string {
	p, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return p
}

// newSpec returns a Spec running script with /bin/sh -c on a fresh busybox
// rootfs, and registers the cleanup that kills what is left, deletes the
// container and checks that nothing stayed behind.
func newSpec(t *testing.T, script string) Spec {
	t.Helper()
	testutil.RequireRoot(t)
	root := testutil.BusyboxRootfs(t)
	testutil.AddLibrariesOf(t, self(), root)
	// The run dir must be short for the socket path: not under t.TempDir.
	run, err := os.MkdirTemp("", "bm")
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("mt%d-%s", os.Getpid(), strings.ReplaceAll(strings.ReplaceAll(t.Name(), "/", "-"), "_", "-"))
	spec := Spec{
		ID:     id,
		Bundle: filepath.Join(t.TempDir(), "bundle"),
		RunDir: filepath.Join(run, "c"),
		Init: pid1.Config{
			Rootfs:       rootfs.Spec{Root: root},
			Args:         []string{"/bin/sh", "-c", script},
			Env:          []string{"PATH=" + process.DefaultPath},
			User:         process.User{AdditionalGids: []uint32{0}},
			Capabilities: process.DefaultCapabilities(),
		},
	}
	t.Cleanup(func() {
		defer os.RemoveAll(run)
		st, err := readStateFile(spec.Bundle)
		if err == nil && st.MonitorPid > 0 {
			if monitorAlive(st.MonitorPid, spec.Bundle) {
				// Ours: Start started it for this test.
				_ = syscall.Kill(st.MonitorPid, syscall.SIGKILL)
			}
			reap(t, st.MonitorPid)
		}
		if st.Pid > 0 {
			reap(t, st.Pid) // when orphaned to this subreaper
		}
		if err := Delete(spec.Bundle, spec.RunDir); err != nil {
			t.Errorf("delete: %v", err)
		}
		if _, err := cgroup.Load(spec.ID); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cgroup %s left behind (%v)", spec.ID, err)
		}
		if st.Pid > 0 {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", st.Pid)); err == nil {
				t.Errorf("init %d left behind", st.Pid)
			}
		}
		if _, err := os.Stat(spec.RunDir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("run dir left behind: %v", err)
		}
		testutil.AssertNoMountsUnder(t, filepath.Dir(root))
	})
	return spec
}

func readStateFile(bundle string) (State, error) {
	var st State
	err := readJSON(filepath.Join(bundle, stateFile), &st)
	return st, err
}

// reap collects the monitor pid, a child of this subreaper once stage 1
// exited, waiting up to 20 s for it to exit.
func reap(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if err != nil || got == pid {
			return // reaped, or not our child (someone else reaps it)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("monitor %d did not exit", pid)
}

func start(t *testing.T, spec Spec) State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Start(ctx, self(), spec)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if st.Status != StatusRunning || st.Pid <= 0 || st.MonitorPid <= 0 {
		t.Fatalf("start returned %+v", st)
	}
	return st
}

func wait(t *testing.T, spec Spec) State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Wait(ctx, spec.Bundle, spec.RunDir)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return st
}

// waitForProcess polls until a process named comm runs in the PID
// namespace of the init.
func waitForProcess(t *testing.T, initPid int, comm string) {
	t.Helper()
	var ns unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/pid", initPid), &ns); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			var st unix.Stat_t
			if unix.Stat("/proc/"+e.Name()+"/ns/pid", &st) != nil || st.Ino != ns.Ino {
				continue
			}
			b, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
			if strings.TrimSpace(string(b)) == comm {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not start in the container", comm)
}

func TestRunExitCodeAndLog(t *testing.T) {
	t.Parallel()
	spec := newSpec(t, "echo hello; echo err >&2; ip link show lo | grep -q UP && echo lo-up; exit 42")
	st0 := start(t, spec)
	st := wait(t, spec)
	if st.Status != StatusExited || st.ExitCode != 42 || st.Error != "" || st.OOMKilled {
		t.Errorf("state %+v, want exited 42", st)
	}
	if st.Pid != st0.Pid || st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
		t.Errorf("state %+v after start %+v", st, st0)
	}
	var got []string
	err := jsonlog.Read(context.Background(), filepath.Join(spec.Bundle, spec.ID+"-json.log"), jsonlog.ReadOptions{Tail: -1}, func(e jsonlog.Entry) error {
		got = append(got, e.Stream+":"+string(e.Log))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(got, "|")
	for _, want := range []string{"stdout:hello\n", "stderr:err\n", "stdout:lo-up\n"} {
		if !strings.Contains(joined, want) {
			t.Errorf("log %q lacks %q", joined, want)
		}
	}
	// Wait answers once the exit is recorded; the monitor then finishes.
	reap(t, st.MonitorPid)
	if _, err := os.Stat(socketPath(spec.RunDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left after exit: %v", err)
	}
	if _, err := cgroup.Load(spec.ID); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cgroup left after exit: %v", err)
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, script string
		timeout      time.Duration
		want         int
	}{
		{"term", "sleep 1000", 5 * time.Second, 143},
		{"ignored-term", `trap "" TERM; while :; do sleep 1; done`, time.Second, 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := newSpec(t, tc.script)
			if tc.name == "term" {
				spec.Init.Args = []string{"sleep", "1000"}
			}
			st := start(t, spec)
			waitForProcess(t, st.Pid, "sleep")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			begin := time.Now()
			if err := Stop(ctx, spec.RunDir, tc.timeout); err != nil {
				t.Fatalf("stop: %v", err)
			}
			took := time.Since(begin)
			if st, err := Status(spec.Bundle); err != nil || st.Status != StatusExited || st.ExitCode != tc.want {
				t.Errorf("after stop: %+v %v, want exited %d", st, err, tc.want)
			}
			t.Logf("stop took %v", took)
			if tc.want == 137 && took < tc.timeout {
				t.Errorf("SIGKILL came after %v, before the %v grace period", took, tc.timeout)
			}
			// Stopping a stopped container is fine.
			if err := Stop(ctx, spec.RunDir, time.Second); err != nil {
				t.Errorf("second stop: %v", err)
			}
		})
	}
}

func TestKill(t *testing.T) {
	t.Parallel()
	spec := newSpec(t, "sleep 1000")
	st := start(t, spec)
	waitForProcess(t, st.Pid, "sleep")
	// Delete refuses a running container.
	if err := Delete(spec.Bundle, spec.RunDir); !errors.Is(err, ErrRunning) {
		t.Errorf("delete of a running container: %v, want ErrRunning", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := call(ctx, spec.RunDir, request{Op: "state"})
	if err != nil || resp.State == nil || resp.State.Status != StatusRunning {
		t.Errorf("state op: %+v %v", resp, err)
	}
	if err := Kill(ctx, spec.RunDir, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, spec); st.ExitCode != 137 {
		t.Errorf("state %+v, want 137", st)
	}
	if err := Kill(ctx, spec.RunDir, syscall.SIGKILL); !errors.Is(err, ErrNotRunning) {
		t.Errorf("kill after exit: %v, want ErrNotRunning", err)
	}
}

func TestOOMKilled(t *testing.T) {
	t.Parallel()
	testutil.RequireCgroupV1(t, "memory")
	// tail keeps the whole newline-free input in memory.
	spec := newSpec(t, "head -c 300m /dev/zero | tail")
	spec.Cgroup.Memory = 32 << 20
	start(t, spec)
	st := wait(t, spec)
	if !st.OOMKilled || st.ExitCode != 137 {
		t.Errorf("state %+v, want OOMKilled and 137", st)
	}
}

func TestMonitorKilled(t *testing.T) {
	t.Parallel()
	spec := newSpec(t, "sleep 1000")
	st := start(t, spec)
	waitForProcess(t, st.Pid, "sleep")
	if err := syscall.Kill(st.MonitorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	reap(t, st.MonitorPid)
	got := wait(t, spec)
	if got.ExitCode != exitMonitorDied || got.Error != "monitor died" {
		t.Errorf("state %+v, want 137 and monitor died", got)
	}
	// PDEATHSIG takes the init, and with it the container, down. The
	// orphaned init is reparented to this test (a subreaper): reap it.
	reap(t, st.Pid)
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", st.Pid)); err == nil {
		t.Fatalf("init %d survived its monitor", st.Pid)
	}
	if err := Delete(spec.Bundle, spec.RunDir); err != nil {
		t.Fatal(err)
	}
	// The cleanup checks the cgroup, the run dir and the processes.
}

// TestSurvivesParent starts the container from a separate CLI process that
// exits as soon as Start returns; the container keeps running, and the
// monitor's parent was never that CLI.
func TestSurvivesParent(t *testing.T) {
	t.Parallel()
	spec := newSpec(t, "sleep 1000")
	if err := os.MkdirAll(spec.Bundle, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeJSONAtomic(filepath.Join(spec.Bundle, configFile), spec.toFile()); err != nil {
		t.Fatal(err)
	}
	cli := exec.Command(self(), startHelperArg, spec.Bundle)
	out, err := cli.Output()
	if err != nil {
		t.Fatalf("cli: %v %s", err, out)
	}
	var st State
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("cli output %q: %v", out, err)
	}
	waitForProcess(t, st.Pid, "sleep")
	got, err := Status(spec.Bundle)
	if err != nil || got.Status != StatusRunning {
		t.Fatalf("after the CLI exited: %+v %v", got, err)
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.MonitorPid))
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			t.Logf("monitor %d %s", st.MonitorPid, strings.Join(strings.Fields(line), " "))
		}
		if strings.HasPrefix(line, "PPid:") && strings.Fields(line)[1] == fmt.Sprint(cli.Process.Pid) {
			t.Errorf("the monitor is a child of the CLI")
		}
	}
	if sid, _ := unix.Getsid(st.MonitorPid); sid == st.MonitorPid {
		t.Errorf("the monitor leads its session")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Stop(ctx, spec.RunDir, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := wait(t, spec); got.ExitCode != 143 {
		t.Errorf("state %+v, want 143", got)
	}
}

func TestSpecChecks(t *testing.T) {
	long := "/" + strings.Repeat("x", 120)
	for _, s := range []Spec{
		{Bundle: "/b", RunDir: "/r"},
		{ID: "a", Bundle: "b", RunDir: "/r"},
		{ID: "a", Bundle: "/b", RunDir: long},
	} {
		if _, err := Start(context.Background(), self(), s); err == nil {
			t.Errorf("Start(%+v) accepted", s)
		}
	}
}
