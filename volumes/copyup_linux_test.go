package volumes

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tree builds a source tree for CopyUp.
type tree struct {
	t    *testing.T
	root string
}

func newTree(t *testing.T) *tree {
	t.Helper()
	root := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return &tree{t, root}
}

func (tr *tree) path(name string) string { return filepath.Join(tr.root, name) }

func (tr *tree) check(err error) {
	tr.t.Helper()
	if err != nil {
		tr.t.Fatal(err)
	}
}

func (tr *tree) file(name, content string, mode uint32) {
	tr.t.Helper()
	tr.check(os.MkdirAll(filepath.Dir(tr.path(name)), 0o755))
	tr.check(os.WriteFile(tr.path(name), []byte(content), 0o600))
	tr.check(unix.Chmod(tr.path(name), mode))
}

func (tr *tree) dir(name string, mode uint32) {
	tr.t.Helper()
	tr.check(os.MkdirAll(tr.path(name), 0o755))
	tr.check(unix.Chmod(tr.path(name), mode))
}

func (tr *tree) symlink(name, target string) {
	tr.t.Helper()
	tr.check(os.Symlink(target, tr.path(name)))
}

func (tr *tree) mknod(name string, mode uint32, dev int) {
	tr.t.Helper()
	tr.check(unix.Mknod(tr.path(name), mode, dev))
	tr.check(unix.Fchmodat(unix.AT_FDCWD, tr.path(name), mode&0o7777, 0))
}

func (tr *tree) chown(name string, uid, gid int) {
	tr.t.Helper()
	tr.check(os.Lchown(tr.path(name), uid, gid))
}

func (tr *tree) xattr(name, attr, value string) {
	tr.t.Helper()
	tr.check(unix.Lsetxattr(tr.path(name), attr, []byte(value), 0))
}

// times sets the access and modification times of name, not followed.
func (tr *tree) times(name string, atime, mtime time.Time) {
	tr.t.Helper()
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	tr.check(unix.UtimesNanoAt(unix.AT_FDCWD, tr.path(name), ts, unix.AT_SYMLINK_NOFOLLOW))
}

func emptyDir(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "dst")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

