package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mariadb is a throwaway MariaDB server started by a test from the host's Debian package
// (mariadb-server): its own datadir in a temp dir, listening only on a unix socket there
// (--skip-networking: no TCP port at all), stopped and removed when the test ends.
type mariadb struct {
	t        *testing.T
	bin      string
	dir      string
	sock     string
	initFile string
	cmd      *exec.Cmd
}

// findMariaDB returns the server and install program, or skips naming the package that has them.
func findMariaDB(t *testing.T) (server, install string) {
	t.Helper()
	for _, p := range []string{"mariadbd", "/usr/sbin/mariadbd"} {
		if s, err := exec.LookPath(p); err == nil {
			server = s
			break
		}
	}
	for _, p := range []string{"mariadb-install-db", "/usr/bin/mariadb-install-db"} {
		if s, err := exec.LookPath(p); err == nil {
			install = s
			break
		}
	}
	if server == "" || install == "" {
		t.Skip("needs mariadbd and mariadb-install-db (Debian package mariadb-server)")
	}
	return server, install
}

// newMariaDB makes a datadir with a passwordless root and an init file that creates the app's
// database and user (as the MySQL image's MYSQL_DATABASE/MYSQL_USER/MYSQL_PASSWORD do); the server
// is not started yet.
func newMariaDB(t *testing.T, database, user, password string) *mariadb {
	t.Helper()
	server, install := findMariaDB(t)
	// Not t.TempDir: a unix socket path must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "todo-mariadb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	m := &mariadb{t: t, bin: server, dir: dir, sock: filepath.Join(dir, "mysqld.sock"), initFile: filepath.Join(dir, "init.sql")}
	if len(m.sock) > 100 {
		t.Fatalf("socket path %s is too long for a unix socket; set TMPDIR to a shorter directory", m.sock)
	}
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db"}
	args = append(args, m.userArg()...)
	if out, err := exec.Command(install, args...).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	init := "CREATE DATABASE IF NOT EXISTS `" + database + "`;\n" +
		"CREATE USER IF NOT EXISTS '" + user + "'@'localhost' IDENTIFIED BY '" + password + "';\n" +
		"GRANT ALL ON `" + database + "`.* TO '" + user + "'@'localhost';\n"
	if err := os.WriteFile(m.initFile, []byte(init), 0o600); err != nil {
		t.Fatal(err)
	}
	return m
}

// userArg: as root mariadbd refuses to run unless told which user to be; otherwise it runs as us.
func (m *mariadb) userArg() []string {
	if os.Geteuid() == 0 {
		return []string{"--user=root"}
	}
	return nil
}

func (m *mariadb) start() {
	m.t.Helper()
	args := append([]string{"--no-defaults", "--datadir=" + filepath.Join(m.dir, "data"),
		"--socket=" + m.sock, "--skip-networking", "--pid-file=" + filepath.Join(m.dir, "mysqld.pid"),
		"--log-error=" + filepath.Join(m.dir, "error.log"), "--init-file=" + m.initFile,
		"--innodb-buffer-pool-size=16M"}, m.userArg()...)
	m.cmd = exec.Command(m.bin, args...)
	// The server goes down with the test binary even if the test is killed.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start mariadbd: %v", err)
	}
	m.t.Cleanup(m.stop)
}

// stop ends the server this test started (its pid only): SIGTERM, then SIGKILL after 20s.
func (m *mariadb) stop() {
	if m.cmd == nil || m.cmd.ProcessState != nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		m.t.Logf("mariadbd pid %d did not stop in 20s; killing it", m.cmd.Process.Pid)
		_ = m.cmd.Process.Kill()
		<-done
	}
}

// errorLog is the server's log, for failure messages.
func (m *mariadb) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "error.log"))
	return string(b)
}

