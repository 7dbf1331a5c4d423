package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// requireRootMounts skips tests that create devices or mount overlays.
func requireRootMounts(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mknod and overlay mounts")
	}
}

// testApplyOpts is what an unpack by the current user needs.
func testApplyOpts() ApplyOptions {
	nonRoot := os.Geteuid() != 0
	return ApplyOptions{IgnoreOwnership: nonRoot, UserXattr: nonRoot}
}

// applyTar applies entries into a fresh root and returns it.
func applyTar(t *testing.T, opts ApplyOptions, ents ...tarEntry) (string, int64) {
	t.Helper()
	root := t.TempDir()
	makeWritable(t, root)
	n, err := Apply(context.Background(), root, bytes.NewReader(buildTar(t, ents...)), opts)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return root, n
}

func lstat(t *testing.T, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat: %v", err)
	}
	return &st
}

func TestApplyBasic(t *testing.T) {
	fifo := tarEntry{Hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o620, ModTime: tarTestTime}}
	root, n := applyTar(t, testApplyOpts(),
		tDir("etc/", 0o755),
		tFile("etc/hosts", "127.0.0.1 localhost\n", 0o644),
		tFile("bin/busybox", "#!busybox", 0o4755),
		tHardlink("bin/sh", "bin/busybox"),
		tHardlink("/bin/ash", "/bin/busybox"), // absolute link targets mean the same file
		tSymlink("bin/ls", "busybox"),
		tSymlink("lib", "/usr/lib"),
		tDir("tmp/", 0o1777),
		tDir("ro/", 0o555),
		tFile("ro/file", "inside a read-only dir", 0o400),
		tFile("implicit/parents/file", "x", 0o600),
		tDir("run/", 0o755),
		fifo,
		tFile("sgid", "", 0o2755),
	)
	if want := int64(len("127.0.0.1 localhost\n") + len("#!busybox") + len("inside a read-only dir") + 1); n != want {
		t.Errorf("Apply wrote %d bytes, want %d", n, want)
	}
	if got := readFile(t, filepath.Join(root, "etc/hosts")); got != "127.0.0.1 localhost\n" {
		t.Errorf("etc/hosts = %q", got)
	}
	modes := map[string]uint32{
		"etc":         unix.S_IFDIR | 0o755,
		"etc/hosts":   unix.S_IFREG | 0o644,
		"bin/busybox": unix.S_IFREG | 0o4755,
		"tmp":         unix.S_IFDIR | 0o1777,
		"ro":          unix.S_IFDIR | 0o555,
		"ro/file":     unix.S_IFREG | 0o400,
		"run/fifo":    unix.S_IFIFO | 0o620,
		"sgid":        unix.S_IFREG | 0o2755,
		"bin/ls":      unix.S_IFLNK | 0o777,
	}
	for p, want := range modes {
		if got := lstat(t, filepath.Join(root, p)).Mode; got != want {
			t.Errorf("%s: mode %o, want %o", p, got, want)
		}
	}
	bb := lstat(t, filepath.Join(root, "bin/busybox"))
	for _, l := range []string{"bin/sh", "bin/ash"} {
		if st := lstat(t, filepath.Join(root, l)); st.Ino != bb.Ino {
			t.Errorf("%s is not a hard link of bin/busybox", l)
		}
	}
	if bb.Nlink != 3 {
		t.Errorf("bin/busybox nlink = %d, want 3", bb.Nlink)
	}
	for link, want := range map[string]string{"bin/ls": "busybox", "lib": "/usr/lib"} {
		if got, err := os.Readlink(filepath.Join(root, link)); err != nil || got != want {
			t.Errorf("readlink %s = %q, %v; want %q", link, got, err, want)
		}
	}
	// Mtimes: directories too, although entries were created in them afterwards.
	for _, p := range []string{"etc", "etc/hosts", "bin/busybox", "bin/ls", "ro", "ro/file", "tmp", "run/fifo"} {
		if got := lstat(t, filepath.Join(root, p)).Mtim.Sec; got != tarTestTime.Unix() {
			t.Errorf("%s: mtime %d, want %d", p, got, tarTestTime.Unix())
		}
	}
	// Implicit parents are plain 0755 directories.
	if got := lstat(t, filepath.Join(root, "implicit/parents")).Mode; got != unix.S_IFDIR|0o755 {
		t.Errorf("implicit parent mode %o, want 40755", got)
	}
}

