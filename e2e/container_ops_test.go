package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-sh/berth/internal/testutil"
)

// promptly bounds the commands that must not wait for a grace period: the containers below
// get --stop-timeout 60, so a stop signal held in the freezer would only end with the SIGKILL
// a minute later.
const promptly = 20 * time.Second

// runWithin is e.run that gives up after d (killing the CLI it started), so that a command
// stuck on a frozen container fails the test instead of hanging it.
func (e *containerEnv) runWithin(d time.Duration, args ...string) (r result, ok bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	x := exec.CommandContext(ctx, berthBin, args...)
	x.Dir = e.dir
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.t.TempDir(), "PWD=" + e.dir}, e.env...)
	var out, errOut strings.Builder
	x.Stdout, x.Stderr = &out, &errOut
	err := x.Run()
	r = result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return r, false
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("running berth %v: %v", args, err)
	}
	return r, true
}

// unpauseOnCleanup thaws the test's containers before newContainerEnv's rm -f runs (cleanups
// run last registered first), so that a failed test leaves no frozen container behind.
func (e *containerEnv) unpauseOnCleanup() {
	e.t.Cleanup(func() {
		for _, id := range strings.Fields(e.run("container", "ls", "-q", "--no-trunc").stdout) {
			e.run("container", "unpause", id) // "is not paused" for the others
		}
	})
}

// state is the State block of the container's inspect.
func (e *containerEnv) state(name string) map[string]any {
	e.t.Helper()
	return e.inspect(name)["State"].(map[string]any)
}

// logLines counts the lines of the container's log.
func (e *containerEnv) logLines(name string) int {
	e.t.Helper()
	return strings.Count(e.ok("container", "logs", name).stdout, "\n")
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// oneLineError checks a failure: exit 1 and exactly want on stderr.
func oneLineError(t *testing.T, what string, r result, want string) {
	t.Helper()
	if r.code != 1 || r.stderr != want+"\n" {
		t.Errorf("%s: exit %d, stderr %q; want 1 and %q", what, r.code, r.stderr, want)
	}
}

// lsLine is the `container ls` line of the container named name, or "".
func (e *containerEnv) lsLine(name string, args ...string) string {
	e.t.Helper()
	for _, l := range strings.Split(e.ok(append([]string{"container", "ls"}, args...)...).stdout, "\n") {
		if strings.HasSuffix(l, " "+name) {
			return l
		}
	}
	return ""
}

func TestContainerPause(t *testing.T) {
	e := newContainerEnv(t)
	e.unpauseOnCleanup()
	// A line every 100 ms: while the container is frozen, none.
	id := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "ticker", "bb:1",
		"sh", "-c", "while :; do echo tick; busybox sleep 0.1; done").stdout)
	waitFor(t, "the first line", func() bool { return e.logLines("ticker") > 0 })

	if r := e.ok("container", "pause", "ticker"); r.stdout != "ticker\n" {
		t.Errorf("pause printed %q", r.stdout)
	}
	if l := e.lsLine("ticker"); !regexp.MustCompile(`\sUp .* \(Paused\)\s`).MatchString(l) {
		t.Errorf("ls (running ones only) shows the paused container as %q, want Up ... (Paused)", l)
	}
	var row map[string]any
	if err := json.Unmarshal([]byte(e.ok("container", "ls", "--format", "json").stdout), &row); err != nil {
		t.Fatalf("ls --format json: %v", err)
	}
	if row["State"] != "paused" {
		t.Errorf("ls --format json State = %v, want paused", row["State"])
	}
	st := e.state("ticker")
	if st["Status"] != "paused" || st["Running"] != true || st["Paused"] != true || st["Pid"].(float64) <= 0 {
		t.Errorf("State of a paused container = %v; want Status paused, Running and Paused true, its Pid", st)
	}
	// Lines already in the pipe may still reach the log: count once they have.
	time.Sleep(500 * time.Millisecond)
	frozen := e.logLines("ticker")
	time.Sleep(time.Second)
	if n := e.logLines("ticker"); n != frozen {
		t.Errorf("the paused container wrote %d lines", n-frozen)
	}
	oneLineError(t, "pause of a paused container", e.run("container", "pause", "ticker"), "Container "+id+" is already paused")

	if r := e.ok("container", "unpause", id[:12]); r.stdout != id[:12]+"\n" {
		t.Errorf("unpause printed %q", r.stdout)
	}
	if l := e.lsLine("ticker"); !strings.Contains(l, " Up ") || strings.Contains(l, "Paused") {
		t.Errorf("ls after unpause: %q", l)
	}
	if st := e.state("ticker"); st["Status"] != "running" || st["Paused"] != false || st["Running"] != true {
		t.Errorf("State after unpause = %v", st)
	}
	waitFor(t, "lines after unpause", func() bool { return e.logLines("ticker") > frozen })
	oneLineError(t, "unpause of a running container", e.run("container", "unpause", "ticker"), "Container "+id+" is not paused")

	created := strings.TrimSpace(e.ok("container", "create", "--name", "idle", "bb:1", "busybox", "sleep", "1").stdout)
	oneLineError(t, "pause of a created container", e.run("container", "pause", "idle"), "Container "+created+" is not running")
	oneLineError(t, "unpause of a created container", e.run("container", "unpause", "idle"), "Container "+created+" is not paused")
	oneLineError(t, "pause of a missing container", e.run("container", "pause", "nosuch"), "No such container: nosuch")
	oneLineError(t, "unpause of a missing container", e.run("container", "unpause", "nosuch"), "No such container: nosuch")
}

