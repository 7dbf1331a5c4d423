//go:build linux

package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/berth-sh/berth/internal/testutil"
)

// goToolchainTar is a root filesystem tarball with busybox (a shell for RUN) and, under
// /usr/local/go, the host's Go toolchain cut down to what building appDir needs: the go command,
// compile, link and asm, and the sources of the standard packages appDir imports. It never comes
// from the internet. Cutting it down keeps the image at a fifth of GOROOT's size.
func goToolchainTar(t testing.TB, appDir string) string {
	t.Helper()
	goBin := testutil.RequireCommand(t, "go", "golang-go")
	bb := testutil.RequireBusybox(t)
	out, err := exec.Command(goBin, "env", "GOROOT", "GOHOSTOS", "GOHOSTARCH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	f := strings.Fields(string(out))
	goroot, tooldir := f[0], filepath.Join(f[0], "pkg", "tool", f[1]+"_"+f[2])
	list := exec.Command(goBin, "list", "-deps", "-f", "{{if .Standard}}{{.Dir}}{{end}}", ".")
	list.Dir = appDir
	list.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	out, err = list.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	p := filepath.Join(t.TempDir(), "gotool.tar")
	file, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	tw := tar.NewWriter(file)
	dirs := map[string]bool{}
	var mkdirs func(name string)
	mkdirs = func(name string) {
		if name == "." || dirs[name] {
			return
		}
		mkdirs(filepath.Dir(name))
		dirs[name] = true
		if err := tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]bool{} // each path once: Docker's import refuses duplicates
	addFile := func(name, src string) {
		if files[name] {
			return
		}
		files[name] = true
		fi, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		mkdirs(filepath.Dir(name))
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: int64(fi.Mode().Perm()), Size: fi.Size()}); err != nil {
			t.Fatal(err)
		}
		in, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		if _, err := io.Copy(tw, in); err != nil {
			t.Fatal(err)
		}
	}
	addFile("bin/busybox", bb)
	tw.WriteHeader(&tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox"})
	mkdirs("etc")
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}); err != nil {
		t.Fatal(err)
	}
	g := "usr/local/go/"
	addFile(g+"bin/go", filepath.Join(goroot, "bin", "go"))
	for _, tool := range []string{"compile", "link", "asm"} {
		addFile(g+"pkg/tool/"+filepath.Base(tooldir)+"/"+tool, filepath.Join(tooldir, tool))
	}
	for _, name := range []string{"VERSION", "go.env", "src/go.mod", "src/go.sum", "src/vendor/modules.txt"} {
		if _, err := os.Stat(filepath.Join(goroot, name)); err == nil {
			addFile(g+name, filepath.Join(goroot, name))
		}
	}
	// Every package the app needs, without tests; and every C header (assembly includes them
	// across packages).
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(goroot, dir)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasSuffix(e.Name(), "_test.go") {
				addFile(g+filepath.Join(rel, e.Name()), filepath.Join(dir, e.Name()))
			}
		}
	}
	for _, inc := range []string{"pkg/include", "src"} {
		filepath.WalkDir(filepath.Join(goroot, inc), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if rel, _ := filepath.Rel(goroot, p); strings.HasSuffix(p, ".h") {
				addFile(g+rel, p)
			}
			return nil
		})
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

const goAppMain = `package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Printf("hello from a static Go binary, version %s, %d args\n", version, len(os.Args))
}
`

const goAppDockerfile = `FROM gotool:1 AS build
ENV CGO_ENABLED=0 GOCACHE=/tmp/gocache GOPATH=/tmp/gopath GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod
WORKDIR /src
COPY go.mod ./
RUN go mod download
COPY *.go ./
RUN go build -trimpath -ldflags=-s -o /out/hello .

FROM scratch
COPY --from=build /out/hello /hello
ENTRYPOINT ["/hello"]
CMD ["a", "b"]
`

// goApp writes the Go app's build context: a module with no dependencies.
func goApp(t testing.TB, version string) string {
	t.Helper()
	return testutil.WriteTree(t, map[string]string{
		"Dockerfile": goAppDockerfile,
		"go.mod":     "module example.com/hello\n\ngo 1.22\n",
		"main.go":    goAppMain,
		"version.go": "package main\n\nconst version = \"" + version + "\"\n",
		"README.md":  "not copied\n",
	})
}