func TestApplyReplaceExisting(t *testing.T) {
	root, _ := applyTar(t, testApplyOpts(),
		tDir("d/", 0o755),
		tFile("d/old", "old", 0o644),
		tDir("d/", 0o700), // a dir over a dir merges
		tFile("d/new", "new", 0o644),
		tDir("tree/sub/", 0o755),
		tFile("tree/sub/f", "f", 0o644),
		tFile("tree", "now a file", 0o644), // a file over a tree removes the tree
		tFile("f2d", "file", 0o644),
		tDir("f2d/", 0o755), // a dir over a file
		tFile("f2d/inner", "inner", 0o644),
		tFile("s", "file", 0o644),
		tSymlink("s", "elsewhere"), // a symlink over a file
		tSymlink("l2d", "d"),
		tDir("l2d/", 0o755), // a dir over a symlink replaces the link, never enters it
		tFile("l2d/x", "x", 0o644),
	)
	for p, want := range map[string]string{"d/old": "old", "d/new": "new", "tree": "now a file", "f2d/inner": "inner", "l2d/x": "x"} {
		if got := readFile(t, filepath.Join(root, p)); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if st := lstat(t, filepath.Join(root, "d")); st.Mode != unix.S_IFDIR|0o700 {
		t.Errorf("merged dir mode %o, want the later entry's 40700", st.Mode)
	}
	if _, err := os.Lstat(filepath.Join(root, "d/x")); err == nil {
		t.Error("l2d/x was written through the old symlink into d/")
	}
	if got, _ := os.Readlink(filepath.Join(root, "s")); got != "elsewhere" {
		t.Errorf("s -> %q, want elsewhere", got)
	}
}

func TestApplyWhiteouts(t *testing.T) {
	opts := testApplyOpts()
	root, _ := applyTar(t, opts,
		tDir("etc/", 0o755),
		tWhiteout("etc/.wh.passwd"),
		tFile("data/new", "n", 0o644),
		tWhiteout("data/.wh..wh..opq"),
		tWhiteout(".wh.gone"),
		tWhiteout("deep/er/.wh.x"), // parents of a whiteout are created
	)
	for _, p := range []string{"etc/passwd", "gone", "deep/er/x"} {
		st := lstat(t, filepath.Join(root, p))
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("%s: mode %o rdev %d, want a 0:0 character device", p, st.Mode, st.Rdev)
		}
	}
	for _, p := range []string{"etc/.wh.passwd", "data/.wh..wh..opq", ".wh.gone"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s was extracted as a file", p)
		}
	}
	key := "trusted.overlay.opaque"
	if opts.UserXattr {
		key = "user.overlay.opaque"
	}
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(root, "data"), key, buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("data: %s = %q, %v; want y", key, buf[:n], err)
	}
	if got := readFile(t, filepath.Join(root, "data/new")); got != "n" {
		t.Errorf("data/new = %q", got)
	}
}

func TestApplyWhiteoutReplacesEntry(t *testing.T) {
	root, _ := applyTar(t, testApplyOpts(),
		tFile("dir/x/y", "y", 0o644),
		tWhiteout("dir/.wh.x"),
	)
	st := lstat(t, filepath.Join(root, "dir/x"))
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Fatalf("dir/x: mode %o, want the whiteout device in place of the directory", st.Mode)
	}
}

func TestApplyUserXattrs(t *testing.T) {
	probe := t.TempDir()
	if err := unix.Lsetxattr(probe, "user.probe", []byte("1"), 0); err != nil {
		t.Skipf("needs user.* xattrs on the temp dir filesystem: %v", err)
	}
	withX := func(e tarEntry, kv ...string) tarEntry {
		e.Hdr.PAXRecords = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			e.Hdr.PAXRecords["SCHILY.xattr."+kv[i]] = kv[i+1]
		}
		return e
	}
	root, _ := applyTar(t, testApplyOpts(),
		withX(tDir("d/", 0o755), "user.dir", "dv"),
		withX(tFile("d/f", "x", 0o444), "user.a", "1", "user.b", "two"), // read-only: xattrs go before chmod
		withX(tSymlink("d/l", "f"), "user.nope", "on a symlink the kernel refuses user.*"),
		withX(tFile("d/o", "", 0o644), "trusted.overlay.opaque", "y", "user.overlay.opaque", "y"),
	)
	get := func(p, key string) string {
		buf := make([]byte, 64)
		n, err := unix.Lgetxattr(filepath.Join(root, p), key, buf)
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(buf[:n])
	}
	for _, c := range [][3]string{{"d", "user.dir", "dv"}, {"d/f", "user.a", "1"}, {"d/f", "user.b", "two"}} {
		if got := get(c[0], c[1]); got != c[2] {
			t.Errorf("%s %s = %q, want %q", c[0], c[1], got, c[2])
		}
	}
	// Overlay attributes in a layer's payload would steer the mount; they are dropped.
	for _, key := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if got := get("d/o", key); !strings.HasPrefix(got, "<") {
			t.Errorf("d/o %s = %q was restored from the tar", key, got)
		}
	}
}

