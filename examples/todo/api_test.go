package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the tests run the app's real main() in a child process: the test binary re-executed
// with TODO_TEST_MAIN=1 is the todo command.
func TestMain(m *testing.M) {
	if os.Getenv("TODO_TEST_MAIN") == "1" {
		os.Args = append([]string{"todo"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func testLogger(t *testing.T) *log.Logger {
	return log.New(testWriter{t}, "", 0)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func openTestSQLite(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "todo.db")
	s, err := openSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// call sends one request to the app and returns the status and body.
func call(t *testing.T, srv *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func decode(t *testing.T, body string, v interface{}) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
}

// exerciseAPI is the API's conformance suite; every store runs it on an empty database.
func exerciseAPI(t *testing.T, store *Store) {
	srv := httptest.NewServer((&server{store: store, log: testLogger(t)}).routes())
	defer srv.Close()

	code, body := call(t, srv, "GET", "/items", "")
	if code != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("GET /items on an empty store = %d %q, want 200 []", code, body)
	}

	var added []Item
	for _, name := range []string{"Learn berth", "  Ship it  ", "Ünïcode ✓ 'quotes' \"and\" ; DROP TABLE todo_items"} {
		code, body = call(t, srv, "POST", "/items", `{"name":`+mustJSON(t, name)+`}`)
		if code != 200 {
			t.Fatalf("POST /items %q = %d %s", name, code, body)
		}
		var it Item
		decode(t, body, &it)
		if !uuidRE.MatchString(it.ID) || it.Name != strings.TrimSpace(name) || it.Completed {
			t.Fatalf("POST /items %q returned %+v, want a v4 uuid, the trimmed name, not completed", name, it)
		}
		added = append(added, it)
	}

	var items []Item
	code, body = call(t, srv, "GET", "/items", "")
	decode(t, body, &items)
	if code != 200 || len(items) != len(added) {
		t.Fatalf("GET /items = %d %s, want the %d added items", code, body, len(added))
	}
	for i := range added {
		if items[i] != added[i] {
			t.Errorf("GET /items [%d] = %+v, want %+v (oldest first)", i, items[i], added[i])
		}
	}

	// Complete the first item and rename it; then a PUT with only "completed" keeps the name.
	first := added[0]
	code, body = call(t, srv, "PUT", "/items/"+first.ID, `{"name":"Learn berth well","completed":true}`)
	var got Item
	decode(t, body, &got)
	if want := (Item{ID: first.ID, Name: "Learn berth well", Completed: true}); code != 200 || got != want {
		t.Fatalf("PUT /items/%s = %d %+v, want 200 %+v", first.ID, code, got, want)
	}
	code, body = call(t, srv, "PUT", "/items/"+first.ID, `{"completed":false}`)
	decode(t, body, &got)
	if want := (Item{ID: first.ID, Name: "Learn berth well"}); code != 200 || got != want {
		t.Fatalf("PUT completed only = %d %+v, want 200 %+v", code, got, want)
	}
	code, body = call(t, srv, "PUT", "/items/"+first.ID, `{"completed":true}`)
	if code != 200 {
		t.Fatalf("PUT completed = %d %s", code, body)
	}
	code, body = call(t, srv, "GET", "/items/"+first.ID, "")
	decode(t, body, &got)
	if want := (Item{ID: first.ID, Name: "Learn berth well", Completed: true}); code != 200 || got != want {
		t.Fatalf("GET /items/%s = %d %+v, want the stored %+v", first.ID, code, got, want)
	}

	// Delete the second; it is gone from the list, and a second delete or update is a 404.
	second := added[1]
	if code, body = call(t, srv, "DELETE", "/items/"+second.ID, ""); code != 200 {
		t.Fatalf("DELETE /items/%s = %d %s", second.ID, code, body)
	}
	code, body = call(t, srv, "GET", "/items", "")
	decode(t, body, &items)
	if len(items) != 2 || items[0].ID != first.ID || !items[0].Completed || items[1] != added[2] {
		t.Fatalf("after delete GET /items = %s, want the first (completed) and third items", body)
	}
	for _, c := range []struct{ method, body string }{{"DELETE", ""}, {"PUT", `{"completed":true}`}, {"GET", ""}} {
		code, body = call(t, srv, c.method, "/items/"+second.ID, c.body)
		if code != 404 || !strings.Contains(body, "no item with id "+second.ID) {
			t.Errorf("%s of a deleted item = %d %s, want 404 naming the id", c.method, code, body)
		}
	}

	if code, body = call(t, srv, "GET", "/healthz", ""); code != 200 || !strings.Contains(body, "ok ("+store.Kind+")") {
		t.Errorf("GET /healthz = %d %q, want 200 ok (%s)", code, body, store.Kind)
	}
}

func mustJSON(t *testing.T, v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAPIOverSQLite(t *testing.T) {
	store, _ := openTestSQLite(t)
	exerciseAPI(t, store)
}

func TestAPIRejectsBadRequests(t *testing.T) {
	store, _ := openTestSQLite(t)
	srv := httptest.NewServer((&server{store: store, log: testLogger(t)}).routes())
	defer srv.Close()
	_, body := call(t, srv, "POST", "/items", `{"name":"exists"}`)
	var it Item
	decode(t, body, &it)

	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		msg                      string
	}{
		{"empty body", "POST", "/items", "", 400, "empty body"},
		{"not JSON", "POST", "/items", "name=x", 400, "bad JSON body"},
		{"two values", "POST", "/items", `{"name":"a"} {"name":"b"}`, 400, "more than one value"},
		{"no name", "POST", "/items", `{"title":"x"}`, 400, `body needs a "name"`},
		{"blank name", "POST", "/items", `{"name":"   "}`, 400, "name must not be empty"},
		{"name of wrong type", "POST", "/items", `{"name":5}`, 400, "bad JSON body"},
		{"name too long", "POST", "/items", `{"name":"` + strings.Repeat("é", 256) + `"}`, 400, "longer than 255 characters"},
		{"rename to blank", "PUT", "/items/" + it.ID, `{"name":""}`, 400, "name must not be empty"},
		{"completed of wrong type", "PUT", "/items/" + it.ID, `{"completed":"yes"}`, 400, "bad JSON body"},
		{"put unknown id", "PUT", "/items/nope", `{"completed":true}`, 404, "no item with id nope"},
		{"delete unknown id", "DELETE", "/items/nope", "", 404, "no item with id nope"},
		{"nested path", "DELETE", "/items/a/b", "", 404, "no such route"},
		{"no id", "PUT", "/items/", `{}`, 404, "no such route"},
		{"method on list", "DELETE", "/items", "", 405, "allowed: GET, POST"},
		{"method on item", "POST", "/items/" + it.ID, "", 405, "allowed: GET, PUT, DELETE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, srv, tc.method, tc.path, tc.body)
			var e struct{ Error string }
			decode(t, body, &e)
			if code != tc.code || !strings.Contains(e.Error, tc.msg) {
				t.Errorf("%s %s %q = %d %s, want %d with error containing %q", tc.method, tc.path, tc.body, code, body, tc.code, tc.msg)
			}
		})
	}
	// 255 characters (not bytes) fit the column.
	if code, body := call(t, srv, "POST", "/items", `{"name":"`+strings.Repeat("é", 255)+`"}`); code != 200 {
		t.Errorf("POST a 255-character name = %d %s, want 200", code, body)
	}
	// Nothing bad was stored.
	var items []Item
	_, body = call(t, srv, "GET", "/items", "")
	decode(t, body, &items)
	if len(items) != 2 || items[0] != it {
		t.Errorf("items after bad requests = %s, want only the two good ones", body)
	}
}

func TestFrontEndIsServed(t *testing.T) {
	store, _ := openTestSQLite(t)
	srv := httptest.NewServer((&server{store: store, log: testLogger(t)}).routes())
	defer srv.Close()
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html", `<script src="app.js"></script>`},
		{"/app.js", "javascript", `api("POST", "/items"`},
		{"/style.css", "text/css", "li.completed"},
	} {
		resp, err := srv.Client().Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), tc.ctype) || !bytes.Contains(b, []byte(tc.contains)) {
			t.Errorf("GET %s = %d %q, want 200 %s containing %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.ctype, tc.contains)
		}
	}
	if code, _ := call(t, srv, "GET", "/missing.html", ""); code != 404 {
		t.Errorf("GET /missing.html = %d, want 404", code)
	}
}

func TestNewIDIsRandomUUIDv4(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id, err := newID()
		if err != nil {
			t.Fatal(err)
		}
		if !uuidRE.MatchString(id) || seen[id] {
			t.Fatalf("newID() = %q: not a v4 uuid or a repeat", id)
		}
		seen[id] = true
	}
}