func TestBuildGoMultiStage(t *testing.T) {
	e := newContainerEnv(t)
	ctx := goApp(t, "1")
	start := time.Now()
	e.ok("image", "import", "-c", "ENV PATH=/usr/local/go/bin:/bin", goToolchainTar(t, ctx), "gotool:1")
	t.Logf("toolchain image imported in %v", time.Since(start).Round(time.Millisecond))

	step(t, "the Go binary is built in one stage and shipped in a scratch stage", func(t *testing.T) {
		start := time.Now()
		r := e.ok("image", "build", "-t", "bt-go:1", ctx)
		t.Logf("first build took %v", time.Since(start).Round(time.Millisecond))
		if !strings.Contains(r.stdout, "[stage-1 1/2] FROM scratch") {
			t.Errorf("progress lacks the scratch stage:\n%s", r.stdout)
		}
		out := e.ok("container", "run", "--rm", "bt-go:1").stdout
		if out != "hello from a static Go binary, version 1, 3 args\n" {
			t.Errorf("the built binary printed %q", out)
		}
		// The shipped image holds the binary and nothing else: one layer, no shell.
		var layers []string
		if err := json.Unmarshal([]byte(e.ok("image", "inspect", "-f", "{{json .RootFS.Layers}}", "bt-go:1").stdout), &layers); err != nil || len(layers) != 1 {
			t.Errorf("scratch image layers %v (%v), want one", layers, err)
		}
		if r := e.run("container", "run", "--rm", "--entrypoint", "/bin/sh", "bt-go:1", "-c", "true"); r.code == 0 {
			t.Errorf("the scratch image has a shell")
		}
	})
	step(t, "a second build is all cached", func(t *testing.T) {
		start := time.Now()
		r := e.ok("image", "build", "-t", "bt-go:1", ctx)
		t.Logf("cached rebuild took %v", time.Since(start).Round(time.Millisecond))
		steps := buildSteps(r.stdout)
		if len(steps) != 8 {
			t.Errorf("%d steps, want 8:\n%s", len(steps), r.stdout)
		}
		for s, st := range steps {
			if !strings.HasPrefix(s, "FROM ") && st != "CACHED" {
				t.Errorf("step %q: %s, want CACHED", s, st)
			}
		}
	})
	step(t, "editing one source file misses only from the COPY that includes it", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(ctx, "version.go"), []byte("package main\n\nconst version = \"2\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		r := e.ok("image", "build", "-t", "bt-go:2", ctx)
		t.Logf("rebuild after a one-file change took %v", time.Since(start).Round(time.Millisecond))
		steps := buildSteps(r.stdout)
		for s, want := range map[string]string{
			"WORKDIR /src": "CACHED", "COPY go.mod ./": "CACHED", "RUN go mod download": "CACHED",
			"COPY *.go ./": "DONE", "RUN go build -trimpath -ldflags=-s -o /out/hello .": "DONE",
			"COPY --from=build /out/hello /hello": "DONE",
		} {
			if steps[s] != want {
				t.Errorf("step %q: %q, want %s\n%s", s, steps[s], want, r.stdout)
			}
		}
		if out := e.ok("container", "run", "--rm", "bt-go:2", "x").stdout; out != "hello from a static Go binary, version 2, 2 args\n" {
			t.Errorf("rebuilt binary printed %q", out)
		}
		// A file no COPY includes changes nothing.
		if err := os.WriteFile(filepath.Join(ctx, "README.md"), []byte("edited\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r = e.ok("image", "build", ctx)
		for s, st := range buildSteps(r.stdout) {
			if !strings.HasPrefix(s, "FROM ") && st != "CACHED" {
				t.Errorf("after editing README.md, step %q: %s, want CACHED", s, st)
			}
		}
	})
}

// allDockerfile uses every instruction and most flags on FROM scratch plus busybox-static.
const allDockerfile = `# syntax=docker/dockerfile:1
# escape=\
ARG BASE=scratch
ARG UNUSED_META
FROM --platform=$BUILDPLATFORM ${BASE} AS base
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
SHELL ["/bin/sh", "-eu", "-c"]
RUN mkdir -p /etc /tmp /home/app && chmod 1777 /tmp \
 && echo 'root:x:0:0::/root:/bin/sh' > /etc/passwd \
 && echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd \
 && printf 'root:x:0:\napp:x:1000:\n' > /etc/group

FROM base AS final
ARG GREETING_ARG="hello world"
RUN --network=none <<EOF
echo "heredoc ran with $GREETING_ARG" > /heredoc.txt
EOF
COPY <<-EOT /etc/motd
	motd from a heredoc
EOT
ADD files.tar.gz /opt/
ADD --chown=app plain.txt /opt/plain.txt
COPY --chown=1000:1000 --chmod=0640 --link app/ /app/
COPY --from=0 /bin/busybox /copied/busybox
LABEL org.example.k="v w" other=x
MAINTAINER berth tests
ENV GREETING="${GREETING_ARG}" NAME=berth
WORKDIR /app
WORKDIR sub
USER app
EXPOSE 8080 9090/udp
VOLUME /data
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=1s --timeout=3s --start-period=0s --retries=2 CMD test -f /tmp/ready
ONBUILD RUN echo "onbuild trigger ran" > /tmp/onbuild.txt
ENTRYPOINT ["/bin/sh", "/app/entry.sh"]
CMD ["show"]
`

const allEntry = `case "$1" in
show)
  echo "user=$(id -u):$(id -g) pwd=$(pwd) greeting=$GREETING name=$NAME"
  cat /heredoc.txt /etc/motd /opt/inside/x.txt
  stat -c '%n %u:%g %a' /opt/plain.txt /app/entry.sh /app/data.txt /copied/busybox
  ;;
serve)
  touch /tmp/ready
  exec sleep 60
  ;;
*)
  echo "arg $1"
  ;;
esac
`

// gzipTar is a gzip-compressed tar of files (name -> content).
func gzipTar(t testing.TB, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(content)), Uid: 7, Gid: 8}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	tw.Close()
	gz.Close()
	return buf.String()
}

