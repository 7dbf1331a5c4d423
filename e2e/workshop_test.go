//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-sh/berth/internal/testutil"
)

// TestWorkshopCompose runs parts 7 and 8 of Docker's getting-started workshop for real: the todo
// app (demo/app) on Node.js with MariaDB as mysql:8.0, both images made from Debian packages by
// demo/images/make-images.sh (mysql:8.0 is examples/todo/mariadb built on its MariaDB base),
// from the workshop's compose file (demo/compose.yaml). Items posted
// through the published port survive down and up in the named volume; down -v leaves nothing.
// The root filesystems are cached in BERTH_DEMO_CACHE (default /var/cache/berth-demo), so only
// the first run on a machine builds them (about 1.5 min).
func TestWorkshopCompose(t *testing.T) {
	begin := time.Now()
	testutil.RequireRoot(t)
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		t.Skip("needs mmdebstrap (apt-get install mmdebstrap) to make the workshop's images")
	}
	mirror := envOr("BERTH_DEMO_MIRROR", "http://deb.debian.org/debian")
	cache := envOr("BERTH_DEMO_CACHE", "/var/cache/berth-demo")
	script := filepath.Join(repoRoot(), "demo", "images", "make-images.sh")
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "BERTH_DEMO_CACHE=" + cache, "BERTH_DEMO_MIRROR=" + mirror}

	// The root filesystems come from the mirror, so they are made in the host's network
	// namespace, before the test moves into its own (which has no way out).
	step(t, "build the images' root filesystems", func(t *testing.T) {
		if !cached(cache, "mariadb-base", "node") {
			if err := mirrorReachable(mirror); err != nil {
				t.Skipf("Debian mirror %s unreachable, cannot make the workshop's images: %v", mirror, err)
			}
		}
		started := time.Now()
		out := runScript(t, script, base, "--no-import", "workshop")
		t.Logf("make-images.sh --no-import took %s:\n%s", time.Since(started).Round(time.Second), out)
	})

	e := newContainerEnv(t)
	step(t, "import the images", func(t *testing.T) {
		checkNetNS(t, e.netns)
		out := runScript(t, script, append(slices.Clone(base), append([]string{"BERTH_BIN=" + berthBin}, e.env...)...), "workshop")
		if !strings.Contains(out, "imported mysql:8.0") {
			t.Fatalf("make-images.sh:\n%s", out)
		}
		ls := e.ok("image", "ls").stdout
		for _, want := range []string{"mysql", "8.0", "node", "18-alpine", "berth-demo/mariadb", "berth-demo/node"} {
			if !strings.Contains(ls, want) {
				t.Errorf("image ls lacks %q:\n%s", want, ls)
			}
		}
	})

	// The workshop's layout: the app's sources with compose.yaml beside them.
	copyTree(t, filepath.Join(repoRoot(), "demo", "app"), e.dir)
	compose, err := os.ReadFile(filepath.Join(repoRoot(), "demo", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const project = "getting-started-app"
	e.composeFile(project, string(compose))
	app := "127.0.0.1:3000"

	step(t, "up", func(t *testing.T) {
		started := time.Now()
		e.ok("-p", project, "up", "-d", "--wait")
		t.Logf("up -d --wait took %s", time.Since(started).Round(100*time.Millisecond))
		waitApp(t, e, project, app)
		t.Logf("the app answered %s after up started", time.Since(started).Round(100*time.Millisecond))
	})

	step(t, "add two items", func(t *testing.T) {
		for _, name := range []string{"Buy milk", "Walk the dog"} {
			var item todoItem
			if code := doJSON(t, app, "POST", "/items", map[string]string{"name": name}, &item); code != 200 || item.Name != name || item.ID == "" || item.Completed {
				t.Fatalf("POST /items %q: status %d, item %+v", name, code, item)
			}
		}
		if got := itemNames(t, app); !slices.Equal(got, []string{"Buy milk", "Walk the dog"}) {
			t.Errorf("GET /items: %v", got)
		}
		if !strings.Contains(e.ok("-p", project, "logs", "app").stdout, "Connected to mysql db at host mysql") {
			t.Errorf("the app does not say it uses mysql:\n%s", e.ok("-p", project, "logs", "app").stdout)
		}
	})

	step(t, "down and up: the items are kept in the volume", func(t *testing.T) {
		e.ok("-p", project, "down")
		if vols := e.volumeNames(); !slices.Contains(vols, project+"_todo-mysql-data") {
			t.Fatalf("volumes after down: %v", vols)
		}
		e.ok("-p", project, "up", "-d", "--wait")
		waitApp(t, e, project, app)
		if got := itemNames(t, app); !slices.Equal(got, []string{"Buy milk", "Walk the dog"}) {
			t.Errorf("GET /items after down and up: %v", got)
		}
		if logs := e.ok("-p", project, "logs", "mysql").stdout; !strings.Contains(logs, "skipping initialization") {
			t.Errorf("the second start of mysql did not find its database:\n%s", logs)
		}
		out := e.ok("-p", project, "exec", "mysql", "mariadb", "-uroot", "-psecret", "todos", "-e", "select count(*) from todo_items").stdout
		if strings.Fields(out)[len(strings.Fields(out))-1] != "2" {
			t.Errorf("select count(*): %q", out)
		}
	})

	step(t, "down -v", func(t *testing.T) {
		e.ok("-p", project, "down", "-v")
		if vols := e.volumeNames(); len(vols) != 0 {
			t.Errorf("volumes after down -v: %v", vols)
		}
		if ls := e.ok("container", "ls", "-aq").stdout; ls != "" {
			t.Errorf("containers after down -v: %q", ls)
		}
	})
	t.Logf("TestWorkshopCompose took %s", time.Since(begin).Round(time.Second))
}

type todoItem struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Completed bool   `json:"completed"`
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// cached says whether make-images.sh has the named tarballs in dir already (it still checks
// their recipe).
func cached(dir string, names ...string) bool {
	for _, name := range names {
		if m, _ := filepath.Glob(filepath.Join(dir, name+"-*.tar")); len(m) == 0 {
			return false
		}
	}
	return true
}

func mirrorReachable(mirror string) error {
	client := http.Client{Timeout: 15 * time.Second}
	resp, err := client.Get(strings.TrimSuffix(mirror, "/") + "/dists/bookworm/InRelease")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("dists/bookworm/InRelease: %s", resp.Status)
	}
	return nil
}

