package container

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/testutil"
)

// openDir opens dir as the O_PATH descriptor the archiver and extractor work from.
func openDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// hostExtractor extracts below the host directory dir, as CopyFrom does.
func hostExtractor(t *testing.T, dir string, rename func(string) string) *extractor {
	return &extractor{
		ctx: context.Background(), root: openDir(t, dir), resolve: beneath, dir: ".",
		shown:  func(rel string) string { return filepath.Join(dir, rel) },
		rename: rename,
		owner:  func(*tar.Header) (int, int, bool) { return 0, 0, false },
	}
}

// containerExtractor extracts below the container path dir of the fake rootfs root, as
// CopyTo does.
func containerExtractor(t *testing.T, root, dir string) *extractor {
	return &extractor{
		ctx: context.Background(), root: openDir(t, root), resolve: inRoot, dir: dir,
		shown: func(rel string) string { return rel },
		owner: func(*tar.Header) (int, int, bool) { return 0, 0, false },
	}
}

// archive is a tar archive of the given entries, each a header and its content.
func archive(t *testing.T, entries ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(entries); i++ {
		h := entries[i].(*tar.Header)
		var body []byte
		if i+1 < len(entries) {
			if b, ok := entries[i+1].(string); ok {
				body, h.Size = []byte(b), int64(len(b))
				i++
			}
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestArchiveRoundTrip archives a tree of every kind of entry and extracts it elsewhere:
// content, modes, times, hard links and symlinks (never followed) come through, named as
// docker cp names them.
func TestArchiveRoundTrip(t *testing.T) {
	src := testutil.WriteTree(t, map[string]string{"d/a": "alpha", "d/sub/b": "beta"})
	d := filepath.Join(src, "d")
	must(t, unix.Chmod(filepath.Join(d, "a"), 0o4751))
	must(t, os.Link(filepath.Join(d, "a"), filepath.Join(d, "hard")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(d, "abs")))
	must(t, os.Symlink("sub/b", filepath.Join(d, "rel")))
	must(t, unix.Mkfifo(filepath.Join(d, "fifo"), 0o640))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(d, "sub"), old, old))
	must(t, os.Chtimes(filepath.Join(d, "sub", "b"), old, old))

	var buf bytes.Buffer
	n, err := writeArchive(context.Background(), &buf, openDir(t, src), "d", "d")
	if err != nil || n != int64(len("alpha")+len("beta")) {
		t.Fatalf("writeArchive: %d bytes, %v", n, err)
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if got := strings.Join(names, " "); got != "d/ d/a d/abs d/fifo d/hard d/rel d/sub/ d/sub/b" {
		t.Errorf("entries: %s", got)
	}

	dst := t.TempDir()
	e := hostExtractor(t, dst, renaming{from: "d", to: "copy"}.apply)
	if _, err := e.extract(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	c := filepath.Join(dst, "copy")
	if b, _ := os.ReadFile(filepath.Join(c, "sub", "b")); string(b) != "beta" {
		t.Errorf("sub/b = %q", b)
	}
	if fi, err := os.Stat(filepath.Join(c, "a")); err != nil || fi.Mode()&os.ModePerm != 0o751 || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("a: %v %v, want setuid 0751", fi.Mode(), err)
	}
	for name, want := range map[string]string{"abs": "/etc/passwd", "rel": "sub/b"} {
		if got, err := os.Readlink(filepath.Join(c, name)); err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %q", name, got, err, want)
		}
	}
	var a, h unix.Stat_t
	must(t, unix.Stat(filepath.Join(c, "a"), &a))
	must(t, unix.Stat(filepath.Join(c, "hard"), &h))
	if a.Ino != h.Ino {
		t.Error("hard is not a hard link of a")
	}
	if fi, err := os.Lstat(filepath.Join(c, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 || fi.Mode().Perm() != 0o640 {
		t.Errorf("fifo: %v %v", fi.Mode(), err)
	}
	for _, p := range []string{"sub", "sub/b"} {
		if fi, err := os.Stat(filepath.Join(c, p)); err != nil || !fi.ModTime().Equal(old) {
			t.Errorf("%s: mtime %v (%v), want %v", p, fi.ModTime(), err, old)
		}
	}
}

// TestArchiveTopNames: a directory's contents ("dir/.") are "./..." entries, which land in
// the destination directory itself.
func TestArchiveTopNames(t *testing.T) {
	src := testutil.WriteTree(t, map[string]string{"d/a": "alpha"})
	var buf bytes.Buffer
	if _, err := writeArchive(context.Background(), &buf, openDir(t, filepath.Join(src, "d")), ".", "."); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	must(t, os.Chmod(dst, 0o711))
	if _, err := hostExtractor(t, dst, nil).extract(&buf); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "a")); string(b) != "alpha" {
		t.Errorf("a = %q", b)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o711 {
		t.Errorf("the destination directory's mode changed to %v", fi.Mode())
	}
}

// TestExtractRefusals: what Docker's extraction refuses, in its words, with nothing written
// outside the destination.
func TestExtractRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []any
		setup   map[string]string
		want    string
	}{
		{"dot-dot", []any{&tar.Header{Name: "../escape", Typeflag: tar.TypeReg}, "x"}, nil, `"../escape" is outside of "DST"`},
		{"relative symlink above", []any{&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../../etc"}}, nil, `invalid symlink "DST/l" -> "../../etc"`},
		{"hard link above", []any{&tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../x"}}, nil, `invalid hardlink "PARENT/x" -> "../x"`},
		{"file over a directory", []any{&tar.Header{Name: "d", Typeflag: tar.TypeReg}, "x"}, map[string]string{"d/keep": "k"}, `cannot overwrite directory "DST/d" with non-directory "DST"`},
		{"directory over a file", []any{&tar.Header{Name: "f", Typeflag: tar.TypeDir, Mode: 0o755}}, map[string]string{"f": "k"}, `cannot overwrite non-directory "DST/f" with directory "DST"`},
		// The archive's own symlink cannot carry a later entry out: beneath refuses it.
		{"through its own symlink", []any{&tar.Header{Name: "x", Typeflag: tar.TypeSymlink, Linkname: "/"}, &tar.Header{Name: "x/escape", Typeflag: tar.TypeReg}, "x"}, nil, "mkdir DST/x: invalid cross-device link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := testutil.WriteTree(t, tc.setup)
			_, err := hostExtractor(t, dst, nil).extract(bytes.NewReader(archive(t, tc.entries...)))
			want := strings.NewReplacer("PARENT", filepath.Dir(dst), "DST", dst).Replace(tc.want)
			if err == nil || err.Error() != want {
				t.Errorf("error %v, want %s", err, want)
			}
			for _, p := range []string{filepath.Join(filepath.Dir(dst), "escape"), "/escape"} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}

// TestExtractInRoot: in a container, symlinks (absolute or with "..") resolve inside its
// root, whatever they say: a copy to /etc2 (-> /etc) or /etc3 (-> ../../../../etc) lands in
// the container's /etc, and an archive's own symlink to / leads to the container's root.
func TestExtractInRoot(t *testing.T) {
	root := testutil.WriteTree(t, map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/sh\n"})
	must(t, os.Symlink("/etc", filepath.Join(root, "etc2")))
	must(t, os.Symlink("../../../../etc", filepath.Join(root, "etc3")))
	for _, dir := range []string{"/etc2", "/etc3"} {
		e := containerExtractor(t, root, dir)
		if _, err := e.extract(bytes.NewReader(archive(t, &tar.Header{Name: "berth-cp-test" + dir[1:], Typeflag: tar.TypeReg}, "in"))); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if b, err := os.ReadFile(filepath.Join(root, "etc", "berth-cp-test"+dir[1:])); err != nil || string(b) != "in" {
			t.Errorf("%s: the file is not in the container's /etc: %q %v", dir, b, err)
		}
		if _, err := os.Lstat("/etc/berth-cp-test" + dir[1:]); err == nil {
			os.Remove("/etc/berth-cp-test" + dir[1:])
			t.Errorf("%s: the copy reached the host's /etc", dir)
		}
	}
	e := containerExtractor(t, root, "/tmp")
	must(t, os.Mkdir(filepath.Join(root, "tmp"), 0o755))
	tarball := archive(t, &tar.Header{Name: "x", Typeflag: tar.TypeSymlink, Linkname: "/"},
		&tar.Header{Name: "x/etc/berth-cp-test-x", Typeflag: tar.TypeReg}, "in")
	if _, err := e.extract(bytes.NewReader(tarball)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc", "berth-cp-test-x")); err != nil {
		t.Errorf("x/etc/... did not land in the container's /etc: %v", err)
	}
	if _, err := os.Lstat("/etc/berth-cp-test-x"); err == nil {
		os.Remove("/etc/berth-cp-test-x")
		t.Error("x/etc/... reached the host's /etc")
	}
}

// TestExtractReplaces: an existing file, or a symlink pointing anywhere, is replaced rather
// than written through.
func TestExtractReplaces(t *testing.T) {
	outside := testutil.WriteTree(t, map[string]string{"victim": "untouched"})
	dst := t.TempDir()
	must(t, os.Symlink(filepath.Join(outside, "victim"), filepath.Join(dst, "f")))
	if _, err := hostExtractor(t, dst, nil).extract(bytes.NewReader(archive(t, &tar.Header{Name: "f", Typeflag: tar.TypeReg}, "new"))); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "victim")); string(b) != "untouched" {
		t.Errorf("written through the symlink: %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(dst, "f")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("f is not a regular file now: %v", err)
	}
}

// TestExtractOwner: the owner function decides: the tar's ids with -a, root without.
func TestExtractOwner(t *testing.T) {
	testutil.RequireRoot(t)
	dst := t.TempDir()
	tarball := archive(t, &tar.Header{Name: "d", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 1234, Gid: 4321},
		&tar.Header{Name: "d/f", Typeflag: tar.TypeReg, Uid: 1234, Gid: 4321}, "x",
		&tar.Header{Name: "d/l", Typeflag: tar.TypeSymlink, Linkname: "f", Uid: 1234, Gid: 4321})
	for _, keep := range []bool{true, false} {
		must(t, os.RemoveAll(filepath.Join(dst, "d")))
		e := hostExtractor(t, dst, nil)
		e.owner = func(h *tar.Header) (int, int, bool) {
			if keep {
				return h.Uid, h.Gid, true
			}
			return 0, 0, true
		}
		if _, err := e.extract(bytes.NewReader(tarball)); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"d", "d/f", "d/l"} {
			fi, err := os.Lstat(filepath.Join(dst, p))
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			want := uint32(0)
			if keep {
				want = 1234
			}
			if st.Uid != want || (keep && st.Gid != 4321) {
				t.Errorf("keep %v: %s owned by %d:%d", keep, p, st.Uid, st.Gid)
			}
		}
	}
}

func TestDecompressed(t *testing.T) {
	plain := archive(t, &tar.Header{Name: "f", Typeflag: tar.TypeReg}, "content")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	for name, in := range map[string][]byte{"plain": plain, "gzip": gz.Bytes()} {
		r, done, err := decompressed(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(r)
		done()
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: %d bytes, %v", name, len(got), err)
		}
	}
	if _, _, err := decompressed(bytes.NewReader([]byte{0xfd, '7', 'z', 'X', 'Z', 0})); err == nil || !strings.Contains(err.Error(), "xz") {
		t.Errorf("xz: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