func TestBuildEveryInstruction(t *testing.T) {
	e := newContainerEnv(t)
	bb, err := os.ReadFile(testutil.RequireBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := writeTree(t, map[string]string{
		"Dockerfile":   allDockerfile,
		"busybox":      string(bb),
		"files.tar.gz": gzipTar(t, map[string]string{"inside/x.txt": "from the archive\n"}),
		"plain.txt":    "plain\n",
		"app/entry.sh": allEntry,
		"app/data.txt": "data\n",
	})
	if err := os.Chmod(filepath.Join(ctx, "busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	step(t, "it builds", func(t *testing.T) {
		r := e.ok("image", "build", "--label", "from.flag=yes", "-t", "bt-all:1", "-t", "bt-all:also", ctx)
		if !strings.Contains(r.stdout, "[final 1/") || !strings.Contains(r.stdout, "naming to docker.io/library/bt-all:also done") {
			t.Errorf("progress:\n%s", r.stdout)
		}
	})
	step(t, "the image runs with its ENTRYPOINT, CMD, USER, WORKDIR and ENV", func(t *testing.T) {
		out := e.ok("container", "run", "--rm", "bt-all:1").stdout
		want := "user=1000:1000 pwd=/app/sub greeting=hello world name=berth\n" +
			"heredoc ran with hello world\n" +
			"motd from a heredoc\n" +
			"from the archive\n" +
			"/opt/plain.txt 1000:1000 644\n" +
			"/app/entry.sh 1000:1000 640\n" +
			"/app/data.txt 1000:1000 640\n" +
			"/copied/busybox 0:0 755\n"
		if out != want {
			t.Errorf("container printed:\n%s\nwant:\n%s", out, want)
		}
		if out := e.ok("container", "run", "--rm", "bt-all:1", "other").stdout; out != "arg other\n" {
			t.Errorf("CMD replaced: %q", out)
		}
	})
	step(t, "inspect shows the config the Dockerfile set", func(t *testing.T) {
		var imgs []struct {
			Author string
			Config struct {
				User         string
				WorkingDir   string
				Env          []string
				Entrypoint   []string
				Cmd          []string
				ExposedPorts map[string]any
				Volumes      map[string]any
				Labels       map[string]string
				StopSignal   string
				Shell        []string
				OnBuild      []string
				Healthcheck  struct {
					Test     []string
					Interval int64
					Timeout  int64
					Retries  int
				}
			}
		}
		if err := json.Unmarshal([]byte(e.ok("image", "inspect", "bt-all:1").stdout), &imgs); err != nil || len(imgs) != 1 {
			t.Fatalf("image inspect: %v", err)
		}
		c := imgs[0].Config
		got := fmt.Sprintf("%s|%s|%s|%q|%q|%v|%v|%v|%s|%q|%q|%q %d %d %d", imgs[0].Author, c.User, c.WorkingDir, c.Entrypoint, c.Cmd,
			keys(c.ExposedPorts), keys(c.Volumes), c.Labels, c.StopSignal, c.Shell, c.OnBuild,
			c.Healthcheck.Test, c.Healthcheck.Interval, c.Healthcheck.Timeout, c.Healthcheck.Retries)
		want := `berth tests|app|/app/sub|["/bin/sh" "/app/entry.sh"]|["show"]|[8080/tcp 9090/udp]|[/data]|map[from.flag:yes org.example.k:v w other:x]|SIGUSR1|["/bin/sh" "-eu" "-c"]|["RUN echo \"onbuild trigger ran\" > /tmp/onbuild.txt"]|["CMD-SHELL" "test -f /tmp/ready"] 1000000000 3000000000 2`
		if got != want {
			t.Errorf("config:\n%s\nwant:\n%s", got, want)
		}
		if !strings.Contains(strings.Join(c.Env, "\n"), "GREETING=hello world") {
			t.Errorf("Env %q", c.Env)
		}
	})
	step(t, "a container of it has the ports, the volume and becomes healthy", func(t *testing.T) {
		id := strings.TrimSpace(e.ok("container", "run", "-d", "--name", "bt-all-serve", "bt-all:1", "serve").stdout)
		defer e.run("container", "rm", "-f", "-v", id)
		c := e.inspect("bt-all-serve")
		cfg, _ := c["Config"].(map[string]any)
		ports, _ := cfg["ExposedPorts"].(map[string]any)
		if _, ok := ports["8080/tcp"]; !ok {
			t.Errorf("container ExposedPorts %v", ports)
		}
		if _, ok := ports["9090/udp"]; !ok {
			t.Errorf("container ExposedPorts %v", ports)
		}
		mounts, _ := json.Marshal(c["Mounts"])
		if !strings.Contains(string(mounts), `"Destination":"/data"`) {
			t.Errorf("Mounts %s lack the VOLUME", mounts)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			status := strings.TrimSpace(e.ok("container", "inspect", "-f", "{{.State.Health.Status}}", id).stdout)
			if status == "healthy" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("health status %q after 30s", status)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	step(t, "ONBUILD triggers run in a child build and are not inherited", func(t *testing.T) {
		child := writeTree(t, map[string]string{"Dockerfile": "FROM bt-all:1\nUSER root\nRUN cat /tmp/onbuild.txt\n"})
		r := e.ok("image", "build", "-t", "bt-all-child", child)
		if !strings.Contains(r.stdout, "onbuild trigger ran") {
			t.Errorf("the trigger did not run first:\n%s", r.stdout)
		}
		if ob := strings.TrimSpace(e.ok("image", "inspect", "-f", "{{json .Config.OnBuild}}", "bt-all-child").stdout); ob != "null" && ob != "[]" {
			t.Errorf("child OnBuild %s", ob)
		}
	})
	step(t, "history has the classic builder's line per instruction", func(t *testing.T) {
		h := e.ok("image", "history", "--no-trunc", "bt-all:1").stdout
		for _, want := range []string{
			`/bin/sh -eu -c #(nop)  USER app`,
			`/bin/sh -eu -c #(nop)  STOPSIGNAL SIGUSR1`,
			`/bin/sh -eu -c #(nop)  LABEL org.example.k=v w other=x`,
			`/bin/sh -eu -c #(nop)  MAINTAINER berth tests`,
			`/bin/sh -eu -c #(nop)  VOLUME [/data]`,
			`/bin/sh -eu -c #(nop) WORKDIR /app/sub`,
			`/bin/sh -eu -c #(nop)  LABEL from.flag=yes`,
			`/bin/sh -eu -c #(nop)  SHELL [/bin/sh -eu -c]`,
			"/bin/sh -eu -c #(nop) COPY file:", " in /etc/motd",
		} {
			if !strings.Contains(h, want) {
				t.Errorf("history lacks %q:\n%s", want, h)
			}
		}
	})
	step(t, "flags: -f, -f -, a tar context on stdin, --no-cache, --iidfile", func(t *testing.T) {
		alt := filepath.Join(t.TempDir(), "Alt.dockerfile")
		os.WriteFile(alt, []byte("FROM bt-all:1\nUSER root\nRUN echo alt > /alt.txt\nCMD [\"x\"]\n"), 0o644)
		iid := filepath.Join(t.TempDir(), "iid")
		e.ok("image", "build", "-f", alt, "--iidfile", iid, "-t", "bt-alt", ctx)
		id, _ := os.ReadFile(iid)
		if got := strings.TrimSpace(e.ok("image", "inspect", "-f", "{{.Id}}", "bt-alt").stdout); got != string(id) {
			t.Errorf("--iidfile %q, inspect %q", id, got)
		}
		r := cmd{args: []string{"image", "build", "-f", "-", "-t", "bt-stdin", ctx}, dir: e.dir, env: e.env,
			stdin: "FROM bt-all:1\nCOPY plain.txt /from-stdin-dockerfile\n"}.ok(t)
		if !strings.Contains(r.stdout, "COPY plain.txt") {
			t.Errorf("-f -:\n%s", r.stdout)
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for name, body := range map[string]string{"Dockerfile": "FROM bt-all:1\nCOPY t.txt /t.txt\n", "t.txt": "from a tar\n"} {
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
			tw.Write([]byte(body))
		}
		tw.Close()
		cmd{args: []string{"image", "build", "-t", "bt-tarctx", "-"}, dir: e.dir, env: e.env, stdin: buf.String()}.ok(t)
		if out := e.ok("container", "run", "--rm", "--entrypoint", "cat", "bt-tarctx", "/t.txt").stdout; out != "from a tar\n" {
			t.Errorf("tar context: %q", out)
		}
		r = e.ok("image", "build", "--no-cache", ctx)
		for s, st := range buildSteps(r.stdout) {
			if !strings.HasPrefix(s, "FROM ") && st != "DONE" {
				t.Errorf("--no-cache: step %q %s", s, st)
			}
		}
	})
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// inotifyWatch watches dirs for opens and reads; the returned func reports the events seen so far.
func inotifyWatch(t *testing.T, dirs ...string) func() []string {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	names := map[int32]string{}
	for _, d := range dirs {
		wd, err := syscall.InotifyAddWatch(fd, d, syscall.IN_OPEN|syscall.IN_ACCESS)
		if err != nil {
			t.Fatal(err)
		}
		names[int32(wd)] = d
	}
	return func() []string {
		var out []string
		buf := make([]byte, 64*1024)
		for {
			n, err := syscall.Read(fd, buf)
			if n <= 0 || err != nil {
				return out
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)]), "\x00")
				out = append(out, filepath.Join(names[ev.Wd], name))
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

func TestBuildLargeContextIgnoredDirs(t *testing.T) {
	e := newContainerEnv(t)
	files := map[string]string{
		"Dockerfile":    "FROM bb:1\nCOPY . /ctx/\nRUN busybox find /ctx -type f | busybox wc -l > /count\nCMD [\"cat\", \"/count\"]\n",
		".dockerignore": "skipme\n**/*.tmp\n!keep.tmp\nDockerfile\n.dockerignore\n",
		"keep.tmp":      "kept\n",
		"drop.tmp":      "dropped\n",
	}
	for d := 0; d < 100; d++ {
		for f := 0; f < 100; f++ {
			files[fmt.Sprintf("many/d%02d/f%02d.txt", d, f)] = fmt.Sprintf("%d-%d\n", d, f)
		}
	}
	for f := 0; f < 50; f++ {
		files[fmt.Sprintf("skipme/f%02d.txt", f)] = "ignored\n"
		files[fmt.Sprintf("skipme/nested/f%02d.txt", f)] = "ignored\n"
		files[fmt.Sprintf("control/f%02d.txt", f)] = "copied\n"
	}
	ctx := writeTree(t, files)
	events := inotifyWatch(t, filepath.Join(ctx, "skipme"), filepath.Join(ctx, "skipme", "nested"), filepath.Join(ctx, "control"))
	step(t, "10,000 small files build, ignored paths stay out", func(t *testing.T) {
		start := time.Now()
		e.ok("image", "build", "-t", "bt-many", ctx)
		t.Logf("build of a 10,150-file context took %v", time.Since(start).Round(time.Millisecond))
		// 10,000 files, control's 50 and keep.tmp.
		if out := e.ok("container", "run", "--rm", "bt-many").stdout; out != "10051\n" {
			t.Errorf("%q files copied, want 10051", out)
		}
	})
	step(t, "the ignored directory was never opened, the copied one was", func(t *testing.T) {
		var ignored, control int
		for _, ev := range events() {
			if strings.Contains(ev, "/skipme") {
				ignored++
				if ignored < 5 {
					t.Errorf("the build read the ignored %s", ev)
				}
			} else {
				control++
			}
		}
		if ignored > 0 {
			t.Errorf("%d reads in the ignored directory", ignored)
		}
		if control == 0 {
			t.Errorf("no read of the copied control directory seen: the watch proves nothing")
		}
	})
}

func TestBuildSyntaxErrorNamesLine(t *testing.T) {
	e := newContainerEnv(t)
	for _, c := range []struct{ name, body, want string }{
		{"unknown instruction", "FROM bb:1\nRUN true\nFOO bar\n", "dockerfile parse error on line 3: unknown instruction: FOO"},
		{"bad JSON array", "FROM bb:1\n\nENTRYPOINT [\"a\", 1]\n", "dockerfile parse error on line 3: when using JSON array syntax, arrays must be comprised of strings only"},
		{"bad flag", "FROM bb:1\nRUN true\nCOPY --nope a b\n", "dockerfile parse error on line 3: unknown flag: --nope"},
		{"bad duration", "FROM bb:1\n# comment\nHEALTHCHECK --interval=x CMD true\n", "dockerfile parse error on line 3: time: invalid duration \"x\""},
		{"unterminated heredoc", "FROM bb:1\nRUN true\nRUN <<EOF\necho\n", "dockerfile parse error on line 3: unterminated heredoc"},
	} {
		step(t, c.name, func(t *testing.T) {
			ctx := writeTree(t, map[string]string{"Dockerfile": c.body})
			r := e.run("image", "build", "-t", "bt-syntax", ctx)
			if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want one line with %q", r.code, r.stderr, c.want)
			}
			if !strings.Contains(r.stdout, "Dockerfile:3\n") || !strings.Contains(r.stdout, " 3 | >>> ") {
				t.Errorf("stdout does not point at Dockerfile:3:\n%s", r.stdout)
			}
		})
	}
}

func TestBuildInterrupt(t *testing.T) {
	e := newContainerEnv(t)
	ctx := writeTree(t, map[string]string{"Dockerfile": "FROM bb:1\nRUN echo long-run-started; busybox sleep 300\nRUN true\n"})
	// image ls without -a: the intermediate image a RUN's container is made from stays hidden, as
	// the classic builder's step images do.
	before := e.ok("image", "ls", "-q", "--no-trunc").stdout
	step(t, "SIGINT during a RUN ends the build and removes its container", func(t *testing.T) {
		x := exec.Command(berthBin, "image", "build", "-t", "bt-int", ctx)
		x.Dir = e.dir
		x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.env...)
		stdout, err := x.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		x.Stderr = &stderr
		if err := x.Start(); err != nil {
			t.Fatal(err)
		}
		started := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stdout)
			once := false
			for sc.Scan() {
				// The RUN's own output, not the step's header that names it.
				if !once && regexp.MustCompile(`^#\d+ \d+\.\d+ long-run-started$`).MatchString(sc.Text()) {
					once = true
					close(started)
				}
			}
		}()
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			x.Process.Kill()
			x.Wait()
			t.Fatalf("the RUN never started; stderr: %s", stderr.String())
		}
		if ids := strings.TrimSpace(e.ok("container", "ls", "-aq").stdout); ids == "" {
			t.Errorf("no build container while the RUN runs")
		}
		x.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- x.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			x.Process.Kill()
			<-done
			t.Fatalf("berth did not end 30s after SIGINT")
		}
		if code := x.ProcessState.ExitCode(); code != 130 {
			t.Errorf("exit code %d, want 130; stderr %q", code, stderr.String())
		}
	})
	step(t, "nothing of the build is left", func(t *testing.T) {
		if ids := strings.TrimSpace(e.ok("container", "ls", "-aq").stdout); ids != "" {
			t.Errorf("containers left: %s", ids)
		}
		if r := e.run("image", "inspect", "bt-int"); r.code == 0 {
			t.Errorf("the interrupted build tagged its image")
		}
		if after := e.ok("image", "ls", "-q", "--no-trunc").stdout; after != before {
			t.Errorf("images before:\n%s\nafter:\n%s", before, after)
		}
		testutil.AssertNoMountsUnder(t, e.root)
		if entries, _ := os.ReadDir(filepath.Join(e.root, "build", "tmp")); len(entries) > 0 {
			t.Errorf("build temp dirs left: %d", len(entries))
		}
	})
}