// runScript runs make-images.sh with env and returns its output; a failure ends the test.
func runScript(t *testing.T, script string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	x := exec.CommandContext(ctx, "sh", append([]string{script}, args...)...)
	x.Env = env
	out, err := x.CombinedOutput()
	if err != nil {
		t.Fatalf("make-images.sh %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// copyTree copies the regular files and directories under src into dst, leaving out a
// node_modules that a run in the source tree left.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		switch {
		case d.IsDir() && d.Name() == "node_modules":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitApp polls the app until GET /items answers 200: after up, it still runs yarn install and
// waits for mysql. On a timeout the services' logs are in the failure.
func waitApp(t *testing.T, e *containerEnv, project, addr string) {
	t.Helper()
	var code int
	var err error
	for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if code, _, err = httpDo(addr, "GET", "/items", nil); err == nil && code == 200 {
			return
		}
	}
	t.Fatalf("the app never answered GET /items: status %d, %v\napp:\n%s\nmysql:\n%s", code, err,
		e.run("-p", project, "logs", "app").stdout, e.run("-p", project, "logs", "mysql").stdout)
}

func itemNames(t *testing.T, addr string) []string {
	t.Helper()
	var items []todoItem
	if code := doJSON(t, addr, "GET", "/items", nil, &items); code != 200 {
		t.Fatalf("GET /items: status %d", code)
	}
	var names []string
	for _, it := range items {
		names = append(names, it.Name)
	}
	slices.Sort(names)
	return names
}

// doJSON sends body as JSON and decodes the answer into out; it returns the status code.
func doJSON(t *testing.T, addr, method, path string, body, out any) int {
	t.Helper()
	var in []byte
	if body != nil {
		var err error
		if in, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	code, resp, err := httpDo(addr, method, path, in)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if code == 200 && out != nil {
		if err := json.Unmarshal(resp, out); err != nil {
			t.Fatalf("%s %s: %v in %q", method, path, err, resp)
		}
	}
	return code
}

// httpDo is one HTTP request on a connection made by the calling goroutine, so that it goes to
// the loopback of the test's own network namespace (net/http's dialer runs on other threads).
func httpDo(addr, method, path string, body []byte) (int, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Close = true
	if err := req.Write(conn); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