// TestContainerPausedStopKillRemove: stop, kill and rm -f reach a paused container, as in
// Docker: the signal first, then the thaw that lets it land.
func TestContainerPausedStopKillRemove(t *testing.T) {
	e := newContainerEnv(t)
	e.unpauseOnCleanup()
	start := func(name string) string {
		id := strings.TrimSpace(e.ok("container", "run", "-d", "--name", name, "--stop-timeout", "60", "bb:1", "busybox", "sleep", "300").stdout)
		e.ok("container", "pause", name)
		return id
	}

	id := start("paused-rm")
	if r, ok := e.runWithin(promptly, "container", "rm", "-f", "paused-rm"); !ok {
		t.Errorf("rm -f of a paused container still waiting after %v: its SIGKILL waits in the freezer", promptly)
	} else if r.code != 0 || r.stdout != "paused-rm\n" {
		t.Errorf("rm -f of a paused container: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	} else {
		e.assertGone(id) // first: the others' mounts would be found too
	}

	start("paused-stop")
	if r, ok := e.runWithin(promptly, "container", "stop", "paused-stop"); !ok {
		t.Errorf("stop of a paused container still running after %v: its SIGTERM waits in the freezer", promptly)
	} else if r.code != 0 || r.stdout != "paused-stop\n" {
		t.Errorf("stop of a paused container: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	} else if st := e.state("paused-stop"); st["ExitCode"] != 143.0 || st["Running"] != false || st["Paused"] != false {
		// 143: the SIGTERM itself ended it, not the SIGKILL after the grace period.
		t.Errorf("State after stop = %v, want exit 143", st)
	}

	start("paused-kill")
	if r, ok := e.runWithin(promptly, "container", "kill", "paused-kill"); !ok || r.code != 0 {
		t.Errorf("kill of a paused container: finished %v, exit %d, stderr %q", ok, r.code, r.stderr)
	}
	if r, ok := e.runWithin(promptly, "container", "wait", "paused-kill"); !ok {
		t.Errorf("a paused container still running %v after kill: its SIGKILL waits in the freezer", promptly)
	} else if strings.TrimSpace(r.stdout) != "137" {
		t.Errorf("wait after kill printed %q, want 137", r.stdout)
	}
}

// cells splits a line of a table whose columns are at least three spaces apart.
var cellGap = regexp.MustCompile(` {3,}`)

func cells(line string) []string { return cellGap.Split(strings.TrimSpace(line), -1) }

func TestContainerTop(t *testing.T) {
	e := newContainerEnv(t)
	testutil.RequireCommand(t, "ps", "procps")
	id := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "topper", "bb:1", "busybox", "sleep", "300").stdout)
	initPid := strconv.Itoa(int(e.state("topper")["Pid"].(float64)))

	lines := strings.Split(strings.TrimRight(e.ok("container", "top", "topper").stdout, "\n"), "\n")
	want := []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}
	if got := strings.Fields(lines[0]); !slices.Equal(got, want) {
		t.Fatalf("top titles %q, want %q", got, want)
	}
	rows := map[string][]string{} // by pid
	var pids []string
	var sleeper []string
	for _, l := range lines[1:] {
		c := cells(l)
		if len(c) != len(want) {
			t.Fatalf("top row %q has %d columns", l, len(c))
		}
		rows[c[1]] = c
		pids = append(pids, c[1])
		if c[7] == "busybox sleep 300" {
			sleeper = c
		}
	}
	// berth's init is PID 1 in the container but lives outside its cgroup, as Docker's shim
	// does: top shows the workload and what it started, as docker top does.
	if rows[initPid] != nil {
		t.Errorf("top lists berth's init, pid %s:\n%s", initPid, strings.Join(lines, "\n"))
	}
	if sleeper == nil || sleeper[0] != "root" || sleeper[2] != initPid || sleeper[5] != "?" {
		t.Errorf("top shows the workload as %q; want root, child of %s, no tty", sleeper, initPid)
	}
	// The same rows as the host's ps -ef, but for C, which moves with time.
	out, err := exec.Command("ps", "-ef", "-q", strings.Join(pids, ",")).Output()
	if err != nil {
		t.Fatal(err)
	}
	psLines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")[1:]
	if len(psLines) != len(pids) {
		t.Errorf("ps -ef lists %d of the %d processes", len(psLines), len(pids))
	}
	for _, l := range psLines {
		f := strings.Fields(l)
		ps := append(f[:7:7], strings.Join(f[7:], " "))
		got := rows[ps[1]]
		if got == nil {
			t.Errorf("top lacks pid %s that ps shows: %q", ps[1], l)
			continue
		}
		got, ps = slices.Delete(slices.Clone(got), 3, 4), slices.Delete(ps, 3, 4)
		if !slices.Equal(got, ps) {
			t.Errorf("top row %q, ps -ef row %q", got, ps)
		}
	}

	// ps options: the host's ps, filtered on its PID column.
	lines = strings.Split(strings.TrimRight(e.ok("container", "top", "topper", "-o", "pid,args").stdout, "\n"), "\n")
	if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"PID", "COMMAND"}) {
		t.Errorf("top -o pid,args titles %q", got)
	}
	if len(lines) != len(pids)+1 || !strings.Contains(strings.Join(lines, "\n"), "busybox sleep 300") {
		t.Errorf("top -o pid,args:\n%s", strings.Join(lines, "\n"))
	}
	oneLineError(t, "top without a PID column", e.run("container", "top", "topper", "-eo", "args"), "Couldn't find PID field in ps output")
	oneLineError(t, "top renaming a column PID", e.run("container", "top", "topper", "-o", "user=PID"), `specifying "user=PID" is not allowed`)

	e.ok("container", "stop", "topper")
	oneLineError(t, "top of a stopped container", e.run("container", "top", "topper"), "Container "+id+" is not running")
	oneLineError(t, "top of a missing container", e.run("container", "top", "nosuch"), "No such container: nosuch")
}

