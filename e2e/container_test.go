package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-sh/berth/internal/testutil"
)

// containerEnv is one test's berth state with the busybox image imported as bb:1 (CMD sh) and
// bb:nocmd (no command); every container left at the end is removed with rm -f.
type containerEnv struct {
	t    *testing.T
	dir  string
	env  []string
	root string
	// netns is the test's own network namespace, where every berth it runs must start.
	netns uint64
}

func newContainerEnv(t *testing.T) *containerEnv {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireOverlay(t)
	// Containers are on the default bridge unless told otherwise: its bridge, sysctls and rules
	// go in the test's own network namespace, never the host's.
	inOwnNetNS(t)
	rootfs := busyboxRootfs(t)
	e := &containerEnv{t: t, dir: t.TempDir(), env: stateEnv(t), netns: netNSInode(t)}
	e.root = strings.TrimPrefix(e.env[0], "BERTH_ROOT=")
	e.ok("image", "import", "-c", `CMD ["/bin/sh"]`, rootfs, "bb:1")
	e.ok("image", "import", rootfs, "bb:nocmd")
	t.Cleanup(func() {
		// Only containers of this test's own state root: rm -f kills what they run.
		ids := strings.Fields(e.run("container", "ls", "-aq", "--no-trunc").stdout)
		if len(ids) > 0 {
			if r := e.run(append([]string{"container", "rm", "-f"}, ids...)...); r.code != 0 {
				t.Errorf("cleanup: rm -f: %s", r.stderr)
			}
		}
		checkNoLeaks(t, e.root, strings.TrimPrefix(e.env[1], "BERTH_RUN_ROOT="))
	})
	return e
}

func (e *containerEnv) run(args ...string) result {
	e.t.Helper()
	checkNetNS(e.t, e.netns)
	return cmd{args: args, dir: e.dir, env: e.env}.run(e.t)
}

func (e *containerEnv) ok(args ...string) result {
	e.t.Helper()
	checkNetNS(e.t, e.netns)
	return cmd{args: args, dir: e.dir, env: e.env}.ok(e.t)
}

// inspect returns the one container's inspect object.
func (e *containerEnv) inspect(name string) map[string]any {
	e.t.Helper()
	var out []map[string]any
	if err := json.Unmarshal([]byte(e.ok("container", "inspect", name).stdout), &out); err != nil || len(out) != 1 {
		e.t.Fatalf("inspect %s: %v (%d objects)", name, err, len(out))
	}
	return out[0]
}

// assertGone checks that nothing of container id is left: no record, no mount under the state
// root, no cgroup, no process naming it.
func (e *containerEnv) assertGone(id string) {
	e.t.Helper()
	if _, err := os.Stat(filepath.Join(e.root, "containers", id)); !os.IsNotExist(err) {
		e.t.Errorf("container dir of %s still there (%v)", id, err)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		if strings.Contains(line, e.root) {
			e.t.Errorf("mount left behind: %s", line)
		}
	}
	cgs, _ := filepath.Glob("/sys/fs/cgroup/*/berth/" + id)
	more, _ := filepath.Glob("/sys/fs/cgroup/berth/" + id)
	if cgs = append(cgs, more...); len(cgs) > 0 {
		e.t.Errorf("cgroups left behind: %v", cgs)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), id) {
			e.t.Errorf("process left behind: %s: %q", p, b)
		}
	}
}

