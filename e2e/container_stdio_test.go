//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"golang.org/x/sys/unix"
)

// openPty returns a pty pair of the host's devpts for a CLI that needs a terminal.
func openPty(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// ptyOutput collects what a CLI writes to its terminal.
type ptyOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (p *ptyOutput) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

func (p *ptyOutput) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// waitFor polls until the output contains want.
func (p *ptyOutput) waitFor(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(p.String(), want) {
			return
		}
	}
	t.Fatalf("terminal output %q never showed %q", p.String(), want)
}

// startOnPty starts berth with a terminal as stdin, stdout and stderr.
func (e *containerEnv) startOnPty(args ...string) (x *exec.Cmd, master *os.File, out *ptyOutput, done chan error) {
	e.t.Helper()
	master, slave := openPty(e.t, 33, 101)
	x = exec.Command(berthBin, args...)
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.t.TempDir()}, e.env...)
	x.Stdin, x.Stdout, x.Stderr = slave, slave, slave
	x.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := x.Start(); err != nil {
		e.t.Fatal(err)
	}
	slave.Close()
	out = &ptyOutput{}
	go func() { _, _ = io.Copy(out, master) }()
	done = make(chan error, 1)
	go func() { done <- x.Wait() }()
	e.t.Cleanup(func() {
		select {
		case err := <-done:
			done <- err
		default:
			_ = x.Process.Kill() // only the CLI this test started
			<-done
		}
	})
	return x, master, out, done
}

func exitCodeOf(t *testing.T, done chan error) int {
	t.Helper()
	select {
	case err := <-done:
		done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatal("the CLI did not exit")
		return -1
	}
}

func TestContainerRunInteractive(t *testing.T) {
	e := newContainerEnv(t)
	r := cmd{args: []string{"container", "run", "--rm", "-i", "bb:1", "sh", "-c", "cat; echo end"}, dir: e.dir, env: e.env, stdin: "line 1\nline 2\n"}.run(t)
	if r.code != 0 || r.stdout != "line 1\nline 2\nend\n" {
		t.Errorf("run -i: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// Without -i the container's stdin is empty, whatever the CLI's is.
	r = cmd{args: []string{"container", "run", "--rm", "bb:1", "sh", "-c", "cat; echo end"}, dir: e.dir, env: e.env, stdin: "ignored\n"}.run(t)
	if r.code != 0 || r.stdout != "end\n" {
		t.Errorf("run without -i: code %d, stdout %q", r.code, r.stdout)
	}
	if r := e.run("container", "run", "--rm", "-it", "bb:1", "true"); r.code == 0 || !strings.Contains(r.stderr, "the input device is not a TTY") {
		t.Errorf("run -it without a terminal: code %d, stderr %q", r.code, r.stderr)
	}
	if ls := e.ok("container", "ls", "-aq").stdout; ls != "" {
		t.Errorf("--rm left %q", ls)
	}
}

func TestContainerRunTty(t *testing.T) {
	e := newContainerEnv(t)
	_, master, out, done := e.startOnPty("container", "run", "-it", "-u", "1000", "--name", "tty", "bb:1", "sh")
	out.waitFor(t, "$ ")
	// The size comes from the CLI's terminal; a non-root user owns its terminal.
	if _, err := master.Write([]byte("stty size; busybox stat -c %u $(busybox tty); busybox sleep 300\r")); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "33 101\r\n1000\r\n")
	// Ctrl-C travels through the terminal to the foreground sleep, not to berth.
	time.Sleep(200 * time.Millisecond)
	if _, err := master.Write([]byte{0x03}); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "^C")
	if _, err := master.Write([]byte("exit 3\r")); err != nil {
		t.Fatal(err)
	}
	if code := exitCodeOf(t, done); code != 3 {
		t.Errorf("run -it: exit %d, want 3; output %q", code, out.String())
	}
	if st := e.inspect("tty")["State"].(map[string]any); st["ExitCode"] != 3.0 {
		t.Errorf("State = %v", st)
	}
	if log := e.ok("container", "logs", "tty").stdout; !strings.Contains(log, "33 101") {
		t.Errorf("the tty output is not in the log: %q", log)
	}
}

