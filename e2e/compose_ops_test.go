//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// opsCompose is a db with a published port and an anonymous volume, and a web service of two
// replicas that depends on it (restarted with it). Both write a line at start (db one on stderr
// too) and end at once on SIGTERM.
const opsCompose = `
services:
  web:
    image: bb:1
    command: ["sh", "-c", "echo web up; trap 'exit 0' TERM; busybox sleep 300 & wait"]
    deploy: {replicas: 2}
    depends_on:
      db: {condition: service_started, restart: true}
  db:
    image: bb:1
    command: ["sh", "-c", "echo db ready; echo db warning >&2; trap 'exit 0' TERM; busybox sleep 300 & wait"]
    ports: ["8080:80"]
    volumes: ["/data"]
`

// followCompose's containers write for a few seconds, then exit.
const followCompose = `
services:
  a:
    image: bb:1
    command: ["sh", "-c", "busybox sleep 1; echo a one; busybox sleep 1; echo a two"]
  b:
    image: bb:1
    command: ["sh", "-c", "busybox sleep 1.5; echo b one"]
`

// TestComposeOps drives the project commands on one project, each subtest leaving it as the
// next expects: all containers up, until stop, kill and rm at the end.
func TestComposeOps(t *testing.T) {
	e := newContainerEnv(t)
	for name, content := range map[string]string{"compose.yaml": opsCompose, "follow.yaml": followCompose} {
		if err := os.WriteFile(filepath.Join(e.dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		e.run("-p", "proj", "down", "-v")
		e.run("-p", "fol", "down", "-v")
	})
	e.unpauseOnCleanup()
	e.ok("-p", "proj", "up", "-d")
	p := func(args ...string) []string { return append([]string{"-p", "proj"}, args...) }
	// withFile reads compose.yaml, which -p alone does not (as in docker compose): the
	// dependency order and the file's services then apply.
	withFile := func(args ...string) []string { return append([]string{"-p", "proj", "-f", "compose.yaml"}, args...) }
	status := func(name string) string { return e.state(name)["Status"].(string) }

	step(t, "logs", func(t *testing.T) {
		var r result
		waitFor(t, "the containers' first lines", func() bool {
			r = e.ok(p("logs")...)
			return strings.Count(r.stdout, "\n") == 3 && r.stderr != ""
		})
		for _, want := range []string{"db-1   | db ready\n", "web-1  | web up\n", "web-2  | web up\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("logs: want %q in stdout %q", want, r.stdout)
			}
		}
		if r.stderr != "db-1   | db warning\n" {
			t.Errorf("logs: stderr %q", r.stderr)
		}
		if strings.Contains(r.stdout, "\033[") {
			t.Errorf("logs coloured a pipe: %q", r.stdout)
		}
		if out := e.ok(p("logs", "web")...).stdout; strings.Contains(out, "db") || strings.Count(out, "\n") != 2 {
			t.Errorf("logs web: %q", out)
		}
		if out := e.ok(p("logs", "--no-log-prefix", "db")...).stdout; out != "db ready\n" {
			t.Errorf("logs --no-log-prefix db: %q", out)
		}
		if out := e.ok(p("logs", "--index", "2", "web")...).stdout; out != "web-2  | web up\n" {
			t.Errorf("logs --index 2 web: %q", out)
		}
		if out := e.ok(p("logs", "-n", "0", "db")...).stdout; out != "" {
			t.Errorf("logs -n 0 db: %q", out)
		}
		if out := e.ok(p("logs", "-t", "db")...).stdout; !regexp.MustCompile(`^db-1  \| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z db ready\n$`).MatchString(out) {
			t.Errorf("logs -t db: %q", out)
		}
		if out := e.ok(p("logs", "--since", "1h", "--until", "1h", "db")...).stdout; out != "" {
			t.Errorf("logs --until 1h (an hour ago): %q", out)
		}
		oneLineError(t, "logs --index without a service", e.run(p("logs", "--index", "2")...), "--index requires one service to be selected")
		oneLineError(t, "logs of an unknown service", e.run(p("logs", "nosuch")...), "no such service: nosuch")
	})

	step(t, "logs colours on a terminal", func(t *testing.T) {
		_, _, out, done := e.startOnPty(p("logs")...)
		if code := exitCodeOf(t, done); code != 0 {
			t.Fatalf("logs on a terminal: exit %d: %q", code, out.String())
		}
		// docker compose's colours, one per container in turn: cyan, yellow, green.
		for _, want := range []string{"\033[36mdb-1   | \033[0mdb ready", "\033[33mweb-1  | \033[0mweb up", "\033[32mweb-2  | \033[0mweb up"} {
			out.waitFor(t, want)
		}
		_, _, out, done = e.startOnPty(p("logs", "--no-color")...)
		code := exitCodeOf(t, done)
		out.waitFor(t, "db-1   | db ready") // the pty's output may come after the exit
		if code != 0 || strings.Contains(out.String(), "\033[") {
			t.Errorf("logs --no-color on a terminal: exit %d, %q", code, out.String())
		}
	})

	step(t, "logs -f ends when the containers exit", func(t *testing.T) {
		e.ok("-p", "fol", "-f", "follow.yaml", "up", "-d")
		r, ok := e.runWithin(30*time.Second, "-p", "fol", "logs", "-f")
		if !ok {
			t.Fatal("logs -f did not end once the containers had exited")
		}
		if r.code != 0 {
			t.Fatalf("logs -f: exit %d: %s", r.code, r.stderr)
		}
		// Each container's lines in order, the three interleaved as they came.
		if !regexp.MustCompile(`(?s)a-1  \| a one\n.*b-1  \| b one\n.*a-1  \| a two\n`).MatchString(r.stdout) || strings.Count(r.stdout, "\n") != 3 {
			t.Errorf("logs -f: %q", r.stdout)
		}
	})

	step(t, "exec", func(t *testing.T) {
		if r := e.run(p("exec", "db", "sh", "-c", "exit 3")...); r.code != 3 {
			t.Errorf("exec exit 3: code %d, stderr %q", r.code, r.stderr)
		}
		if r := e.run(p("exec", "db", "nosuchcommand")...); r.code != 127 {
			t.Errorf("exec of a missing command: code %d, stderr %q", r.code, r.stderr)
		}
		if out := e.ok(p("exec", "-e", "FOO=bar", "-w", "/tmp", "db", "sh", "-c", "echo $FOO; pwd")...).stdout; out != "bar\n/tmp\n" {
			t.Errorf("exec -e -w: %q", out)
		}
		if out := e.ok(p("exec", "-u", "1234", "db", "busybox", "id", "-u")...).stdout; out != "1234\n" {
			t.Errorf("exec -u 1234: %q", out)
		}
		// Without terminals there is no tty, and stdin is passed on.
		r := cmd{args: p("exec", "db", "sh", "-c", "test -t 1 || echo no tty; cat"), dir: e.dir, env: e.env, stdin: "piped\n"}.run(t)
		if r.code != 0 || r.stdout != "no tty\npiped\n" {
			t.Errorf("exec with a pipe: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		second := e.ok(p("exec", "-T", "--index", "2", "web", "cat", "/etc/hostname")...).stdout
		if want := e.ok("container", "exec", "proj-web-2", "cat", "/etc/hostname").stdout; second != want || second == e.ok(p("exec", "web", "cat", "/etc/hostname")...).stdout {
			t.Errorf("exec --index 2 web ran in the container with hostname %q, proj-web-2's is %q", second, want)
		}
		oneLineError(t, "exec --index 3", e.run(p("exec", "--index", "3", "web", "true")...), `service "web" is not running container #3`)
		oneLineError(t, "exec in an unknown service", e.run(p("exec", "nosuch", "true")...), "no such service: nosuch")

		_, _, out, done := e.startOnPty(p("exec", "db", "sh", "-c", "test -t 0 && test -t 1 && echo on a tty")...)
		if code := exitCodeOf(t, done); code != 0 {
			t.Errorf("exec on a terminal: exit %d: %q", code, out.String())
		}
		out.waitFor(t, "on a tty")
	})

	step(t, "port", func(t *testing.T) {
		if out := e.ok(p("port", "db", "80")...).stdout; out != "0.0.0.0:8080\n" {
			t.Errorf("port db 80: %q", out)
		}
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"port", "db", "81"}, "no port 81/tcp for container proj-db-1: 8080/tcp"},
			{[]string{"port", "--protocol", "udp", "db", "80"}, "no port 80/udp for container proj-db-1: 8080/tcp"},
			{[]string{"port", "--index", "3", "web", "80"}, "no container found for web-3"},
			{[]string{"port", "nosuch", "80"}, "no such service: nosuch"},
		} {
			r := e.run(p(c.args...)...)
			if r.code != 1 || !strings.HasPrefix(r.stderr, c.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("%v: exit %d, stderr %q; want 1 and %q", c.args, r.code, r.stderr, c.want)
			}
		}
	})

	step(t, "top", func(t *testing.T) {
		lines := strings.Split(strings.TrimSpace(e.ok(p("top", "db")...).stdout), "\n")
		if len(lines) < 2 || !regexp.MustCompile(`^SERVICE\s+#\s+UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$`).MatchString(lines[0]) {
			t.Fatalf("top db: %q", lines)
		}
		found := false
		for _, l := range lines[1:] {
			if !regexp.MustCompile(`^db\s+1\s+`).MatchString(l) {
				t.Errorf("top db: row %q", l)
			}
			found = found || strings.HasSuffix(l, "busybox sleep 300")
		}
		if !found {
			t.Errorf("top db: no sleep in %q", lines)
		}
	})

	step(t, "pause and unpause", func(t *testing.T) {
		r := e.ok(p("pause", "web")...)
		for _, want := range []string{" Container proj-web-1  Paused\n", " Container proj-web-2  Paused\n"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("pause web: want %q in %q", want, r.stderr)
			}
		}
		if status("proj-web-1") != "paused" || status("proj-web-2") != "paused" || status("proj-db-1") != "running" {
			t.Errorf("after pause web: %s %s %s", status("proj-web-1"), status("proj-web-2"), status("proj-db-1"))
		}
		r = e.ok(p("unpause")...)
		if !strings.Contains(r.stderr, " Container proj-web-1  Unpaused\n") || strings.Contains(r.stderr, "proj-db-1") {
			t.Errorf("unpause: %q", r.stderr)
		}
		if status("proj-web-1") != "running" || status("proj-web-2") != "running" {
			t.Errorf("after unpause: %s %s", status("proj-web-1"), status("proj-web-2"))
		}
	})

	step(t, "stop, start and restart", func(t *testing.T) {
		r := e.ok(withFile("stop", "-t", "5")...)
		for _, want := range []string{"proj-web-1  Stopping", "proj-web-1  Stopped", "proj-web-2  Stopped", "proj-db-1  Stopping", "proj-db-1  Stopped"} {
			if !strings.Contains(r.stderr, " Container "+want+"\n") {
				t.Errorf("stop: want %q in %q", want, r.stderr)
			}
		}
		if db := strings.Index(r.stderr, "proj-db-1  Stopping"); db < strings.Index(r.stderr, "proj-web-1  Stopped") || db < strings.Index(r.stderr, "proj-web-2  Stopped") {
			t.Errorf("stop: db was stopped before web, which depends on it:\n%s", r.stderr)
		}
		for _, n := range []string{"proj-web-1", "proj-web-2", "proj-db-1"} {
			if status(n) != "exited" {
				t.Errorf("after stop: %s is %s", n, status(n))
			}
		}
		r = e.ok(withFile("start")...)
		if i, j := strings.Index(r.stderr, "proj-db-1  Started"), strings.Index(r.stderr, "proj-web-1  Starting"); i < 0 || j < 0 || i > j {
			t.Errorf("start: db must be started before web:\n%s", r.stderr)
		}
		if r := e.ok(p("start")...); r.stderr != "" {
			t.Errorf("start of running containers: %q", r.stderr)
		}

		before := e.state("proj-web-2")["StartedAt"]
		r = e.ok(p("restart", "-t", "5", "web")...)
		if !strings.Contains(r.stderr, " Container proj-web-2  Restarting\n") || !strings.Contains(r.stderr, " Container proj-web-2  Started\n") || strings.Contains(r.stderr, "db") {
			t.Errorf("restart web: %q", r.stderr)
		}
		if status("proj-web-2") != "running" || e.state("proj-web-2")["StartedAt"] == before {
			t.Errorf("restart web: proj-web-2 is %s, started at %v (before: %v)", status("proj-web-2"), e.state("proj-web-2")["StartedAt"], before)
		}
		// web depends on db with restart: true, which the file says.
		r = e.ok(withFile("restart", "db")...)
		if i, j := strings.Index(r.stderr, "proj-db-1  Started"), strings.Index(r.stderr, "proj-web-1  Restarting"); i < 0 || j < 0 || i > j {
			t.Errorf("restart db: web must follow db:\n%s", r.stderr)
		}
		oneLineError(t, "stop of an unknown service", e.run(p("stop", "nosuch")...), "no such service: nosuch")
		oneLineError(t, "stop of an unknown service, with the file", e.run(withFile("stop", "nosuch")...), "no such service: nosuch")
	})

	step(t, "kill", func(t *testing.T) {
		r := e.ok(p("kill", "-s", "TERM", "db")...)
		if r.stderr != " Container proj-db-1  Killing\n Container proj-db-1  Killed\n" {
			t.Errorf("kill -s TERM db: %q", r.stderr)
		}
		waitFor(t, "db to exit on SIGTERM", func() bool { return status("proj-db-1") == "exited" })
		if code := e.state("proj-db-1")["ExitCode"].(float64); code != 0 {
			t.Errorf("db exited %v on SIGTERM, its trap exits 0", code)
		}
		if r := e.ok(p("kill", "db")...); r.stderr != "no container to kill\n" {
			t.Errorf("kill of a stopped service: %q", r.stderr)
		}
		oneLineError(t, "kill -s with a bad signal", e.run(p("kill", "-s", "NOSUCH")...), "Invalid signal: NOSUCH")
	})

	step(t, "rm", func(t *testing.T) {
		if r := e.ok(p("rm", "web")...); r.stderr != "No stopped containers\n" {
			t.Errorf("rm of running containers: %q", r.stderr)
		}
		vols := strings.Fields(e.ok("volume", "ls", "-q").stdout)
		if len(vols) != 1 {
			t.Fatalf("volumes before rm: %q (want db's anonymous one)", vols)
		}
		r := cmd{args: p("rm", "db"), dir: e.dir, env: e.env, stdin: "n\n"}.run(t)
		if r.code != 0 || r.stdout != "Going to remove proj-db-1\nAre you sure? [yN] " || r.stderr != "" {
			t.Errorf("rm db, answered no: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		e.inspect("proj-db-1") // still there
		r = e.ok(p("rm", "-f", "-v", "db")...)
		if r.stdout != "Going to remove proj-db-1\n" || r.stderr != " Container proj-db-1  Removing\n Container proj-db-1  Removed\n" {
			t.Errorf("rm -f -v db: stdout %q, stderr %q", r.stdout, r.stderr)
		}
		if left := strings.Fields(e.ok("volume", "ls", "-q").stdout); len(left) != 0 {
			t.Errorf("rm -v left the anonymous volume: %q", left)
		}
		r = cmd{args: p("rm", "-s", "web"), dir: e.dir, env: e.env, stdin: "y\n"}.run(t)
		if r.code != 0 || r.stdout != "Going to remove proj-web-1, proj-web-2\nAre you sure? [yN] " || !strings.Contains(r.stderr, " Container proj-web-2  Stopped\n") || !strings.Contains(r.stderr, " Container proj-web-1  Removed\n") {
			t.Errorf("rm -s web, answered yes: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if ps := e.ok(p("ps", "-a", "-q")...).stdout; ps != "" {
			t.Errorf("containers left after rm: %q", ps)
		}
	})
}