func lstat(t *testing.T, path string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func listXattrs(t *testing.T, path string) map[string]string {
	t.Helper()
	names, err := readSized(func(b []byte) (int, error) { return unix.Llistxattr(path, b) })
	if err != nil {
		t.Fatalf("llistxattr %s: %v", path, err)
	}
	out := map[string]string{}
	for _, name := range strings.Split(string(names), "\x00") {
		if name == "" {
			continue
		}
		v, err := readSized(func(b []byte) (int, error) { return unix.Lgetxattr(path, name, b) })
		if err != nil {
			t.Fatalf("lgetxattr %s %s: %v", path, name, err)
		}
		out[name] = string(v)
	}
	return out
}

// sameTree checks that dst holds what src holds, entry by entry: type,
// mode, owner, device numbers, modification time, content, symlink
// target and extended attributes, and nothing more.
func sameTree(t *testing.T, src, dst string) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		seen[rel] = true
		q := filepath.Join(dst, rel)
		s, c := lstat(t, p), lstat(t, q)
		if s.Mode != c.Mode || s.Uid != c.Uid || s.Gid != c.Gid || s.Rdev != c.Rdev {
			t.Errorf("%s: mode %#o owner %d:%d rdev %d; want %#o %d:%d %d", rel, c.Mode, c.Uid, c.Gid, c.Rdev, s.Mode, s.Uid, s.Gid, s.Rdev)
		}
		if s.Mtim != c.Mtim {
			t.Errorf("%s: mtime %v, want %v", rel, time.Unix(c.Mtim.Unix()), time.Unix(s.Mtim.Unix()))
		}
		if sx, cx := listXattrs(t, p), listXattrs(t, q); !maps.Equal(sx, cx) {
			t.Errorf("%s: xattrs %q, want %q", rel, cx, sx)
		}
		switch s.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			a, err1 := os.ReadFile(p)
			b, err2 := os.ReadFile(q)
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				t.Errorf("%s: content differs (%v, %v)", rel, err1, err2)
			}
		case unix.S_IFLNK:
			a, _ := os.Readlink(p)
			if b, err := os.Readlink(q); err != nil || a != b {
				t.Errorf("%s: symlink to %q (%v), want %q", rel, b, err, a)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(dst, p); !seen[rel] {
			t.Errorf("%s: in the copy, not in the source", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

var (
	time1 = time.Date(2001, 1, 1, 1, 1, 1, 123456789, time.UTC)
	time2 = time.Date(2002, 2, 2, 2, 2, 2, 987654321, time.UTC)
)

func checkAtime(t *testing.T, path string, want time.Time) {
	t.Helper()
	if st := lstat(t, path); st.Atim != unix.NsecToTimespec(want.UnixNano()) {
		t.Errorf("%s: atime %v, want %v", path, time.Unix(st.Atim.Unix()), want)
	}
}

func TestCopyUp(t *testing.T) {
	tr := newTree(t)
	tr.file("file.txt", "hello", 0o640)
	tr.file("setuid", "#!/bin/sh\n", 0o4755)
	tr.file("setgid", "#!/bin/sh\n", 0o2755)
	tr.dir("sgid-dir", 0o2775)
	tr.dir("tmp", 0o1777)
	tr.dir("empty", 0o700)
	tr.file("deep/a/b/c/leaf", "leaf", 0o444)
	tr.file("hard1", "linked", 0o600)
	tr.dir("sub", 0o755)
	tr.check(os.Link(tr.path("hard1"), tr.path("sub/hard2")))
	tr.symlink("link-rel", "file.txt")
	tr.symlink("link-abs", "/etc/passwd")
	tr.symlink("link-dir", "/etc")
	tr.symlink("sub/up", "../deep")
	tr.symlink("dangling", "nowhere")
	tr.check(unix.Mkfifo(tr.path("fifo"), 0o620))
	tr.mknod("sock", unix.S_IFSOCK|0o755, 0)
	big := bytes.Repeat([]byte("berth volume "), 100_000)
	tr.check(os.WriteFile(tr.path("big"), big, 0o644))
	xattrs := true
	if err := unix.Lsetxattr(tr.path("file.txt"), "user.berth", []byte("v"), 0); errors.Is(err, unix.ENOTSUP) {
		t.Logf("no user xattrs on %s's filesystem: not checking them", tr.root)
		xattrs = false
	} else {
		tr.check(err)
		tr.xattr("file.txt", "user.empty", "")
		tr.xattr("sgid-dir", "user.dir", "on a directory")
	}
	tr.times("file.txt", time1, time2)
	tr.times("link-rel", time2, time1)
	tr.times("fifo", time1, time1)
	tr.times("deep/a/b", time1, time2)
	tr.times("deep/a", time1, time2)
	tr.check(unix.Chmod(tr.root, 0o750))
	tr.times(".", time2, time1)

	dst := emptyDir(t)
	if err := CopyUp(tr.root, dst); err != nil {
		t.Fatal(err)
	}
	checkAtime(t, filepath.Join(dst, "file.txt"), time1)
	checkAtime(t, filepath.Join(dst, "link-rel"), time2)
	checkAtime(t, filepath.Join(dst, "deep/a"), time1)
	checkAtime(t, dst, time2)
	sameTree(t, tr.root, dst)
	h1, h2 := lstat(t, filepath.Join(dst, "hard1")), lstat(t, filepath.Join(dst, "sub/hard2"))
	if h1.Ino != h2.Ino || h1.Nlink != 2 {
		t.Errorf("hard links: inodes %d and %d, %d links; want one inode, 2 links", h1.Ino, h2.Ino, h1.Nlink)
	}
	// Symlinks out of the source stay symlinks; nothing they point to is
	// copied.
	if st := lstat(t, filepath.Join(dst, "link-dir")); st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("link-dir: mode %#o, want a symlink", st.Mode)
	}
	if xattrs {
		if x := listXattrs(t, filepath.Join(dst, "file.txt")); x["user.berth"] != "v" {
			t.Errorf("file.txt: xattrs %q", x)
		}
	}
}

// vfsCapV2 is a security.capability value (struct vfs_cap_data, revision
// 2) giving CAP_NET_BIND_SERVICE, effective.
func vfsCapV2() []byte {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], 0x02000000|0x1)
	binary.LittleEndian.PutUint32(b[4:], 1<<unix.CAP_NET_BIND_SERVICE)
	return b
}

