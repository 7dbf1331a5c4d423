package pid1

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/testutil"
	"github.com/berth-sh/berth/runtime/process"
	"github.com/berth-sh/berth/runtime/rootfs"
	"github.com/berth-sh/berth/runtime/seccomp"
)

// initEnv makes the test binary act as berth's init mode (main.go will
// dispatch on its own argv instead).
const initEnv = "BERTH_PID1_TEST_INIT"

// TestMain dispatches the two re-exec modes the way main.go will: the
// workload-exec mode by argv[1] (the init starts it with an empty
// environment), the init mode by an environment variable set by the tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == WorkloadExecArg {
		ExecWorkload()
	}
	if os.Getenv(initEnv) == "1" {
		os.Exit(Main())
	}
	if len(os.Args) > 1 && os.Args[1] == syscallProbeArg {
		syscallProbe()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// syscallProbeArg runs the test binary, copied into a container as
// /bin/probe, as a probe of syscalls busybox has no applet for.
const syscallProbeArg = "syscall-probe"

// syscallProbe prints name=result for each probed syscall: "ok" or the error.
func syscallProbe() {
	result := func(err error) string {
		if err == nil {
			return "ok"
		}
		return err.Error()
	}
	_, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
	fmt.Printf("keyctl=%s\n", result(err))
	_, err = unix.AddKey("user", "berth-probe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
	fmt.Printf("add_key=%s\n", result(err))
}

// container is one init started by a test.
type container struct {
	t      *testing.T
	cmd    *exec.Cmd
	root   string
	pidns  uint64
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

// shConfig returns a Config running script with /bin/sh -c on a fresh
// busybox rootfs, as root, with Docker's default capabilities and no
// seccomp filter.
func shConfig(t *testing.T, script string) Config {
	t.Helper()
	testutil.RequireRoot(t)
	root := testutil.BusyboxRootfs(t)
	testutil.AddLibrariesOf(t, os.Args[0], root)
	return Config{
		Rootfs:       rootfs.Spec{Root: root},
		Args:         []string{"/bin/sh", "-c", script},
		Env:          []string{"PATH=" + process.DefaultPath, "HOME=/root"},
		Cwd:          "/",
		User:         process.User{AdditionalGids: []uint32{0}},
		Capabilities: process.DefaultCapabilities(),
	}
}

// defaultSeccomp compiles Docker's default profile for caps.
func defaultSeccomp(t *testing.T, caps []string) []seccomp.SockFilter {
	t.Helper()
	prog, err := seccomp.Compile(seccomp.Default(), seccomp.Options{Capabilities: caps})
	if err != nil {
		t.Fatal(err)
	}
	f, err := seccomp.Assemble(prog)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// start runs the test binary as the init of new mount, PID, UTS and IPC
// namespaces with cfg on ConfigFD. Cleanup kills it if still running and
// checks that it left no mount and no process behind.
func start(t *testing.T, cfg Config) *container {
	t.Helper()
	testutil.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	c := &container{t: t, root: cfg.Rootfs.Root, done: make(chan struct{})}
	c.cmd = exec.CommandContext(ctx, os.Args[0])
	c.cmd.Env = append(os.Environ(), initEnv+"=1")
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	c.cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:   syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		Unshareflags: syscall.CLONE_NEWNS,
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.ExtraFiles = []*os.File{r}
	if err := c.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	r.Close()
	// Held open until the cleanup: a namespace that is gone frees its
	// inode number for the next one, and a test running beside this one
	// would then count as processes left in this container.
	nsFile, err := os.Open(fmt.Sprintf("/proc/%d/ns/pid", c.cmd.Process.Pid))
	if err != nil {
		t.Errorf("open pid ns: %v", err)
	} else {
		var st unix.Stat_t
		if err := unix.Fstat(int(nsFile.Fd()), &st); err != nil {
			t.Errorf("stat pid ns: %v", err)
		}
		c.pidns = st.Ino
	}
	go func() {
		c.err = c.cmd.Wait()
		cancel()
		close(c.done)
	}()
	if err := json.NewEncoder(w).Encode(cfg); err != nil {
		t.Errorf("write config: %v", err)
	}
	w.Close()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
		testutil.AssertNoMountsUnder(t, filepath.Dir(c.root))
		if n := c.processes(""); len(n) > 0 {
			t.Errorf("processes left in the container's PID namespace: %v", n)
		}
		if nsFile != nil {
			nsFile.Close()
		}
	})
	return c
}

// wait waits for the init and returns its output and exit code (-1 when it
// was killed by a signal).
func (c *container) wait() (stdout, stderr string, code int) {
	c.t.Helper()
	<-c.done
	if c.err != nil {
		if _, ok := c.err.(*exec.ExitError); !ok {
			c.t.Fatalf("wait: %v", c.err)
		}
	}
	return c.stdout.String(), c.stderr.String(), c.cmd.ProcessState.ExitCode()
}

// running reports whether the init has not exited yet.
func (c *container) running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// processes lists the host PIDs of the processes in the container's PID
// namespace whose command name is comm ("" for any).
func (c *container) processes(comm string) []int {
	var pids []int
	if c.pidns == 0 {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/ns/pid", pid), &st) != nil || st.Ino != c.pidns {
			continue
		}
		if comm != "" {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if err != nil || strings.TrimSpace(string(b)) != comm {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitFor polls until a process named comm runs in the container.
func (c *container) waitFor(comm string) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if len(c.processes(comm)) > 0 {
			return
		}
		if !c.running() {
			out, errOut, code := c.wait()
			c.t.Fatalf("init exited (%d) before %s started: %s %s", code, comm, out, errOut)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("%s did not start in the container", comm)
}

// runInit starts cfg and waits for it.
func runInit(t *testing.T, cfg Config) (stdout, stderr string, code int) {
	t.Helper()
	return start(t, cfg).wait()
}

// results parses "key=value" lines of a workload's output.
func results(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}
