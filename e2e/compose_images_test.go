//go:build linux

package e2e

import (
	"archive/tar"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestComposeImagesPushDown: a service whose build section names an image that is present is
// not built; push sends the images services build; ps filters and templates; down SERVICE
// removes only that service; down --rmi local removes the default-named built image only.
func TestComposeImagesPushDown(t *testing.T) {
	e := newContainerEnv(t)
	reg := newSlowRegistry(t)
	pushed := reg.host + "/imgs/app:1"
	e.ok("image", "tag", "bb:1", pushed)
	e.ok("image", "tag", "bb:1", "imgs-local")
	e.composeFile("imgs", `
services:
  app:
    build: ./nowhere
    image: `+pushed+`
    command: ["busybox", "sleep", "300"]
  local:
    build: ./nowhere
    command: ["busybox", "sleep", "300"]
    depends_on: [app]
  plain:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    pull_policy: never
`)
	r := e.ok("-p", "imgs", "up", "-d", "--quiet-pull")
	if strings.Contains(r.stderr, "Built") {
		t.Errorf("up built an image that was present:\n%s", r.stderr)
	}
	if out := e.ok("-p", "imgs", "ps", "--filter", "status=running", "--format", "{{.Service}} {{.State}}").stdout; out != "app running\nlocal running\nplain running\n" {
		t.Errorf("ps --filter --format:\n%s", out)
	}
	if r := e.run("-p", "imgs", "ps", "--filter", "name=x"); r.code == 0 || !strings.Contains(r.stderr, `invalid filter "name=x"`) {
		t.Errorf("ps with an unknown filter: %d %q", r.code, r.stderr)
	}

	r = e.ok("-p", "imgs", "push")
	for _, want := range []string{" app Pushed", " local Skipped", " plain Skipped"} {
		if !strings.Contains(r.stderr, want+"\n") {
			t.Errorf("push: want %q in\n%s", want, r.stderr)
		}
	}
	// What was pushed comes back in another state root.
	other := stateEnv(t)
	cmd{args: []string{"image", "pull", pushed}, dir: e.dir, env: other}.ok(t)

	// down SERVICE: only it goes; the project's network stays for the others.
	r = e.ok("-p", "imgs", "down", "local")
	if !strings.Contains(r.stderr, "Container imgs-local-1  Removed") || strings.Contains(r.stderr, "imgs-app-1") || strings.Contains(r.stderr, "Network") {
		t.Errorf("down local:\n%s", r.stderr)
	}
	if out := e.ok("-p", "imgs", "ps", "--services").stdout; out != "app\nplain\n" {
		t.Errorf("after down local: %q", out)
	}
	// Dependents go before what they depend on.
	e.ok("-p", "imgs", "up", "-d")
	r = e.ok("-p", "imgs", "down", "--rmi", "local")
	if strings.Index(r.stderr, "imgs-local-1  Removed") > strings.Index(r.stderr, "imgs-app-1  Stopping") {
		t.Errorf("down stopped app before its dependent local:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "Image imgs-local  Removed") || strings.Contains(r.stderr, "Image "+pushed) || strings.Contains(r.stderr, "Image bb:1") {
		t.Errorf("down --rmi local:\n%s", r.stderr)
	}
	if r := e.run("image", "inspect", "imgs-local"); r.code == 0 {
		t.Error("imgs-local is still there after down --rmi local")
	}
	e.ok("image", "inspect", pushed)
	if r := e.run("-p", "imgs", "down", "--rmi", "some"); r.code == 0 || !strings.Contains(r.stderr, `invalid --rmi "some"`) {
		t.Errorf("down --rmi some: %d %q", r.code, r.stderr)
	}
}

// TestComposeInterruptedPull: Ctrl-C while up pulls an image stops up with 130 and leaves no
// container and no half image; the next up converges.
func TestComposeInterruptedPull(t *testing.T) {
	e := newContainerEnv(t)
	reg := newSlowRegistry(t)
	ref := reg.host + "/slow/app:1"
	// A layer of its own: bb:1's blobs are in the store already, so would not be fetched.
	e.ok("image", "import", uniqueRootfs(t), ref)
	e.ok("image", "push", ref)
	e.ok("image", "rm", ref)
	e.composeFile("intr", `
services:
  app:
    image: `+ref+`
    command: ["busybox", "sleep", "300"]
`)
	reg.slow.Store(true)
	x := exec.Command(berthBin, "-p", "intr", "up", "-d")
	x.Dir = e.dir
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.env...)
	var out lockedBuffer
	x.Stdout, x.Stderr = &out, &out
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for reg.served.Load() < 64<<10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	_ = x.Process.Signal(syscall.SIGINT) // the berth this test started
	err := x.Wait()
	if reg.served.Load() < 64<<10 {
		t.Fatalf("the pull never got going:\n%s", out.String())
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("interrupted up: %v, want exit code 130:\n%s", err, out.String())
	}
	if ls := e.ok("container", "ls", "-aq").stdout; ls != "" {
		t.Errorf("containers after an interrupted pull: %q", ls)
	}
	if r := e.run("image", "inspect", ref); r.code == 0 {
		t.Error("the interrupted pull left the image")
	}
	reg.slow.Store(false)
	e.ok("-p", "intr", "up", "-d")
	if ps := e.ok("-p", "intr", "ps", "-q").stdout; len(strings.Fields(ps)) != 1 {
		t.Errorf("after up again: %q", ps)
	}
}

// uniqueRootfs is busyboxRootfs's tarball plus 256 KiB of random bytes: a layer no other
// image has.
func uniqueRootfs(t *testing.T) string {
	t.Helper()
	src, err := os.Open(busyboxRootfs(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p := t.TempDir() + "/unique.tar"
	dst, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	tr, tw := tar.NewReader(src), tar.NewWriter(dst)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	noise := make([]byte, 256<<10)
	rand.Read(noise)
	if err := tw.WriteHeader(&tar.Header{Name: "etc/noise", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(noise))}); err != nil {
		t.Fatal(err)
	}
	tw.Write(noise)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImageInUseAndFormats: an image a container uses is not removed (its layers are the
// container's), -f untags it and it stays until the container goes; inspect -f and ls --format
// take Go templates.
func TestImageInUseAndFormats(t *testing.T) {
	e := newContainerEnv(t)
	if r := e.run("image", "import", e.dir, "dir:1"); r.code == 0 || !strings.Contains(r.stderr, "a directory; import takes a tar archive") {
		t.Errorf("import of a directory: %d %q", r.code, r.stderr)
	}
	e.ok("image", "tag", "bb:1", "inuse:1")
	e.ok("container", "create", "--name", "user1", "inuse:1", "echo", "still runs")
	e.ok("image", "rm", "bb:1") // the image has another name: only untagged
	if r := e.run("image", "rm", "inuse:1"); r.code == 0 || !strings.Contains(r.stderr, `unable to remove repository reference "inuse:1" (must force) - container`) {
		t.Errorf("rm of an image in use: %d %q", r.code, r.stderr)
	}
	id := strings.TrimSpace(e.ok("image", "inspect", "-f", "{{.Id}}", "inuse:1").stdout)
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("image inspect -f {{.Id}}: %q", id)
	}
	if r := e.run("image", "rm", id); r.code == 0 || !strings.Contains(r.stderr, "image is being used by stopped container") {
		t.Errorf("rm by ID of an image in use: %d %q", r.code, r.stderr)
	}
	if r := e.run("image", "prune", "-a", "-f"); r.code != 0 || strings.Contains(r.stdout, "deleted: "+id) {
		t.Errorf("prune -a removed an image in use: %q", r.stdout)
	}
	e.ok("image", "rm", "-f", "inuse:1")
	e.ok("container", "start", "user1")
	e.waitLog("user1", "still runs")
	if out := e.ok("container", "inspect", "-f", "{{.Name}} {{.State.ExitCode}}", "user1").stdout; out != "/user1 0\n" {
		t.Errorf("container inspect -f: %q", out)
	}
	if out := e.ok("container", "ls", "-a", "--format", "table {{.Names}}\t{{.Status}}").stdout; !strings.HasPrefix(out, "NAMES ") || !strings.Contains(out, "\nuser1 ") {
		t.Errorf("ls --format table:\n%s", out)
	}
	if r := e.run("container", "inspect", "-f", "{{.Nope", "user1"); r.code == 0 || !strings.Contains(r.stderr, "invalid --format template") {
		t.Errorf("a bad template: %d %q", r.code, r.stderr)
	}
	e.ok("container", "rm", "user1")
	if out := e.ok("image", "prune", "-f").stdout; !strings.Contains(out, "deleted: "+id) {
		t.Errorf("the dangling image was not pruned once its container went:\n%s", out)
	}
}

// TestComposeConcurrentCommands: while an attached up runs, ps and logs -f work from another
// terminal, logs -f follows a container a scale-up adds, and down from another terminal ends
// the attached up cleanly.
func TestComposeConcurrentCommands(t *testing.T) {
	e := newContainerEnv(t)
	e.composeFile("conc", `
services:
  ticker:
    image: bb:1
    command: ["sh", "-c", "echo hello from $$HOSTNAME; exec busybox sleep 300"]
`)
	start := func(out *lockedBuffer, args ...string) *exec.Cmd {
		x := exec.Command(berthBin, args...)
		x.Dir = e.dir
		x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.env...)
		x.Stdout, x.Stderr = out, out
		if err := x.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = x.Process.Kill(); _ = x.Wait() }) // the berth this test started
		return x
	}
	var upOut, logsOut lockedBuffer
	up := start(&upOut, "-p", "conc", "up")
	waitUntil(t, "the attached up's log", func() bool { return strings.Contains(upOut.String(), "ticker-1  | hello from") })
	if ps := e.ok("-p", "conc", "ps", "--format", "{{.Name}}").stdout; ps != "conc-ticker-1\n" {
		t.Errorf("ps during up: %q", ps)
	}
	logs := start(&logsOut, "-p", "conc", "logs", "-f", "--no-log-prefix")
	waitUntil(t, "logs -f", func() bool { return strings.Count(logsOut.String(), "hello from") == 1 })
	e.ok("-p", "conc", "up", "-d", "--scale", "ticker=2")
	waitUntil(t, "logs -f to follow the new replica", func() bool { return strings.Count(logsOut.String(), "hello from") == 2 })

	done := make(chan error, 1)
	go func() { done <- up.Wait() }()
	e.ok("-p", "conc", "down")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("attached up after a down from elsewhere: %v\n%s", err, upOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("attached up still runs after down:\n%s", upOut.String())
	}
	logsDone := make(chan error, 1)
	go func() { logsDone <- logs.Wait() }()
	select {
	case err := <-logsDone:
		if err != nil {
			t.Errorf("logs -f after down: %v\n%s", err, logsOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("logs -f still runs after down:\n%s", logsOut.String())
	}
}

// TestComposeBadInput: an unknown service, a dependency cycle and a taken port each give one
// clear line and exit 1; the first two create nothing, the third leaves exactly what started.
func TestComposeBadInput(t *testing.T) {
	e := newContainerEnv(t)
	e.composeFile("badin", `
services:
  a:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    ports: ["8080:80"]
  b:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    ports: ["8080:81"]
    depends_on: [a]
`)
	oneLine := func(what string, r result, want string) {
		t.Helper()
		if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 && !strings.Contains(what, "progress") {
			t.Errorf("%s: exit %d, stderr %q, want exit 1 and %q", what, r.code, r.stderr, want)
		}
	}
	oneLine("up nosuch", e.run("-p", "badin", "up", "-d", "nosuch"), "no such service: nosuch")
	if nets := e.ok("network", "ls", "--format", "{{.Name}}").stdout; strings.Contains(nets, "badin") {
		t.Errorf("networks after up of an unknown service: %q", nets)
	}
	r := e.run("-p", "badin", "up", "-d")
	if r.code != 1 || !strings.Contains(r.stderr, "Bind for 0.0.0.0:8080 failed: port is already allocated") {
		t.Errorf("up with a taken port: exit %d, stderr %q", r.code, r.stderr)
	}
	if ps := e.ok("-p", "badin", "ps", "--format", "{{.Service}} {{.State}}").stdout; ps != "a running\n" {
		t.Errorf("ps after the port clash: %q, want a running only", ps)
	}
	var row struct {
		Name       string
		Networks   string
		Publishers []struct {
			URL                       string
			TargetPort, PublishedPort int
			Protocol                  string
		}
	}
	if err := json.Unmarshal([]byte(e.ok("-p", "badin", "ps", "--format", "json").stdout), &row); err != nil {
		t.Errorf("ps --format json: %v", err)
	} else if row.Name != "badin-a-1" || row.Networks != "badin_default" || len(row.Publishers) != 1 || row.Publishers[0].PublishedPort != 8080 || row.Publishers[0].TargetPort != 80 || row.Publishers[0].Protocol != "tcp" || row.Publishers[0].URL != "0.0.0.0" {
		t.Errorf("ps --format json: %+v", row)
	}
	if ls := e.ok("container", "ls", "--format", "{{.Names}} {{.Ports}}").stdout; ls != "badin-a-1 0.0.0.0:8080->80/tcp\n" {
		t.Errorf("container ls PORTS: %q", ls)
	}
	if ps := e.ok("-p", "badin", "ps").stdout; !strings.Contains(ps, "0.0.0.0:8080->80/tcp") {
		t.Errorf("ps PORTS:\n%s", ps)
	}
	e.ok("-p", "badin", "down")

	e.composeFile("badin", `
services:
  a:
    image: bb:1
    depends_on: [b]
  b:
    image: bb:1
    depends_on: [a]
`)
	r = e.run("-p", "badin", "up", "-d")
	if r.code != 1 || !strings.Contains(r.stderr, "cycle") {
		t.Errorf("up with a cycle: exit %d, stderr %q", r.code, r.stderr)
	}
	if ls := e.ok("container", "ls", "-aq").stdout + e.ok("network", "ls", "-q", "--filter", "name=badin").stdout; ls != "" {
		t.Errorf("up with a cycle left %q", ls)
	}
}

// TestComposeBuild: up builds a service's missing image from its build section, keeps it
// after, rebuilds with --build (recreating the container for the new image), `berth build`
// uses the layer cache, and --no-build never builds.
func TestComposeBuild(t *testing.T) {
	e := newContainerEnv(t)
	dockerfile := filepath.Join(e.dir, "Dockerfile")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(dockerfile, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("FROM bb:1\nARG LEVEL\nRUN echo built-$LEVEL > /built\nCMD [\"busybox\", \"sleep\", \"300\"]\n")
	e.composeFile("bld", `
services:
  app:
    build:
      context: .
      args:
        LEVEL: one
`)
	r := e.ok("-p", "bld", "up", "-d")
	if !strings.Contains(r.stderr, "Image bld-app  Built") || !strings.Contains(r.stderr, "Container bld-app-1  Started") {
		t.Errorf("up with a missing image to build:\n%s", r.stderr)
	}
	if out := e.ok("-p", "bld", "exec", "-T", "app", "cat", "/built").stdout; out != "built-one\n" {
		t.Errorf("the built image's file: %q", out)
	}
	r = e.ok("-p", "bld", "up", "-d")
	if strings.Contains(r.stderr, "Built") || strings.Contains(r.stderr, "Recreate") {
		t.Errorf("a second up rebuilt or recreated:\n%s", r.stderr)
	}
	r = e.ok("-p", "bld", "build")
	if !strings.Contains(r.stderr, "CACHED") || !strings.Contains(r.stderr, "Image bld-app  Built") {
		t.Errorf("berth build of an unchanged service:\n%s", r.stderr)
	}
	if h := e.ok("image", "history", "--no-trunc", "--format", "{{.CreatedBy}}", "bld-app").stdout; !strings.Contains(h, "\n|1 LEVEL=one /bin/sh -c echo built-$LEVEL > /built\n") {
		t.Errorf("image history --format of the built image:\n%s", h)
	}
	// The build's intermediate images show with -a only.
	if ls := e.ok("image", "ls").stdout; strings.Contains(ls, "<none>") || !strings.Contains(ls, "bld-app ") {
		t.Errorf("image ls after a build:\n%s", ls)
	}
	if ls := e.ok("image", "ls", "-a").stdout; !strings.Contains(ls, "<none>") {
		t.Errorf("image ls -a after a build shows no intermediate image:\n%s", ls)
	}
	write("FROM bb:1\nARG LEVEL\nRUN echo rebuilt-$LEVEL > /built\nCMD [\"busybox\", \"sleep\", \"300\"]\n")
	if r := e.ok("-p", "bld", "up", "-d", "--no-build"); strings.Contains(r.stderr, "Built") {
		t.Errorf("up --no-build built:\n%s", r.stderr)
	}
	r = e.ok("-p", "bld", "up", "-d", "--build")
	if !strings.Contains(r.stderr, "Container bld-app-1  Recreate") {
		t.Errorf("up --build after a change did not recreate:\n%s", r.stderr)
	}
	if out := e.ok("-p", "bld", "exec", "-T", "app", "cat", "/built").stdout; out != "rebuilt-one\n" {
		t.Errorf("after up --build: %q", out)
	}
	e.ok("-p", "bld", "down", "--rmi", "local")
	if r := e.run("-p", "bld", "up", "-d", "--no-build"); r.code == 0 {
		t.Errorf("up --no-build without the image succeeded:\n%s", r.stderr)
	}
	write("FROM bb:1\nRUN false\n")
	if r := e.run("-p", "bld", "up", "-d"); r.code != 1 || !strings.Contains(r.stderr, "The command '/bin/sh -c false' returned a non-zero code: 1") {
		t.Errorf("up with a failing build: exit %d\n%s", r.code, r.stderr)
	}
	if ls := e.ok("container", "ls", "-aq").stdout; ls != "" {
		t.Errorf("containers after a failed build: %q", ls)
	}
}

// TestComposeBuildContexts: named build contexts, as --build-context and compose's
// additional_contexts (a directory, docker-image://, service:) stand for FROM and COPY --from.
func TestComposeBuildContexts(t *testing.T) {
	e := newContainerEnv(t)
	files := map[string]string{
		"base/Dockerfile":      "FROM bb:1\nRUN echo from-base > /base.txt\n",
		"tool/Dockerfile":      "FROM basesvc\nCOPY --from=extra note.txt /note.txt\nCOPY --from=img /etc/motd /motd\nCMD [\"sh\", \"-c\", \"cat /base.txt /note.txt /motd\"]\n",
		"shared/note.txt":      "from-extra\n",
		"shared/ignored.txt":   "x\n",
		"Dockerfile.cli":       "FROM bb:1\nCOPY --from=extra note.txt /note.txt\nCMD [\"cat\", \"/note.txt\"]\n",
		"tool/.dockerignore":   "*\n",
		"cli/.keep":            "",
		"base/.dockerignore":   "",
		"shared/.dockerignore": "",
	}
	for name, content := range files {
		p := filepath.Join(e.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.ok("image", "build", "-q", "-t", "ctx-cli:1", "-f", filepath.Join(e.dir, "Dockerfile.cli"), "--build-context", "extra="+filepath.Join(e.dir, "shared"), filepath.Join(e.dir, "cli"))
	if out := e.ok("container", "run", "--rm", "ctx-cli:1").stdout; out != "from-extra\n" {
		t.Errorf("--build-context extra=DIR: %q", out)
	}
	if r := e.run("image", "build", "--build-context", "extra="+filepath.Join(e.dir, "nowhere"), filepath.Join(e.dir, "cli")); r.code == 0 || !strings.Contains(r.stderr, `build context "extra"`) {
		t.Errorf("a missing named context: %d %q", r.code, r.stderr)
	}
	e.composeFile("ctx", `
services:
  tool:
    build:
      context: tool
      additional_contexts:
        basesvc: service:base
        extra: ./shared
        img: docker-image://bb:1
  base:
    build: base
    command: ["true"]
`)
	r := e.ok("-p", "ctx", "build")
	if i, j := strings.Index(r.stderr, "Image ctx-base  Built"), strings.Index(r.stderr, "Image ctx-tool  Built"); i < 0 || j < i {
		t.Errorf("build order (base first, as tool's context):\n%s", r.stderr)
	}
	if out := e.ok("container", "run", "--rm", "ctx-tool").stdout; out != "from-base\nfrom-extra\nhello from the bottom layer\n" {
		t.Errorf("the tool image: %q", out)
	}
	e.ok("image", "rm", "ctx-tool", "ctx-base")
	// up builds the service: context's image first.
	e.ok("-p", "ctx", "up", "-d", "tool")
	e.ok("-p", "ctx", "down", "--rmi", "local")
}

// TestComposeDownOrphans: down leaves the containers of services the file no longer has (and
// the network they are on), with compose's warning, until --remove-orphans; without the file
// (-p NAME down elsewhere) every container of the project goes.
func TestComposeDownOrphans(t *testing.T) {
	e := newContainerEnv(t)
	e.composeFile("orph", `
services:
  a:
    image: bb:1
    command: ["busybox", "sleep", "300"]
  b:
    image: bb:1
    command: ["busybox", "sleep", "300"]
`)
	e.ok("-p", "orph", "up", "-d")
	e.composeFile("orph", `
services:
  a:
    image: bb:1
    command: ["busybox", "sleep", "300"]
`)
	r := e.ok("-p", "orph", "down")
	if !strings.Contains(r.stderr, "Found orphan containers ([orph-b-1])") || !strings.Contains(r.stderr, "Network orph_default  Resource is still in use") || strings.Contains(r.stderr, "orph-b-1  Removed") {
		t.Errorf("down with an orphan:\n%s", r.stderr)
	}
	if ls := e.ok("container", "ls", "--format", "{{.Names}}").stdout; ls != "orph-b-1\n" {
		t.Errorf("after down: %q, want the orphan only", ls)
	}
	r = e.ok("-p", "orph", "down", "--remove-orphans")
	if !strings.Contains(r.stderr, "Container orph-b-1  Removed") || !strings.Contains(r.stderr, "Network orph_default  Removed") {
		t.Errorf("down --remove-orphans:\n%s", r.stderr)
	}
	// Elsewhere, with no file: the whole project.
	e.ok("-p", "orph", "up", "-d")
	r = cmd{args: []string{"-p", "orph", "down"}, dir: t.TempDir(), env: e.env}.ok(t)
	if !strings.Contains(r.stderr, "Container orph-a-1  Removed") || !strings.Contains(r.stderr, "Network orph_default  Removed") {
		t.Errorf("-p orph down without the file:\n%s", r.stderr)
	}
}

// TestDefaultBridgeTaken: a link named berth0 that is not this state root's (another root in
// the same network namespace, or a leftover) gives one line that says so, and nothing is made.
func TestDefaultBridgeTaken(t *testing.T) {
	e := newContainerEnv(t)
	if out, err := exec.Command("ip", "link", "add", "berth0", "type", "bridge").CombinedOutput(); err != nil {
		t.Fatalf("ip link add (in the test's own namespace): %v: %s", err, out)
	}
	defer exec.Command("ip", "link", "del", "berth0").Run()
	r := e.run("container", "run", "--rm", "bb:1", "true")
	if r.code == 0 || !strings.Contains(r.stderr, "create bridge berth0: a link of that name already exists in this network namespace and is not this state root's") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("run with berth0 taken: %d %q", r.code, r.stderr)
	}
	if ls := e.ok("container", "ls", "-aq").stdout; ls != "" {
		t.Errorf("containers left: %q", ls)
	}
}
