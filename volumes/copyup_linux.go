package volumes

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// CopyUp copies the content of directory src into the empty directory dst,
// as Docker fills a new volume with what the image has at its mount path.
// It keeps what Docker keeps: contents, owners, modes (setuid, setgid and
// sticky too), access and modification times, extended attributes
// (security.capability among them; those dst's filesystem does not support
// are skipped), symlinks as symlinks, hard links within src as hard links,
// device nodes, fifos and sockets; holes in sparse files are not kept. dst
// then gets src's own owner, mode, times and attributes (the MySQL data
// directory keeps its owner).
//
// It never follows a symlink: not src itself (a symlink is ErrInvalid;
// resolve it within the container's root first), not one in src. A
// missing src is an error matching fs.ErrNotExist: nothing to copy. A dst
// that is not empty is ErrInvalid; the caller decides. When the copy
// fails, what it made in dst is removed.
func CopyUp(src, dst string) (err error) {
	sfd, err := openDir(src)
	if err != nil {
		return fmt.Errorf("copy-up from %s: %w", src, err)
	}
	defer unix.Close(sfd)
	dfd, err := openDir(dst)
	if err != nil {
		return fmt.Errorf("copy-up into %s: %w", dst, err)
	}
	defer unix.Close(dfd)
	var sst, dst0 unix.Stat_t
	if err := unix.Fstat(sfd, &sst); err != nil {
		return &os.PathError{Op: "fstat", Path: src, Err: err}
	}
	if err := unix.Fstat(dfd, &dst0); err != nil {
		return &os.PathError{Op: "fstat", Path: dst, Err: err}
	}
	if sst.Dev == dst0.Dev && sst.Ino == dst0.Ino {
		return invalidf("copy-up from %s into %s: the same directory", src, dst)
	}
	names, err := readNames(dfd, dst)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return invalidf("copy-up into %s: the directory is not empty", dst)
	}
	names, err = readNames(sfd, src)
	if err != nil {
		return err
	}
	c := &copier{dstRoot: dfd, dstKey: fileKey{dst0.Dev, dst0.Ino}, links: map[fileKey]string{}}
	defer func() {
		if err == nil {
			return
		}
		// dst was empty: what is in it now is this copy's.
		for _, name := range c.made {
			_ = removeAt(dfd, dst, name, dst0.Dev)
		}
		err = fmt.Errorf("copy-up from %s into %s: %w", src, dst, err)
	}()
	for _, name := range names {
		if err := c.copy(sfd, dfd, src, dst, "", name); err != nil {
			return err
		}
	}
	if err := copyMeta(&sst, dfd, fdXattrs(sfd), fdXattrs(dfd), dst); err != nil {
		return err
	}
	return setTimes(unix.AT_FDCWD, dst, dst, &sst)
}

// openDir opens a directory that is not a symlink; its errors do not
// repeat the path.
func openDir(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == nil {
		return fd, nil
	}
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			return -1, invalidf("a symbolic link, not a directory")
		}
		return -1, invalidf("not a directory")
	}
	return -1, err
}

type fileKey struct{ dev, ino uint64 }

type copier struct {
	dstRoot int
	dstKey  fileKey // dst itself, which must not be met inside src
	// links maps a source file with more than one link to the path,
	// relative to dst, of its first copy.
	links map[fileKey]string
	made  []string // the entries made at dst's top
}

// copy copies the entry name of the source directory sdir (path spath) into
// the directory ddir (path dpath, rel relative to dst).
func (c *copier) copy(sdir, ddir int, spath, dpath, rel, name string) error {
	sp, dp, rp := filepath.Join(spath, name), filepath.Join(dpath, name), filepath.Join(rel, name)
	var st unix.Stat_t
	if err := unix.Fstatat(sdir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lstat", Path: sp, Err: err}
	}
	made := func() {
		if rel == "" {
			c.made = append(c.made, name)
		}
	}
	key := fileKey{st.Dev, st.Ino}
	typ := st.Mode & unix.S_IFMT
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		if first, ok := c.links[key]; ok {
			if err := unix.Linkat(c.dstRoot, first, ddir, name, 0); err != nil {
				return &os.PathError{Op: "link", Path: dp, Err: err}
			}
			made()
			return nil
		}
	}
	switch typ {
	case unix.S_IFDIR:
		if key == c.dstKey {
			return invalidf("%s is inside the source %s", dp, spath)
		}
		if err := unix.Mkdirat(ddir, name, 0o700); err != nil {
			return &os.PathError{Op: "mkdir", Path: dp, Err: err}
		}
		made()
		if err := c.copyDir(sdir, ddir, sp, dp, rp, name, &st); err != nil {
			return err
		}
	case unix.S_IFREG:
		if err := copyFile(sdir, ddir, sp, dp, name, &st, made); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := readlinkat(sdir, name, sp)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(target, ddir, name); err != nil {
			return &os.PathError{Op: "symlink", Path: dp, Err: err}
		}
		made()
		if err := copyMetaAt(&st, sdir, ddir, name, dp); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknodat(ddir, name, st.Mode, int(st.Rdev)); err != nil {
			return &os.PathError{Op: "mknod", Path: dp, Err: err}
		}
		made()
		if err := copyMetaAt(&st, sdir, ddir, name, dp); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: unknown file type %#o", sp, typ)
	}
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		c.links[key] = rp
	}
	// Last: copying into a directory changes its times.
	return setTimes(ddir, name, dp, &st)
}