// statsJSON runs stats --no-stream --format json and decodes its lines.
func (e *containerEnv) statsJSON(args ...string) []map[string]string {
	e.t.Helper()
	out := e.ok(append([]string{"container", "stats", "--no-stream", "--format", "json"}, args...)...).stdout
	var rows []map[string]string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			e.t.Fatalf("stats line %q: %v", l, err)
		}
		rows = append(rows, m)
	}
	return rows
}

func TestContainerStats(t *testing.T) {
	e := newContainerEnv(t)
	busy := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "st-busy", "bb:1", "sh", "-c", "while :; do :; done").stdout)
	idle := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "st-idle", "--network", "none", "-m", "64m", "bb:1", "busybox", "sleep", "300").stdout)
	e.ok("container", "create", "--name", "st-created", "bb:1", "busybox", "sleep", "1")

	lines := strings.Split(strings.TrimRight(e.ok("container", "stats", "--no-stream").stdout, "\n"), "\n")
	want := []string{"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}
	if got := cells(lines[0]); !slices.Equal(got, want) {
		t.Errorf("stats titles %q, want %q", got, want)
	}
	// Running containers only, newest first.
	if len(lines) != 3 || cells(lines[1])[1] != "st-idle" || cells(lines[2])[1] != "st-busy" {
		t.Errorf("stats --no-stream:\n%s", strings.Join(lines, "\n"))
	}

	rows := e.statsJSON()
	if len(rows) != 2 {
		t.Fatalf("stats --format json gave %d rows, want the 2 running containers: %v", len(rows), rows)
	}
	keys := []string{"BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"}
	for _, r := range rows {
		if got := slices.Sorted(func(yield func(string) bool) {
			for k := range r {
				if !yield(k) {
					return
				}
			}
		}); !slices.Equal(got, keys) {
			t.Errorf("stats json keys %q, want %q", got, keys)
		}
	}
	idleRow, busyRow := rows[0], rows[1]
	if idleRow["Container"] != idle || idleRow["ID"] != idle[:12] || idleRow["Name"] != "st-idle" {
		t.Errorf("stats names the idle container %q %q %q", idleRow["Container"], idleRow["ID"], idleRow["Name"])
	}
	if !strings.HasSuffix(idleRow["MemUsage"], " / 64MiB") || !strings.HasSuffix(idleRow["MemPerc"], "%") {
		t.Errorf("stats memory of a 64m container: %q, %q", idleRow["MemUsage"], idleRow["MemPerc"])
	}
	// With --network none the container's namespace has only lo, which is left out.
	if idleRow["NetIO"] != "0B / 0B" {
		t.Errorf("stats NET I/O %q, want 0B / 0B", idleRow["NetIO"])
	}
	// The workload alone: berth's init is not in the container's cgroup.
	if n, err := strconv.Atoi(idleRow["PIDs"]); err != nil || n != 1 {
		t.Errorf("stats PIDs %q: want the workload's 1", idleRow["PIDs"])
	}
	if cpu, err := strconv.ParseFloat(strings.TrimSuffix(busyRow["CPUPerc"], "%"), 64); err != nil || cpu < 10 {
		t.Errorf("a busy loop uses %q CPU, want well above 10%%", busyRow["CPUPerc"])
	}
	if busyRow["Container"] != busy {
		t.Errorf("stats Container %q, want %s", busyRow["Container"], busy)
	}

	// Named containers are shown under the name given, running or not.
	rows = e.statsJSON("st-idle", "st-created")
	if len(rows) != 2 || rows[0]["Container"] != "st-idle" || rows[1]["Container"] != "st-created" {
		t.Fatalf("stats of named containers: %v", rows)
	}
	zero := map[string]string{"CPUPerc": "0.00%", "MemUsage": "0B / 0B", "MemPerc": "0.00%", "NetIO": "0B / 0B", "BlockIO": "0B / 0B", "PIDs": "0"}
	for k, v := range zero {
		if rows[1][k] != v {
			t.Errorf("stats of a created container: %s = %q, want %q", k, rows[1][k], v)
		}
	}
	if rows := e.statsJSON("-a"); len(rows) != 3 {
		t.Errorf("stats -a gave %d rows, want 3", len(rows))
	}
	r := e.run("container", "stats", "--no-stream", "st-idle", "nosuch")
	if r.code != 1 || r.stdout != "" || r.stderr != "No such container: nosuch\n" {
		t.Errorf("stats with a missing container: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// The stream: a new table every second until interrupted, plain when not on a terminal.
	x := exec.Command(berthBin, "container", "stats", "--format", "json", "st-idle")
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.env...)
	stdout, err := x.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		var got []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() && len(got) < 2 {
			got = append(got, sc.Text())
		}
		for _, l := range got {
			if strings.Contains(l, "\033") || !strings.Contains(l, `"Name":"st-idle"`) {
				t.Errorf("stream line %q", l)
			}
		}
		if len(got) < 2 {
			t.Errorf("the stream printed %d readings", len(got))
		}
		// Only the CLI this test started.
		_ = x.Process.Signal(syscall.SIGINT)
		_, _ = io.Copy(io.Discard, stdout)
		done <- x.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stats stream after SIGINT: %v, want exit 0", err)
		}
	case <-time.After(30 * time.Second):
		_ = x.Process.Kill()
		<-done
		t.Fatal("stats stream: no two readings and exit in 30 s")
	}
}