func TestContainerRunTtyDetachKeys(t *testing.T) {
	e := newContainerEnv(t)
	_, master, out, done := e.startOnPty("container", "run", "-it", "--name", "det", "bb:1", "sh")
	out.waitFor(t, "# ")
	if _, err := master.Write([]byte{0x10, 0x11}); err != nil {
		t.Fatal(err)
	}
	if code := exitCodeOf(t, done); code != 0 {
		t.Errorf("detach: exit %d, want 0", code)
	}
	if ls := e.ok("container", "ls").stdout; !strings.Contains(ls, "det") {
		t.Errorf("the container stopped on detach: %q", ls)
	}
}

func TestContainerRunStartFailures(t *testing.T) {
	e := newContainerEnv(t)
	// An image without /bin/sh: only busybox itself, and a shell-form command.
	e.ok("image", "import", "-c", "CMD echo shell form", busyboxOnlyTar(t), "bare:1")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bb:1", "no-such-command"}, 127, `exec: "no-such-command": executable file not found in $PATH`},
		{[]string{"bb:1", "/etc/motd"}, 126, `exec: "/etc/motd": permission denied`},
		{[]string{"bare:1"}, 127, `exec: "/bin/sh": stat /bin/sh: no such file or directory`},
	} {
		for _, detach := range []bool{false, true} {
			args := []string{"container", "run", "--rm"}
			if detach {
				args = append(args, "-d")
			}
			r := e.run(append(args, tc.args...)...)
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if r.code != tc.code || len(lines) != 1 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("run %v (detached %v): code %d, stdout %q, stderr %q; want %d and one line with %q", tc.args, detach, r.code, r.stdout, r.stderr, tc.code, tc.want)
			}
		}
	}
	if ls := e.ok("container", "ls", "-aq").stdout; ls != "" {
		t.Errorf("failed --rm runs left %q", ls)
	}
}

// busyboxOnlyTar is a rootfs with /bin/busybox and nothing else: no /bin/sh.
func busyboxOnlyTar(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := busyboxRootfs(t)
	x := exec.Command("tar", "-xf", src, "-C", dir, "./bin/busybox", "bin/busybox")
	_ = x.Run() // one of the two spellings is in the archive
	if _, err := os.Stat(filepath.Join(dir, "bin", "busybox")); err != nil {
		t.Fatalf("extract busybox: %v", err)
	}
	out := filepath.Join(t.TempDir(), "bare.tar")
	if b, err := exec.Command("tar", "-cf", out, "-C", dir, "bin").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, b)
	}
	return out
}

// waitRemoved polls until the container's record is gone, without listing (which removes exited
// --rm containers itself).
func (e *containerEnv) waitRemoved(id string) {
	e.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(e.root, "containers", id)); os.IsNotExist(err) {
			e.assertGone(id)
			return
		}
	}
	e.t.Errorf("container %s was not removed", id)
}

func TestContainerRunDetachedRmRemovesItself(t *testing.T) {
	e := newContainerEnv(t)
	id := strings.TrimSpace(e.ok("container", "run", "-d", "--rm", "bb:1", "sh", "-c", "busybox sleep 0.2").stdout)
	e.waitRemoved(id)
}

// TestContainerRunCLIKilled: the CLI of a foreground `run --rm` is SIGKILLed; the container runs
// on to its end, and its monitor removes it.
func TestContainerRunCLIKilled(t *testing.T) {
	e := newContainerEnv(t)
	x := exec.Command(berthBin, "container", "run", "--rm", "--name", "orphan", "bb:1", "sh", "-c", "echo up; busybox sleep 1; echo done")
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.env...)
	out := &ptyOutput{}
	x.Stdout = out
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "up\n")
	id := strings.TrimSpace(e.ok("container", "ls", "-q", "--no-trunc").stdout)
	_ = x.Process.Kill()
	_ = x.Wait()
	if ls := e.ok("container", "ls").stdout; !strings.Contains(ls, "orphan") {
		t.Errorf("the container did not outlive its CLI: %q", ls)
	}
	e.waitRemoved(id)
}

