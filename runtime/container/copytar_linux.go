package container

// The bytes of docker cp: a tar archive of one tree written from a directory descriptor, and
// an archive extracted below a directory descriptor. Both sides work only through descriptors
// and single path elements with no symlink followed, or through openat2(2) with the root of
// the tree as the limit, so that a container (running, and changing its files while they are
// copied) can never send a copy outside its own file system: not through an absolute or ".."
// symlink, not through a path swapped for a symlink between two calls (CVE-2018-15664).

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/runtime/rootfs"
)

// inRoot resolves container paths: absolute symlinks and ".." stop at the descriptor they
// start from, and /proc's magic links are refused.
const inRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// beneath resolves host paths below a destination directory: nothing may leave it.
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

// openIn is openat2(2) from root with resolve, retried on EAGAIN and EINTR (the kernel's
// answer when a concurrent rename might have let a lookup escape).
func openIn(root int, p string, flags uint64, resolve uint64) (int, error) {
	if p == "" {
		p = "."
	}
	return rootfs.Openat2(root, p, flags, resolve)
}

// openDirAll opens the directory p below root as an O_PATH descriptor, making the
// directories that are missing (0755), each resolved as the rest.
func openDirAll(root int, p string, resolve uint64) (int, error) {
	fd, err := openIn(root, p, unix.O_PATH|unix.O_DIRECTORY, resolve)
	if err != unix.ENOENT {
		return fd, err
	}
	parent := path.Dir(p)
	if parent == p {
		return -1, err
	}
	pfd, err := openDirAll(root, parent, resolve)
	if err != nil {
		return -1, err
	}
	err = unix.Mkdirat(pfd, path.Base(p), 0o755)
	unix.Close(pfd)
	if err != nil && err != unix.EEXIST {
		return -1, err
	}
	return openIn(root, p, unix.O_PATH|unix.O_DIRECTORY, resolve)
}

// procPath names the file open at fd, for the calls that take no descriptor (chmod,
// utimensat of an O_PATH descriptor); the kernel follows the link to that very file.
func procPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// readlinkAt reads the symlink name in dirfd.
func readlinkAt(dirfd int, name string) (string, error) {
	for size := 256; size <= 1<<16; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
	return "", unix.ENAMETOOLONG
}

// fileKey identifies a file with several names, so that the archive holds its content once.
type fileKey struct{ dev, ino uint64 }

// archiver writes one tree as a tar archive, in name order, as Docker's does: directories,
// regular files (content once per inode, further names as hard links), symlinks as they are,
// devices and fifos; sockets are left out (tar has no type for them).
type archiver struct {
	ctx   context.Context
	tw    *tar.Writer
	links map[fileKey]string
	size  int64
}

// writeArchive archives the entry name of dirfd ("." for dirfd itself) to w, its top entry
// named top, and returns the bytes of file content written.
func writeArchive(ctx context.Context, w io.Writer, dirfd int, name, top string) (int64, error) {
	a := &archiver{ctx: ctx, tw: tar.NewWriter(w), links: map[fileKey]string{}}
	if err := a.add(dirfd, name, top); err != nil {
		return a.size, err
	}
	return a.size, a.tw.Close()
}

func (a *archiver) add(dirfd int, name, arc string) error {
	if err := a.ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lstat", Path: arc, Err: err}
	}
	hdr := &tar.Header{
		Name: arc, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()), Format: tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return a.addDir(dirfd, name, hdr)
	case unix.S_IFREG:
		return a.addFile(dirfd, name, hdr)
	case unix.S_IFLNK:
		target, err := readlinkAt(dirfd, name)
		if err != nil {
			return &os.PathError{Op: "readlink", Path: arc, Err: err}
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		hdr.Typeflag = map[uint32]byte{unix.S_IFCHR: tar.TypeChar, unix.S_IFBLK: tar.TypeBlock, unix.S_IFIFO: tar.TypeFifo}[st.Mode&unix.S_IFMT]
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	default:
		return nil
	}
	return a.tw.WriteHeader(hdr)
}

// addDir writes the directory and then its entries. It is opened with O_NOFOLLOW: if it was
// swapped for a symlink since the stat, the open fails instead of following it.
func (a *archiver) addDir(dirfd int, name string, hdr *tar.Header) error {
	arc := hdr.Name
	hdr.Typeflag, hdr.Name = tar.TypeDir, arc+"/"
	if err := a.tw.WriteHeader(hdr); err != nil {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: arc, Err: err}
	}
	dir := os.NewFile(uintptr(fd), arc)
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		if err := a.add(fd, n, arc+"/"+n); err != nil {
			return err
		}
	}
	return nil
}