func TestContainerRestart(t *testing.T) {
	e := newContainerEnv(t)
	e.unpauseOnCleanup()
	id := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "rs", "--stop-timeout", "60", "bb:1",
		"sh", "-c", "echo started; exec busybox sleep 300").stdout)
	waitFor(t, "the first start's line", func() bool { return e.logLines("rs") == 1 })
	before := e.state("rs")

	if r := e.ok("container", "restart", "-t", "1", "rs"); r.stdout != "rs\n" {
		t.Errorf("restart printed %q", r.stdout)
	}
	after := e.state("rs")
	started := func(st map[string]any) time.Time {
		ts, err := time.Parse(time.RFC3339Nano, st["StartedAt"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	if after["Status"] != "running" || after["Pid"] == before["Pid"] || !started(after).After(started(before)) {
		t.Errorf("State after restart = %v; before %v", after, before)
	}
	// One log across starts, as Docker keeps it.
	waitFor(t, "the second start's line", func() bool { return e.logLines("rs") == 2 })

	// A paused container: the stop signal lands with the thaw, long before the 60 s grace.
	e.ok("container", "pause", "rs")
	if r, ok := e.runWithin(promptly, "container", "restart", "rs"); !ok {
		t.Errorf("restart of a paused container still running after %v", promptly)
	} else if r.code != 0 || r.stdout != "rs\n" {
		t.Errorf("restart of a paused container: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if st := e.state("rs"); st["Status"] != "running" || st["Paused"] != false {
		t.Errorf("State after restart of a paused container = %v", st)
	}

	// A stopped container is started.
	e.ok("container", "stop", "-t", "1", "rs")
	e.ok("container", "restart", "rs")
	if st := e.state("rs"); st["Status"] != "running" {
		t.Errorf("State after restart of a stopped container = %v", st)
	}
	oneLineError(t, "restart of a missing container", e.run("container", "restart", "nosuch"), "No such container: nosuch")

	// A --rm container outlives its restart, as in Docker; a stop still removes it.
	rmID := strings.TrimSpace(e.ok("container", "run", "-d", "--rm", "--name", "rs-rm", "bb:1", "busybox", "sleep", "300").stdout)
	if r := e.run("container", "restart", "-t", "1", "rs-rm"); r.code != 0 || r.stdout != "rs-rm\n" {
		t.Errorf("restart of a --rm container: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if st := e.state("rs-rm"); st["Status"] != "running" {
		t.Errorf("State after restart of a --rm container = %v", st)
	}
	e.ok("container", "stop", "-t", "1", "rs-rm")
	waitFor(t, "the --rm container's removal", func() bool {
		return !strings.Contains(e.ok("container", "ls", "-aq", "--no-trunc").stdout, rmID)
	})

	e.ok("container", "rm", "-f", "rs")
	e.assertGone(id)
	e.assertGone(rmID)
}