func TestApplyOwnershipAndDevices(t *testing.T) {
	requireRootMounts(t)
	own := func(e tarEntry, uid, gid int) tarEntry { e.Hdr.Uid, e.Hdr.Gid = uid, gid; return e }
	dev := func(typ byte, name string, major, minor int64) tarEntry {
		return tarEntry{Hdr: tar.Header{Typeflag: typ, Name: name, Mode: 0o660, Devmajor: major, Devminor: minor, ModTime: tarTestTime}}
	}
	root, _ := applyTar(t, ApplyOptions{},
		own(tDir("home/", 0o755), 0, 0),
		own(tDir("home/u/", 0o700), 1000, 1001),
		own(tFile("home/u/suid", "x", 0o4755), 1000, 1001), // lchown would clear setuid: mode comes after
		own(tSymlink("home/u/link", "suid"), 1002, 1003),
		own(dev(tar.TypeChar, "dev/null", 1, 3), 0, 5),
		own(dev(tar.TypeBlock, "dev/loop9", 7, 9), 0, 6),
		own(dev(tar.TypeFifo, "dev/fifo", 0, 0), 7, 8),
	)
	checks := []struct {
		p          string
		uid, gid   uint32
		mode       uint32
		rdev       uint64
		checkRdevs bool
	}{
		{"home/u", 1000, 1001, unix.S_IFDIR | 0o700, 0, false},
		{"home/u/suid", 1000, 1001, unix.S_IFREG | 0o4755, 0, false},
		{"home/u/link", 1002, 1003, unix.S_IFLNK | 0o777, 0, false},
		{"dev/null", 0, 5, unix.S_IFCHR | 0o660, unix.Mkdev(1, 3), true},
		{"dev/loop9", 0, 6, unix.S_IFBLK | 0o660, unix.Mkdev(7, 9), true},
		{"dev/fifo", 7, 8, unix.S_IFIFO | 0o660, 0, false},
	}
	for _, c := range checks {
		st := lstat(t, filepath.Join(root, c.p))
		if st.Uid != c.uid || st.Gid != c.gid || st.Mode != c.mode || (c.checkRdevs && st.Rdev != c.rdev) {
			t.Errorf("%s: %d:%d mode %o rdev %x; want %d:%d mode %o rdev %x", c.p, st.Uid, st.Gid, st.Mode, st.Rdev, c.uid, c.gid, c.mode, c.rdev)
		}
	}
}

func TestApplyDeviceOutOfRange(t *testing.T) {
	root := t.TempDir()
	tarb := buildTar(t, tarEntry{Hdr: tar.Header{Typeflag: tar.TypeChar, Name: "d", Mode: 0o600, Devmajor: 1 << 33}})
	if _, err := Apply(context.Background(), root, bytes.NewReader(tarb), testApplyOpts()); err == nil {
		t.Fatal("device number beyond 32 bits accepted")
	}
}

func TestApplyHardlinkErrors(t *testing.T) {
	for name, ents := range map[string][]tarEntry{
		"missing target":  {tHardlink("l", "nowhere")},
		"directory":       {tDir("d/", 0o755), tHardlink("l", "d")},
		"escaping target": {tHardlink("l", "../../etc/hostname")},
		"itself":          {tFile("l", "x", 0o644), tHardlink("l", "l")},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			if _, err := Apply(context.Background(), root, bytes.NewReader(buildTar(t, ents...)), testApplyOpts()); err == nil {
				t.Fatal("Apply accepted the hard link")
			}
		})
	}
}