func TestContainerTmpfs(t *testing.T) {
	e := newContainerEnv(t)
	r := e.ok("container", "run", "--rm", "--read-only", "--tmpfs", "/scratch:size=1m,exec", "bb:1", "sh", "-c", "grep ' /scratch ' /proc/mounts; echo x > /scratch/f && echo wrote")
	if !strings.Contains(r.stdout, "tmpfs /scratch tmpfs rw,nosuid,nodev,relatime,size=1024k") || !strings.Contains(r.stdout, "wrote") {
		t.Errorf("--tmpfs: %q", r.stdout)
	}
	if r := e.run("container", "run", "--rm", "--tmpfs", "scratch", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "must be absolute") {
		t.Errorf("relative --tmpfs: code %d, stderr %q", r.code, r.stderr)
	}
	if r := e.run("container", "run", "--rm", "--tmpfs", "/x:bogus", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, `invalid tmpfs option "bogus"`) {
		t.Errorf("bad --tmpfs option: code %d, stderr %q", r.code, r.stderr)
	}
}

// TestContainerRunPullsMissingImage: run pulls an image it does not have, as docker run does,
// from a registry on loopback.
func TestContainerRunPullsMissingImage(t *testing.T) {
	e := newContainerEnv(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/bb:1"
	e.ok("image", "tag", "bb:1", ref)
	e.ok("image", "push", ref)
	// A second state root has no images at all.
	other := &containerEnv{t: t, dir: t.TempDir(), env: stateEnv(t), netns: e.netns}
	r := other.run("container", "run", "--rm", ref, "echo", "pulled and ran")
	if r.code != 0 || r.stdout != "pulled and ran\n" || !strings.Contains(r.stderr, "Unable to find image '"+ref+"' locally") || !strings.Contains(r.stderr, "Status: Downloaded newer image for "+ref) {
		t.Errorf("run of a missing image: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// Now it is there: no pull, nothing on stderr.
	if r := other.run("container", "run", "--rm", ref, "echo"); r.code != 0 || r.stderr != "" {
		t.Errorf("second run: code %d, stderr %q", r.code, r.stderr)
	}
	if r := other.run("container", "create", "--pull", "always", ref); r.code != 0 || !strings.Contains(r.stderr, "Digest: sha256:") {
		t.Errorf("create --pull always: code %d, stderr %q", r.code, r.stderr)
	} else {
		other.ok("container", "rm", strings.TrimSpace(r.stdout))
	}
	// The second root made the default network in the test's namespace.
	other.ok("network", "rm", "bridge")
}

func TestContainerAttach(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("container", "run", "-dit", "--name", "shell", "bb:1", "sh")
	_, master, out, done := e.startOnPty("container", "attach", "shell")
	// The shell is waiting at its prompt: a command shows that the input and output are attached.
	if _, err := master.Write([]byte("echo attached-$((40+2))\r")); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "attached-42")
	if _, err := master.Write([]byte{0x10, 0x11}); err != nil {
		t.Fatal(err)
	}
	if code := exitCodeOf(t, done); code != 1 {
		t.Errorf("detach from attach: exit %d, output %q; want 1", code, out.String())
	}
	out.waitFor(t, "read escape sequence") // Docker's message, which the terminal may deliver late
	// Attached again, the shell's exit ends the attach with its code.
	_, master, out, done = e.startOnPty("container", "attach", "--detach-keys", "ctrl-a,d", "shell")
	if _, err := master.Write([]byte("exit 3\r")); err != nil {
		t.Fatal(err)
	}
	if code := exitCodeOf(t, done); code != 3 {
		t.Errorf("attach until exit: exit %d, want 3; output %q", code, out.String())
	}
	if r := e.run("container", "attach", "shell"); r.code != 1 || !strings.Contains(r.stderr, "You cannot attach to a stopped container, start it first") {
		t.Errorf("attach to a stopped container: code %d, stderr %q", r.code, r.stderr)
	}
	// Without a tty: the output streams, and a signal to the CLI is passed on.
	e.ok("container", "run", "-d", "--name", "talker", "bb:1", "sh", "-c", "trap 'echo got-term; exit 5' TERM; echo ready; while :; do busybox sleep 0.1; done")
	x := exec.Command(berthBin, "container", "attach", "talker")
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.env...)
	cliOut := &ptyOutput{}
	x.Stdout = cliOut
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	_ = x.Process.Signal(syscall.SIGTERM) // the CLI this test started
	err := x.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 || !strings.Contains(cliOut.String(), "got-term") {
		t.Errorf("attach with SIGTERM: %v, output %q; want the container's trap and exit 5", err, cliOut.String())
	}
}