func TestCopyUpOwnersDevicesCapabilities(t *testing.T) {
	requireRoot(t)
	tr := newTree(t)
	tr.file("owned", "x", 0o640)
	tr.chown("owned", 1000, 2000)
	// chown clears setuid: set it after, as an image has it.
	tr.file("setuid", "x", 0o755)
	tr.chown("setuid", 1001, 1001)
	tr.check(unix.Chmod(tr.path("setuid"), 0o4755))
	tr.file("setgid", "x", 0o755)
	tr.chown("setgid", 0, 50)
	tr.check(unix.Chmod(tr.path("setgid"), 0o2755))
	tr.file("ping", "x", 0o755)
	tr.xattr("ping", "security.capability", string(vfsCapV2()))
	tr.file("trusted", "x", 0o644)
	tr.xattr("trusted", "trusted.berth", "root only")
	tr.mknod("null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
	tr.mknod("loop0", unix.S_IFBLK|0o660, int(unix.Mkdev(7, 0)))
	tr.chown("loop0", 0, 6)
	tr.mknod("fifo", unix.S_IFIFO|0o640, 0)
	tr.chown("fifo", 33, 33)
	tr.symlink("link", "owned")
	tr.chown("link", 1002, 1003)
	tr.file("mysql/ibdata1", "rows", 0o640)
	tr.chown("mysql/ibdata1", 999, 999)
	tr.check(unix.Chmod(tr.path("mysql"), 0o750))
	tr.chown("mysql", 999, 999)
	// The image's directory itself: the volume takes its owner and mode.
	tr.check(unix.Chmod(tr.root, 0o700))
	tr.chown(".", 999, 999)
	dst := emptyDir(t)
	if err := CopyUp(tr.root, dst); err != nil {
		t.Fatal(err)
	}
	sameTree(t, tr.root, dst)
	if st := lstat(t, dst); st.Uid != 999 || st.Gid != 999 || st.Mode&0o7777 != 0o700 {
		t.Errorf("dst: owner %d:%d mode %#o; want the source's 999:999 0700", st.Uid, st.Gid, st.Mode&0o7777)
	}
	if st := lstat(t, filepath.Join(dst, "setuid")); st.Mode&0o7777 != 0o4755 || st.Uid != 1001 {
		t.Errorf("setuid: mode %#o owner %d", st.Mode&0o7777, st.Uid)
	}
	if x := listXattrs(t, filepath.Join(dst, "ping")); x["security.capability"] != string(vfsCapV2()) {
		t.Errorf("security.capability: %x, want %x", x["security.capability"], vfsCapV2())
	}
	if st := lstat(t, filepath.Join(dst, "null")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("null: mode %#o rdev %d", st.Mode, st.Rdev)
	}
}

// A copy that fails half-way (here: the volume is full) leaves dst as
// it found it, empty.
func TestCopyUpFailureLeavesDstEmpty(t *testing.T) {
	requireRoot(t)
	tr := newTree(t)
	tr.file("a/small", "x", 0o644)
	tr.file("b", "x", 0o644)
	tr.check(os.Link(tr.path("b"), tr.path("c")))
	tr.file("m/big", strings.Repeat("x", 1<<20), 0o644)
	dst := emptyDir(t)
	if err := unix.Mount("tmpfs", dst, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unmountAll(dst) })
	err := CopyUp(tr.root, dst)
	if !errors.Is(err, unix.ENOSPC) || !strings.HasPrefix(err.Error(), "copy-up from "+tr.root+" into "+dst+": ") {
		t.Fatalf("CopyUp into a full volume = %v", err)
	}
	if empty, err := IsEmpty(dst); err != nil || !empty {
		t.Errorf("dst after a failed copy: empty %v, %v", empty, err)
	}
}

func TestCopyUpRefuses(t *testing.T) {
	t.Run("a non-empty dst", func(t *testing.T) {
		tr := newTree(t)
		tr.file("f", "image", 0o644)
		dst := emptyDir(t)
		if err := os.WriteFile(filepath.Join(dst, "mine"), []byte("volume"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := CopyUp(tr.root, dst)
		if !errors.Is(err, ErrInvalid) || err.Error() != "copy-up into "+dst+": the directory is not empty" {
			t.Fatalf("CopyUp = %v", err)
		}
		ents, _ := os.ReadDir(dst)
		if b, _ := os.ReadFile(filepath.Join(dst, "mine")); len(ents) != 1 || string(b) != "volume" {
			t.Errorf("dst changed: %v %q", ents, b)
		}
	})
	t.Run("a symlink as src", func(t *testing.T) {
		tr := newTree(t)
		link := filepath.Join(t.TempDir(), "link")
		if err := os.Symlink(tr.root, link); err != nil {
			t.Fatal(err)
		}
		if err := CopyUp(link, emptyDir(t)); !errors.Is(err, ErrInvalid) || err.Error() != "copy-up from "+link+": a symbolic link, not a directory" {
			t.Fatalf("CopyUp = %v", err)
		}
	})
	t.Run("a file as src", func(t *testing.T) {
		tr := newTree(t)
		tr.file("f", "", 0o644)
		if err := CopyUp(tr.path("f"), emptyDir(t)); !errors.Is(err, ErrInvalid) || err.Error() != "copy-up from "+tr.path("f")+": not a directory" {
			t.Fatalf("CopyUp = %v", err)
		}
	})
	t.Run("a missing src", func(t *testing.T) {
		if err := CopyUp(filepath.Join(t.TempDir(), "missing"), emptyDir(t)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("CopyUp = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("dst as src", func(t *testing.T) {
		dst := emptyDir(t)
		if err := CopyUp(dst, dst); !errors.Is(err, ErrInvalid) {
			t.Fatalf("CopyUp = %v", err)
		}
	})
	t.Run("dst inside src", func(t *testing.T) {
		tr := newTree(t)
		tr.file("a", "x", 0o644)
		tr.file("z", "x", 0o644)
		tr.dir("vol", 0o755)
		err := CopyUp(tr.root, tr.path("vol"))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "inside the source") {
			t.Fatalf("CopyUp = %v", err)
		}
		if empty, err := IsEmpty(tr.path("vol")); err != nil || !empty {
			t.Errorf("dst after a refused copy: empty %v, %v", empty, err)
		}
	})
}
