//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hostProcesses lists host pids whose command line contains s.
func hostProcesses(s string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), s) {
			out = append(out, p)
		}
	}
	return out
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestContainerExec(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("container", "run", "-d", "--name", "app", "-u", "1000", "-e", "LEVEL=1", "bb:1", "busybox", "sleep", "300")
	for _, tc := range []struct {
		args         []string
		stdin        string
		code         int
		stdout, errs string
	}{
		{args: []string{"sh", "-c", "echo out; echo err >&2"}, stdout: "out\n", errs: "err\n"},
		{args: []string{"sh", "-c", "exit 7"}, code: 7},
		{args: []string{"-i", "busybox", "cat"}, stdin: "piped\n", stdout: "piped\n"},
		{args: []string{"busybox", "cat"}, stdin: "not passed without -i\n"},
		// The container's user, environment and working directory, and the overrides.
		{args: []string{"sh", "-c", "busybox id -u; echo $LEVEL; busybox pwd"}, stdout: "1000\n1\n/\n"},
		{args: []string{"-u", "0", "-w", "/etc", "-e", "LEVEL=2", "sh", "-c", "busybox id -u; echo $LEVEL; busybox pwd"}, stdout: "0\n2\n/etc\n"},
		// The container's cgroup (the root of its cgroup namespace in every hierarchy) and its
		// capabilities, no more.
		{args: []string{"sh", "-c", "busybox grep -v ':/$' /proc/self/cgroup || echo all-in-the-container"}, stdout: "all-in-the-container\n"},
		{args: []string{"-u", "0", "busybox", "grep", "CapBnd", "/proc/self/status"}, stdout: "CapBnd:\t00000000a80425fb\n"},
		{args: []string{"busybox", "grep", "CapEff", "/proc/self/status"}, stdout: "CapEff:\t0000000000000000\n"},
		{args: []string{"-u", "0", "sh", "-c", "busybox unshare -U true 2>/dev/null || echo denied"}, stdout: "denied\n"},
	} {
		full := append([]string{"container", "exec"}, flagsAndName(tc.args, "app")...)
		r := cmd{args: full, dir: e.dir, env: e.env, stdin: tc.stdin}.run(t)
		if r.code != tc.code || r.stdout != tc.stdout || r.stderr != tc.errs {
			t.Errorf("exec %v: code %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.errs)
		}
	}
	if r := e.run("container", "exec", "--privileged", "-u", "0", "app", "busybox", "grep", "CapEff", "/proc/self/status"); r.code != 0 || r.stdout == "CapEff:\t00000000a80425fb\n" {
		t.Errorf("exec --privileged: code %d, stdout %q", r.code, r.stdout)
	}
}

// flagsAndName puts the container name after the exec flags in args (which start with flags,
// each a single word or a flag and its value, then the command).
func flagsAndName(args []string, name string) []string {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		switch args[i] {
		case "-u", "-w", "-e":
			i += 2
		default:
			i++
		}
	}
	out := append([]string{}, args[:i]...)
	out = append(out, name)
	return append(out, args[i:]...)
}

func TestContainerExecErrors(t *testing.T) {
	e := newContainerEnv(t)
	id := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "app", "bb:1", "busybox", "sleep", "300").stdout)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"app", "no-such-command"}, 127, `exec: "no-such-command": executable file not found in $PATH`},
		{[]string{"app", "/etc/motd"}, 126, `exec: "/etc/motd": permission denied`},
		{[]string{"-w", "relative", "app", "true"}, 125, "needs to be an absolute path"},
		{[]string{"-u", "nosuchuser", "app", "true"}, 125, "unable to find user nosuchuser"},
		{[]string{"nosuch", "true"}, 1, "No such container: nosuch"},
		{[]string{"app"}, 125, "requires at least 2 arguments"},
	} {
		r := e.run(append([]string{"container", "exec"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("exec %v: code %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	e.ok("container", "pause", "app")
	if r := e.run("container", "exec", "app", "true"); r.code != 1 || !strings.Contains(r.stderr, "Container "+id+" is paused, unpause the container before exec") {
		t.Errorf("exec in a paused container: code %d, stderr %q", r.code, r.stderr)
	}
	e.ok("container", "unpause", "app")
	e.ok("container", "stop", "-t", "0", "app")
	if r := e.run("container", "exec", "app", "true"); r.code != 1 || !strings.Contains(r.stderr, "Container "+id+" is not running") {
		t.Errorf("exec in a stopped container: code %d, stderr %q", r.code, r.stderr)
	}
}

// TestContainerExecClientKilled: a killed exec client takes its process with it; a detached
// exec runs on until the container ends, and goes with it.
func TestContainerExecClientKilled(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("container", "run", "-d", "--name", "app", "bb:1", "busybox", "sleep", "300")
	marker := fmt.Sprintf("%d", 100000+os.Getpid()%100000)
	x := exec.Command(berthBin, "container", "exec", "app", "busybox", "sleep", marker)
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.env...)
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the exec'd sleep", func() bool { return len(hostProcesses("busybox sleep "+marker)) > 0 })
	_ = x.Process.Signal(syscall.SIGKILL) // the CLI this test started
	_ = x.Wait()
	waitUntil(t, "the exec'd sleep to go with its client", func() bool { return len(hostProcesses("busybox sleep "+marker)) == 0 })

	e.ok("container", "exec", "-d", "app", "busybox", "sleep", marker)
	if len(hostProcesses("busybox sleep "+marker)) == 0 {
		t.Fatal("exec -d: the process is not running")
	}
	e.ok("container", "stop", "-t", "0", "app")
	if left := hostProcesses("busybox sleep " + marker); len(left) > 0 {
		t.Errorf("exec'd process outlived its container: %v", left)
	}
}

func TestContainerExecTty(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("container", "run", "-d", "--name", "app", "bb:1", "busybox", "sleep", "300")
	x, master, out, done := e.startOnPty("container", "exec", "-it", "app", "sh")
	out.waitFor(t, "# ")
	if _, err := master.Write([]byte("stty size; echo $TERM\r")); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "33 101\r\nxterm\r\n")
	// A resize of the CLI's terminal reaches the process's.
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 120}); err != nil {
		t.Fatal(err)
	}
	_ = x.Process.Signal(syscall.SIGWINCH)
	time.Sleep(200 * time.Millisecond)
	if _, err := master.Write([]byte("stty size; busybox sleep 300\r")); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "50 120\r\n")
	time.Sleep(200 * time.Millisecond)
	if _, err := master.Write([]byte{0x03}); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "^C")
	if _, err := master.Write([]byte("exit 4\r")); err != nil {
		t.Fatal(err)
	}
	if code := exitCodeOf(t, done); code != 4 {
		t.Errorf("exec -it: exit %d, want 4; output %q", code, out.String())
	}
	if ps := e.ok("container", "exec", "app", "busybox", "ps", "-o", "comm").stdout; strings.Count(ps, "\n") != 4 {
		t.Errorf("processes left after the exec session: %q", ps)
	}
}