func TestBuildSaveDockerLoad(t *testing.T) {
	e := newContainerEnv(t)
	if exec.Command("docker", "info").Run() != nil {
		t.Skip("needs a running Docker engine (docker info failed); berth's tests never start one")
	}
	ctx := writeTree(t, map[string]string{"Dockerfile": "FROM bb:1\nRUN echo built-by-berth > /msg\nCMD [\"cat\", \"/msg\"]\n"})
	e.ok("image", "build", "-t", "berth-e2e-built:1", ctx)
	tarball := filepath.Join(t.TempDir(), "img.tar")
	e.ok("image", "save", "-o", tarball, "berth-e2e-built:1")
	defer exec.Command("docker", "rmi", "-f", "berth-e2e-built:1").Run()
	if out, err := exec.Command("docker", "load", "-i", tarball).CombinedOutput(); err != nil {
		t.Fatalf("docker load: %v: %s", err, out)
	}
	out, err := exec.Command("docker", "run", "--rm", "berth-e2e-built:1").CombinedOutput()
	if err != nil || string(out) != "built-by-berth\n" {
		t.Errorf("docker run of the loaded image: %v: %q", err, out)
	}
}

func TestBuildCacheMounts(t *testing.T) {
	e := newContainerEnv(t)
	ctx := writeTree(t, map[string]string{"Dockerfile": `FROM bb:1
RUN --mount=type=cache,target=/cache busybox sh -c 'echo run >> /cache/log; busybox wc -l < /cache/log > /count'
RUN --mount=type=cache,id=shared-id,target=/a echo from-a > /a/f
RUN --mount=type=cache,id=shared-id,target=/b/c,sharing=locked cat /b/c/f > /seen-by-b
RUN --mount=type=cache,target=owned,uid=1000,gid=1001,mode=0700 busybox stat -c '%u:%g %a' /owned > /owned-perm
RUN --mount=type=tmpfs,target=/tmp/scratch busybox sh -c 'echo x > /tmp/scratch/y; busybox grep " /tmp/scratch " /proc/mounts | busybox cut -d" " -f3 > /tmpfs'
CMD ["sh", "-c", "cat /count /seen-by-b /owned-perm /tmpfs; ls -A /tmp; ls -d /cache /a /b /owned 2>&1"]
`})
	want := func(n int) string {
		return fmt.Sprintf("%d\nfrom-a\n1000:1001 700\ntmpfs\n"+
			"ls: /cache: No such file or directory\nls: /a: No such file or directory\n"+
			"ls: /b: No such file or directory\nls: /owned: No such file or directory\n", n)
	}
	step(t, "cache mounts hold data between steps and stay out of the layers", func(t *testing.T) {
		e.ok("image", "build", "-t", "bt-cm", ctx)
		if out := e.run("container", "run", "--rm", "bt-cm").stdout; out != want(1) {
			t.Errorf("image sees:\n%s\nwant:\n%s", out, want(1))
		}
	})
	step(t, "a cache outlives the build: the next one finds it", func(t *testing.T) {
		r := e.ok("image", "build", "--no-cache", "-t", "bt-cm", ctx)
		if out := e.run("container", "run", "--rm", "bt-cm").stdout; out != want(2) {
			t.Errorf("second build sees:\n%s\nwant:\n%s\n%s", out, want(2), r.stdout)
		}
		dirs, _ := os.ReadDir(filepath.Join(e.root, "build", "cache-mounts"))
		if len(dirs) != 3 {
			t.Errorf("%d cache directories, want 3 (/cache, shared-id, owned)", len(dirs))
		}
	})
	step(t, "a mount is part of the step's cache key, its content is not", func(t *testing.T) {
		r := e.ok("image", "build", ctx)
		for s, st := range buildSteps(r.stdout) {
			if !strings.HasPrefix(s, "FROM ") && st != "CACHED" {
				t.Errorf("step %q: %s, want CACHED", s, st)
			}
		}
		changed := writeTree(t, map[string]string{"Dockerfile": "FROM bb:1\n" +
			"RUN --mount=type=cache,target=/cache busybox sh -c 'echo run >> /cache/log; busybox wc -l < /cache/log > /count'\n" +
			"RUN --mount=type=cache,id=shared-id,target=/a,sharing=private echo from-a > /a/f\n"})
		steps := buildSteps(e.ok("image", "build", changed).stdout)
		if steps["RUN --mount=type=cache,target=/cache busybox sh -c 'echo run >> /cache/log; busybox wc -l < /cache/log > /count'"] != "CACHED" ||
			steps["RUN --mount=type=cache,id=shared-id,target=/a,sharing=private echo from-a > /a/f"] != "DONE" {
			t.Errorf("steps %v", steps)
		}
	})
	step(t, "bad mounts are refused with the line", func(t *testing.T) {
		for body, msg := range map[string]string{
			"FROM bb:1\nRUN --mount=type=bind,target=/x true\n":             "--mount=type=bind is not supported by berth",
			"FROM bb:1\nRUN --mount=type=cache,target=/x,from=bb:1 true\n":  "from= and source= are not supported",
			"FROM bb:1\nRUN --mount=type=cache,target=/x,sharing=no true\n": "dockerfile line 2: RUN: unsupported sharing value \"no\"",
		} {
			bad := writeTree(t, map[string]string{"Dockerfile": body})
			r := e.run("image", "build", bad)
			if r.code == 0 || !strings.Contains(r.stderr, msg) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("%q: exit %d, stderr %q, want %q", body, r.code, r.stderr, msg)
			}
		}
	})
}

