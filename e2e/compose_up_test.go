//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// upCompose is a web service behind a published port that reads from a database-like service
// by name, with a named volume; web waits for db to be healthy.
const upCompose = `
services:
  web:
    image: bb:1
    command: ["sh", "-c", "busybox mkdir -p /www && echo web-$$LEVEL > /www/index.html && exec busybox httpd -f -p 80 -h /www"]
    environment:
      LEVEL: one
    ports: ["8080:80"]
    depends_on:
      db:
        condition: service_healthy
  db:
    image: bb:1
    command: ["sh", "-c", "echo stored > /data/state && exec busybox httpd -f -p 80 -h /data"]
    volumes: [dbdata:/data]
    healthcheck:
      test: ["CMD", "busybox", "test", "-f", "/data/state"]
      interval: 1s
      retries: 30
volumes:
  dbdata:
`

func TestComposeUpDown(t *testing.T) {
	e := newContainerEnv(t)
	file := filepath.Join(e.dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(upCompose), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.run("-p", "shop", "down", "-v") })
	r := e.ok("-p", "shop", "up", "-d")
	for _, want := range []string{" Network shop_default  Created", ` Volume "shop_dbdata"  Created`, " Container shop-db-1  Started", " Container shop-db-1  Healthy", " Container shop-web-1  Started"} {
		if !strings.Contains(r.stderr, want+"\n") {
			t.Errorf("up -d progress: want %q in\n%s", want, r.stderr)
		}
	}
	if strings.Index(r.stderr, "shop-db-1  Started") > strings.Index(r.stderr, "shop-web-1  Created") {
		t.Errorf("web was created before db was started:\n%s", r.stderr)
	}
	if ps := strings.Fields(e.ok("-p", "shop", "ps", "--services").stdout); !slices.Equal(ps, []string{"db", "web"}) {
		t.Errorf("ps --services: %v", ps)
	}
	// web reaches db by its service name; the host reaches web on the published port.
	if out := e.ok("container", "exec", "shop-web-1", "busybox", "wget", "-qO-", "http://db/state").stdout; out != "stored\n" {
		t.Errorf("web to db by name: %q", out)
	}
	var body string
	for range 50 {
		var err error
		if body, err = httpGet("127.0.0.1:8080", "/index.html"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body != "web-one\n" {
		t.Errorf("GET 127.0.0.1:8080: %q", body)
	}
	// The labels docker compose writes.
	labels := e.inspect("shop-web-1")["Config"].(map[string]any)["Labels"].(map[string]any)
	for k, v := range map[string]string{"com.docker.compose.project": "shop", "com.docker.compose.service": "web", "com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False"} {
		if labels[k] != v {
			t.Errorf("label %s = %v, want %s", k, labels[k], v)
		}
	}
	hash := strings.TrimSpace(e.ok("config", "--hash", "web").stdout)
	if !strings.HasSuffix(hash, labels["com.docker.compose.config-hash"].(string)) {
		t.Errorf("config-hash label %v, config --hash says %q", labels["com.docker.compose.config-hash"], hash)
	}
	dbID := e.inspect("shop-db-1")["Id"]

	// Again, unchanged: nothing is recreated.
	r = e.ok("-p", "shop", "up", "-d")
	if strings.Contains(r.stderr, "Recreate") || strings.Contains(r.stderr, "Created") {
		t.Errorf("a second up changed something:\n%s", r.stderr)
	}
	// One service's environment changes: only it is recreated.
	if err := os.WriteFile(file, []byte(strings.Replace(upCompose, "LEVEL: one", "LEVEL: two", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	webID := e.inspect("shop-web-1")["Id"]
	r = e.ok("--dry-run", "-p", "shop", "up", "-d")
	for _, want := range []string{"DRY-RUN MODE -  Container shop-db-1  Keep\n", "DRY-RUN MODE -  Container shop-web-1  Recreate (environment.LEVEL changed)\n"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--dry-run up: want %q in\n%s", want, r.stderr)
		}
	}
	if e.inspect("shop-web-1")["Id"] != webID {
		t.Error("--dry-run recreated web")
	}
	r = e.ok("-p", "shop", "up", "-d")
	if !strings.Contains(r.stderr, " Container shop-web-1  Recreate\n") || strings.Contains(r.stderr, "shop-db-1  Recreate") {
		t.Errorf("up after web's change:\n%s", r.stderr)
	}
	if e.inspect("shop-db-1")["Id"] != dbID {
		t.Error("db was recreated")
	}
	for range 50 {
		if body, _ = httpGet("127.0.0.1:8080", "/index.html"); body == "web-two\n" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body != "web-two\n" {
		t.Errorf("after the change, GET 127.0.0.1:8080: %q", body)
	}

	// --dry-run down changes nothing; down -v leaves nothing.
	r = e.ok("--dry-run", "-p", "shop", "down", "-v")
	if !strings.Contains(r.stderr, "DRY-RUN MODE -  Volume shop_dbdata  Remove\n") || len(strings.Fields(e.ok("-p", "shop", "ps", "-q").stdout)) != 2 {
		t.Errorf("--dry-run down -v:\n%s", r.stderr)
	}
	if r := e.run("--dry-run", "-p", "shop", "ps"); r.code == 0 || !strings.Contains(r.stderr, "--dry-run is not supported by berth for berth ps") {
		t.Errorf("--dry-run ps: code %d, stderr %q", r.code, r.stderr)
	}
	r = e.ok("-p", "shop", "down", "-v")
	for _, want := range []string{" Container shop-web-1  Removed", " Container shop-db-1  Removed", " Network shop_default  Removed", " Volume shop_dbdata  Removed"} {
		if !strings.Contains(r.stderr, want+"\n") {
			t.Errorf("down -v: want %q in\n%s", want, r.stderr)
		}
	}
	if ls := e.ok("container", "ls", "-aq").stdout; ls != "" {
		t.Errorf("containers after down: %q", ls)
	}
	if ls := e.ok("network", "ls", "-q").stdout; ls != "" {
		t.Errorf("networks after down: %q", ls)
	}
	if ls := e.ok("volume", "ls", "-q").stdout; ls != "" {
		t.Errorf("volumes after down -v: %q", ls)
	}
	// A second down is no error.
	e.ok("-p", "shop", "down", "-v")
}

// TestComposeUpFailures: an unhealthy dependency blocks its dependents with a clear message, an
// unknown external volume is one line, and attached up says it is not built.
func TestComposeUpFailures(t *testing.T) {
	e := newContainerEnv(t)
	file := filepath.Join(e.dir, "compose.yaml")
	write := func(content string) {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { e.run("-p", "bad", "down", "-v") })
	write(`
services:
  app:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    depends_on:
      db: {condition: service_healthy}
  db:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    healthcheck:
      test: ["CMD-SHELL", "echo not yet; exit 1"]
      interval: 200ms
      retries: 2
`)
	r := e.run("-p", "bad", "up", "-d")
	if r.code == 0 || !strings.Contains(r.stderr, "container bad-db-1 is unhealthy") || !strings.Contains(r.stderr, `"not yet"`) {
		t.Errorf("up with an unhealthy dependency: code %d, stderr %q", r.code, r.stderr)
	}
	var ps []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.ok("-p", "bad", "ps", "-a", "--format", "json").stdout), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(l), &row); err == nil {
			ps = append(ps, row)
		}
	}
	if len(ps) != 1 || ps[0]["Service"] != "db" {
		t.Errorf("ps after the failed up: %v (want db only: app was never created)", ps)
	}
	e.ok("-p", "bad", "down")

	write(`
services:
  db:
    image: bb:1
    volumes: [data:/data]
volumes:
  data: {external: true, name: nosuch-volume}
`)
	if r := e.run("-p", "bad", "up", "-d"); r.code == 0 || !strings.Contains(r.stderr, `external volume "nosuch-volume" not found`) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
		t.Errorf("an unknown external volume: code %d, stderr %q", r.code, r.stderr)
	}
	if r := e.run("-p", "bad", "up", "-d", "--exit-code-from", "db"); r.code == 0 || !strings.Contains(r.stderr, "cannot be combined with --detach") {
		t.Errorf("up -d --exit-code-from: code %d, stderr %q", r.code, r.stderr)
	}
}

