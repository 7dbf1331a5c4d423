//go:build linux

package e2e

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// eventLine is docker events' default line: the time with nine fixed digits, type, action, id
// and the sorted attributes.
var eventLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) (\w+) (.+?) ([0-9a-f]{64}) \((.*)\)$`)

// composeEventLine is docker compose events' line: local time to the microsecond.
var composeEventLine = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} container (.+?) ([0-9a-f]{64}) \((.*)\)$`)

// pastEvents is what `system events` replays of the last hour, up to now, with args.
func (e *containerEnv) pastEvents(args ...string) []string {
	e.t.Helper()
	out := e.ok(append([]string{"system", "events", "--since", "1h", "--until", "0s"}, args...)...).stdout
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// journalHas reads the journal file itself (no berth runs) for an event of container name.
func (e *containerEnv) journalHas(name, action string, attrs map[string]string) bool {
	for _, f := range []string{"journal.1", "journal"} {
		b, _ := os.ReadFile(filepath.Join(e.root, "events", f))
		for _, line := range strings.Split(string(b), "\n") {
			var ev struct {
				Action string
				Actor  struct{ Attributes map[string]string }
			}
			if json.Unmarshal([]byte(line), &ev) != nil || ev.Action != action || ev.Actor.Attributes["name"] != name {
				continue
			}
			ok := true
			for k, v := range attrs {
				ok = ok && ev.Actor.Attributes[k] == v
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// follower is a berth following events in the background, stopped by its pid at the end.
type follower struct {
	x   *exec.Cmd
	out *lockedBuffer
}

func (e *containerEnv) follow(args ...string) *follower {
	e.t.Helper()
	checkNetNS(e.t, e.netns)
	x := exec.Command(berthBin, args...)
	x.Dir = e.dir
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.t.TempDir()}, e.env...)
	f := &follower{x: x, out: &lockedBuffer{}}
	x.Stdout, x.Stderr = f.out, f.out
	if err := x.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(f.stop)
	// Following once it watches the journal (its inotify descriptor).
	waitUntil(e.t, "the follower's watch", func() bool {
		fds, _ := filepath.Glob("/proc/" + strconv.Itoa(x.Process.Pid) + "/fd/*")
		for _, fd := range fds {
			if l, _ := os.Readlink(fd); l == "anon_inode:inotify" {
				return true
			}
		}
		return false
	})
	time.Sleep(100 * time.Millisecond)
	return f
}

func (f *follower) stop() {
	if f.x.ProcessState == nil {
		_ = f.x.Process.Signal(syscall.SIGTERM) // the berth this test started
		_ = f.x.Wait()
	}
}

// TestEvents: the event journal as docker events shows it: a run --rm's lifecycle with its exit
// code, a die the monitor records with no berth running, health, exec, pause, stop, and docker
// compose events streaming a project's start while up runs.
func TestEvents(t *testing.T) {
	e := newContainerEnv(t)

	step(t, "bad input", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"system", "events", "-f", "nokey"}, 1, "bad format of filter (expected name=value): nokey\n"},
			{[]string{"system", "events", "-f", "colour=red"}, 1, "invalid filter 'colour'\n"},
			{[]string{"system", "events", "--since", "yesterday"}, 1, "--since: invalid time \"yesterday\""},
			{[]string{"system", "events", "--format", "{{.Nope}}"}, 64, "Error parsing format: "},
		} {
			r := e.run(tc.args...)
			if r.code != tc.code || !strings.HasPrefix(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("%v: exit %d, stderr %q; want %d, %q", tc.args, r.code, r.stderr, tc.code, tc.want)
			}
		}
	})

	step(t, "run --rm", func(t *testing.T) {
		if r := e.run("container", "run", "--rm", "--name", "ev-rm", "--label", "tier=front", "bb:1", "sh", "-c", "exit 3"); r.code != 3 {
			t.Fatalf("run: exit %d, stderr %q", r.code, r.stderr)
		}
		var actions []string
		var id string
		for _, line := range e.pastEvents("--filter", "container=ev-rm") {
			m := eventLine.FindStringSubmatch(line)
			if m == nil || m[2] != "container" {
				t.Fatalf("not docker's event line: %q", line)
			}
			actions = append(actions, m[3])
			if id = m[4]; m[3] == "die" {
				if m[5] != "execDuration=0, exitCode=3, image=bb:1, name=ev-rm, tier=front" {
					t.Errorf("die attributes: %s", m[5])
				}
			} else if m[5] != "image=bb:1, name=ev-rm, tier=front" {
				t.Errorf("%s attributes: %s", m[3], m[5])
			}
		}
		if got := strings.Join(actions, " "); got != "create start die destroy" {
			t.Errorf("run --rm: %s, want create start die destroy", got)
		}
		// The API message, as {{json .}} gives it.
		lines := e.pastEvents("--filter", "container="+id[:12], "--filter", "event=die", "--format", "{{json .}}")
		var msg map[string]any
		if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &msg) != nil {
			t.Fatalf("--format '{{json .}}': %q", lines)
		}
		actor, _ := msg["Actor"].(map[string]any)
		attrs, _ := actor["Attributes"].(map[string]any)
		if msg["Type"] != "container" || msg["Action"] != "die" || msg["status"] != "die" || msg["id"] != id || msg["from"] != "bb:1" ||
			msg["scope"] != "local" || actor["ID"] != id || attrs["exitCode"] != "3" || msg["timeNano"].(float64) < msg["time"].(float64)*1e9 {
			t.Errorf("message: %s", lines[0])
		}
		if got := e.pastEvents("-f", "container=ev-rm", "-f", "event=destroy", "--format", "{{.Actor.Attributes.name}} {{.Action}}"); len(got) != 1 || got[0] != "ev-rm destroy" {
			t.Errorf("template: %q", got)
		}
	})

	step(t, "a die no berth saw", func(t *testing.T) {
		e.ok("container", "run", "-d", "--name", "ev-self", "bb:1", "sh", "-c", "busybox sleep 0.5; exit 7")
		// Nothing of berth's runs meanwhile: only the monitor can write it.
		waitUntil(t, "the monitor's die", func() bool { return e.journalHas("ev-self", "die", map[string]string{"exitCode": "7"}) })
		if got := e.pastEvents("-f", "container=ev-self", "-f", "event=die", "--format", "{{.Actor.Attributes.exitCode}}"); len(got) != 1 || got[0] != "7" {
			t.Errorf("die of ev-self: %q", got)
		}
		// A restart by the policy is the monitor's too: a die, then a start.
		e.ok("container", "run", "-d", "--name", "ev-policy", "--restart", "on-failure:1", "bb:1", "sh", "-c", "exit 1")
		waitUntil(t, "the second die", func() bool {
			return len(e.pastEvents("-f", "container=ev-policy", "-f", "event=die")) == 2
		})
		if got := strings.Join(e.pastEvents("-f", "container=ev-policy", "--format", "{{.Action}}"), " "); got != "create start die start die" {
			t.Errorf("restart policy: %s", got)
		}
		e.ok("container", "rm", "ev-policy")
	})

	step(t, "health, exec, pause, stop", func(t *testing.T) {
		f := e.follow("system", "events", "--filter", "container=ev-health", "--format", "{{.Action}}")
		e.ok("container", "run", "-d", "--name", "ev-health", "--health-cmd", "true", "--health-interval", "200ms", "bb:1", "busybox", "sleep", "300")
		waitUntil(t, "health_status: healthy", func() bool { return strings.Contains(f.out.String(), "health_status: healthy\n") })
		e.ok("container", "exec", "ev-health", "echo", "hi")
		e.ok("container", "pause", "ev-health")
		e.ok("container", "unpause", "ev-health")
		e.ok("container", "stop", "ev-health")
		want := []string{"create", "start", "health_status: healthy", "exec_create: echo hi", "exec_start: echo hi", "pause", "unpause", "kill", "die", "stop"}
		waitUntil(t, "the stop", func() bool { return strings.HasSuffix(f.out.String(), "\nstop\n") })
		var got []string
		for _, a := range strings.Split(strings.TrimSpace(f.out.String()), "\n") {
			if !strings.HasPrefix(a, "health_status") || !slices.Contains(got, a) { // one transition
				got = append(got, a)
			}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("followed:\n%s\nwant %q", f.out.String(), want)
		}
		if got := e.pastEvents("-f", "container=ev-health", "-f", "event=kill", "--format", "{{.Actor.Attributes.signal}}"); len(got) != 1 || got[0] != "15" {
			t.Errorf("kill signal: %q", got)
		}
		if got := e.pastEvents("-f", "container=ev-health", "-f", "event=die", "--format", "{{.Actor.Attributes.exitCode}}"); len(got) != 1 || got[0] != "143" {
			t.Errorf("die after stop: %q", got)
		}
		// Filters on the event's prefix, as Docker's for health_status and exec.
		if got := e.pastEvents("-f", "event=exec_start", "--format", "{{.Action}}"); len(got) != 1 || got[0] != "exec_start: echo hi" {
			t.Errorf("event=exec_start: %q", got)
		}
		e.ok("container", "rm", "ev-health", "ev-self")
	})

	step(t, "compose events", func(t *testing.T) {
		e.composeFile("evproj", `
services:
  web:
    image: bb:1
    command: ["busybox", "sleep", "300"]
`)
		f := e.follow("-p", "evproj", "events", "--json")
		e.ok("-p", "evproj", "up", "-d")
		var start map[string]any
		waitUntil(t, "web's start", func() bool {
			for _, line := range strings.Split(f.out.String(), "\n") {
				var ev map[string]any
				if json.Unmarshal([]byte(line), &ev) == nil && ev["action"] == "start" {
					start = ev
					return true
				}
			}
			return false
		})
		f.stop()
		keys := slices.Sorted(maps.Keys(start))
		attrs, _ := start["attributes"].(map[string]any)
		if strings.Join(keys, ",") != "action,attributes,id,service,time,type" || start["type"] != "container" || start["service"] != "web" ||
			attrs["name"] != "evproj-web-1" || attrs["image"] != "bb:1" {
			t.Errorf("--json start: %v", start)
		}
		for k := range attrs {
			if strings.HasPrefix(k, "com.docker.compose.") {
				t.Errorf("--json start: compose's label %s is shown", k)
			}
		}
		if ts, _ := start["time"].(string); ts == "" {
			t.Errorf("time %v", start["time"])
		} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("time %q: %v", ts, err)
		}
		// A one-off container is not the project's to report.
		e.ok("-p", "evproj", "run", "--rm", "web", "echo", "one-off")
		out := e.ok("-p", "evproj", "events", "--since", "1h", "--until", "0s").stdout
		var actions []string
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			m := composeEventLine.FindStringSubmatch(line)
			if m == nil || !strings.Contains(m[3], "image=bb:1, name=evproj-web-1") || strings.Contains(m[3], "com.docker.compose.") {
				t.Fatalf("compose events line: %q", line)
			}
			actions = append(actions, m[1])
		}
		if got := strings.Join(actions, " "); got != "create start" {
			t.Errorf("compose events: %s", got)
		}
		nets := e.pastEvents("-f", "type=network", "-f", "network=evproj_default", "--format", "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}}")
		if len(nets) < 2 || nets[0] != "create evproj_default bridge" || nets[1] != "connect evproj_default bridge" {
			t.Errorf("network events: %q", nets)
		}
	})
}