func TestApplyInvalidWhiteouts(t *testing.T) {
	for _, name := range []string{".wh.", "a/.wh..", "a/.wh..wh.x"} {
		root := t.TempDir()
		if _, err := Apply(context.Background(), root, bytes.NewReader(buildTar(t, tWhiteout(name))), testApplyOpts()); err == nil {
			t.Errorf("whiteout %q accepted", name)
		}
	}
}

// TestApplyConfinement feeds hostile layers and checks nothing is created or changed outside
// the root, whether Apply refuses the layer or keeps the entries inside.
func TestApplyConfinement(t *testing.T) {
	type result struct {
		err    bool              // Apply must fail
		inside map[string]string // files that must exist under root with this content; @OUT is the outside dir's path
	}
	cases := map[string]struct {
		ents func(outside, victim string) []tarEntry
		want result
	}{
		"dot-dot name": {
			func(o, v string) []tarEntry { return []tarEntry{tFile("../../etc/x", "x", 0o644)} },
			result{err: true},
		},
		"dot-dot inside the name": {
			func(o, v string) []tarEntry { return []tarEntry{tFile("a/../../outside/x", "x", 0o644)} },
			result{err: true},
		},
		"absolute name": {
			func(o, v string) []tarEntry { return []tarEntry{tFile("/abs/path", "abs", 0o644)} },
			result{inside: map[string]string{"abs/path": "abs"}},
		},
		"absolute name of the sentinel": {
			func(o, v string) []tarEntry { return []tarEntry{tFile(o+"/x", "x", 0o644)} },
			result{inside: map[string]string{"@OUT/x": "x"}},
		},
		"absolute symlink then a file through it": {
			func(o, v string) []tarEntry { return []tarEntry{tSymlink("lnk", o), tFile("lnk/file", "pwned", 0o644)} },
			result{err: true}, // the link dangles inside root
		},
		"absolute symlink whose in-root target exists": {
			func(o, v string) []tarEntry {
				return []tarEntry{tDir(o+"/", 0o755), tSymlink("lnk", o), tFile("lnk/file", "in", 0o644)}
			},
			result{inside: map[string]string{"@OUT/file": "in"}},
		},
		"relative symlink escaping": {
			func(o, v string) []tarEntry {
				return []tarEntry{tSymlink("lnk", "../../../../../../../.."), tFile("lnk/file", "clamped", 0o644)}
			},
			result{inside: map[string]string{"file": "clamped"}},
		},
		"relative symlink to the sentinel by name": {
			func(o, v string) []tarEntry {
				return []tarEntry{tSymlink("lnk", "../outside"), tFile("lnk/file", "x", 0o644)}
			},
			result{err: true},
		},
		"nested symlinks escaping": {
			func(o, v string) []tarEntry {
				return []tarEntry{tDir("a/", 0o755), tSymlink("a/up", ".."), tSymlink("a/b", "up/up/up/outside"), tFile("a/b/file", "x", 0o644)}
			},
			result{err: true},
		},
		"hard link to an outside path": {
			func(o, v string) []tarEntry { return []tarEntry{tHardlink("hl", "../victim/file")} },
			result{err: true},
		},
		"hard link through an absolute symlink": {
			func(o, v string) []tarEntry { return []tarEntry{tSymlink("lnk", v), tHardlink("hl", "lnk/file")} },
			result{err: true},
		},
		"hard link to an absolute outside path": {
			func(o, v string) []tarEntry { return []tarEntry{tHardlink("hl", v+"/file")} },
			result{err: true},
		},
		"file over a symlink to an outside file": {
			func(o, v string) []tarEntry {
				return []tarEntry{tSymlink("lnk", v+"/file"), tFile("lnk", "replaced", 0o644)}
			},
			result{inside: map[string]string{"lnk": "replaced"}},
		},
		"whiteout through a symlink": {
			func(o, v string) []tarEntry { return []tarEntry{tSymlink("lnk", v), tWhiteout("lnk/.wh.file")} },
			result{err: true},
		},
		"opaque marker through a symlink": {
			func(o, v string) []tarEntry { return []tarEntry{tSymlink("lnk", v), tWhiteout("lnk/.wh..wh..opq")} },
			result{err: true},
		},
		"symlink loop": {
			func(o, v string) []tarEntry {
				return []tarEntry{tSymlink("a", "b"), tSymlink("b", "a"), tFile("a/x", "x", 0o644)}
			},
			result{err: true},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			root, outside, victim := filepath.Join(base, "root"), filepath.Join(base, "outside"), filepath.Join(base, "victim")
			for _, d := range []string{root, outside, victim} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(victim, "file"), []byte("victim"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Apply(context.Background(), root, bytes.NewReader(buildTar(t, c.ents(outside, victim)...)), testApplyOpts())
			t.Logf("Apply: %v", err)
			if c.want.err && err == nil {
				t.Error("Apply accepted the layer")
			}
			if !c.want.err && err != nil {
				t.Errorf("Apply: %v", err)
			}
			checkConfined(t, base)
			for p, want := range c.want.inside {
				p = strings.ReplaceAll(p, "@OUT", outside)
				if got := readFile(t, filepath.Join(root, p)); got != want {
					t.Errorf("%s = %q, want %q", p, got, want)
				}
			}
		})
	}
}