// addFile writes a regular file: opened without following a symlink and without blocking on
// a fifo swapped in since the stat, checked again on the descriptor, and written with the
// size it had then (zeros make up for a file shrinking meanwhile, as GNU tar does).
func (a *archiver) addFile(dirfd int, name string, hdr *tar.Header) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: hdr.Name, Err: err}
	}
	f := os.NewFile(uintptr(fd), hdr.Name)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s changed while it was copied", hdr.Name)
	}
	if st.Nlink > 1 {
		key := fileKey{dev: st.Dev, ino: st.Ino}
		if first, ok := a.links[key]; ok {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			return a.tw.WriteHeader(hdr)
		}
		a.links[key] = hdr.Name
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	if err := a.tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.CopyN(a.tw, f, st.Size)
	if errors.Is(err, io.EOF) {
		_, err = io.CopyN(a.tw, zeros{}, st.Size-n)
	}
	a.size += n
	return err
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// extractor unpacks an archive below one directory (Docker's Untar with
// NoOverwriteDirNonDir). Every path is resolved from root with resolve: inRoot in a
// container, beneath on the host.
type extractor struct {
	ctx     context.Context
	root    int
	resolve uint64
	// dir is the extraction directory relative to root: a container path, or "." on the host.
	dir string
	// shown is how messages name a path relative to root: the container path, or the host's.
	shown func(string) string
	// rename is applied to entry names first (nil: none).
	rename func(string) string
	// owner gives an entry's owner; ok false leaves the one creating it (the caller).
	owner func(*tar.Header) (uid, gid int, ok bool)
	// dirs get their times once everything in them is written.
	dirs []dirTime
	size int64
}

type dirTime struct {
	rel          string
	atime, mtime time.Time
}

// extract reads the archive r to its end and returns the bytes of file content written.
func (e *extractor) extract(r io.Reader) (int64, error) {
	tr := tar.NewReader(r)
	for {
		if err := e.ctx.Err(); err != nil {
			return e.size, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return e.size, err
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		raw := hdr.Name
		if e.rename != nil {
			raw = e.rename(raw)
		}
		name := path.Clean(raw)
		if name == ".." || strings.HasPrefix(name, "../") {
			return e.size, fmt.Errorf("%q is outside of %q", hdr.Name, e.shown(e.dir))
		}
		// A leading "/" is below the directory too, as in Docker's filepath.Join(dest, name).
		if name = strings.TrimLeft(name, "/"); name == "" {
			name = "."
		}
		if err := e.entry(hdr, name, tr); err != nil {
			return e.size, err
		}
	}
	// Directory times last: writing into a directory changes its mtime.
	for _, d := range slices.Backward(e.dirs) {
		fd, err := openIn(e.root, d.rel, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY, e.resolve)
		if err != nil {
			return e.size, &os.PathError{Op: "open", Path: e.shown(d.rel), Err: err}
		}
		err = setTimes(fd, d.atime, d.mtime)
		unix.Close(fd)
		if err != nil {
			return e.size, &os.PathError{Op: "chtimes", Path: e.shown(d.rel), Err: err}
		}
	}
	return e.size, nil
}

// entry writes one archive entry at name (clean, relative to the extraction directory).
func (e *extractor) entry(hdr *tar.Header, name string, r io.Reader) error {
	rel := path.Join(e.dir, name)
	if name == "." {
		// The extraction directory itself, the top of a "dir/." source: it is there already
		// and keeps its own owner, mode and times, as with Docker.
		if hdr.Typeflag == tar.TypeDir {
			return nil
		}
		return fmt.Errorf("cannot overwrite directory %q with non-directory %q", e.shown(rel), e.shown(e.dir))
	}
	parent, err := openDirAll(e.root, path.Dir(rel), e.resolve)
	if err != nil {
		return &os.PathError{Op: "mkdir", Path: e.shown(path.Dir(rel)), Err: err}
	}
	defer unix.Close(parent)
	base := path.Base(rel)
	var st unix.Stat_t
	switch err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case err == nil:
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		switch {
		case isDir && hdr.Typeflag != tar.TypeDir:
			return fmt.Errorf("cannot overwrite directory %q with non-directory %q", e.shown(rel), e.shown(e.dir))
		case !isDir && hdr.Typeflag == tar.TypeDir:
			return fmt.Errorf("cannot overwrite non-directory %q with directory %q", e.shown(rel), e.shown(e.dir))
		case !isDir:
			// Replaced, not written through: unlinkat never follows a symlink.
			if err := unix.Unlinkat(parent, base, 0); err != nil {
				return &os.PathError{Op: "remove", Path: e.shown(rel), Err: err}
			}
		}
	case err != unix.ENOENT:
		return &os.PathError{Op: "lstat", Path: e.shown(rel), Err: err}
	}
	atime, mtime := hdr.AccessTime, hdr.ModTime
	if atime.Before(mtime) {
		atime = mtime
	}
	fail := func(op string, err error) error { return &os.PathError{Op: op, Path: e.shown(rel), Err: err} }
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(parent, base, 0o700); err != nil && err != unix.EEXIST {
			return fail("mkdir", err)
		}
		fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail("open", err)
		}
		defer unix.Close(fd)
		e.dirs = append(e.dirs, dirTime{rel: rel, atime: atime, mtime: mtime})
		return e.meta(fd, hdr, rel, false)
	case tar.TypeReg:
		// O_EXCL: never written through something planted at the name since the unlink.
		fd, err := unix.Openat(parent, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fail("create", err)
		}
		f := os.NewFile(uintptr(fd), e.shown(rel))
		defer f.Close()
		n, err := io.Copy(f, r)
		e.size += n
		if err != nil {
			return err
		}
		if err := e.meta(fd, hdr, rel, false); err != nil {
			return err
		}
		return setTimes(fd, atime, mtime)
	case tar.TypeSymlink:
		// Docker's rule: a relative link must not point above the extraction directory.
		full := e.shown(rel)
		if target := path.Join(path.Dir(full), hdr.Linkname); !within(target, e.shown(e.dir)) {
			return fmt.Errorf("invalid symlink %q -> %q", full, hdr.Linkname)
		}
		if err := unix.Symlinkat(hdr.Linkname, parent, base); err != nil {
			return fail("symlink", err)
		}
		if uid, gid, ok := e.owner(hdr); ok {
			if err := unix.Fchownat(parent, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fail("lchown", err)
			}
		}
		ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
		if err := unix.UtimesNanoAt(parent, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fail("chtimes", err)
		}
		return nil
	case tar.TypeLink:
		return e.link(hdr, parent, base, rel)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
		if err := unix.Mknodat(parent, base, kind|0o600, dev); err != nil {
			return fail("mknod", err)
		}
		fd, err := unix.Openat(parent, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail("open", err)
		}
		defer unix.Close(fd)
		if err := e.meta(fd, hdr, rel, true); err != nil {
			return err
		}
		return setTimes(fd, atime, mtime)
	default:
		return fmt.Errorf("unhandled tar header type %d", hdr.Typeflag)
	}
}