// parallelDockerfile proves that stages a and b build at the same time: each RUN waits (up to
// 30 s) for the other to have started, through a shared cache mount, so a builder that builds
// them one after the other fails with exit code 7. With both RUNs running, the private caches
// they hold must be different instances and the locked one must be held by one at a time.
const parallelDockerfile = `FROM bb:1 AS a
RUN --mount=type=cache,id=sync,target=/sync --mount=type=cache,id=priv,target=/p,sharing=private busybox sh -c 'busybox touch /sync/a; i=0; while [ ! -e /sync/b ]; do busybox sleep 0.1; i=$((i+1)); [ $i -lt 300 ] || exit 7; done; echo a > /p/who; busybox sleep 1; cat /p/who > /a-private'
RUN --mount=type=cache,id=lock,target=/l,sharing=locked busybox sh -c 'echo start >> /l/log; busybox sleep 0.5; echo end >> /l/log'
RUN busybox sleep 1

FROM bb:1 AS b
RUN --mount=type=cache,id=sync,target=/sync --mount=type=cache,id=priv,target=/p,sharing=private busybox sh -c 'busybox touch /sync/b; i=0; while [ ! -e /sync/a ]; do busybox sleep 0.1; i=$((i+1)); [ $i -lt 300 ] || exit 7; done; echo b > /p/who; busybox sleep 1; cat /p/who > /b-private'
RUN --mount=type=cache,id=lock,target=/l,sharing=locked busybox sh -c 'echo start >> /l/log; busybox sleep 0.5; echo end >> /l/log'
RUN busybox sleep 1

FROM bb:1
COPY --from=a /a-private /a-private
COPY --from=b /b-private /b-private
RUN --mount=type=cache,id=lock,target=/l cat /l/log > /lock-log
CMD ["cat", "/a-private", "/b-private", "/lock-log"]
`

