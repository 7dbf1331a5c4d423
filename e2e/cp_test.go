//go:build linux

package e2e

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// motd is the content of /etc/motd in bb:1 (busyboxRootfs).
const motd = "hello from the bottom layer\n"

// runIn runs berth with stdin as its standard input.
func (e *containerEnv) runIn(stdin string, args ...string) result {
	e.t.Helper()
	checkNetNS(e.t, e.netns)
	return cmd{args: args, dir: e.dir, env: e.env, stdin: stdin}.run(e.t)
}

// tarNames lists the entry names of a tar archive.
func tarNames(t *testing.T, b string) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(strings.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatalf("reading the archive: %v", err)
		}
		names = append(names, h.Name)
	}
}

// readFile is the content of a host file, "" when it is missing.
func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// cpFailure checks that a cp failed with exit 1 and the one line want.
func cpFailure(t *testing.T, what string, r result, want string) {
	t.Helper()
	if r.code != 1 || r.stderr != want+"\n" {
		t.Errorf("%s: exit %d, stderr %q; want 1 and %q", what, r.code, r.stderr, want)
	}
}

// TestContainerCopy drives `berth container cp` both ways on a running container, a stopped
// one and one never started: files, directories, "dir/.", tar streams on stdin and stdout, a
// named volume, ownership with and without -a, and Docker's errors.
func TestContainerCopy(t *testing.T) {
	e := newContainerEnv(t)
	host := filepath.Join(e.dir, "host")
	src := writeTree(t, map[string]string{"d/a": "alpha\n", "d/sub/b": "beta\n", "f.txt": "file\n"})
	for _, p := range []string{"d", "d/a", "d/sub", "d/sub/b", "f.txt"} {
		if err := os.Lchown(filepath.Join(src, p), 1234, 4321); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(host, "existing"), 0o755); err != nil {
		t.Fatal(err)
	}
	bind := writeTree(t, map[string]string{"on-host": "bound\n"})
	e.ok("container", "run", "-d", "--name", "cpr", "-v", "cpvol:/data", "-v", bind+":/bind", "bb:1", "busybox", "sleep", "300")
	e.ok("container", "exec", "cpr", "sh", "-c",
		"busybox mkdir -p /srv/d/sub && echo alpha > /srv/d/a && echo beta > /srv/d/sub/b && echo volume > /data/vf")

	step(t, "running: out of the container", func(t *testing.T) {
		e.ok("container", "cp", "cpr:/srv/d/a", filepath.Join(host, "a"))
		if got := readFile(t, filepath.Join(host, "a")); got != "alpha\n" {
			t.Errorf("file: %q", got)
		}
		// A directory into an existing one keeps its name; "dir/." brings its contents.
		e.ok("container", "cp", "cpr:/srv/d", filepath.Join(host, "existing"))
		e.ok("container", "cp", "cpr:/srv/d/.", filepath.Join(host, "existing"))
		e.ok("container", "cp", "cpr:/srv/d/.", filepath.Join(host, "contents"))
		for p, want := range map[string]string{"existing/d/sub/b": "beta\n", "existing/sub/b": "beta\n", "existing/a": "alpha\n", "contents/sub/b": "beta\n"} {
			if got := readFile(t, filepath.Join(host, p)); got != want {
				t.Errorf("%s: %q, want %q", p, got, want)
			}
		}
		// The volume's content, as the running container sees it.
		e.ok("container", "cp", "cpr:/data/vf", filepath.Join(host, "vf"))
		if got := readFile(t, filepath.Join(host, "vf")); got != "volume\n" {
			t.Errorf("volume file: %q", got)
		}
		// And a bind mount's.
		e.ok("container", "cp", "cpr:/bind/on-host", filepath.Join(host, "on-host"))
		if got := readFile(t, filepath.Join(host, "on-host")); got != "bound\n" {
			t.Errorf("bind-mounted file: %q", got)
		}
		// Copied out, files belong to the caller (root here), whoever owns them inside.
		e.ok("container", "exec", "cpr", "busybox", "chown", "1234:4321", "/srv/d/a")
		e.ok("container", "cp", "cpr:/srv/d/a", filepath.Join(host, "owned"))
		if st := statOwner(t, filepath.Join(host, "owned")); st != "0:0" {
			t.Errorf("copied out without -a: owned by %s", st)
		}
		e.ok("container", "cp", "-a", "cpr:/srv/d/a", filepath.Join(host, "owned-a"))
		if st := statOwner(t, filepath.Join(host, "owned-a")); st != "1234:4321" {
			t.Errorf("copied out with -a: owned by %s", st)
		}
		// A tar stream on stdout, named as docker cp names it.
		names := tarNames(t, e.ok("container", "cp", "cpr:/srv/d", "-").stdout)
		if !slices.Equal(names, []string{"d/", "d/a", "d/sub/", "d/sub/b"}) {
			t.Errorf("archive of /srv/d: %v", names)
		}
		names = tarNames(t, e.ok("container", "cp", "cpr:/srv/d/.", "-").stdout)
		if !slices.Equal(names, []string{"./", "./a", "./sub/", "./sub/b"}) {
			t.Errorf("archive of /srv/d/.: %v", names)
		}
	})

	step(t, "running: into the container", func(t *testing.T) {
		e.ok("container", "cp", filepath.Join(src, "f.txt"), "cpr:/tmp/")
		e.ok("container", "cp", "-a", filepath.Join(src, "f.txt"), "cpr:/tmp/f-a.txt")
		e.ok("container", "cp", filepath.Join(src, "d"), "cpr:/tmp/newdir")
		e.ok("container", "cp", filepath.Join(src, "d")+"/.", "cpr:/srv/d")
		out := e.ok("container", "exec", "cpr", "sh", "-c",
			"cat /tmp/f.txt /tmp/newdir/sub/b /srv/d/sub/b; busybox stat -c '%u:%g %n' /tmp/f.txt /tmp/f-a.txt /tmp/newdir/a").stdout
		want := "file\nbeta\nbeta\n0:0 /tmp/f.txt\n1234:4321 /tmp/f-a.txt\n0:0 /tmp/newdir/a\n"
		if out != want {
			t.Errorf("in the container:\n%s\nwant:\n%s", out, want)
		}
		// A tar stream on stdin, extracted into an existing directory.
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "streamed/", Typeflag: tar.TypeDir, Mode: 0o755})
		tw.WriteHeader(&tar.Header{Name: "streamed/s", Typeflag: tar.TypeReg, Mode: 0o600, Size: 7})
		tw.Write([]byte("stream\n"))
		tw.Close()
		if r := e.runIn(buf.String(), "container", "cp", "-", "cpr:/tmp"); r.code != 0 {
			t.Fatalf("cp - cpr:/tmp: %d %s", r.code, r.stderr)
		}
		if out := e.ok("container", "exec", "cpr", "sh", "-c", "cat /tmp/streamed/s; busybox stat -c %a /tmp/streamed/s").stdout; out != "stream\n600\n" {
			t.Errorf("streamed file: %q", out)
		}
		cpFailure(t, "stdin to a file", e.runIn(buf.String(), "container", "cp", "-", "cpr:/etc/motd"), `destination "cpr:/etc/motd" must be a directory`)
	})

	step(t, "errors in Docker's words", func(t *testing.T) {
		cpFailure(t, "missing source", e.run("container", "cp", "cpr:/nope", host), "Could not find the file /nope in container cpr")
		cpFailure(t, "missing destination directory", e.run("container", "cp", filepath.Join(src, "f.txt"), "cpr:/nope/x"), "Could not find the file /nope in container cpr")
		cpFailure(t, "file to a missing dir/", e.run("container", "cp", filepath.Join(src, "f.txt"), "cpr:/nope/"), "no such directory")
		cpFailure(t, "directory onto a file", e.run("container", "cp", filepath.Join(src, "d"), "cpr:/etc/motd"), "cannot copy directory")
		cpFailure(t, "directory onto a host file", e.run("container", "cp", "cpr:/srv/d", filepath.Join(host, "a")), "cannot copy directory")
		cpFailure(t, "two containers", e.run("container", "cp", "cpr:/a", "cpr:/b"), "copying between containers is not supported")
		cpFailure(t, "no container", e.run("container", "cp", "a", "b"), "must specify at least one container source")
		cpFailure(t, "no such container", e.run("container", "cp", "nosuch:/a", host), "No such container: nosuch")
	})

	step(t, "read-only rootfs and volume", func(t *testing.T) {
		e.ok("container", "run", "-d", "--name", "cpro", "--read-only", "-v", "cpro-ro:/ro:ro", "-v", "cpro-rw:/rw", "bb:1", "busybox", "sleep", "300")
		cpFailure(t, "into a read-only rootfs", e.run("container", "cp", filepath.Join(src, "f.txt"), "cpro:/tmp/"), "container rootfs is marked read-only")
		cpFailure(t, "into a read-only volume", e.run("container", "cp", filepath.Join(src, "f.txt"), "cpro:/ro/"), "mounted volume is marked read-only")
		e.ok("container", "cp", filepath.Join(src, "f.txt"), "cpro:/rw/")
		if out := e.ok("container", "exec", "cpro", "cat", "/rw/f.txt").stdout; out != "file\n" {
			t.Errorf("into a writable volume of a read-only container: %q", out)
		}
	})

	step(t, "stopped: both ways, volume included", func(t *testing.T) {
		e.ok("container", "stop", "-t", "0", "cpr")
		e.ok("container", "cp", "cpr:/data/vf", filepath.Join(host, "vf-stopped"))
		if got := readFile(t, filepath.Join(host, "vf-stopped")); got != "volume\n" {
			t.Errorf("volume file of a stopped container: %q", got)
		}
		e.ok("container", "cp", filepath.Join(src, "f.txt"), "cpr:/data/from-host")
		e.ok("container", "cp", filepath.Join(src, "d"), "cpr:/srv/stopped")
		e.ok("container", "cp", filepath.Join(src, "f.txt"), "cpr:/bind/from-cp")
		if got := readFile(t, filepath.Join(bind, "from-cp")); got != "file\n" {
			t.Errorf("copied into the bind mount of a stopped container: %q on the host", got)
		}
		e.ok("container", "start", "cpr")
		if out := e.ok("container", "exec", "cpr", "cat", "/data/from-host", "/srv/stopped/sub/b").stdout; out != "file\nbeta\n" {
			t.Errorf("after the start: %q", out)
		}
		// Never started: the rootfs and the image's files are there to copy.
		e.ok("container", "create", "--name", "cpc", "bb:1")
		e.ok("container", "cp", "cpc:/etc/motd", filepath.Join(host, "motd"))
		if got := readFile(t, filepath.Join(host, "motd")); got != motd {
			t.Errorf("motd of a created container: %q", got)
		}
		e.ok("container", "cp", filepath.Join(src, "f.txt"), "cpc:/tmp/")
		names := tarNames(t, e.ok("container", "cp", "cpc:/tmp/f.txt", "-").stdout)
		if !slices.Equal(names, []string{"f.txt"}) {
			t.Errorf("archive of a file: %v", names)
		}
	})
}