func TestContainerRunExitCodes(t *testing.T) {
	e := newContainerEnv(t)
	r := e.run("container", "run", "bb:1", "echo", "hello from the container")
	if r.code != 0 || r.stdout != "hello from the container\n" {
		t.Errorf("run echo: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = e.run("container", "run", "bb:1", "sh", "-c", "echo out; echo err >&2; exit 42")
	if r.code != 42 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("run exit 42: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = e.run("container", "run", "bb:1", "no-such-command")
	if r.code != 127 || !strings.Contains(r.stderr, `exec: "no-such-command": executable file not found in $PATH`) {
		t.Errorf("run missing command: code %d, stderr %q", r.code, r.stderr)
	}
	if n := len(strings.Fields(e.ok("container", "ls", "-aq").stdout)); n != 3 {
		t.Errorf("ls -a lists %d containers, want 3", n)
	}
}

func TestContainerDetachedLifecycle(t *testing.T) {
	e := newContainerEnv(t)
	id := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "sleeper", "bb:1",
		"sh", "-c", "echo started; exec busybox sleep 300").stdout)
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a 64-digit id", id)
	}
	ls := e.ok("container", "ls").stdout
	for _, want := range []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", id[:12], "bb:1", "Up ", "sleeper"} {
		if !strings.Contains(ls, want) {
			t.Errorf("ls lacks %q:\n%s", want, ls)
		}
	}
	// The line reaches the log shortly after the start: poll for it rather than sleep.
	logs := ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if logs = e.ok("container", "logs", "sleeper").stdout; logs != "" {
			break
		}
	}
	if logs != "started\n" {
		t.Errorf("logs = %q", logs)
	}
	e.ok("container", "stop", "sleeper")
	if st := e.inspect("sleeper")["State"].(map[string]any); st["ExitCode"] != 143.0 || st["Running"] != false {
		t.Errorf("state after stop: %v", st)
	}
	if ls := e.ok("container", "ls").stdout; strings.Contains(ls, "sleeper") {
		t.Errorf("ls shows a stopped container:\n%s", ls)
	}
	if ls := e.ok("container", "ls", "-a").stdout; !strings.Contains(ls, "Exited (143)") {
		t.Errorf("ls -a:\n%s", ls)
	}
	e.ok("container", "rm", "sleeper")
	e.assertGone(id)
}

func TestContainerRunRm(t *testing.T) {
	e := newContainerEnv(t)
	if r := e.ok("container", "run", "--rm", "--name", "once", "bb:1", "echo", "bye"); r.stdout != "bye\n" {
		t.Errorf("run --rm printed %q", r.stdout)
	}
	if ls := e.ok("container", "ls", "-aq").stdout; ls != "" {
		t.Errorf("run --rm left %q", ls)
	}
	ents, _ := os.ReadDir(filepath.Join(e.root, "containers"))
	for _, d := range ents {
		if d.IsDir() {
			t.Errorf("run --rm left %s", d.Name())
		}
	}
}

func TestContainerKill(t *testing.T) {
	e := newContainerEnv(t)
	id := strings.TrimSpace(e.ok("container", "run", "-d", "bb:1", "busybox", "sleep", "300").stdout)
	e.ok("container", "kill", "-s", "KILL", id[:12])
	if code := strings.TrimSpace(e.ok("container", "wait", id).stdout); code != "137" {
		t.Errorf("wait after kill -s KILL printed %q, want 137", code)
	}
	e.ok("container", "rm", id)
	e.assertGone(id)
}

func TestContainerRemoveForce(t *testing.T) {
	e := newContainerEnv(t)
	id := strings.TrimSpace(e.ok("container", "run", "-d", "bb:1", "busybox", "sleep", "300").stdout)
	if r := e.run("container", "rm", id); r.code != 1 || !strings.Contains(r.stderr, "container is running") {
		t.Errorf("rm of a running container: code %d, stderr %q", r.code, r.stderr)
	}
	e.ok("container", "rm", "-f", id)
	e.assertGone(id)
}