func TestBuildParallelStages(t *testing.T) {
	e := newContainerEnv(t)
	ctx := writeTree(t, map[string]string{"Dockerfile": parallelDockerfile})
	step(t, "independent stages build at the same time", func(t *testing.T) {
		start := time.Now()
		r := e.run("image", "build", "-t", "bt-par", ctx)
		if r.code != 0 {
			t.Fatalf("build failed (exit 7 in a RUN: the stages did not run together): %s\n%s", r.stderr, r.stdout)
		}
		// Sequentially the stages' RUNs take at least 5 s; together about half.
		t.Logf("two stages of 2.5 s of RUNs each built in %v", time.Since(start).Round(time.Millisecond))
		out := e.ok("container", "run", "--rm", "bt-par").stdout
		if want := "a\nb\nstart\nend\nstart\nend\n"; out != want {
			t.Errorf("private caches and locked log:\n%s\nwant:\n%s", out, want)
		}
	})
	step(t, "a failing stage stops its sibling and the build", func(t *testing.T) {
		bad := writeTree(t, map[string]string{"Dockerfile": "FROM bb:1 AS slow\nRUN busybox sleep 60\n" +
			"FROM bb:1 AS bad\nRUN exit 5\nFROM bb:1\nCOPY --from=slow /etc/motd /a\nCOPY --from=bad /etc/motd /b\n"})
		start := time.Now()
		r := e.run("image", "build", "-t", "bt-par-bad", bad)
		if r.code == 0 || !strings.Contains(r.stderr, "The command '/bin/sh -c exit 5' returned a non-zero code: 5") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
		if d := time.Since(start); d > 45*time.Second {
			t.Errorf("the failure waited for the slow stage (%v)", d)
		}
		if ids := strings.TrimSpace(e.ok("container", "ls", "-aq").stdout); ids != "" {
			t.Errorf("containers left: %s", ids)
		}
	})
}

