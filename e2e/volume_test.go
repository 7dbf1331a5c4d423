//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/testutil"
	"github.com/berth-sh/berth/network"
	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/runtime/image"
)

// tarDir makes a tarball of dir for `image import`, owners and modes as they are.
func tarDir(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "rootfs.tar")
	if b, err := exec.Command("tar", "--numeric-owner", "-C", dir, "-cf", out, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, b)
	}
	return out
}

// volumeNames lists the volumes of the test's state root.
func (e *containerEnv) volumeNames() []string {
	e.t.Helper()
	return strings.Fields(e.ok("volume", "ls", "-q").stdout)
}

func TestVolumeLifecycle(t *testing.T) {
	e := newContainerEnv(t)
	if out := e.ok("volume", "create", "--label", "app=todo", "todo-db").stdout; out != "todo-db\n" {
		t.Errorf("volume create printed %q", out)
	}
	e.ok("volume", "create", "todo-db") // again: no error, as with Docker
	if ls := e.ok("volume", "ls").stdout; ls != "DRIVER    VOLUME NAME\nlocal     todo-db\n" {
		t.Errorf("volume ls:\n%s", ls)
	}
	var in []map[string]any
	if err := json.Unmarshal([]byte(e.ok("volume", "inspect", "todo-db").stdout), &in); err != nil || len(in) != 1 {
		t.Fatalf("volume inspect: %v", err)
	}
	mp := filepath.Join(e.root, "volumes", "todo-db", "_data")
	if in[0]["Mountpoint"] != mp || in[0]["Driver"] != "local" || in[0]["Labels"].(map[string]any)["app"] != "todo" {
		t.Errorf("volume inspect: %v", in[0])
	}
	// In use by a container, running or not: rm names it; -f removes anyway.
	id := strings.TrimSpace(e.ok("container", "create", "--name", "db", "-v", "todo-db:/var/lib/data", "bb:1", "true").stdout)
	r := e.run("volume", "rm", "todo-db")
	if r.code == 0 || !strings.Contains(r.stderr, "volume is in use") || !strings.Contains(r.stderr, id[:12]) {
		t.Errorf("rm of a volume in use: code %d, stderr %q", r.code, r.stderr)
	}
	if ls := e.ok("volume", "ls", "-q", "--filter", "dangling=true").stdout; ls != "" {
		t.Errorf("dangling volumes while one is used: %q", ls)
	}
	e.ok("container", "rm", "db")
	if ls := e.ok("volume", "ls", "-q", "--filter", "dangling=true").stdout; ls != "todo-db\n" {
		t.Errorf("dangling volumes after the rm: %q", ls)
	}
	// prune takes anonymous volumes only, unless -a.
	e.ok("volume", "prune", "-f")
	if got := e.volumeNames(); !slices.Equal(got, []string{"todo-db"}) {
		t.Errorf("volumes after prune: %v", got)
	}
	e.ok("volume", "prune", "-f", "-a")
	if got := e.volumeNames(); len(got) != 0 {
		t.Errorf("volumes after prune -a: %v", got)
	}
	if _, err := os.Stat(filepath.Dir(mp)); !os.IsNotExist(err) {
		t.Errorf("the volume's directory is still there: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"volume", "create", "bad/name"}, "includes invalid characters for a local volume name"},
		{[]string{"volume", "create", "-d", "nfs", "x1"}, `volume driver "nfs" is not supported`},
		{[]string{"volume", "create", "-o", "colour=blue", "x2"}, "colour"},
		{[]string{"volume", "rm", "nosuch"}, "nosuch"},
		{[]string{"container", "run", "--rm", "-v", "data/x:/y", "bb:1", "true"}, "includes invalid characters for a local volume name"},
		{[]string{"container", "run", "--rm", "--mount", "type=bind,source=/nonexistent-berth-src,target=/y", "bb:1", "true"}, "bind source path does not exist: /nonexistent-berth-src"},
		{[]string{"container", "run", "--rm", "-v", "vol1:relative", "bb:1", "true"}, "must be absolute"},
		{[]string{"container", "run", "--rm", "-v", "vol1:/a", "-v", "vol2:/a", "bb:1", "true"}, "Duplicate mount point: /a"},
		{[]string{"container", "run", "--rm", "--mount", "type=nfs,target=/a", "bb:1", "true"}, `mount type "nfs" is not supported`},
	} {
		r := e.run(tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: code %d, stderr %q; want one line with %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if got := e.volumeNames(); len(got) != 0 {
		t.Errorf("volumes after bad input: %v", got)
	}
}

// TestVolumeDataSurvives: what a container writes to a named volume outlives the container,
// is shared with a second container at once, survives a SIGKILL of the monitor, and survives
// a simulated reboot (the run root gone, the container's mounts gone).
func TestVolumeDataSurvives(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("container", "run", "--rm", "-v", "keep:/data", "bb:1", "sh", "-c", "echo first > /data/f")
	if out := e.ok("container", "run", "--rm", "-v", "keep:/data:ro", "bb:1", "cat", "/data/f").stdout; out != "first\n" {
		t.Errorf("after the first container went: %q", out)
	}
	// Two containers at once see each other's writes.
	e.ok("container", "run", "-d", "--name", "writer", "-v", "keep:/data", "bb:1", "busybox", "sleep", "300")
	e.ok("container", "run", "-d", "--name", "reader", "--mount", "source=keep,target=/shared", "bb:1", "busybox", "sleep", "300")
	e.ok("container", "exec", "writer", "sh", "-c", "echo second > /data/g")
	if out := e.ok("container", "exec", "reader", "cat", "/shared/g").stdout; out != "second\n" {
		t.Errorf("the second container reads %q", out)
	}
	// --volumes-from: the writer's volume, here read-only.
	r := e.run("container", "run", "--rm", "--volumes-from", "writer:ro", "bb:1", "sh", "-c", "cat /data/g; echo x > /data/h")
	if r.stdout != "second\n" || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("--volumes-from writer:ro: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	// The monitor dies: the data stays.
	pid := int(e.stateFile(e.inspect("writer")["Id"].(string))["monitor_pid"].(float64))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil { // this test's own container's monitor
		t.Fatal(err)
	}
	e.ok("container", "rm", "-f", "writer", "reader")
	// A reboot: nothing mounted, the run root gone.
	runRoot := strings.TrimPrefix(e.env[1], "BERTH_RUN_ROOT=")
	if err := os.RemoveAll(runRoot); err != nil {
		t.Fatal(err)
	}
	if out := e.ok("container", "run", "--rm", "-v", "keep:/data", "bb:1", "sh", "-c", "cat /data/f /data/g").stdout; out != "first\nsecond\n" {
		t.Errorf("after the monitor's death and a reboot: %q", out)
	}
	e.ok("volume", "rm", "keep")
}

// TestVolumeCopyUp: an empty volume mounted over image content gets that content with its
// owners and modes; a volume with data is never overwritten; nocopy leaves it empty. An image
// VOLUME gets an anonymous volume, which rm -v (and run --rm) removes and rm alone keeps.
func TestVolumeCopyUp(t *testing.T) {
	e := newContainerEnv(t)
	rootfs := testutil.BusyboxRootfs(t)
	data := filepath.Join(rootfs, "var", "lib", "db")
	if err := os.MkdirAll(filepath.Join(data, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "sub", "conf"), []byte("from the image\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/conf", filepath.Join(data, "link")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{data, filepath.Join(data, "sub"), filepath.Join(data, "sub", "conf")} {
		if err := os.Lchown(p, 999, 998); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(data, 0o700); err != nil {
		t.Fatal(err)
	}
	e.ok("image", "import", "-c", "VOLUME /var/lib/db", "-c", `CMD ["/bin/sh"]`, tarDir(t, rootfs), "db:1")
	show := "busybox stat -c '%n %u:%g %a' /var/lib/db /var/lib/db/sub /var/lib/db/sub/conf; busybox readlink /var/lib/db/link; cat /var/lib/db/sub/conf"
	want := "/var/lib/db 999:998 700\n/var/lib/db/sub 999:998 750\n/var/lib/db/sub/conf 999:998 640\nsub/conf\nfrom the image\n"
	if out := e.ok("container", "run", "--rm", "-v", "dbdata:/var/lib/db", "db:1", "sh", "-c", show).stdout; out != want {
		t.Errorf("a named volume after copy-up:\n%s\nwant\n%s", out, want)
	}
	e.ok("container", "run", "--rm", "-v", "dbdata:/var/lib/db", "db:1", "sh", "-c", "echo changed > /var/lib/db/sub/conf; busybox rm /var/lib/db/link")
	if out := e.ok("container", "run", "--rm", "-v", "dbdata:/var/lib/db", "db:1", "sh", "-c", "cat /var/lib/db/sub/conf; busybox ls /var/lib/db").stdout; out != "changed\nsub\n" {
		t.Errorf("a volume with data was overwritten: %q", out)
	}
	if out := e.ok("container", "run", "--rm", "-v", "empty:/var/lib/db:nocopy", "db:1", "busybox", "ls", "-A", "/var/lib/db").stdout; out != "" {
		t.Errorf("nocopy: %q", out)
	}
	// The image's VOLUME: an anonymous volume, with the image's content.
	id := strings.TrimSpace(e.ok("container", "run", "-d", "db:1", "busybox", "sleep", "300").stdout)
	if out := e.ok("container", "exec", id, "cat", "/var/lib/db/sub/conf").stdout; out != "from the image\n" {
		t.Errorf("the anonymous volume has %q", out)
	}
	mounts := e.inspect(id)["Mounts"].([]any)
	if len(mounts) != 1 || mounts[0].(map[string]any)["Destination"] != "/var/lib/db" || len(mounts[0].(map[string]any)["Name"].(string)) != 64 {
		t.Fatalf("inspect Mounts: %v", mounts)
	}
	anon := mounts[0].(map[string]any)["Name"].(string)
	e.ok("container", "rm", "-f", id)
	if got := e.volumeNames(); !slices.Contains(got, anon) {
		t.Errorf("rm without -v removed the anonymous volume: %v", got)
	}
	id = strings.TrimSpace(e.ok("container", "run", "-d", "db:1", "busybox", "sleep", "300").stdout)
	anon2 := e.inspect(id)["Mounts"].([]any)[0].(map[string]any)["Name"].(string)
	e.ok("container", "rm", "-f", "-v", id)
	if got := e.volumeNames(); slices.Contains(got, anon2) {
		t.Errorf("rm -v kept the anonymous volume: %v", got)
	}
	before := e.volumeNames()
	e.ok("container", "run", "--rm", "db:1", "true")
	if got := e.volumeNames(); !slices.Equal(got, before) {
		t.Errorf("run --rm left volumes %v (before: %v)", got, before)
	}
	e.ok("volume", "rm", "dbdata", "empty", anon)
}

// TestBindMounts: the workshop's dev loop (a host edit is seen at once), read-only binds, ./
// paths, and image symlinks that try to put a mount outside the rootfs.
func TestBindMounts(t *testing.T) {
	e := newContainerEnv(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "app.js"), []byte("v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("container", "run", "-d", "--name", "dev", "-v", src+":/app", "bb:1", "busybox", "sleep", "300")
	if err := os.WriteFile(filepath.Join(src, "app.js"), []byte("v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := e.ok("container", "exec", "dev", "cat", "/app/app.js").stdout; out != "v2\n" {
		t.Errorf("a host edit is not seen in the container: %q", out)
	}
	e.ok("container", "exec", "dev", "sh", "-c", "echo from-container > /app/out")
	if b, err := os.ReadFile(filepath.Join(src, "out")); err != nil || string(b) != "from-container\n" {
		t.Errorf("a container write is not on the host: %q, %v", b, err)
	}
	if r := e.run("container", "run", "--rm", "--mount", "type=bind,source="+src+",target=/app,readonly", "bb:1", "sh", "-c", "echo x > /app/y"); r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("a write to a read-only bind: code %d, stderr %q", r.code, r.stderr)
	}
	// A single file, with -v and --mount, read-only too (MYSQL_ROOT_PASSWORD_FILE's way).
	if out := e.ok("container", "run", "--rm", "-v", filepath.Join(src, "app.js")+":/run/secret:ro", "bb:1", "cat", "/run/secret").stdout; out != "v2\n" {
		t.Errorf("-v FILE:/run/secret: %q", out)
	}
	if r := e.run("container", "run", "--rm", "--mount", "type=bind,src="+filepath.Join(src, "app.js")+",dst=/etc/motd,readonly", "bb:1", "sh", "-c", "cat /etc/motd; echo x > /etc/motd"); r.stdout != "v2\n" || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("--mount of a read-only file: %q %q", r.stdout, r.stderr)
	}
	// -v ./dir: relative to the working directory; a missing one is made.
	if out := e.ok("container", "run", "--rm", "-v", "./made:/m", "bb:1", "sh", "-c", "echo here > /m/f; cat /m/f").stdout; out != "here\n" {
		t.Errorf("-v ./made: %q", out)
	}
	if b, err := os.ReadFile(filepath.Join(e.dir, "made", "f")); err != nil || string(b) != "here\n" {
		t.Errorf("./made on the host: %q, %v", b, err)
	}

	// Symlinks in the image aimed at the host's /etc, absolute and through "..": the mounts
	// land inside the rootfs.
	rootfs := testutil.BusyboxRootfs(t)
	marker := "berth-e2e-" + filepath.Base(e.root)
	if err := os.Symlink("/etc/"+marker, filepath.Join(rootfs, "abs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../etc/"+marker+"-dots", filepath.Join(rootfs, "dots")); err != nil {
		t.Fatal(err)
	}
	e.ok("image", "import", "-c", `CMD ["/bin/sh"]`, tarDir(t, rootfs), "evil:1")
	out := e.ok("container", "run", "--rm", "-v", src+":/abs", "-v", "evilvol:/dots", "evil:1", "sh", "-c",
		"cat /etc/"+marker+"/app.js; busybox ls -d /etc/"+marker+"-dots").stdout
	if out != "v2\n/etc/"+marker+"-dots\n" {
		t.Errorf("mounts through the image's symlinks: %q", out)
	}
	for _, p := range []string{"/etc/" + marker, "/etc/" + marker + "-dots"} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("a mount escaped the rootfs: %s exists on the host (%v)", p, err)
			_ = unix.Unmount(p, unix.MNT_DETACH)
			_ = os.Remove(p)
		}
	}
	e.ok("container", "rm", "-f", "dev")
	e.ok("volume", "rm", "evilvol")
}

// TestSecretsAndConfigs: compose's secrets and configs, as the compose engine hands them to
// the runtime: read-only files with their own owner and mode, from a host file or from
// content, at /run/secrets/<name> or the target given. (No docker run flag makes them, so the
// test creates the container through berth's Go API, in its own state root, and drives it
// with the CLI.)
func TestSecretsAndConfigs(t *testing.T) {
	e := newContainerEnv(t)
	hostFile := filepath.Join(t.TempDir(), "db_password.txt")
	if err := os.WriteFile(hostFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := image.OpenLocal(e.root)
	if err != nil {
		t.Fatal(err)
	}
	runRoot := strings.TrimPrefix(e.env[1], "BERTH_RUN_ROOT=")
	c, err := container.Create(context.Background(), l, e.root, runRoot, container.Options{
		Name: "app", Image: "bb:1", Cmd: []string{"busybox", "sleep", "300"},
		Networks: []network.Attachment{{Network: network.DefaultNetwork}},
		Secrets: []container.FileMount{
			{Name: "db_password", Target: container.DefaultSecretTarget("db_password", ""), File: hostFile, UID: 999, GID: 998, Mode: 0o400},
			{Name: "api_key", Target: container.DefaultSecretTarget("api_key", "keys/api"), Content: []byte("from-env"), Mode: 0o440},
		},
		Configs: []container.FileMount{{Name: "app_cfg", Target: "/etc/app.conf", Content: []byte("level=debug\n")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.ok("container", "start", c.ID)
	out := e.ok("container", "exec", "app", "sh", "-c",
		"busybox stat -c '%n %u:%g %a' /run/secrets/db_password /run/secrets/keys/api /etc/app.conf; cat /run/secrets/db_password /run/secrets/keys/api /etc/app.conf").stdout
	want := "/run/secrets/db_password 999:998 400\n/run/secrets/keys/api 0:0 440\n/etc/app.conf 0:0 444\ns3cret\nfrom-envlevel=debug\n"
	if out != want {
		t.Errorf("secrets and configs in the container:\n%s\nwant\n%s", out, want)
	}
	// Not writable, not even by root in the container; the host file keeps its own mode.
	for _, p := range []string{"/run/secrets/db_password", "/etc/app.conf"} {
		if r := e.run("container", "exec", "app", "sh", "-c", "echo x > "+p); r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
			t.Errorf("a write to %s: code %d, stderr %q", p, r.code, r.stderr)
		}
	}
	if fi, err := os.Stat(hostFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the host's secret file: %v, %v", fi.Mode(), err)
	}
	// Bad input is refused at create, naming the secret.
	_, err = container.Create(context.Background(), l, e.root, runRoot, container.Options{
		Image: "bb:1", Secrets: []container.FileMount{{Name: "gone", Target: "/run/secrets/gone", File: "/nonexistent/secret"}}})
	if err == nil || !strings.Contains(err.Error(), "secret gone: file /nonexistent/secret is not a readable file") {
		t.Errorf("a secret from a missing file: %v", err)
	}
}

// TestVolumeDriverOptsSubpathTmpfs: a tmpfs volume made with driver options, a subpath of a
// volume, and a tmpfs mount with size and mode.
func TestVolumeDriverOptsSubpathTmpfs(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m,mode=0750", "scratch")
	e.ok("container", "run", "-d", "--name", "holder", "-v", "scratch:/s", "bb:1", "busybox", "sleep", "300")
	out := e.ok("container", "run", "--rm", "-v", "scratch:/s", "bb:1", "sh", "-c", "busybox stat -f -c %T /s; busybox stat -c %a /s; echo shared > /s/f").stdout
	if out != "tmpfs\n750\n" {
		t.Errorf("a tmpfs volume: %q", out)
	}
	if out := e.ok("container", "exec", "holder", "cat", "/s/f").stdout; out != "shared\n" {
		t.Errorf("the tmpfs volume between two containers: %q", out)
	}
	// As with Docker's local driver, a tmpfs volume is memory while a container has it.
	e.ok("container", "rm", "-f", "holder")
	if out := e.ok("container", "run", "--rm", "-v", "scratch:/s", "bb:1", "busybox", "ls", "-A", "/s").stdout; out != "" {
		t.Errorf("a tmpfs volume nobody had: %q", out)
	}
	e.ok("volume", "rm", "scratch")

	e.ok("container", "run", "--rm", "-v", "tree:/t", "bb:1", "sh", "-c", "busybox mkdir -p /t/a/b; echo deep > /t/a/b/f")
	if out := e.ok("container", "run", "--rm", "--mount", "source=tree,target=/sub,volume-subpath=a/b", "bb:1", "cat", "/sub/f").stdout; out != "deep\n" {
		t.Errorf("volume-subpath a/b: %q", out)
	}
	if r := e.run("container", "run", "--rm", "--mount", "source=tree,target=/sub,volume-subpath=nope", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "subpath nope does not exist") {
		t.Errorf("a missing subpath: code %d, stderr %q", r.code, r.stderr)
	}
	out = e.ok("container", "run", "--rm", "--mount", "type=tmpfs,target=/cache,tmpfs-size=1m,tmpfs-mode=1770", "bb:1", "sh", "-c",
		"busybox stat -f -c %T /cache; busybox stat -c %a /cache; busybox df -k /cache | busybox tail -1 | busybox awk '{print $2}'").stdout
	if out != "tmpfs\n1770\n1024\n" {
		t.Errorf("a tmpfs mount: %q", out)
	}
	e.ok("volume", "rm", "tree")
}