// link makes a hard link to an entry extracted before, which must lie below the extraction
// directory too.
func (e *extractor) link(hdr *tar.Header, parent int, base, rel string) error {
	linkname := hdr.Linkname
	if e.rename != nil {
		linkname = e.rename(linkname)
	}
	linkname = strings.TrimLeft(path.Clean(linkname), "/")
	target := path.Join(e.shown(e.dir), linkname)
	if !within(target, e.shown(e.dir)) {
		return fmt.Errorf("invalid hardlink %q -> %q", target, hdr.Linkname)
	}
	trel := path.Join(e.dir, linkname)
	tparent, err := openIn(e.root, path.Dir(trel), unix.O_PATH|unix.O_DIRECTORY, e.resolve)
	if err != nil {
		return &os.PathError{Op: "link", Path: target, Err: err}
	}
	defer unix.Close(tparent)
	// No AT_SYMLINK_FOLLOW: a symlink at the target is linked, never what it points to.
	if err := unix.Linkat(tparent, path.Base(trel), parent, base, 0); err != nil {
		return &os.PathError{Op: "link", Path: e.shown(rel), Err: err}
	}
	return nil
}

// meta gives the entry open at fd its owner, then its mode (a chown clears setuid bits).
func (e *extractor) meta(fd int, hdr *tar.Header, rel string, opath bool) error {
	if uid, gid, ok := e.owner(hdr); ok {
		if err := unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
			return &os.PathError{Op: "lchown", Path: e.shown(rel), Err: err}
		}
	}
	mode := uint32(hdr.Mode & 0o7777)
	var err error
	if opath {
		err = unix.Fchmodat(unix.AT_FDCWD, procPath(fd), mode, 0)
	} else {
		err = unix.Fchmod(fd, mode)
	}
	if err != nil {
		return &os.PathError{Op: "chmod", Path: e.shown(rel), Err: err}
	}
	return nil
}

// setTimes sets the access and modification times of the file open at fd.
func setTimes(fd int, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, procPath(fd), ts, 0)
}

// decompressed is r uncompressed when it starts as a gzip, bzip2 or zstd stream (docker cp
// accepts a compressed archive on stdin); xz is refused by name rather than read as garbage.
func decompressed(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), func() {}, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return nil, nil, errors.New("an xz-compressed archive is not supported by berth: decompress it first (xz -dc file | berth cp - ...)")
	}
	return br, func() {}, nil
}

// pipe runs produce and consume on the two ends of a pipe and returns what consume counted.
// The consumer's error wins; a consumer that stops early closes the pipe, which ends the
// producer's writes, and the producer is always waited for.
func pipe(produce func(io.Writer) error, consume func(io.Reader) (int64, error)) (int64, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := produce(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	n, err := consume(pr)
	pr.CloseWithError(errors.New("the extraction ended"))
	perr := <-done
	if err != nil {
		return n, err
	}
	return n, perr
}