func TestBuildAddURLExcludeChmod(t *testing.T) {
	e := newContainerEnv(t)
	lastMod := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	var content atomic.Value
	content.Store("served over http\n")
	mux := http.NewServeMux()
	mux.HandleFunc("/files/data.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
		io.WriteString(w, content.Load().(string))
	})
	mux.HandleFunc("/files/archive.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, gzipTar(t, map[string]string{"x": "y"}))
	})
	mux.HandleFunc("/dl", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Disposition", `attachment; filename="named.txt"`)
		io.WriteString(w, "disposition\n")
	})
	// Servers in the test's own network namespace, where berth runs too.
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tls := httptest.NewTLSServer(mux)
	defer tls.Close()
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tls.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(append([]string{}, e.env...), "SSL_CERT_FILE="+certFile)
	build := func(dir string, args ...string) result {
		t.Helper()
		return cmd{args: append(append([]string{"image", "build"}, args...), dir), dir: e.dir, env: env}.run(t)
	}
	ctx := writeTree(t, map[string]string{
		"Dockerfile": "FROM bb:1\n" +
			"ADD " + srv.URL + "/files/data.txt /web/\n" +
			"ADD " + tls.URL + "/files/data.txt /secure.txt\n" +
			"ADD " + srv.URL + "/files/archive.tar.gz /arch/\n" +
			"ADD " + srv.URL + "/dl /named/\n" +
			"COPY --exclude=**/*.log --exclude=cache src/ /src/\n" +
			"COPY --exclude=*.md doc* /docs/\n" +
			"COPY --chmod=u=rwX,go=rX src/ /perm/\n" +
			"COPY --chmod=+x src/run.sh /run.sh\n" +
			"CMD [\"sh\", \"-c\", \"busybox stat -c '%n %a %Y' /web/data.txt /secure.txt; ls /arch; ls /named; cat /web/data.txt; busybox find /src /docs /perm | busybox sort; busybox stat -c '%n %a' /perm /perm/a.txt /perm/run.sh /perm/sub /run.sh\"]\n",
		"src/a.txt":        "a\n",
		"src/debug.log":    "log\n",
		"src/sub/b.log":    "log\n",
		"src/cache/c.txt":  "cached\n",
		"src/run.sh":       "echo run\n",
		"src/sub/keep.txt": "keep\n",
		"doc1.txt":         "d1\n",
		"doc2.md":          "d2\n",
	})
	os.Chmod(filepath.Join(ctx, "src", "a.txt"), 0o600)
	os.Chmod(filepath.Join(ctx, "src", "run.sh"), 0o744)
	step(t, "ADD of URLs, --exclude and symbolic --chmod", func(t *testing.T) {
		r := build(ctx, "-t", "bt-url")
		if r.code != 0 {
			t.Fatalf("build: %s\n%s", r.stderr, r.stdout)
		}
		out := e.ok("container", "run", "--rm", "bt-url").stdout
		want := fmt.Sprintf("/web/data.txt 600 %d\n/secure.txt 600 %d\narchive.tar.gz\nnamed.txt\n%s", lastMod.Unix(), lastMod.Unix(), content.Load()) +
			"/docs\n/docs/doc1.txt\n" +
			"/perm\n/perm/a.txt\n/perm/cache\n/perm/cache/c.txt\n/perm/debug.log\n/perm/run.sh\n/perm/sub\n/perm/sub/b.log\n/perm/sub/keep.txt\n" +
			"/src\n/src/a.txt\n/src/run.sh\n/src/sub\n/src/sub/keep.txt\n" +
			"/perm 755\n/perm/a.txt 644\n/perm/run.sh 755\n/perm/sub 755\n/run.sh 755\n"
		if out != want {
			t.Errorf("image sees:\n%s\nwant:\n%s", out, want)
		}
		h := e.ok("image", "history", "--no-trunc", "bt-url").stdout
		if !strings.Contains(h, "/bin/sh -c #(nop) ADD file:") || !strings.Contains(h, " in /web/ ") ||
			!strings.Contains(h, "COPY --exclude=**/*.log --exclude=cache dir:") {
			t.Errorf("history:\n%s", h)
		}
	})
	step(t, "a URL whose content is the same hits the cache; a change misses", func(t *testing.T) {
		steps := buildSteps(build(ctx).stdout)
		if st := steps["ADD "+srv.URL+"/files/data.txt /web/"]; st != "CACHED" {
			t.Errorf("unchanged URL: %s", st)
		}
		content.Store("changed\n")
		steps = buildSteps(build(ctx).stdout)
		if st := steps["ADD "+srv.URL+"/files/data.txt /web/"]; st != "DONE" {
			t.Errorf("changed URL: %s", st)
		}
	})
	step(t, "a missing URL fails with its status", func(t *testing.T) {
		bad := writeTree(t, map[string]string{"Dockerfile": "FROM bb:1\nADD " + srv.URL + "/nope /x\n"})
		r := build(bad)
		if want := "ADD failed: failed to GET " + srv.URL + "/nope with status 404 Not Found"; r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d, stderr %q, want %q", r.code, r.stderr, want)
		}
	})
}