// copyDir copies the content of the source directory name (statted st)
// into the directory of that name just made in ddir, then its metadata.
func (c *copier) copyDir(sdir, ddir int, sp, dp, rel, name string, st *unix.Stat_t) error {
	sfd, err := unix.Openat(sdir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: sp, Err: err}
	}
	defer unix.Close(sfd)
	if err := sameFile(sfd, st, sp); err != nil {
		return err
	}
	dfd, err := unix.Openat(ddir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dp, Err: err}
	}
	defer unix.Close(dfd)
	names, err := readNames(sfd, sp)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := c.copy(sfd, dfd, sp, dp, rel, n); err != nil {
			return err
		}
	}
	return copyMeta(st, dfd, fdXattrs(sfd), fdXattrs(dfd), dp)
}

// copyFile copies the regular file name (statted st) of sdir into ddir,
// calling made once it exists.
func copyFile(sdir, ddir int, sp, dp, name string, st *unix.Stat_t, made func()) error {
	// O_NONBLOCK: should a fifo take its place meanwhile, open does not
	// hang, and sameFile refuses it.
	sfd, err := unix.Openat(sdir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: sp, Err: err}
	}
	sf := os.NewFile(uintptr(sfd), sp)
	defer sf.Close()
	if err := sameFile(sfd, st, sp); err != nil {
		return err
	}
	dfd, err := unix.Openat(ddir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: dp, Err: err}
	}
	made()
	df := os.NewFile(uintptr(dfd), dp)
	if _, err := io.Copy(df, sf); err != nil {
		df.Close()
		return err
	}
	// After the data: writing would drop setuid bits and capabilities.
	if err := copyMeta(st, dfd, fdXattrs(sfd), fdXattrs(dfd), dp); err != nil {
		df.Close()
		return err
	}
	return df.Close()
}

// sameFile checks that fd is the file statted as st.
func sameFile(fd int, st *unix.Stat_t, path string) error {
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil {
		return &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if now.Dev != st.Dev || now.Ino != st.Ino || now.Mode&unix.S_IFMT != st.Mode&unix.S_IFMT {
		return fmt.Errorf("%s changed during the copy", path)
	}
	return nil
}

func readlinkat(dirfd int, name, path string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", &os.PathError{Op: "readlink", Path: path, Err: err}
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// copyMeta gives the open file fd (path dp) the owner and mode of st and
// the extended attributes of from. Owner first: chown drops setuid bits
// and security.capability.
func copyMeta(st *unix.Stat_t, fd int, from, to xattrs, dp string) error {
	if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil {
		return &os.PathError{Op: "chown", Path: dp, Err: err}
	}
	if err := unix.Fchmod(fd, st.Mode&0o7777); err != nil {
		return &os.PathError{Op: "chmod", Path: dp, Err: err}
	}
	return copyXattrs(from, to, dp)
}

// copyMetaAt is copyMeta for what cannot be opened (symlinks, devices,
// fifos, sockets): name in the directories sdir and ddir, never followed.
func copyMetaAt(st *unix.Stat_t, sdir, ddir int, name, dp string) error {
	if err := unix.Fchownat(ddir, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lchown", Path: dp, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// Not a symlink, so nothing to follow; the mode, not the umask.
		if err := unix.Fchmodat(ddir, name, st.Mode&0o7777, 0); err != nil {
			return &os.PathError{Op: "chmod", Path: dp, Err: err}
		}
	}
	return copyXattrs(pathXattrs(sdir, name), pathXattrs(ddir, name), dp)
}

// setTimes gives name in dirfd (path, for errors), not followed, the
// access and modification times of st.
func setTimes(dirfd int, name, path string, st *unix.Stat_t) error {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: path, Err: err}
	}
	return nil
}

// xattrs reads and writes the extended attributes of one file.
type xattrs struct {
	list func(dest []byte) (int, error)
	get  func(attr string, dest []byte) (int, error)
	set  func(attr string, data []byte) error
}

func fdXattrs(fd int) xattrs {
	return xattrs{
		list: func(dest []byte) (int, error) { return unix.Flistxattr(fd, dest) },
		get:  func(attr string, dest []byte) (int, error) { return unix.Fgetxattr(fd, attr, dest) },
		set:  func(attr string, data []byte) error { return unix.Fsetxattr(fd, attr, data, 0) },
	}
}

// pathXattrs are those of name in the directory dirfd, not followed if a
// symlink: through /proc/self/fd, so that no other path is resolved.
func pathXattrs(dirfd int, name string) xattrs {
	p := "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name
	return xattrs{
		list: func(dest []byte) (int, error) { return unix.Llistxattr(p, dest) },
		get:  func(attr string, dest []byte) (int, error) { return unix.Lgetxattr(p, attr, dest) },
		set:  func(attr string, data []byte) error { return unix.Lsetxattr(p, attr, data, 0) },
	}
}

// readSized calls read with a buffer big enough for what it returns.
func readSized(read func([]byte) (int, error)) ([]byte, error) {
	for {
		n, err := read(nil)
		if err != nil || n == 0 {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = read(buf)
		if errors.Is(err, unix.ERANGE) {
			continue // grew meanwhile
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// copyXattrs copies every extended attribute; one the destination's
// filesystem does not support is skipped.
func copyXattrs(from, to xattrs, dp string) error {
	list, err := readSized(from.list)
	if errors.Is(err, unix.ENOTSUP) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "listxattr", Path: dp, Err: err}
	}
	for len(list) > 0 {
		i := 0
		for i < len(list) && list[i] != 0 {
			i++
		}
		attr := string(list[:i])
		list = list[min(i+1, len(list)):]
		if attr == "" {
			continue
		}
		val, err := readSized(func(dest []byte) (int, error) { return from.get(attr, dest) })
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return &os.PathError{Op: "getxattr " + attr, Path: dp, Err: err}
		}
		if val == nil {
			val = []byte{}
		}
		if err := to.set(attr, val); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return &os.PathError{Op: "setxattr " + attr, Path: dp, Err: err}
		}
	}
	return nil
}
