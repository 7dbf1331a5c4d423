package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-sh/berth/internal/testutil"
)

// busyboxRootfs is a tarball of a minimal root filesystem made from Debian's busybox-static.
func busyboxRootfs(t testing.TB) string {
	t.Helper()
	bb := testutil.RequireBusybox(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"bin/", "etc/", "tmp/"} {
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755})
	}
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))})
	tw.Write(data)
	for _, l := range []string{"sh", "cat", "echo", "ls"} {
		tw.WriteHeader(&tar.Header{Name: "bin/" + l, Typeflag: tar.TypeSymlink, Linkname: "busybox"})
	}
	msg := []byte("hello from the bottom layer\n")
	tw.WriteHeader(&tar.Header{Name: "etc/motd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(msg))})
	tw.Write(msg)
	tw.Close()
	p := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// stateEnv gives a test its own berth state root.
func stateEnv(t testing.TB) []string {
	t.Helper()
	root := t.TempDir()
	return []string{"BERTH_ROOT=" + root, "BERTH_RUN_ROOT=" + filepath.Join(root, "run"), "DOCKER_CONFIG=" + filepath.Join(root, "docker-config")}
}

func TestImageLifecycle(t *testing.T) {
	rootfs := busyboxRootfs(t)
	dir := t.TempDir()
	env := stateEnv(t)
	run := func(args ...string) result { t.Helper(); return cmd{args: args, dir: dir, env: env}.ok(t) }

	id := strings.TrimSpace(run("image", "import", "-c", `CMD ["/bin/sh"]`, "-c", "ENV GREETING=hi", "-m", "from busybox", rootfs, "bb:1").stdout)
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("import printed %q, want the image ID", id)
	}
	ls := run("image", "ls").stdout
	if !strings.Contains(ls, "REPOSITORY") || !strings.Contains(ls, "bb ") || !strings.Contains(ls, id[7:19]) {
		t.Errorf("image ls:\n%s", ls)
	}
	if q := run("image", "ls", "-q").stdout; q != id[7:19]+"\n" {
		t.Errorf("image ls -q = %q", q)
	}
	hist := run("image", "history", "bb:1").stdout
	for _, want := range []string{"IMAGE", "CREATED BY", "Imported from " + rootfs[:20], "from busybox"} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
	var insp []map[string]any
	if err := json.Unmarshal([]byte(run("image", "inspect", "bb:1").stdout), &insp); err != nil {
		t.Fatal(err)
	}
	if insp[0]["Id"] != id || fmt.Sprint(insp[0]["RepoTags"]) != "[bb:1]" {
		t.Errorf("inspect: Id %v RepoTags %v", insp[0]["Id"], insp[0]["RepoTags"])
	}
	cfg := insp[0]["Config"].(map[string]any)
	if fmt.Sprint(cfg["Cmd"]) != "[/bin/sh]" || !strings.Contains(fmt.Sprint(cfg["Env"]), "GREETING=hi") {
		t.Errorf("inspect Config = %v, want the --change values", cfg)
	}

	// save, remove, load: the same image ID comes back.
	archive := filepath.Join(t.TempDir(), "bb.tar")
	run("image", "tag", "bb:1", "bb:also")
	run("image", "save", "-o", archive, "bb:1")
	rm := run("image", "rm", "bb:1", "bb:also").stdout
	if !strings.Contains(rm, "Untagged: bb:1") || !strings.Contains(rm, "Deleted: "+id) {
		t.Errorf("image rm:\n%s", rm)
	}
	if ls := run("image", "ls", "-q").stdout; ls != "" {
		t.Errorf("images left after rm: %q", ls)
	}
	if load := run("image", "load", "-i", archive).stdout; load != "Loaded image: bb:1\n" {
		t.Errorf("load printed %q", load)
	}
	if got := run("image", "inspect", "--", "bb:1").stdout; !strings.Contains(got, id) {
		t.Errorf("loaded image has another ID:\n%s", got)
	}
	// prune -a removes everything not used; dangling filter shows nothing dangling.
	if out := run("image", "ls", "--filter", "dangling=true", "-q").stdout; out != "" {
		t.Errorf("dangling images: %q", out)
	}
	if out := run("image", "prune", "-a", "-f").stdout; !strings.Contains(out, "deleted: "+id) {
		t.Errorf("prune -a:\n%s", out)
	}
}

// slowRegistry serves go-containerregistry's registry on a loopback port; layer blobs go out in
// small slow chunks once slow is set, so that a pull can be killed half way.
type slowRegistry struct {
	host   string
	slow   atomic.Bool
	served atomic.Int64
}

func newSlowRegistry(t *testing.T) *slowRegistry {
	t.Helper()
	r := &slowRegistry{}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.slow.Load() && req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") {
			rec := httptest.NewRecorder()
			inner.ServeHTTP(rec, req)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			body := rec.Body.Bytes()
			for len(body) > 0 {
				n := min(len(body), 4096)
				if _, err := w.Write(body[:n]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				r.served.Add(int64(n))
				body = body[n:]
				time.Sleep(5 * time.Millisecond)
			}
			return
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

func TestPullKilledLeavesNothing(t *testing.T) {
	rootfs := busyboxRootfs(t)
	reg := newSlowRegistry(t)
	dir := t.TempDir()
	env := stateEnv(t)
	run := func(args ...string) result { t.Helper(); return cmd{args: args, dir: dir, env: env}.ok(t) }

	// Put an image in the registry from another store.
	other := stateEnv(t)
	ref := reg.host + "/killed/app:1"
	cmd{args: []string{"image", "import", rootfs, ref}, dir: dir, env: other}.ok(t)
	cmd{args: []string{"image", "push", ref}, dir: dir, env: other}.ok(t)

	before := run("image", "ls", "-q").stdout
	reg.slow.Store(true)
	x := exec.Command(berthBin, "image", "pull", ref)
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for reg.served.Load() < 64<<10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if reg.served.Load() < 64<<10 {
		x.Process.Kill()
		x.Wait()
		t.Fatal("the pull never got going")
	}
	x.Process.Signal(syscall.SIGKILL)
	x.Wait()

	if after := run("image", "ls", "-q").stdout; after != before {
		t.Errorf("image ls changed by a killed pull: %q -> %q", before, after)
	}
	reg.slow.Store(false)
	out := run("image", "pull", ref).stdout
	if !strings.Contains(out, "Status: Downloaded newer image") {
		t.Errorf("pull after the kill:\n%s", out)
	}
}

// dockerRegistry starts Debian's docker-registry (the reference registry server) on a loopback
// port, with htpasswd basic auth when user is not empty.
func dockerRegistry(t *testing.T, user, password string) string {
	t.Helper()
	bin := testutil.RequireCommand(t, "docker-registry", "docker-registry")
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	auth := ""
	if user != "" {
		htpasswd := testutil.RequireCommand(t, "htpasswd", "apache2-utils")
		out, err := exec.Command(htpasswd, "-Bbn", user, password).Output()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "htpasswd"), out, 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-test\n    path: %s\n", filepath.Join(dir, "htpasswd"))
	}
	config := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n%s", filepath.Join(dir, "data"), addr, auth)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(bin, "serve", cfgPath)
	srv.Stdout, srv.Stderr = io.Discard, io.Discard
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Kill()
		srv.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			return addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("docker-registry did not come up on %s", addr)
	return ""
}

func TestDockerRegistryRoundTrip(t *testing.T) {
	rootfs := busyboxRootfs(t)
	for _, auth := range []bool{false, true} {
		t.Run(fmt.Sprintf("auth=%v", auth), func(t *testing.T) {
			user, pass := "", ""
			if auth {
				user, pass = "workshop", "s3cret-pw"
			}
			host := dockerRegistry(t, user, pass)
			dir := t.TempDir()
			a, b := stateEnv(t), stateEnv(t)
			ref := host + "/getting-started:v1"
			cmd{args: []string{"image", "import", rootfs, ref}, dir: dir, env: a}.ok(t)
			if auth {
				// Without credentials the push is refused, in one line.
				r := cmd{args: []string{"image", "push", ref}, dir: dir, env: a}.run(t)
				if r.code != 1 || !strings.Contains(r.stderr, "access denied") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("anonymous push: exit %d, stderr %q", r.code, r.stderr)
				}
				r = cmd{args: []string{"login", "-u", user, "--password-stdin", host}, dir: dir, env: a, stdin: "wrong\n"}.run(t)
				if r.code != 1 || !strings.Contains(r.stderr, "incorrect username or password") {
					t.Errorf("login with a wrong password: exit %d, stderr %q", r.code, r.stderr)
				}
				for _, env := range [][]string{a, b} {
					if out := (cmd{args: []string{"login", "-u", user, "--password-stdin", host}, dir: dir, env: env, stdin: pass + "\n"}).ok(t).stdout; out != "Login Succeeded\n" {
						t.Errorf("login printed %q", out)
					}
				}
			}
			push := cmd{args: []string{"image", "push", ref}, dir: dir, env: a}.ok(t).stdout
			if !strings.Contains(push, "Pushed") || !strings.Contains(push, "v1: digest: sha256:") {
				t.Errorf("push:\n%s", push)
			}
			pull := cmd{args: []string{"image", "pull", ref}, dir: dir, env: b}.ok(t).stdout
			if !strings.Contains(pull, "Status: Downloaded newer image for "+ref) {
				t.Errorf("pull:\n%s", pull)
			}
			idA := cmd{args: []string{"image", "ls", "-q", "--no-trunc"}, dir: dir, env: a}.ok(t).stdout
			idB := cmd{args: []string{"image", "ls", "-q", "--no-trunc"}, dir: dir, env: b}.ok(t).stdout
			if idA != idB || idA == "" {
				t.Errorf("image IDs differ after push and pull: %q vs %q", idA, idB)
			}
			digest := func(env []string) string {
				var insp []struct{ RepoDigests []string }
				json.Unmarshal([]byte(cmd{args: []string{"image", "inspect", ref}, dir: dir, env: env}.ok(t).stdout), &insp)
				if len(insp) != 1 || len(insp[0].RepoDigests) != 1 {
					return ""
				}
				return insp[0].RepoDigests[0]
			}
			if d := digest(b); d == "" || !strings.Contains(push, strings.SplitN(d, "@", 2)[1]) {
				t.Errorf("pulled repo digest %q is not the pushed digest:\n%s", d, push)
			}
			// A multi-platform index in this registry: the pull picks the host's image.
			want := pushIndex(t, host+"/multi:1", user, pass)
			cmd{args: []string{"image", "pull", host + "/multi:1"}, dir: dir, env: b}.ok(t)
			var multi []struct{ Id string }
			json.Unmarshal([]byte(cmd{args: []string{"image", "inspect", host + "/multi:1"}, dir: dir, env: b}.ok(t).stdout), &multi)
			if len(multi) != 1 || multi[0].Id != want {
				t.Errorf("pulled %+v from the index, want the host platform's image %s", multi, want)
			}
			if auth {
				if out := (cmd{args: []string{"logout", host}, dir: dir, env: b}).ok(t).stdout; !strings.Contains(out, "Removing login credentials for "+host) {
					t.Errorf("logout printed %q", out)
				}
			}
		})
	}
}

func TestImageBadInput(t *testing.T) {
	dir := t.TempDir()
	env := stateEnv(t)
	corrupt := filepath.Join(dir, "corrupt.tar")
	os.WriteFile(corrupt, []byte("this is not a tar archive, not even close"), 0o644)
	reg := newSlowRegistry(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown image", []string{"image", "inspect", "nope:1"}, "No such image: nope:1"},
		{"unknown image in registry", []string{"image", "pull", reg.host + "/nope:1"}, "not found"},
		{"bad reference", []string{"image", "pull", "Bad/Name"}, "invalid reference format"},
		{"registry down", []string{"image", "pull", "127.0.0.1:1/app:1"}, "connection refused"},
		{"corrupt tarball load", []string{"image", "load", "-i", corrupt}, "not an image archive"},
		{"corrupt tarball import", []string{"image", "import", corrupt, "x:1"}, "tar"},
		{"push of an image not here", []string{"image", "push", reg.host + "/absent:1"}, "does not exist locally"},
		{"unknown filter", []string{"image", "ls", "--filter", "label=x"}, "invalid filter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cmd{args: tt.args, dir: dir, env: env}.run(t)
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			msg := strings.TrimRight(r.stderr, "\n")
			if strings.Contains(msg, "\n") || strings.Contains(msg, "goroutine") {
				t.Errorf("stderr is not one line:\n%s", r.stderr)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("stderr %q, want it to contain %q", msg, tt.want)
			}
		})
	}
	// Nothing was half-written: no image, no leftover spool or ingest file visible as an image.
	if out := (cmd{args: []string{"image", "ls", "-q"}, dir: dir, env: env}).ok(t).stdout; out != "" {
		t.Errorf("images after failures: %q", out)
	}
}