func TestBuildProgressTTY(t *testing.T) {
	e := newContainerEnv(t)
	ctx := writeTree(t, map[string]string{"Dockerfile": "FROM bb:1\nRUN echo step-output\nRUN echo second; exit 4\n"})
	r := e.run("image", "build", "--progress", "tty", ctx)
	out := strings.ReplaceAll(r.stdout, "\x1b[K", "")
	if r.code == 0 || !strings.Contains(out, "[+] Built ") || !strings.Contains(out, " => ERROR [3/3] RUN echo second; exit 4") ||
		!strings.Contains(out, "------\n > [3/3] RUN echo second; exit 4:\nsecond\n") || strings.Contains(out, "#1 ") {
		t.Errorf("exit %d, tty progress:\n%q", r.code, out)
	}
	r = e.run("image", "build", "--progress", "tty", "-q", ctx)
	if r.stdout != "" {
		t.Errorf("-q with --progress tty printed %q", r.stdout)
	}
	ok := writeTree(t, map[string]string{"Dockerfile": "FROM bb:1\nRUN echo step-output\n"})
	e.ok("image", "build", ok)
	out = strings.ReplaceAll(e.ok("image", "build", "--progress", "tty", ok).stdout, "\x1b[K", "")
	if !strings.Contains(out, " => CACHED [2/2] RUN echo step-output") || !strings.Contains(out, "(5/5) FINISHED") {
		t.Errorf("cached rebuild, tty progress:\n%s", out)
	}
	// Without a terminal, auto is plain.
	if out := e.ok("image", "build", ok).stdout; !strings.Contains(out, "#4 [2/2] RUN echo step-output\n#4 CACHED") {
		t.Errorf("auto progress on a pipe:\n%s", out)
	}
}
