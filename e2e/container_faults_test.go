package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stateFile reads the monitor's state.json of container id.
func (e *containerEnv) stateFile(id string) map[string]any {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, "containers", id, "state.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// waitLog polls the container's log until it contains want.
func (e *containerEnv) waitLog(name, want string) {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(e.ok("container", "logs", name).stdout, want) {
			return
		}
	}
	e.t.Fatalf("log of %s never showed %q", name, want)
}

// TestContainerMonitorKilled: the monitor dies of SIGKILL; the container ends with it, ls and
// inspect say why, the log stays readable and rm cleans up everything.
func TestContainerMonitorKilled(t *testing.T) {
	e := newContainerEnv(t)
	id := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "victim", "bb:1", "sh", "-c", "echo before; exec busybox sleep 300").stdout)
	e.waitLog("victim", "before")
	st := e.stateFile(id)
	monitorPid, initPid := int(st["monitor_pid"].(float64)), int(st["pid"].(float64))
	// The monitor of this test's own container.
	if err := syscall.Kill(monitorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", initPid)); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's init %d outlived its monitor", initPid)
		}
	}
	if ls := e.ok("container", "ls", "-a").stdout; !strings.Contains(ls, "Exited (137)") {
		t.Errorf("ls -a after the monitor died: %q", ls)
	}
	state := e.inspect("victim")["State"].(map[string]any)
	if state["Running"] != false || state["ExitCode"] != 137.0 || state["Error"] != "monitor died" {
		t.Errorf("State = %v", state)
	}
	if log := e.ok("container", "logs", "victim").stdout; log != "before\n" {
		t.Errorf("log after the monitor died: %q", log)
	}
	e.ok("container", "rm", "victim")
	e.assertGone(id)
}

func TestContainerPidsLimit(t *testing.T) {
	e := newContainerEnv(t)
	// sh and four sleeps make five: the fifth sleep cannot fork.
	r := e.run("container", "run", "--rm", "--pids-limit", "5", "bb:1", "sh", "-c",
		"for i in 1 2 3 4 5 6; do busybox sleep 1 & done; wait; echo finished")
	if r.code == 0 || !strings.Contains(r.stderr, "can't fork") || strings.Contains(r.stdout, "finished") {
		t.Errorf("--pids-limit 5: code %d, stdout %q, stderr %q; want a fork failure", r.code, r.stdout, r.stderr)
	}
	r = e.run("container", "run", "--rm", "--pids-limit", "6", "bb:1", "sh", "-c",
		"for i in 1 2 3 4 5; do busybox sleep 1 & done; wait; echo finished")
	if r.code != 0 || r.stdout != "finished\n" {
		t.Errorf("--pids-limit 6 with six processes: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestContainerLogRotation(t *testing.T) {
	e := newContainerEnv(t)
	// 200 lines of ~100 bytes, in files of at most 2 kB, three kept.
	id := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "chatty", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "bb:1", "sh", "-c",
		`i=0; while [ $i -lt 200 ]; do echo "line $i padding padding padding"; i=$((i+1)); done`).stdout)
	e.ok("container", "wait", "chatty")
	files, _ := filepath.Glob(filepath.Join(e.root, "containers", id, id+"-json.log*"))
	if len(files) != 3 {
		t.Errorf("log files %v, want the current one and two rotated", files)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Size() > 2000+200 {
			t.Errorf("%s: %v, size over max-size", f, err)
		}
	}
	log := e.ok("container", "logs", "chatty").stdout
	if !strings.HasSuffix(log, "line 199 padding padding padding\n") || strings.Contains(log, "line 0 ") {
		t.Errorf("logs across rotated files: %d bytes ending %q", len(log), log[max(0, len(log)-60):])
	}
	if r := e.run("container", "run", "--rm", "--log-opt", "max-size=-1", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "max-size") {
		t.Errorf("bad --log-opt: code %d, stderr %q", r.code, r.stderr)
	}
	if r := e.run("container", "run", "--rm", "--log-driver", "syslog", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, `logging driver "syslog"`) {
		t.Errorf("--log-driver syslog: code %d, stderr %q", r.code, r.stderr)
	}
}

// TestContainerEtcFiles: /etc/hostname, /etc/hosts and /etc/resolv.conf are the container's own,
// bind-mounted as Docker does, writable even on a read-only root.
func TestContainerEtcFiles(t *testing.T) {
	e := newContainerEnv(t)
	r := e.ok("container", "run", "--rm", "--hostname", "box1", "--read-only", "bb:1", "sh", "-c",
		"busybox cat /etc/hostname; busybox grep -c localhost /etc/hosts; busybox test -s /etc/resolv.conf && echo resolv; busybox hostname; echo '10.1.1.1 extra' >> /etc/hosts && echo appended")
	if r.stdout != "box1\n2\nresolv\nbox1\nappended\n" {
		t.Errorf("etc files: %q", r.stdout)
	}
	if strings.Contains(r.stdout, "127.0.0.53") {
		t.Errorf("a loopback nameserver reached the container: %q", r.stdout)
	}
}
