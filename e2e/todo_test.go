//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-sh/berth/internal/testutil"
)

// TestTodoStack runs examples/todo as `make demo` and the README do: the base images made from
// Debian's packages by demo/images/make-images.sh (cached in BERTH_DEMO_CACHE, default
// /var/cache/berth-demo), then `up -d --wait --build` of examples/todo/compose.yaml (the Go app
// on MariaDB built from examples/todo/mariadb), items added through the published port that
// survive down and up in the named volume, a second `up --build` that is all cache hits, the dev
// loop of compose.dev.yaml (an edit on the host shows after `restart app`), and `down -v`.
// An override adds init scripts to /docker-entrypoint-initdb.d to check the entrypoint runs them.
func TestTodoStack(t *testing.T) {
	begin := time.Now()
	testutil.RequireRoot(t)
	mirror := envOr("BERTH_DEMO_MIRROR", "http://deb.debian.org/debian")
	cache := envOr("BERTH_DEMO_CACHE", "/var/cache/berth-demo")
	script := filepath.Join(repoRoot(), "demo", "images", "make-images.sh")
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "BERTH_DEMO_CACHE=" + cache, "BERTH_DEMO_MIRROR=" + mirror}

	// The root filesystems come from the mirror, so they are made in the host's network
	// namespace, before the test moves into its own (which has no way out).
	step(t, "build the base images' root filesystems", func(t *testing.T) {
		if !cached(cache, "debian", "golang", "mariadb-base") {
			if _, err := exec.LookPath("mmdebstrap"); err != nil {
				t.Skip("needs mmdebstrap (apt-get install mmdebstrap) to make the base images, and none are cached in " + cache)
			}
			if err := mirrorReachable(mirror); err != nil {
				t.Skipf("Debian mirror %s unreachable and no base images cached in %s: %v", mirror, cache, err)
			}
		}
		started := time.Now()
		out := runScript(t, script, base, "--no-import", "base")
		t.Logf("make-images.sh --no-import base took %s:\n%s", time.Since(started).Round(time.Second), out)
	})

	e := newContainerEnv(t)
	step(t, "import the base images", func(t *testing.T) {
		started := time.Now()
		out := runScript(t, script, append(slices.Clone(base), append([]string{"BERTH_BIN=" + berthBin}, e.env...)...), "base")
		t.Logf("make-images.sh base took %s", time.Since(started).Round(time.Second))
		if !strings.Contains(out, "base images ready") {
			t.Fatalf("make-images.sh base:\n%s", out)
		}
		for _, ref := range []string{"berth-demo/debian:bookworm", "berth-demo/golang:bookworm", "berth-demo/mariadb-base:bookworm"} {
			e.ok("image", "inspect", ref)
		}
		// A second run finds them imported already and leaves them alone (so builds on them keep
		// their cache).
		if out := runScript(t, script, append(slices.Clone(base), append([]string{"BERTH_BIN=" + berthBin}, e.env...)...), "base"); strings.Count(out, "already imported") != 3 {
			t.Errorf("second make-images.sh base imported again:\n%s", out)
		}
	})

	// The example as a user has it: its directory (app source, Dockerfiles, compose files), plus
	// an override of the test's own that gives the database init scripts.
	dir := filepath.Join(e.dir, "todo")
	copyTree(t, filepath.Join(repoRoot(), "examples", "todo"), dir)
	if err := os.Chmod(filepath.Join(dir, "mariadb", "docker-entrypoint.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	initdb := map[string]string{
		"initdb/01-seed.sql":  "CREATE TABLE seeded (n INT);\nINSERT INTO seeded VALUES (42);\n",
		"initdb/02-source.sh": "echo \"INSERT INTO seeded VALUES (43);\" | process_sql \"$MYSQL_DATABASE\"\n",
		"initdb/03-exec.sh":   "#!/bin/sh\nset -e\nmariadb -uroot -p\"$MYSQL_ROOT_PASSWORD\" -e 'CREATE DATABASE from_exec_sh'\n",
		"initdb/04-other.txt": "not run\n",
		"compose.initdb.yaml": "services:\n  db:\n    volumes:\n      - ./initdb:/docker-entrypoint-initdb.d:ro\n",
	}
	for name, content := range initdb {
		mode := os.FileMode(0o644)
		if name == "initdb/03-exec.sh" {
			mode = 0o755
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	files := []string{"-f", filepath.Join(dir, "compose.yaml"), "-f", filepath.Join(dir, "compose.initdb.yaml")}
	berth := func(args ...string) result { t.Helper(); return e.ok(append(slices.Clone(files), args...)...) }
	t.Cleanup(func() { e.run(append(slices.Clone(files), "down", "-v")...) })
	const app = "127.0.0.1:3000"
	want := []string{"Buy milk", "Walk the dog"}

	step(t, "up -d --wait --build", func(t *testing.T) {
		started := time.Now()
		out := berth("up", "-d", "--wait", "--build")
		t.Logf("up -d --wait --build (cold build cache) took %s", time.Since(started).Round(100*time.Millisecond))
		if !strings.Contains(out.stdout+out.stderr, "RUN go build") {
			t.Errorf("up --build shows no build of the app:\n%s%s", out.stdout, out.stderr)
		}
		if h := healthz(t, app); h != "ok (mysql)\n" {
			t.Errorf("GET /healthz: %q", h)
		}
	})

	step(t, "add two items", func(t *testing.T) {
		for _, name := range want {
			var item todoItem
			if code := doJSON(t, app, "POST", "/items", map[string]string{"name": name}, &item); code != 200 || item.Name != name || item.ID == "" {
				t.Fatalf("POST /items %q: status %d, item %+v", name, code, item)
			}
		}
		if got := itemNames(t, app); !slices.Equal(got, want) {
			t.Errorf("GET /items: %v", got)
		}
		if logs := berth("logs", "app").stdout; !strings.Contains(logs, "Using mysql database todos at db as todo") {
			t.Errorf("the app does not say it uses MariaDB:\n%s", logs)
		}
	})

	step(t, "the entrypoint ran the init scripts", func(t *testing.T) {
		logs := berth("logs", "db").stdout
		for _, w := range []string{"running /docker-entrypoint-initdb.d/01-seed.sql", "sourcing /docker-entrypoint-initdb.d/02-source.sh",
			"running /docker-entrypoint-initdb.d/03-exec.sh", "ignoring /docker-entrypoint-initdb.d/04-other.txt", "database initialized, database todos created"} {
			if !strings.Contains(logs, w) {
				t.Errorf("db logs lack %q:\n%s", w, logs)
			}
		}
		if got := dbQuery(t, berth, "SELECT GROUP_CONCAT(n ORDER BY n) FROM seeded"); got != "42,43" {
			t.Errorf("seeded rows: %q", got)
		}
		if got := dbQuery(t, berth, "SHOW DATABASES LIKE 'from_exec_sh'"); got != "from_exec_sh" {
			t.Errorf("database made by 03-exec.sh: %q", got)
		}
	})

	step(t, "down and up: the items are kept in the volume", func(t *testing.T) {
		berth("down")
		if vols := e.volumeNames(); !slices.Contains(vols, "todo_todo-mysql-data") {
			t.Fatalf("volumes after down: %v", vols)
		}
		started := time.Now()
		berth("up", "-d", "--wait")
		t.Logf("up -d --wait on the kept volume took %s", time.Since(started).Round(100*time.Millisecond))
		if got := itemNames(t, app); !slices.Equal(got, want) {
			t.Errorf("GET /items after down and up: %v", got)
		}
		if logs := berth("logs", "db").stdout; !strings.Contains(logs, "already holds a database: skipping initialization") {
			t.Errorf("the second start of db did not find its database:\n%s", logs)
		}
		if got := dbQuery(t, berth, "SELECT COUNT(*) FROM todo_items"); got != "2" {
			t.Errorf("select count(*) from todo_items: %q", got)
		}
		// The app's account from the secrets works too, from the client in the db image.
		out := berth("exec", "db", "sh", "-c", `mariadb -utodo -p"$(cat /run/secrets/db_password)" -h db todos -N -e 'select count(*) from todo_items'`).stdout
		if strings.TrimSpace(out) != "2" {
			t.Errorf("count as user todo over TCP: %q", out)
		}
	})

	step(t, "a second up --build is all cache hits", func(t *testing.T) {
		started := time.Now()
		out := berth("up", "-d", "--wait", "--build")
		t.Logf("up -d --wait --build (warm build cache) took %s", time.Since(started).Round(100*time.Millisecond))
		all := out.stdout + out.stderr
		steps := buildSteps(all)
		if len(steps) < 9 { // the app's 7 RUN and COPY steps and the database's 2, at least
			t.Fatalf("found %d build steps in:\n%s", len(steps), all)
		}
		for name, state := range steps {
			if state != "CACHED" && !strings.HasPrefix(name, "FROM ") {
				t.Errorf("step %q: %s, not CACHED:\n%s", name, state, all)
			}
		}
		t.Logf("%d build steps, all CACHED", len(steps))
		if got := itemNames(t, app); !slices.Equal(got, want) {
			t.Errorf("GET /items after the second up: %v", got)
		}
	})

	dev := append(slices.Clone(files), "-f", filepath.Join(dir, "compose.dev.yaml"))
	devBerth := func(args ...string) result { t.Helper(); return e.ok(append(slices.Clone(dev), args...)...) }
	step(t, "dev loop: the app runs from the bind-mounted source", func(t *testing.T) {
		started := time.Now()
		devBerth("up", "-d", "--wait", "--build")
		waitHealthz(t, app, "ok (mysql)\n", func() string { return devBerth("logs", "app").stdout })
		t.Logf("dev up and the app's first answer took %s", time.Since(started).Round(100*time.Millisecond))
		if cmd := devBerth("ps", "--format", "{{.Command}}", "app").stdout; !strings.Contains(cmd, "go run") {
			t.Errorf("the dev app does not run go run: %q", cmd)
		}
		if got := itemNames(t, app); !slices.Equal(got, want) {
			t.Errorf("GET /items from the dev app: %v", got)
		}

		src := filepath.Join(dir, "handlers.go")
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		const from, to = `"ok (%s)\n"`, `"ok (%s), edited by TestTodoStack\n"`
		if !strings.Contains(string(b), from) {
			t.Fatalf("handlers.go has no %s to edit", from)
		}
		if err := os.WriteFile(src, []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		started = time.Now()
		devBerth("restart", "app")
		waitHealthz(t, app, "ok (mysql), edited by TestTodoStack\n", func() string { return devBerth("logs", "app").stdout })
		t.Logf("restart app and the edited app's first answer took %s", time.Since(started).Round(100*time.Millisecond))
	})

	step(t, "down -v leaves nothing", func(t *testing.T) {
		// The app image's VOLUME /etc/todos (for SQLite) gives each app container an anonymous
		// volume; the plain down above and the recreation for the dev loop left theirs behind,
		// attached to no container, as docker compose does. down -v removes the rest.
		dangling := strings.Fields(e.ok("volume", "ls", "-q", "--filter", "dangling=true").stdout)
		devBerth("down", "-v")
		if vols := e.volumeNames(); !slices.Equal(vols, dangling) {
			t.Errorf("volumes after down -v: %v, want only those attached to no container before: %v", vols, dangling)
		}
		t.Logf("anonymous volumes left by down and by recreation: %d", len(dangling))
		e.ok("volume", "prune", "-f")
		if vols := e.volumeNames(); len(vols) != 0 {
			t.Errorf("volumes after volume prune: %v", vols)
		}
		if ls := e.ok("container", "ls", "-aq").stdout; ls != "" {
			t.Errorf("containers after down -v: %q", ls)
		}
		if nets := e.ok("network", "ls", "--format", "{{.Name}}").stdout; strings.Contains(nets, "todo_") {
			t.Errorf("networks after down -v:\n%s", nets)
		}
	})
	t.Logf("TestTodoStack took %s", time.Since(begin).Round(time.Second))
}

// dbQuery runs one query as root in the todos database in the db container; it returns the
// answer without column names.
func dbQuery(t *testing.T, berth func(...string) result, query string) string {
	t.Helper()
	out := berth("exec", "db", "sh", "-c", `mariadb -uroot -p"$(cat /run/secrets/db_root_password)" todos -N -e "$0"`, query).stdout
	return strings.TrimSpace(out)
}

func healthz(t *testing.T, addr string) string {
	t.Helper()
	code, body, err := httpDo(addr, "GET", "/healthz", nil)
	if err != nil || code != 200 {
		t.Fatalf("GET /healthz: status %d, %v, %q", code, err, body)
	}
	return string(body)
}

// waitHealthz polls /healthz until it answers want: the dev app compiles before it listens.
func waitHealthz(t *testing.T, addr, want string, logs func() string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if code, body, err := httpDo(addr, "GET", "/healthz", nil); err == nil && code == 200 {
			if got = string(body); got == want {
				return
			}
		}
	}
	t.Fatalf("GET /healthz never answered %q (last %q); app logs:\n%s", want, got, logs())
}