// TestAPIOverMariaDB runs the app's MySQL path against a real MariaDB: the app starts first and
// waits for the server, creates its table, passes the same API suite as SQLite, and the app's
// command runs against it too. A wrong password fails at once instead of waiting.
func TestAPIOverMariaDB(t *testing.T) {
	m := newMariaDB(t, "todos", "todo", "s3cret")
	secret := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"MYSQL_HOST": m.sock, "MYSQL_USER": "todo", "MYSQL_PASSWORD_FILE": secret, "MYSQL_DB": "todos"}
	cfg, ok, err := mysqlFromEnv(fakeEnv(env))
	if err != nil || !ok {
		t.Fatalf("mysqlFromEnv: %v %v", ok, err)
	}

	// The app comes up before the database, as it may under compose without a healthcheck.
	rec := &logRecorder{t: t}
	type result struct {
		s   *Store
		err error
	}
	opened := make(chan result, 1)
	go func() {
		s, err := openMySQL(context.Background(), cfg, waitPolicy{Timeout: 60 * time.Second, Interval: 200 * time.Millisecond}, rec.logf)
		opened <- result{s, err}
	}()
	for rec.count("Waiting for mysql at "+m.sock) == 0 {
		time.Sleep(50 * time.Millisecond)
	}
	m.start()
	r := <-opened
	if r.err != nil {
		t.Fatalf("openMySQL: %v\nserver log:\n%s", r.err, m.errorLog())
	}
	store := r.s
	defer store.Close()
	if store.Kind != "mysql" {
		t.Errorf("store kind %q, want mysql", store.Kind)
	}

	// The table has the workshop app's columns.
	var cols []string
	rows, err := store.db.Query(`SELECT column_name, column_type FROM information_schema.columns
		WHERE table_schema = 'todos' AND table_name = 'todo_items' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, name+" "+typ)
	}
	rows.Close()
	if got, want := strings.Join(cols, ", "), "id varchar(36), name varchar(255), completed tinyint(1)"; got != want {
		t.Errorf("todo_items columns = %q, want %q", got, want)
	}

	exerciseAPI(t, store)

	t.Run("wrong password fails at once", func(t *testing.T) {
		bad := cfg
		bad.Password = "wrong"
		start := time.Now()
		_, err := openMySQL(context.Background(), bad, defaultWait, rec.logf)
		if err == nil || !strings.Contains(err.Error(), "Access denied for user 'todo'") {
			t.Fatalf("err = %v, want access denied", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s, want no waiting for an error the server gave", d)
		}
	})

	t.Run("command", func(t *testing.T) {
		a := startApp(t, "MYSQL_HOST="+m.sock, "MYSQL_USER=todo", "MYSQL_PASSWORD_FILE="+secret, "MYSQL_DB=todos")
		if want := "Using mysql database todos at " + m.sock + " as todo"; !strings.HasSuffix(a.first, want) {
			t.Errorf("first log line %q, want %q", a.first, want)
		}
		if code, out := healthcheckExit(t, a.addr); code != 0 {
			t.Errorf("-healthcheck: exit %d: %s", code, out)
		}
		// The items the suite left are there (the store is the same database).
		items, err := store.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + a.addr + "/items")
		if err != nil {
			t.Fatal(err)
		}
		var got []Item
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || len(got) != len(items) || len(got) == 0 {
			t.Errorf("GET /items through the command = %+v (%v), want the %d stored items", got, err, len(items))
		}
		if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := a.cmd.Wait(); err != nil {
			t.Errorf("app after SIGTERM: %v", err)
		}
	})

	// With the database gone, /healthz says so.
	m.stop()
	srv := httptest.NewServer((&server{store: store, log: testLogger(t)}).routes())
	defer srv.Close()
	if code, body := call(t, srv, "GET", "/healthz", ""); code != 503 || !strings.Contains(body, "mysql: ") {
		t.Errorf("GET /healthz with the server stopped = %d %s, want 503 naming mysql", code, body)
	}
}