func TestConcurrentPullProcesses(t *testing.T) {
	rootfs := busyboxRootfs(t)
	reg := newSlowRegistry(t)
	dir := t.TempDir()
	other, env := stateEnv(t), stateEnv(t)
	ref := reg.host + "/twice/app:1"
	cmd{args: []string{"image", "import", rootfs, ref}, dir: dir, env: other}.ok(t)
	cmd{args: []string{"image", "push", ref}, dir: dir, env: other}.ok(t)

	reg.slow.Store(true) // so that the two pulls overlap
	procs := make([]*exec.Cmd, 2)
	outs := make([]bytes.Buffer, 2)
	for i := range procs {
		procs[i] = exec.Command(berthBin, "image", "pull", "-q", ref)
		procs[i].Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
		procs[i].Stderr = &outs[i]
		if err := procs[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range procs {
		if err := p.Wait(); err != nil {
			t.Errorf("pull %d: %v: %s", i, err, outs[i].String())
		}
	}
	root := strings.TrimPrefix(env[0], "BERTH_ROOT=")
	blobs, _ := os.ReadDir(filepath.Join(root, "images", "blobs", "sha256"))
	if len(blobs) != 3 { // one layer, the config, the manifest
		t.Errorf("%d blobs after two pulls, want 3 (one copy each)", len(blobs))
	}
	if ls := (cmd{args: []string{"image", "ls", "-q"}, dir: dir, env: env}).ok(t).stdout; strings.Count(ls, "\n") != 1 {
		t.Errorf("image ls -q = %q, want one image", ls)
	}
}

// pushIndex writes a two-platform index to the registry at ref, the host's platform second, and
// returns the image ID of the host's image.
func pushIndex(t *testing.T, ref, user, pass string) string {
	t.Helper()
	host := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	other := v1.Platform{OS: "linux", Architecture: "s390x"}
	if host.Architecture == "s390x" {
		other.Architecture = "ppc64le"
	}
	mk := func(p v1.Platform) v1.Image {
		img, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := img.ConfigFile()
		cfg = cfg.DeepCopy()
		cfg.OS, cfg.Architecture = p.OS, p.Architecture
		img, err = mutate.ConfigFile(img, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	mine := mk(host)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: mk(other), Descriptor: v1.Descriptor{Platform: &other}},
		mutate.IndexAddendum{Add: mine, Descriptor: v1.Descriptor{Platform: &host}})
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	auth := authn.Anonymous
	if user != "" {
		auth = &authn.Basic{Username: user, Password: pass}
	}
	if err := remote.WriteIndex(r, idx, remote.WithAuth(auth)); err != nil {
		t.Fatal(err)
	}
	id, err := mine.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}
