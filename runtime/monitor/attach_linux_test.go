package monitor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func attach(t *testing.T, spec Spec, o AttachOptions) *Attachment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := Attach(ctx, spec.RunDir, o)
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestAttachStreamsOutputAndExit(t *testing.T) {
	t.Parallel()
	spec := newSpec(t, "echo out; echo err >&2; exit 7")
	spec.AttachReplay = true
	start(t, spec)
	// The container is likely done before the attach: the replay and the
	// monitor waiting for its first client keep the output and the exit.
	a := attach(t, spec, AttachOptions{})
	var out, errOut bytes.Buffer
	st, err := a.Stream(nil, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusExited || st.ExitCode != 7 {
		t.Errorf("exit state %+v, want exited 7", st)
	}
	if out.String() != "out\n" || errOut.String() != "err\n" {
		t.Errorf("stdout %q, stderr %q", out.String(), errOut.String())
	}
}

func TestAttachStdinOnce(t *testing.T) {
	t.Parallel()
	spec := newSpec(t, "cat; echo done")
	spec.Stdin, spec.StdinOnce, spec.AttachReplay = true, true, true
	start(t, spec)
	a := attach(t, spec, AttachOptions{Stdin: true})
	var out, errOut bytes.Buffer
	st, err := a.Stream(strings.NewReader("abc\n"), &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode != 0 || out.String() != "abc\ndone\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and the input echoed", st.ExitCode, out.String(), errOut.String())
	}
}

func TestStdinClosedWithoutStdinFlag(t *testing.T) {
	t.Parallel()
	spec := newSpec(t, "cat; echo eof")
	start(t, spec)
	if st := wait(t, spec); st.ExitCode != 0 {
		t.Errorf("cat on /dev/null: %+v", st)
	}
}

func TestTty(t *testing.T) {
	t.Parallel()
	spec := newSpec(t, "tty; stty size; echo err >&2")
	spec.Init.Tty = true
	spec.Init.ConsoleSize = [2]uint16{33, 101}
	spec.AttachReplay = true
	start(t, spec)
	a := attach(t, spec, AttachOptions{})
	var out, errOut bytes.Buffer
	st, err := a.Stream(nil, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	// A terminal has one stream, and its line discipline writes CRLF.
	if got := out.String(); st.ExitCode != 0 || got != "/dev/pts/0\r\n33 101\r\nerr\r\n" || errOut.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q", st.ExitCode, got, errOut.String())
	}
}

func TestTtyInputAndResize(t *testing.T) {
	t.Parallel()
	spec := newSpec(t, "read line; stty size; echo got $line")
	spec.Init.Tty = true
	spec.Stdin = true
	start(t, spec)
	a := attach(t, spec, AttachOptions{Stdin: true})
	if err := a.Resize(40, 120); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The resize is on its way before the line that makes the shell read
	// the size: frames from one client are handled in order.
	go func() {
		_, _ = w.Write([]byte("hi\r"))
		time.Sleep(100 * time.Millisecond)
		w.Close()
	}()
	var out bytes.Buffer
	st, err := a.Stream(r, &out, &out)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); st.ExitCode != 0 || !strings.Contains(got, "40 120\r\n") || !strings.Contains(got, "got hi\r\n") {
		t.Errorf("exit %d, output %q", st.ExitCode, got)
	}
}

func TestStartErrorCommandNotFound(t *testing.T) {
	t.Parallel()
	spec := newSpec(t, "")
	spec.Init.Args = []string{"no-such-command"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Start(ctx, self(), spec)
	var se *StartError
	if !errors.As(err, &se) || se.ExitCode != 127 || se.Msg != `exec: "no-such-command": executable file not found in $PATH` {
		t.Fatalf("start: %v (%#v), want a StartError with 127", err, se)
	}
	if st.Status != StatusExited || st.ExitCode != 127 {
		t.Errorf("state %+v", st)
	}
	if final := wait(t, spec); final.ExitCode != 127 || final.Error == "" {
		t.Errorf("recorded state %+v", final)
	}
}

func TestOnExitRunsUnlessHandedOver(t *testing.T) {
	t.Parallel()
	for _, handOver := range []bool{false, true} {
		name := map[bool]string{false: "detached", true: "handed-over"}[handOver]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec := newSpec(t, "echo bye")
			mark := filepath.Join(t.TempDir(), "ran")
			spec.OnExit = []string{"/bin/sh", "-c", "echo $0 > " + mark, "on-exit"}
			spec.AttachReplay = handOver
			st := start(t, spec)
			if handOver {
				a := attach(t, spec, AttachOptions{Remove: true})
				var out bytes.Buffer
				if _, err := a.Stream(nil, &out, &out); err != nil {
					t.Fatal(err)
				}
				a.Close()
			}
			wait(t, spec)
			reap(t, st.MonitorPid)
			b, err := os.ReadFile(mark)
			switch {
			case handOver && err == nil:
				t.Errorf("OnExit ran although the client took it over")
			case !handOver && strings.TrimSpace(string(b)) != "on-exit":
				t.Errorf("OnExit did not run in place of the monitor: %q, %v", b, err)
			}
		})
	}
}

func TestCgroupNamespaceIsRootedAtTheContainer(t *testing.T) {
	t.Parallel()
	spec := newSpec(t, "cat /proc/self/cgroup")
	spec.AttachReplay = true
	start(t, spec)
	a := attach(t, spec, AttachOptions{})
	var out bytes.Buffer
	if _, err := a.Stream(nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, l := range lines {
		// hierarchy-id:controllers:path, the path relative to the namespace root.
		if parts := strings.SplitN(l, ":", 3); len(parts) != 3 || parts[2] != "/" {
			t.Errorf("/proc/self/cgroup line %q: the container sees a path outside its cgroup namespace root", l)
		}
	}
	if len(lines) == 0 || lines[0] == "" {
		t.Errorf("no /proc/self/cgroup output")
	}
}
