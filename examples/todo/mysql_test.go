package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func fakeEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestMySQLFromEnv(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pw := write("password", "s3cret \n")
	host := write("host", "db\n")
	user := write("user", "todo")
	dbname := write("db", "todos\r\n")

	for _, tc := range []struct {
		name   string
		env    map[string]string
		want   mysqlConfig
		ok     bool
		errMsg string
	}{
		{name: "unset means sqlite", env: map[string]string{"MYSQL_USER": "root"}},
		{name: "plain variables", ok: true,
			env:  map[string]string{"MYSQL_HOST": "mysql", "MYSQL_USER": "root", "MYSQL_PASSWORD": "secret", "MYSQL_DB": "todos"},
			want: mysqlConfig{Host: "mysql", User: "root", Password: "secret", DB: "todos"}},
		{name: "empty password allowed", ok: true,
			env:  map[string]string{"MYSQL_HOST": "mysql", "MYSQL_USER": "root", "MYSQL_DB": "todos"},
			want: mysqlConfig{Host: "mysql", User: "root", DB: "todos"}},
		{name: "every _FILE variant, trailing newlines dropped, other spaces kept", ok: true,
			env:  map[string]string{"MYSQL_HOST_FILE": host, "MYSQL_USER_FILE": user, "MYSQL_PASSWORD_FILE": pw, "MYSQL_DB_FILE": dbname},
			want: mysqlConfig{Host: "db", User: "todo", Password: "s3cret ", DB: "todos"}},
		{name: "both forms", env: map[string]string{"MYSQL_HOST": "db", "MYSQL_DB": "x", "MYSQL_DB_FILE": dbname},
			errMsg: "both MYSQL_DB and MYSQL_DB_FILE are set; set only one"},
		{name: "unreadable file", env: map[string]string{"MYSQL_HOST": "db", "MYSQL_USER_FILE": filepath.Join(dir, "nope")},
			errMsg: "MYSQL_USER_FILE: open " + filepath.Join(dir, "nope")},
		{name: "no user", env: map[string]string{"MYSQL_HOST": "db", "MYSQL_DB": "todos"},
			errMsg: "MYSQL_HOST is set but MYSQL_USER (or MYSQL_USER_FILE) is not"},
		{name: "no database", env: map[string]string{"MYSQL_HOST": "db", "MYSQL_USER": "u"},
			errMsg: "MYSQL_HOST is set but MYSQL_DB (or MYSQL_DB_FILE) is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := mysqlFromEnv(fakeEnv(tc.env))
			if tc.errMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errMsg) {
					t.Fatalf("err = %v, want one containing %q", err, tc.errMsg)
				}
				return
			}
			if err != nil || ok != tc.ok || got != tc.want {
				t.Fatalf("= %+v, %v, %v; want %+v, %v, nil", got, ok, err, tc.want, tc.ok)
			}
		})
	}
}

func TestMySQLNetAddr(t *testing.T) {
	for _, tc := range []struct{ host, net, addr string }{
		{"mysql", "tcp", "mysql:3306"},
		{"mysql:3307", "tcp", "mysql:3307"},
		{"10.1.2.3", "tcp", "10.1.2.3:3306"},
		{"::1", "tcp", "[::1]:3306"},
		{"[::1]", "tcp", "[::1]:3306"},
		{"[::1]:3307", "tcp", "[::1]:3307"},
		{"/run/mysqld/mysqld.sock", "unix", "/run/mysqld/mysqld.sock"},
	} {
		n, a := mysqlConfig{Host: tc.host}.netAddr()
		if n != tc.net || a != tc.addr {
			t.Errorf("netAddr(%q) = %s %s, want %s %s", tc.host, n, a, tc.net, tc.addr)
		}
	}
}

// logRecorder collects openMySQL's log lines.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
	t     *testing.T
}

func (r *logRecorder) logf(format string, args ...interface{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := strings.TrimSpace(fmt.Sprintf(format, args...))
	r.lines = append(r.lines, line)
	r.t.Log(line)
}

func (r *logRecorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// TestMySQLWaitIsBounded: with no server, openMySQL logs each try and gives up after its timeout.
func TestMySQLWaitIsBounded(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "no-server.sock")
	rec := &logRecorder{t: t}
	start := time.Now()
	_, err := openMySQL(context.Background(), mysqlConfig{Host: sock, User: "u", DB: "d"},
		waitPolicy{Timeout: time.Second, Interval: 200 * time.Millisecond}, rec.logf)
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "mysql "+sock+": not accepting connections after 1s") {
		t.Fatalf("err = %v, want 'not accepting connections after 1s' naming %s", err, sock)
	}
	if n := rec.count("Waiting for mysql at " + sock); n < 3 {
		t.Errorf("logged %d 'Waiting for mysql' lines, want one per try (at least 3)", n)
	}
	if elapsed > 3*time.Second {
		t.Errorf("gave up after %s, want about 1s", elapsed)
	}

	// A cancelled context (the app told to stop while waiting) ends the wait at once.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = openMySQL(ctx, mysqlConfig{Host: sock, User: "u", DB: "d"}, defaultWait, rec.logf)
	if err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("openMySQL with a cancelled context: err = %v after %s, want an error within a second", err, time.Since(start))
	}
}