// TestComposeSecrets: a file secret and an inline config reach the service as read-only files,
// as the MySQL examples use them (MYSQL_ROOT_PASSWORD_FILE).
func TestComposeSecrets(t *testing.T) {
	e := newContainerEnv(t)
	if err := os.WriteFile(filepath.Join(e.dir, "db_password.txt"), []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.composeFile("sec", `
services:
  db:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    environment:
      MYSQL_ROOT_PASSWORD_FILE: /run/secrets/db-password
    secrets: [db-password]
    configs:
      - source: my_cnf
        target: /etc/mysql/conf.d/berth.cnf
        mode: 0o440
secrets:
  db-password:
    file: db_password.txt
configs:
  my_cnf:
    content: "[mysqld]\nskip-name-resolve\n"
`)
	e.ok("-p", "sec", "up", "-d")
	out := e.ok("container", "exec", "sec-db-1", "sh", "-c", `cat "$MYSQL_ROOT_PASSWORD_FILE"; echo; busybox stat -c '%a' /run/secrets/db-password /etc/mysql/conf.d/berth.cnf; cat /etc/mysql/conf.d/berth.cnf`).stdout
	if out != "s3cret\n444\n440\n[mysqld]\nskip-name-resolve\n" {
		t.Errorf("secrets and configs through up:\n%q", out)
	}
	if r := e.run("container", "exec", "sec-db-1", "sh", "-c", "echo x > /run/secrets/db-password"); r.code == 0 {
		t.Error("the secret is writable")
	}
	e.ok("-p", "sec", "down")
}

// TestComposeScaleWait: --scale gives a service 3 replicas that all answer to its name, --wait
// returns once they run, and `up SERVICE` leaves the other services alone.
func TestComposeScaleWait(t *testing.T) {
	e := newContainerEnv(t)
	e.composeFile("sc", `
services:
  api:
    image: bb:1
    command: ["busybox", "sleep", "300"]
  client:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    healthcheck:
      test: ["CMD", "busybox", "true"]
      interval: 300ms
`)
	r := e.ok("-p", "sc", "up", "--wait", "--scale", "api=3")
	if !strings.Contains(r.stderr, " Container sc-client-1  Healthy\n") {
		t.Errorf("up --wait:\n%s", r.stderr)
	}
	out := e.ok("container", "exec", "sc-client-1", "busybox", "nslookup", "api").stdout
	if n := strings.Count(out, "Address: 1"); n != 3 {
		t.Errorf("api resolves to %d addresses, want 3:\n%s", n, out)
	}
	// Back to one replica; up of one service leaves the other as it is.
	clientID := e.inspect("sc-client-1")["Id"]
	e.ok("-p", "sc", "up", "-d", "api")
	if ps := strings.Fields(e.ok("-p", "sc", "ps", "-q").stdout); len(ps) != 2 {
		t.Errorf("after up -d api: %d containers, want 2 (api-1 and client-1)", len(ps))
	}
	if e.inspect("sc-client-1")["Id"] != clientID {
		t.Error("up api recreated client")
	}
	if r := e.run("-p", "sc", "up", "-d", "--scale", "nosuch=2"); r.code != 1 || !strings.Contains(r.stderr, "no such service: nosuch") {
		t.Errorf("--scale of an unknown service: code %d, stderr %q", r.code, r.stderr)
	}
}

// TestComposeFaults: berth killed in the middle of up, then up again converges and down cleans
// everything; a service whose image cannot be had fails its branch while the others start.
func TestComposeFaults(t *testing.T) {
	e := newContainerEnv(t)
	e.composeFile("crash", stackCompose(8, "bb:1"))
	x := exec.Command(berthBin, "-p", "crash", "up", "-d")
	x.Dir = e.dir
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.env...)
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	_ = x.Process.Kill() // the berth this test started
	_ = x.Wait()
	e.ok("-p", "crash", "up", "-d")
	if ps := strings.Fields(e.ok("-p", "crash", "ps", "-q").stdout); len(ps) != 8 {
		t.Errorf("after a killed up and another up, %d containers run, want 8", len(ps))
	}
	e.ok("-p", "crash", "down", "-v")
	if ls := e.ok("container", "ls", "-aq").stdout; ls != "" {
		t.Errorf("containers after down: %q", ls)
	}

	if err := os.WriteFile(filepath.Join(e.dir, "compose.yaml"), []byte(`
services:
  broken:
    image: localhost:1/nosuch/image:1
  needs-broken:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    depends_on: [broken]
  fine:
    image: bb:1
    command: ["busybox", "sleep", "300"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("-p", "crash", "up", "-d")
	if r.code != 1 || !strings.Contains(r.stderr, `service "broken"`) || !strings.Contains(r.stderr, `service "needs-broken"`) {
		t.Errorf("up with a missing image: code %d, stderr %q", r.code, r.stderr)
	}
	if ps := strings.Fields(e.ok("-p", "crash", "ps", "--services").stdout); len(ps) != 1 || ps[0] != "fine" {
		t.Errorf("services running after the failed branch: %v, want fine", ps)
	}
}

// TestComposeRestartDependents: when a dependency is recreated, the dependents that say
// depends_on.restart are restarted (not recreated), the others left alone.
func TestComposeRestartDependents(t *testing.T) {
	e := newContainerEnv(t)
	file := filepath.Join(e.dir, "compose.yaml")
	content := `
services:
  db:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    environment: {VERSION: "1"}
  web:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    depends_on:
      db: {condition: service_started, restart: true}
  batch:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    depends_on:
      db: {condition: service_started, restart: false}
`
	e.composeFile("rs", content)
	e.ok("-p", "rs", "up", "-d")
	webID, batchID := e.inspect("rs-web-1")["Id"], e.inspect("rs-batch-1")["Id"]
	webStarted := e.inspect("rs-web-1")["State"].(map[string]any)["StartedAt"]
	if err := os.WriteFile(file, []byte(strings.Replace(content, `VERSION: "1"`, `VERSION: "2"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.ok("-p", "rs", "up", "-d")
	if !strings.Contains(r.stderr, " Container rs-db-1  Recreate\n") || !strings.Contains(r.stderr, " Container rs-web-1  Restarting\n") || strings.Contains(r.stderr, "rs-batch-1  Restarting") {
		t.Errorf("up after db's change:\n%s", r.stderr)
	}
	web := e.inspect("rs-web-1")
	if web["Id"] != webID || web["State"].(map[string]any)["StartedAt"] == webStarted {
		t.Errorf("web: id %v (was %v), started %v (was %v): want the same container, restarted", web["Id"], webID, web["State"].(map[string]any)["StartedAt"], webStarted)
	}
	if e.inspect("rs-batch-1")["Id"] != batchID {
		t.Error("batch was recreated")
	}
}

// TestComposeUpAttached: attached up streams every service's logs with docker compose's
// prefixes; --exit-code-from stops the others when the service exits and gives its code; up of
// services that all end returns once they have; the first Ctrl-C stops the project gracefully.
func TestComposeUpAttached(t *testing.T) {
	e := newContainerEnv(t)
	e.composeFile("att", `
services:
  job:
    image: bb:1
    command: ["sh", "-c", "echo working; busybox sleep 0.5; echo done; exit 3"]
  server:
    image: bb:1
    command: ["sh", "-c", "echo serving; exec busybox sleep 300"]
`)
	r := e.run("-p", "att", "up", "--exit-code-from", "job")
	if r.code != 3 {
		t.Errorf("up --exit-code-from job: exit %d, want 3\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"job-1     | working\n", "job-1     | done\n", "server-1  | serving\n", "att-job-1 exited with code 3\n", "Aborting on container exit...\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("attached up: want %q in\n%s", want, r.stdout)
		}
	}
	if st := e.inspect("att-server-1")["State"].(map[string]any)["Status"]; st != "exited" {
		t.Errorf("server after the abort: %v", st)
	}
	// Only the job: up returns when it ends, with 0.
	if r := e.run("-p", "att", "up", "job"); r.code != 0 || !strings.Contains(r.stdout, "att-job-1 exited with code 3") {
		t.Errorf("up job: exit %d, stdout %q", r.code, r.stdout)
	}
	// Ctrl-C: the project stops, and stays (up -d brings it back).
	x := exec.Command(berthBin, "-p", "att", "up", "server")
	x.Dir = e.dir
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.env...)
	out := &lockedBuffer{}
	x.Stdout, x.Stderr = out, out
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the server's log", func() bool { return strings.Contains(out.String(), "server-1  | serving") })
	_ = x.Process.Signal(syscall.SIGINT) // the berth this test started
	_ = x.Wait()
	if !strings.Contains(out.String(), "Gracefully stopping...") {
		t.Errorf("after Ctrl-C:\n%s", out.String())
	}
	if st := e.inspect("att-server-1")["State"].(map[string]any)["Status"]; st != "exited" {
		t.Errorf("server after Ctrl-C: %v", st)
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestComposeVolumesKept: a named volume's data outlives down (without -v) and a new up; an
// anonymous volume goes over to the container that replaces its own on a recreation.
func TestComposeVolumesKept(t *testing.T) {
	e := newContainerEnv(t)
	file := filepath.Join(e.dir, "compose.yaml")
	content := `
services:
  db:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    environment: {V: "1"}
    volumes: [named:/named, /anon]
volumes:
  named:
`
	e.composeFile("keep", content)
	e.ok("-p", "keep", "up", "-d")
	e.ok("container", "exec", "keep-db-1", "sh", "-c", "echo n > /named/f; echo a > /anon/f")
	// A recreation (the environment changed): the anonymous volume comes along.
	if err := os.WriteFile(file, []byte(strings.Replace(content, `V: "1"`, `V: "2"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("-p", "keep", "up", "-d")
	if out := e.ok("container", "exec", "keep-db-1", "cat", "/named/f", "/anon/f").stdout; out != "n\na\n" {
		t.Errorf("after the recreation: %q", out)
	}
	// down without -v, then up: the named volume's data is there.
	e.ok("-p", "keep", "down")
	afterDown := e.volumeNames()
	if !slices.Contains(afterDown, "keep_named") || len(afterDown) != 2 {
		t.Errorf("volumes after down: %v (want keep_named and the anonymous one)", afterDown)
	}
	e.ok("-p", "keep", "up", "-d")
	if out := e.ok("container", "exec", "keep-db-1", "cat", "/named/f").stdout; out != "n\n" {
		t.Errorf("after down and up: %q", out)
	}
	e.ok("-p", "keep", "down", "-v")
	// As with docker compose, the anonymous volume the first down left behind stays dangling;
	// the named volume and the last container's anonymous one are gone.
	anon := slices.DeleteFunc(afterDown, func(v string) bool { return v == "keep_named" })
	if got := e.volumeNames(); !slices.Equal(got, anon) {
		t.Errorf("volumes after down -v: %v, want only the dangling %v", got, anon)
	}
	e.ok("volume", "prune", "-f")
}

// TestComposeCreatePullLsWait: create makes the containers without starting them; ls lists the
// project; wait gives a service's exit code; pull of an image nobody serves fails naming the
// service; up -V gives a recreated container a new anonymous volume.
func TestComposeCreatePullLsWait(t *testing.T) {
	e := newContainerEnv(t)
	file := filepath.Join(e.dir, "compose.yaml")
	content := `
services:
  job:
    image: bb:1
    command: ["sh", "-c", "busybox sleep 0.3; exit 4"]
  keep:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    environment: {V: "1"}
    volumes: [/anon]
`
	e.composeFile("cplw", content)
	e.ok("-p", "cplw", "create")
	if st := e.inspect("cplw-keep-1")["State"].(map[string]any)["Status"]; st != "created" {
		t.Errorf("after create: %v", st)
	}
	if ls := e.ok("ls").stdout; strings.Contains(ls, "cplw") {
		t.Errorf("ls lists a project with nothing running:\n%s", ls)
	}
	if ls := e.ok("ls", "-a").stdout; !strings.Contains(ls, "cplw") || !strings.Contains(ls, "created(2)") {
		t.Errorf("ls -a:\n%s", ls)
	}
	if out := e.ok("-p", "cplw", "images").stdout; !strings.HasPrefix(out, "CONTAINER     REPOSITORY   TAG       IMAGE ID       SIZE\n") || !strings.Contains(out, "cplw-keep-1   bb           1         ") {
		t.Errorf("images:\n%s", out)
	}
	if ids := strings.Fields(e.ok("-p", "cplw", "images", "-q").stdout); len(ids) != 1 {
		t.Errorf("images -q: %v, want the one image", ids)
	}
	e.ok("-p", "cplw", "start")
	if r := e.run("-p", "cplw", "wait", "job"); r.code != 4 || r.stdout != "cplw-job-1 exited with code 4\n" {
		t.Errorf("wait job: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if ls := e.ok("ls").stdout; !strings.Contains(ls, "cplw") || !strings.Contains(ls, "running(1)") {
		t.Errorf("ls:\n%s", ls)
	}
	// -V: the recreated container starts with an empty anonymous volume.
	e.ok("container", "exec", "cplw-keep-1", "sh", "-c", "echo old > /anon/f")
	if err := os.WriteFile(file, []byte(strings.Replace(content, `V: "1"`, `V: "2"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("-p", "cplw", "up", "-d", "-V", "keep")
	if out := e.ok("container", "exec", "cplw-keep-1", "busybox", "ls", "-A", "/anon").stdout; out != "" {
		t.Errorf("after up -V, the anonymous volume has %q", out)
	}
	if err := os.WriteFile(file, []byte("services:\n  far:\n    image: localhost:1/nosuch:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.run("-p", "cplw2", "pull"); r.code != 1 || !strings.Contains(r.stderr, `service "far"`) {
		t.Errorf("pull of an image nobody serves: code %d, stderr %q", r.code, r.stderr)
	}
	e.ok("volume", "prune", "-f")
}

// TestComposeRun: a one-off container of a service, its dependency started first, with -e, a
// command of its own, its exit code passed on, and --rm removing it.
func TestComposeRun(t *testing.T) {
	e := newContainerEnv(t)
	e.composeFile("one", `
services:
  db:
    image: bb:1
    command: ["busybox", "sleep", "300"]
  app:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    ports: ["8080:80"]
    depends_on: [db]
`)
	r := e.ok("-p", "one", "run", "--rm", "-e", "FOO=bar", "app", "sh", "-c", "echo $FOO; busybox nslookup db >/dev/null && echo db-found")
	if r.stdout != "bar\ndb-found\n" {
		t.Errorf("run --rm app: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, " Container one-db-1  Started") {
		t.Errorf("run did not start the dependency:\n%s", r.stderr)
	}
	if r := e.run("-p", "one", "run", "--rm", "--no-deps", "app", "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("run exit 7: code %d, stderr %q", r.code, r.stderr)
	}
	// Only db runs: the one-off containers are gone, and app itself was never started.
	if ps := strings.Fields(e.ok("-p", "one", "ps", "-a", "--services").stdout); !slices.Equal(ps, []string{"db"}) {
		t.Errorf("ps -a after the runs: %v", ps)
	}
	if r := e.run("-p", "one", "run", "--rm", "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "nosuch") {
		t.Errorf("run of an unknown service: code %d, stderr %q", r.code, r.stderr)
	}
}

// composeFile writes content as compose.yaml in the test's directory and takes the project down,
// volumes and all, when the test ends; it returns the file's path.
func (e *containerEnv) composeFile(project, content string) string {
	e.t.Helper()
	file := filepath.Join(e.dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { e.run("-p", project, "down", "-v") })
	return file
}