// checkConfined checks that base holds only root, an empty outside and an untouched victim.
func checkConfined(t testing.TB, base string) {
	t.Helper()
	names, err := readDirNames(base)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"outside", "root", "victim"}; !slices.Equal(names, want) {
		t.Errorf("beside root: %v, want %v", names, want)
	}
	if names, _ := readDirNames(filepath.Join(base, "outside")); len(names) != 0 {
		t.Errorf("created outside root: %v", names)
	}
	if names, _ := readDirNames(filepath.Join(base, "victim")); !slices.Equal(names, []string{"file"}) {
		t.Errorf("victim dir changed: %v", names)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(base, "victim/file"), &st); err != nil || st.Nlink != 1 || st.Size != int64(len("victim")) {
		t.Errorf("victim file changed: nlink %d size %d err %v", st.Nlink, st.Size, err)
	}
}

func TestApplyContextCanceled(t *testing.T) {
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Apply(ctx, root, bytes.NewReader(buildTar(t, tFile("f", "x", 0o644))), testApplyOpts())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a canceled context: %v", err)
	}
	if names, _ := readDirNames(root); len(names) != 0 {
		t.Fatalf("entries extracted after cancel: %v", names)
	}
}

// TestApplyReadsToEOF checks the stream is drained past the tar end, so a digest of everything
// the caller fed in can be compared with the diff ID.
func TestApplyReadsToEOF(t *testing.T) {
	in := append(buildTar(t, tFile("f", "x", 0o644)), make([]byte, 4096)...)
	r := bytes.NewReader(in)
	if _, err := Apply(context.Background(), t.TempDir(), r, testApplyOpts()); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes left unread", r.Len())
	}
}

func TestApplyTruncatedTar(t *testing.T) {
	tarb := buildTar(t, tFile("f", strings.Repeat("x", 10000), 0o644))
	if _, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(tarb[:3000]), testApplyOpts()); err == nil {
		t.Fatal("truncated layer accepted")
	}
}

func TestApplyMissingRoot(t *testing.T) {
	_, err := Apply(context.Background(), filepath.Join(t.TempDir(), "nope"), bytes.NewReader(nil), ApplyOptions{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Apply into a missing root: %v", err)
	}
}

func TestApplyCompressedLayers(t *testing.T) {
	plain := buildTar(t, tDir("d/", 0o755), tFile("d/f", "compressed content", 0o644))
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(plain)
	gw.Close()
	zw, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(plain)
	zw.Close()
	for name, blob := range map[string][]byte{"plain": plain, "gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		t.Run(name, func(t *testing.T) {
			rc, err := Decompress(bytes.NewReader(blob))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			root := t.TempDir()
			if _, err := Apply(context.Background(), root, rc, testApplyOpts()); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(root, "d/f")); got != "compressed content" {
				t.Fatalf("d/f = %q", got)
			}
			if rest, _ := io.ReadAll(rc); len(rest) != 0 {
				t.Fatalf("%d bytes left after Apply", len(rest))
			}
		})
	}
}

func TestApplyRootEntry(t *testing.T) {
	root, _ := applyTar(t, testApplyOpts(), tDir("./", 0o750), tFile("./f", "x", 0o644))
	if st := lstat(t, root); st.Mode != unix.S_IFDIR|0o750 || st.Mtim.Sec != tarTestTime.Unix() {
		t.Errorf("root: mode %o mtime %d", st.Mode, st.Mtim.Sec)
	}
	if _, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(buildTar(t, tFile(".", "", 0o644))), testApplyOpts()); err == nil {
		t.Error("a regular file as the layer root was accepted")
	}
}