// statOwner is "uid:gid" of a host file.
func statOwner(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}

// TestContainerCopySymlinkEscape: symlinks of the container (/etc2 -> /etc, /etc3 ->
// ../../../../etc) resolve inside it, both ways and running or not: nothing is read from or
// written to the host's /etc.
func TestContainerCopySymlinkEscape(t *testing.T) {
	e := newContainerEnv(t)
	host := filepath.Join(e.dir, "host")
	if err := os.Mkdir(host, 0o755); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("berth-cp-escape-%d", os.Getpid())
	file := writeTree(t, map[string]string{name: "planted\n"})
	t.Cleanup(func() {
		for _, p := range []string{name, name + "-3", name + "-s"} {
			os.Remove(filepath.Join("/etc", p))
		}
	})
	e.ok("container", "run", "-d", "--name", "esc", "bb:1", "busybox", "sleep", "300")
	e.ok("container", "exec", "esc", "sh", "-c", "busybox ln -s /etc /etc2 && busybox ln -s ../../../../etc /etc3")
	hostEtc := func(t *testing.T, p string) {
		t.Helper()
		if _, err := os.Lstat(filepath.Join("/etc", p)); err == nil {
			t.Errorf("the copy reached the host's /etc/%s", p)
		}
	}

	for _, state := range []string{"running", "stopped"} {
		step(t, state, func(t *testing.T) {
			if state == "stopped" {
				e.ok("container", "stop", "-t", "0", "esc")
			}
			// Into the container through the links: their targets are the container's /etc.
			e.ok("container", "cp", filepath.Join(file, name), "esc:/etc2/")
			e.ok("container", "cp", filepath.Join(file, name), "esc:/etc3/"+name+"-3")
			hostEtc(t, name)
			hostEtc(t, name+"-3")
			// Out of the container through the links: the container's /etc.
			e.ok("container", "cp", "esc:/etc2/motd", filepath.Join(host, state+"-motd2"))
			e.ok("container", "cp", "esc:/etc3/.", filepath.Join(host, state+"-etc3"))
			e.ok("container", "cp", "-L", "esc:/etc3", filepath.Join(host, state+"-etc3L"))
			for _, p := range []string{state + "-motd2", state + "-etc3/motd", state + "-etc3L/motd", state + "-etc3/" + name + "-3"} {
				want := motd
				if strings.HasSuffix(p, "-3") {
					want = "planted\n"
				}
				if got := readFile(t, filepath.Join(host, p)); got != want {
					t.Errorf("%s: %q, want %q", p, got, want)
				}
			}
			// The link itself is copied as a link (absolute), or refused when relative and
			// leading above the destination, as Docker's extraction does.
			e.ok("container", "cp", "esc:/etc2", filepath.Join(host, state+"-etc2"))
			if target, err := os.Readlink(filepath.Join(host, state+"-etc2")); err != nil || target != "/etc" {
				t.Errorf("/etc2 copied as %q (%v), want the link to /etc", target, err)
			}
			cpFailure(t, "relative link above the destination", e.run("container", "cp", "esc:/etc3", filepath.Join(host, state+"-etc3link")),
				fmt.Sprintf("invalid symlink %q -> %q", filepath.Join(host, state+"-etc3link"), "../../../../etc"))
			// A stream whose own symlink points at / cannot lead out either.
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			tw.WriteHeader(&tar.Header{Name: "x", Typeflag: tar.TypeSymlink, Linkname: "/"})
			tw.WriteHeader(&tar.Header{Name: "x/etc/" + name + "-s", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
			tw.Write([]byte("in\n"))
			tw.Close()
			if r := e.runIn(buf.String(), "container", "cp", "-", "esc:/tmp"); r.code != 0 {
				t.Fatalf("cp - esc:/tmp: %d %s", r.code, r.stderr)
			}
			hostEtc(t, name+"-s")
			e.ok("container", "cp", "esc:/etc/"+name+"-s", filepath.Join(host, state+"-s"))
			if got := readFile(t, filepath.Join(host, state+"-s")); got != "in\n" {
				t.Errorf("the stream's file is not in the container's /etc: %q", got)
			}
		})
	}
}

// TestComposeCopy drives `berth cp` on a service with two replicas: to all of them, from one
// chosen with --index, and Docker Compose's errors.
func TestComposeCopy(t *testing.T) {
	e := newContainerEnv(t)
	e.composeFile("cpp", `
services:
  web:
    image: bb:1
    command: ["busybox", "sleep", "300"]
    network_mode: none
    scale: 2
`)
	e.ok("-p", "cpp", "up", "-d")
	src := writeTree(t, map[string]string{"f.txt": "to all\n"})
	out := filepath.Join(e.dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}

	step(t, "to every container of the service", func(t *testing.T) {
		e.ok("-p", "cpp", "cp", filepath.Join(src, "f.txt"), "web:/tmp/f.txt")
		for _, n := range []string{"1", "2"} {
			if got := e.ok("-p", "cpp", "exec", "--index", n, "web", "cat", "/tmp/f.txt").stdout; got != "to all\n" {
				t.Errorf("container %s: %q", n, got)
			}
		}
	})

	step(t, "from the container --index chooses", func(t *testing.T) {
		e.ok("-p", "cpp", "exec", "--index", "1", "web", "sh", "-c", "echo one > /tmp/who")
		e.ok("-p", "cpp", "exec", "--index", "2", "web", "sh", "-c", "echo two > /tmp/who")
		e.ok("-p", "cpp", "cp", "--index", "2", "web:/tmp/who", filepath.Join(out, "who2"))
		e.ok("-p", "cpp", "cp", "web:/tmp/who", filepath.Join(out, "who1"))
		if a, b := readFile(t, filepath.Join(out, "who1")), readFile(t, filepath.Join(out, "who2")); a != "one\n" || b != "two\n" {
			t.Errorf("who1 %q, who2 %q", a, b)
		}
		// A stopped replica is still a source.
		e.ok("-p", "cpp", "stop", "web")
		e.ok("-p", "cpp", "cp", "--index", "2", "web:/tmp/who", filepath.Join(out, "who2-stopped"))
		if got := readFile(t, filepath.Join(out, "who2-stopped")); got != "two\n" {
			t.Errorf("from a stopped replica: %q", got)
		}
	})

	step(t, "errors", func(t *testing.T) {
		cpFailure(t, "missing index", e.run("-p", "cpp", "cp", "--index", "3", "web:/tmp/who", out), `service "web" is not running container #3`)
		cpFailure(t, "missing service", e.run("-p", "cpp", "cp", "db:/tmp/who", out), `no container found for service "db"`)
		cpFailure(t, "two services", e.run("-p", "cpp", "cp", "web:/a", "web:/b"), "copying between services is not supported")
		r := e.run("-p", "cpp", "cp", "--index", "1", "web:/nope", out)
		if r.code != 1 || !strings.Contains(r.stderr, "Could not find the file /nope in container ") {
			t.Errorf("missing path: %d %q", r.code, r.stderr)
		}
	})
}