func TestSQLiteUnusablePath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := openSQLite(context.Background(), filepath.Join(file, "todo.db"))
	if err == nil || !strings.Contains(err.Error(), "sqlite") || !strings.Contains(err.Error(), file) {
		t.Fatalf("openSQLite under a regular file: err = %v, want an error naming sqlite and the path", err)
	}
}

// app is the todo command run as a child process.
type app struct {
	cmd   *exec.Cmd
	lines chan string
	addr  string
	first string
}

func startApp(t *testing.T, env ...string) *app {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), append(appEnv(), env...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &app{cmd: cmd, lines: make(chan string, 100)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			a.lines <- sc.Text()
		}
		close(a.lines)
	}()
	listening := regexp.MustCompile(`Listening on (\S+)$`)
	for a.addr == "" {
		select {
		case l, ok := <-a.lines:
			if !ok {
				t.Fatalf("app exited before listening: %v", cmd.Wait())
			}
			t.Log("app: " + l)
			if a.first == "" {
				a.first = l
			}
			if m := listening.FindStringSubmatch(l); m != nil {
				a.addr = m[1]
			}
		case <-time.After(20 * time.Second):
			t.Fatal("app did not log 'Listening on' within 20s")
		}
	}
	return a
}

// appEnv makes the test binary the todo command and clears any MYSQL_* of the caller's environment.
func appEnv() []string {
	env := []string{"TODO_TEST_MAIN=1"}
	for _, v := range []string{"MYSQL_HOST", "MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_DB"} {
		env = append(env, v+"=", v+"_FILE=")
	}
	return env
}