func TestContainerInspect(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("container", "create", "--name", "insp", "-e", "A=1", "-w", "/tmp", "-u", "0:0", "-l", "team=db",
		"-m", "64m", "--cpus", "0.5", "--pids-limit", "50", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN",
		"--read-only", "bb:1", "echo", "x")
	in := e.inspect("insp")
	if in["Name"] != "/insp" || len(in["Id"].(string)) != 64 || in["Path"] != "echo" {
		t.Errorf("inspect: Name %v Id %v Path %v", in["Name"], in["Id"], in["Path"])
	}
	st := in["State"].(map[string]any)
	if st["Status"] != "created" || st["Running"] != false {
		t.Errorf("State = %v", st)
	}
	cfg := in["Config"].(map[string]any)
	if cfg["Image"] != "bb:1" || cfg["WorkingDir"] != "/tmp" || cfg["User"] != "0:0" ||
		cfg["Labels"].(map[string]any)["team"] != "db" || !strings.Contains(strings.Join(toStrings(cfg["Env"]), " "), "A=1") ||
		strings.Join(toStrings(cfg["Cmd"]), " ") != "echo x" {
		t.Errorf("Config = %v", cfg)
	}
	hc := in["HostConfig"].(map[string]any)
	if hc["Memory"] != float64(64<<20) || hc["NanoCpus"] != 5e8 || hc["PidsLimit"] != 50.0 ||
		hc["ReadonlyRootfs"] != true || hc["Privileged"] != false ||
		strings.Join(toStrings(hc["CapAdd"]), ",") != "NET_ADMIN" || strings.Join(toStrings(hc["CapDrop"]), ",") != "CHOWN" {
		t.Errorf("HostConfig = %v", hc)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestContainerMemoryOOM(t *testing.T) {
	e := newContainerEnv(t)
	// dd fills one 200 MB buffer from /dev/zero: far over 32m of memory (64m with swap).
	r := e.run("container", "run", "--name", "hog", "--memory", "32m", "bb:1", "busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1")
	if r.code != 137 {
		t.Errorf("memory hog exited %d, want 137 (stderr %q)", r.code, r.stderr)
	}
	if st := e.inspect("hog")["State"].(map[string]any); st["OOMKilled"] != true {
		t.Errorf("State = %v, want OOMKilled", st)
	}
}

func TestContainerCapDropAll(t *testing.T) {
	e := newContainerEnv(t)
	r := e.ok("container", "run", "--rm", "--cap-drop", "ALL", "bb:1", "busybox", "grep", "CapEff", "/proc/self/status")
	if strings.TrimSpace(r.stdout) != "CapEff:\t0000000000000000" {
		t.Errorf("--cap-drop ALL: %q", r.stdout)
	}
	r = e.ok("container", "run", "--rm", "bb:1", "busybox", "grep", "CapEff", "/proc/self/status")
	if strings.TrimSpace(r.stdout) == "CapEff:\t0000000000000000" {
		t.Errorf("default capabilities: %q", r.stdout)
	}
}

func TestContainerBadInput(t *testing.T) {
	e := newContainerEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		// --pull never: the default would ask Docker Hub, and tests talk to nothing outside loopback.
		{[]string{"--pull", "never", "no-such-image:1"}, "Unable to find image 'no-such-image:1' locally"},
		{[]string{"--pull", "sometimes", "bb:1"}, `invalid pull option: 'sometimes'`},
		{[]string{"--memory", "lots", "bb:1"}, `invalid argument "lots" for "-m, --memory" flag`},
		{[]string{"--memory", "1k", "bb:1"}, "Minimum memory limit allowed is 6MB"},
		{[]string{"--cap-add", "CAP_NOPE", "bb:1"}, `unknown capability: "CAP_NOPE"`},
		{[]string{"--ulimit", "nofile", "bb:1"}, "invalid ulimit argument: nofile"},
		{[]string{"--security-opt", "apparmor-ish", "bb:1"}, "invalid --security-opt"},
		{[]string{"bb:nocmd"}, "no command specified"},
		{[]string{"-u", "nosuchuser", "bb:1"}, "unable to find user nosuchuser: no matching entries in passwd file"},
		{[]string{"-u", "0:nosuchgroup", "bb:1"}, "unable to find group nosuchgroup"},
		{[]string{"--cpus", "lots", "bb:1"}, `invalid argument "lots" for "--cpus" flag`},
		{[]string{"--stop-signal", "SIGNOPE", "bb:1"}, "Invalid signal: SIGNOPE"},
	} {
		r := e.run(append([]string{"container", "run", "--rm"}, tc.args...)...)
		lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
		if r.code != 125 || len(lines) != 1 || !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(tc.want)) {
			t.Errorf("run %v: code %d, stderr %q; want 125 and one line with %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if r := e.run("container", "run", "-x", "bb:1"); r.code != 125 || !strings.Contains(r.stderr, "unknown shorthand flag: 'x'") {
		t.Errorf("run -x: code %d, stderr %q", r.code, r.stderr)
	}
	if ls := e.ok("container", "ls", "-aq").stdout; ls != "" {
		t.Errorf("bad input left containers: %q", ls)
	}
}

// TestContainerRunProxiesSignals: docker run without a tty passes the CLI's signals on to the
// container (sig-proxy); sleep, which is not PID 1 under berth's init, dies of the SIGINT.
func TestContainerRunProxiesSignals(t *testing.T) {
	e := newContainerEnv(t)
	x := exec.Command(berthBin, "container", "run", "--name", "fg", "bb:1", "sh", "-c", "echo up; exec busybox sleep 300")
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.env...)
	var out bytes.Buffer
	x.Stdout = &out
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- x.Wait() }()
	t.Cleanup(func() {
		// Only the CLI this test started.
		_ = x.Process.Kill()
		<-done
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(e.ok("container", "ls").stdout, "fg") {
			break
		}
	}
	if err := x.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := <-done
	done <- err // for the cleanup
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("run after SIGINT: %v, want exit 130", err)
	}
	if st := e.inspect("fg")["State"].(map[string]any); st["Running"] != false || st["ExitCode"] != 130.0 {
		t.Errorf("State = %v", st)
	}
}
