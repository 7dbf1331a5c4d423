//go:build linux

package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// stateAndRestarts is the inspect State of a container, with its RestartCount.
func (e *containerEnv) stateAndRestarts(name string) (map[string]any, int) {
	e.t.Helper()
	in := e.inspect(name)
	return in["State"].(map[string]any), int(in["RestartCount"].(float64))
}

func (e *containerEnv) waitState(name, what string, cond func(st map[string]any, restarts int) bool) map[string]any {
	e.t.Helper()
	var st map[string]any
	var n int
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if st, n = e.stateAndRestarts(name); cond(st, n) {
			return st
		}
	}
	e.t.Fatalf("%s: timed out waiting for %s; State %v, RestartCount %d", name, what, st, n)
	return nil
}

func TestContainerRestartPolicies(t *testing.T) {
	e := newContainerEnv(t)
	// on-failure:3 gives exactly three restarts, with a growing backoff between the runs.
	e.ok("container", "run", "-d", "--name", "flaky", "--restart", "on-failure:3", "bb:1", "sh", "-c", "echo run; exit 3")
	e.waitState("flaky", "the end of its retries", func(st map[string]any, n int) bool { return st["Status"] == "exited" && n == 3 })
	time.Sleep(300 * time.Millisecond)
	if _, n := e.stateAndRestarts("flaky"); n != 3 {
		t.Errorf("on-failure:3 restarted %d times", n)
	}
	var starts []time.Time
	for _, line := range strings.Split(strings.TrimSpace(e.ok("container", "logs", "-t", "flaky").stdout), "\n") {
		ts, _, _ := strings.Cut(line, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		starts = append(starts, at)
	}
	if len(starts) != 4 {
		t.Fatalf("%d runs logged, want 4", len(starts))
	}
	// Docker's backoff: 100 ms, 200 ms, 400 ms (each plus the start itself).
	for i := 1; i < 4; i++ {
		gap, min := starts[i].Sub(starts[i-1]), 100*time.Millisecond<<(i-1)
		if gap < min {
			t.Errorf("run %d started %v after run %d, want at least %v", i+1, gap, i, min)
		}
		if i > 1 && gap <= starts[i-1].Sub(starts[i-2]) {
			t.Errorf("the backoff did not grow: gaps %v", starts)
		}
	}
	// A restart keeps the container's filesystem.
	e.ok("container", "run", "-d", "--name", "keeps", "--restart", "on-failure", "bb:1", "sh", "-c",
		"if [ -f /etc/seen ]; then echo again; exec busybox sleep 300; fi; busybox touch /etc/seen; exit 1")
	e.waitState("keeps", "the second run", func(st map[string]any, n int) bool { return n == 1 && st["Status"] == "running" })
	waitFor(t, "the second run's output", func() bool { return e.ok("container", "logs", "keeps").stdout == "again\n" })
	// A successful exit is not a failure.
	e.ok("container", "run", "-d", "--name", "fine", "--restart", "on-failure", "bb:1", "sh", "-c", "exit 0")
	e.waitState("fine", "its exit", func(st map[string]any, _ int) bool { return st["Status"] == "exited" })
	if _, n := e.stateAndRestarts("fine"); n != 0 {
		t.Errorf("on-failure restarted a clean exit %d times", n)
	}

	// always restarts after a crash, but not after stop or kill.
	for _, how := range []string{"stop", "kill"} {
		name := "always-" + how
		e.ok("container", "run", "-d", "--name", name, "--restart", "always", "bb:1", "sh", "-c", "busybox sleep 0.2; exit 1")
		e.waitState(name, "a restart", func(st map[string]any, n int) bool { return n >= 1 && st["Status"] == "running" })
		e.ok("container", how, name)
		st := e.waitState(name, "its stop", func(st map[string]any, _ int) bool { return st["Status"] == "exited" })
		_, before := e.stateAndRestarts(name)
		time.Sleep(500 * time.Millisecond)
		if st2, after := e.stateAndRestarts(name); st2["Status"] != "exited" || after != before {
			t.Errorf("%s of an always container: then %v with %d restarts (was %v, %d)", how, st2, after, st, before)
		}
		if ls := e.ok("container", "ls").stdout; strings.Contains(ls, name) {
			t.Errorf("%s: still listed as running:\n%s", how, ls)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--restart", "sometimes", "bb:1"}, "unknown policy 'sometimes'"},
		{[]string{"--restart", "always:3", "bb:1"}, "maximum retry count can only be used with 'on-failure'"},
		{[]string{"--restart", "on-failure:x", "bb:1"}, "maximum retry count must be an integer"},
		{[]string{"--restart", "always", "--rm", "bb:1"}, "Conflicting options: --restart and --rm"},
		{[]string{"--health-retries", "-1", "bb:1"}, "--health-retries cannot be negative"},
		{[]string{"--no-healthcheck", "--health-cmd", "true", "bb:1"}, "--no-healthcheck conflicts with --health-* options"},
	} {
		r := e.run(append([]string{"container", "run", "-d"}, tc.args...)...)
		if r.code != 125 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("run %v: code %d, stderr %q; want 125 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func health(st map[string]any) (status string, streak int, log []any) {
	h, ok := st["Health"].(map[string]any)
	if !ok {
		return "", 0, nil
	}
	l, _ := h["Log"].([]any)
	return h["Status"].(string), int(h["FailingStreak"].(float64)), l
}

func TestContainerHealthchecks(t *testing.T) {
	e := newContainerEnv(t)
	// starting, unhealthy after two failures, healthy after a success; ls shows it.
	e.ok("container", "run", "-d", "--name", "svc", "--health-cmd", "busybox test -f /etc/ok && echo fine", "--health-interval", "100ms", "--health-retries", "2", "bb:1", "busybox", "sleep", "300")
	if st, _ := e.stateAndRestarts("svc"); st["Health"] == nil {
		t.Fatalf("no Health in State %v", st)
	}
	e.waitState("svc", "unhealthy", func(st map[string]any, _ int) bool { s, _, _ := health(st); return s == "unhealthy" })
	if ls := e.ok("container", "ls").stdout; !strings.Contains(ls, "(unhealthy)") {
		t.Errorf("ls does not show the health:\n%s", ls)
	}
	e.ok("container", "exec", "svc", "busybox", "touch", "/etc/ok")
	st := e.waitState("svc", "healthy", func(st map[string]any, _ int) bool { s, _, _ := health(st); return s == "healthy" })
	_, streak, log := health(st)
	last := log[len(log)-1].(map[string]any)
	if streak != 0 || len(log) > 5 || last["ExitCode"] != 0.0 || last["Output"] != "fine\n" {
		t.Errorf("healthy: streak %d, %d log entries, last %v", streak, len(log), last)
	}

	// A probe that hangs past its timeout is a failure, and is killed.
	e.ok("container", "run", "-d", "--name", "hang", "--health-cmd", "busybox sleep 7", "--health-timeout", "200ms", "--health-interval", "100ms", "--health-retries", "1", "bb:1", "busybox", "sleep", "300")
	st = e.waitState("hang", "unhealthy", func(st map[string]any, _ int) bool { s, _, _ := health(st); return s == "unhealthy" })
	_, _, log = health(st)
	if first := log[0].(map[string]any); first["ExitCode"] != -1.0 || first["Output"] != "Health check exceeded timeout (200ms)" {
		t.Errorf("timed-out probe: %v", first)
	}
	time.Sleep(300 * time.Millisecond)
	if ps := e.ok("container", "exec", "hang", "busybox", "ps", "-o", "args").stdout; strings.Count(ps, "sleep 7") > 1 {
		t.Errorf("timed-out probes left running:\n%s", ps)
	}

	// Failures in the start period do not count.
	e.ok("container", "run", "-d", "--name", "slow", "--health-cmd", "false", "--health-interval", "100ms", "--health-start-period", "3s", "--health-start-interval", "100ms", "--health-retries", "1", "bb:1", "busybox", "sleep", "300")
	st = e.waitState("slow", "failed probes", func(st map[string]any, _ int) bool { _, _, l := health(st); return len(l) >= 3 })
	if s, streak, _ := health(st); s != "starting" || streak != 0 {
		t.Errorf("in the start period: %s with a failing streak of %d, want starting and 0", s, streak)
	}
	e.waitState("slow", "unhealthy after the start period", func(st map[string]any, _ int) bool { s, _, _ := health(st); return s == "unhealthy" })

	// The image's HEALTHCHECK runs unless --no-healthcheck turns it off.
	e.ok("image", "import", "-c", "HEALTHCHECK --interval=100ms --retries=1 CMD busybox false", busyboxRootfs(t), "checked:1")
	e.ok("container", "run", "-d", "--name", "imgcheck", "checked:1", "busybox", "sleep", "300")
	e.waitState("imgcheck", "unhealthy", func(st map[string]any, _ int) bool { s, _, _ := health(st); return s == "unhealthy" })
	e.ok("container", "run", "-d", "--name", "nocheck", "--no-healthcheck", "checked:1", "busybox", "sleep", "300")
	time.Sleep(400 * time.Millisecond)
	if st, _ := e.stateAndRestarts("nocheck"); st["Health"] != nil {
		t.Errorf("--no-healthcheck: State.Health %v", st["Health"])
	}
	if hc := e.inspect("nocheck")["Config"].(map[string]any)["Healthcheck"]; hc == nil || !strings.Contains(strings.Join(toStrings(hc.(map[string]any)["Test"]), " "), "NONE") {
		t.Errorf("--no-healthcheck: Config.Healthcheck %v", hc)
	}
}

// TestContainerMonitorKilledWhileRestarting: the monitor dies between two runs; the state says
// so, nothing runs on, and rm cleans up.
func TestContainerMonitorKilledWhileRestarting(t *testing.T) {
	e := newContainerEnv(t)
	id := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "crashy", "--restart", "always", "bb:1", "sh", "-c", "exit 1").stdout)
	// The backoff grows to seconds: soon the container waits long in "restarting".
	e.waitState("crashy", "a long restart delay", func(st map[string]any, n int) bool { return n >= 4 && st["Status"] == "restarting" })
	pid := int(e.stateFile(id)["monitor_pid"].(float64))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil { // this test's own container's monitor
		t.Fatal(err)
	}
	e.waitState("crashy", "the monitor's death to show", func(st map[string]any, _ int) bool {
		return st["Status"] == "exited" && st["Error"] == "monitor died"
	})
	time.Sleep(500 * time.Millisecond)
	if st, _ := e.stateAndRestarts("crashy"); st["Status"] != "exited" {
		t.Errorf("after the monitor died: %v", st)
	}
	e.ok("container", "rm", "crashy")
	e.assertGone(id)
}