func healthcheckExit(t *testing.T, addr string) (int, string) {
	cmd := exec.Command(os.Args[0], "-healthcheck", "-addr", addr)
	cmd.Env = append(os.Environ(), "TODO_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestAppLifecycle runs the command: the start-up log names the store, -healthcheck passes, SIGTERM
// stops it at once and cleanly, -healthcheck then fails, and the data is there after a restart.
func TestAppLifecycle(t *testing.T) {
	db := filepath.Join(t.TempDir(), "todos", "todo.db")
	a := startApp(t, "SQLITE_DB="+db)
	if !strings.HasSuffix(a.first, "Using sqlite database at "+db) {
		t.Errorf("first log line = %q, want it to name the sqlite database %s", a.first, db)
	}
	if code, out := healthcheckExit(t, a.addr); code != 0 {
		t.Fatalf("-healthcheck on a running app: exit %d: %s", code, out)
	}
	resp, err := http.Post("http://"+a.addr+"/items", "application/json", strings.NewReader(`{"name":"survive a restart"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	start := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Wait(); err != nil {
		t.Fatalf("app after SIGTERM: %v, want exit 0", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("app took %s to stop on SIGTERM", d)
	}
	var rest []string
	for l := range a.lines {
		rest = append(rest, l)
	}
	if len(rest) != 1 || !strings.HasSuffix(rest[0], "Shutting down") {
		t.Errorf("log after SIGTERM = %q, want only 'Shutting down'", rest)
	}
	if code, out := healthcheckExit(t, a.addr); code != 1 || !strings.HasPrefix(out, "todo: unhealthy: ") || strings.Count(out, "\n") != 1 {
		t.Errorf("-healthcheck on a stopped app: exit %d %q, want exit 1 with one 'todo: unhealthy:' line", code, out)
	}

	b := startApp(t, "SQLITE_DB="+db)
	resp, err = http.Get("http://" + b.addr + "/items")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"name":"survive a restart"`) {
		t.Errorf("items after restart = %s, want the item added before", body)
	}
	if err := b.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Wait(); err != nil {
		t.Errorf("app after SIGINT: %v, want exit 0", err)
	}
}

// TestAppBadConfig: a configuration error is one line naming the variable and exit status 1.
func TestAppBadConfig(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "password")
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"no user", []string{"MYSQL_HOST=db", "MYSQL_DB=todos"}, "MYSQL_HOST is set but MYSQL_USER (or MYSQL_USER_FILE) is not"},
		{"no database", []string{"MYSQL_HOST=db", "MYSQL_USER=u"}, "MYSQL_HOST is set but MYSQL_DB (or MYSQL_DB_FILE) is not"},
		{"missing secret file", []string{"MYSQL_HOST=db", "MYSQL_USER=u", "MYSQL_DB=d", "MYSQL_PASSWORD_FILE=" + secret}, "MYSQL_PASSWORD_FILE: open " + secret + ": no such file or directory"},
		{"both password forms", []string{"MYSQL_HOST=db", "MYSQL_PASSWORD=x", "MYSQL_PASSWORD_FILE=" + secret}, "both MYSQL_PASSWORD and MYSQL_PASSWORD_FILE are set"},
		{"sqlite dir is a file", []string{"SQLITE_DB=" + os.Args[0] + "/todo.db"}, "sqlite: mkdir " + os.Args[0] + ": not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0")
			cmd.Env = append(os.Environ(), append(appEnv(), tc.env...)...)
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1; output %q", err, out)
			}
			if strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), "todo: "+tc.want) {
				t.Errorf("output %q, want one line with %q", out, tc.want)
			}
		})
	}
}

// TestAppStopsWhileWaitingForMySQL: SIGTERM while the app waits for its database ends it at once
// with status 0, as `berth stop` of a stack whose database never came up expects.
func TestAppStopsWhileWaitingForMySQL(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "no-server.sock")
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), append(appEnv(), "MYSQL_HOST="+sock, "MYSQL_USER=u", "MYSQL_DB=d")...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	time.Sleep(1500 * time.Millisecond) // at least one failed try
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if err != nil || time.Since(start) > 2*time.Second {
		t.Errorf("after SIGTERM while waiting: %v after %s, want exit 0 at once; output:\n%s", err, time.Since(start), out.String())
	}
	if !strings.Contains(out.String(), "Waiting for mysql at "+sock+" (try 1)") || !strings.HasSuffix(strings.TrimSpace(out.String()), "Stopped before the database was ready") {
		t.Errorf("output %q, want 'Waiting for mysql' tries then 'Stopped before the database was ready'", out.String())
	}
}
