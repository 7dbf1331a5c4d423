//go:build linux

package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Apply extracts an uncompressed layer tar from r into the directory root, in the form overlayfs
// expects of a lower directory, and returns the number of file content bytes written.
//
// Confinement: every name is taken relative to root (see applyCleanName; names climbing out
// with ".." are refused). Parent directories are resolved with openat2(RESOLVE_IN_ROOT), so a
// symlink met on the way is followed as if root were "/": an absolute or "../.." target lands
// inside root, never outside. The last component is never followed: an existing entry in the
// way is removed first (a directory over a directory merges). A parent that is missing is
// created (0755, owned by the applier); one that is a dangling symlink is an error. Hard-link
// targets are resolved the same way and must already exist in this layer; a target that climbs
// out is refused. Apply assumes nothing else writes under root while it runs.
//
// Whiteouts: ".wh.NAME" becomes a 0:0 character device NAME and ".wh..wh..opq" sets the opaque
// xattr (trusted.overlay.opaque=y, or user.overlay.opaque with opts.UserXattr) on its directory.
// Since Linux 5.8 creating a 0:0 device needs no privilege, so whiteouts work rootless too; when
// the kernel refuses anyway, Apply fails with an error saying so rather than dropping the
// deletion, which would resurrect files from lower layers.
//
// Extended attributes come from PAX SCHILY.xattr.* records, except the overlay namespaces.
// ENOTSUP is ignored (the filesystem has no such namespace), and so is EPERM where it is
// expected: security.* (LSMs may refuse), everything when not root, and user.* on entries other
// than regular files and directories. Other failures are errors.
//
// Metadata order follows the kernel's rules: content, then lchown (which clears setuid and file
// capabilities), then xattrs, then the mode, then times. Directory modes and times are applied
// after the whole layer, so their content neither changes their mtime nor is blocked by a
// read-only mode.
//
// After the tar end marker Apply reads r to EOF, so a digest computed over r covers the padding.
// ctx is checked between entries.
func Apply(ctx context.Context, root string, r io.Reader, opts ApplyOptions) (int64, error) {
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: root, Err: err}
	}
	a := &tarApplier{
		root:    root,
		rootfd:  rootfd,
		opts:    opts,
		isRoot:  os.Geteuid() == 0,
		cacheFd: -1,
	}
	defer a.close()

	tr := tar.NewReader(r)
	var written int64
	for {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return written, fmt.Errorf("reading layer tar: %w", err)
		}
		n, err := a.entry(hdr, tr)
		written += n
		if err != nil {
			return written, fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	}
	if err := a.finishDirs(); err != nil {
		return written, err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return written, fmt.Errorf("reading layer after the tar end: %w", err)
	}
	return written, nil
}

// tarApplier is the state of one Apply call.
type tarApplier struct {
	root   string
	rootfd int
	opts   ApplyOptions
	isRoot bool

	// Layers list many files per directory, so the last parent resolved is kept open. Any removal
	// or new symlink may change what a path resolves to, so those drop it (dirty).
	cacheDir string
	cacheFd  int
	dirty    bool

	dirs []applyDirMeta
	buf  []byte
}

// applyDirMeta is what Apply sets on a directory once the layer is complete.
type applyDirMeta struct {
	rel          string
	mode         uint32
	atime, mtime time.Time
}

func (a *tarApplier) close() {
	a.dropCache()
	unix.Close(a.rootfd)
}

func (a *tarApplier) dropCache() {
	if a.cacheFd >= 0 {
		unix.Close(a.cacheFd)
	}
	a.cacheFd, a.cacheDir = -1, ""
}

// full names an entry in errors the way a user finds it on disk.
func (a *tarApplier) full(rel string) string { return filepath.Join(a.root, rel) }

// applyProcPath names base inside the directory open as dirfd, for the few calls that have no
// *at form (lsetxattr). The kernel resolves the fd magic link to that very directory and does not
// follow base.
func applyProcPath(dirfd int, base string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + base
}

// openInRoot opens dir (relative to root) as an O_PATH directory, following symlinks as if root
// were "/". RESOLVE_IN_ROOT can fail with EAGAIN when a rename races the lookup; retry a little.
func (a *tarApplier) openInRoot(dir string) (int, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(a.rootfd, dir, how)
		if errors.Is(err, unix.EAGAIN) && i < 16 {
			continue
		}
		if errors.Is(err, unix.ENOSYS) {
			return -1, fmt.Errorf("openat2: %w (berth needs Linux 5.6 or later to unpack layers)", err)
		}
		return fd, err
	}
}

// resolveDir returns an fd for directory dir inside root, creating missing components when
// create is set. The caller closes the fd unless it is a.rootfd.
func (a *tarApplier) resolveDir(dir string, create bool) (int, error) {
	if dir == "." {
		return a.rootfd, nil
	}
	fd, err := a.openInRoot(dir)
	if err == nil || !errors.Is(err, unix.ENOENT) || !create {
		if err != nil {
			return -1, &os.PathError{Op: "openat2", Path: a.full(dir), Err: err}
		}
		return fd, nil
	}
	// Slow path: walk down, creating what is missing. Each component is created as a plain name
	// inside the directory its prefix resolved to, so it cannot land outside root.
	cur := a.rootfd
	comps := strings.Split(dir, "/")
	for i, c := range comps {
		prefix := strings.Join(comps[:i+1], "/")
		next, err := a.openInRoot(prefix)
		if errors.Is(err, unix.ENOENT) {
			if err := unix.Mkdirat(cur, c, 0o755); err != nil {
				if errors.Is(err, unix.EEXIST) {
					err = fmt.Errorf("%w (a dangling symlink?)", err)
				}
				a.closeNotRoot(cur)
				return -1, &os.PathError{Op: "mkdirat", Path: a.full(prefix), Err: err}
			}
			next, err = unix.Openat(cur, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
		a.closeNotRoot(cur)
		if err != nil {
			return -1, &os.PathError{Op: "openat", Path: a.full(prefix), Err: err}
		}
		cur = next
	}
	return cur, nil
}

func (a *tarApplier) closeNotRoot(fd int) {
	if fd >= 0 && fd != a.rootfd {
		unix.Close(fd)
	}
}

// parent returns the fd of directory dir, creating it if needed. The fd stays owned by a.
func (a *tarApplier) parent(dir string) (int, error) {
	if dir == "." {
		return a.rootfd, nil
	}
	if a.cacheFd >= 0 && a.cacheDir == dir {
		return a.cacheFd, nil
	}
	fd, err := a.resolveDir(dir, true)
	if err != nil {
		return -1, err
	}
	a.dropCache()
	a.cacheDir, a.cacheFd = dir, fd
	return fd, nil
}

func (a *tarApplier) entry(hdr *tar.Header, r io.Reader) (int64, error) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return 0, nil
	}
	rel, err := applyCleanName(hdr.Name)
	if err != nil {
		return 0, err
	}
	defer func() {
		if a.dirty {
			a.dropCache()
			a.dirty = false
		}
	}()
	if rel == "." {
		return 0, a.rootEntry(hdr)
	}
	dir, base := path.Dir(rel), path.Base(rel)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return 0, a.whiteout(dir, base)
	}
	pfd, err := a.parent(dir)
	if err != nil {
		return 0, err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return 0, a.mkdir(pfd, rel, base, hdr)
	case tar.TypeReg:
		return a.regular(pfd, rel, base, hdr, r)
	case tar.TypeSymlink:
		return 0, a.symlink(pfd, rel, base, hdr)
	case tar.TypeLink:
		return 0, a.hardlink(pfd, rel, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return 0, a.mknod(pfd, rel, base, hdr)
	default:
		return 0, fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
}

// rootEntry handles "./": the layer's own root directory.
func (a *tarApplier) rootEntry(hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeDir {
		return errors.New("the layer root can only be a directory")
	}
	if err := a.chown(a.rootfd, ".", "", hdr); err != nil {
		return err
	}
	a.deferDir(".", hdr)
	return nil
}

// lstatMode reports the type bits of base in pfd, 0 when absent.
func (a *tarApplier) lstatMode(pfd int, rel, base string) (uint32, error) {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return 0, nil
	}
	if err != nil {
		return 0, &os.PathError{Op: "fstatat", Path: a.full(rel), Err: err}
	}
	return st.Mode & unix.S_IFMT, nil
}

// remove deletes whatever is at base in pfd (a whole tree for a directory) without following
// symlinks.
func (a *tarApplier) remove(pfd int, rel, base string) error {
	err := unix.Unlinkat(pfd, base, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	a.dirty = true
	if errors.Is(err, unix.EISDIR) {
		err = applyRemoveTree(pfd, base)
	}
	if err != nil {
		return &os.PathError{Op: "remove", Path: a.full(rel), Err: err}
	}
	return nil
}

// applyRemoveTree removes directory name in dirfd and its content using only *at calls with
// O_NOFOLLOW, so a symlink in the tree is unlinked, never entered.
func applyRemoveTree(dirfd int, name string) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	names, err := f.Readdirnames(-1)
	if err == nil {
		for _, n := range names {
			if err = unix.Unlinkat(fd, n, 0); errors.Is(err, unix.EISDIR) {
				err = applyRemoveTree(fd, n)
			}
			if err != nil && !errors.Is(err, unix.ENOENT) {
				break
			}
			err = nil
		}
	}
	f.Close()
	if err != nil {
		return err
	}
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}

func (a *tarApplier) whiteout(dir, base string) error {
	pfd, err := a.parent(dir)
	if err != nil {
		return err
	}
	if base == whiteoutOpaque {
		key := "trusted.overlay.opaque"
		if a.opts.UserXattr {
			key = "user.overlay.opaque"
		}
		// "/." makes lsetxattr act on the directory the fd names, not on the magic link.
		if err := unix.Lsetxattr(applyProcPath(pfd, "."), key, []byte("y"), 0); err != nil {
			if errors.Is(err, unix.EPERM) && !a.opts.UserXattr {
				err = fmt.Errorf("%w (trusted.* needs CAP_SYS_ADMIN; rootless unpacking needs ApplyOptions.UserXattr)", err)
			}
			return &os.PathError{Op: "setxattr " + key, Path: a.full(dir), Err: err}
		}
		return nil
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, whiteoutPrefix) {
		return fmt.Errorf("invalid whiteout name %q", base)
	}
	rel := path.Join(dir, name)
	if err := a.remove(pfd, rel, name); err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
		if errors.Is(err, unix.EPERM) {
			err = fmt.Errorf("%w: overlayfs whiteouts are 0:0 character devices, which need CAP_MKNOD before Linux 5.8", err)
		}
		return &os.PathError{Op: "mknodat whiteout", Path: a.full(rel), Err: err}
	}
	return nil
}

func (a *tarApplier) mkdir(pfd int, rel, base string, hdr *tar.Header) error {
	typ, err := a.lstatMode(pfd, rel, base)
	if err != nil {
		return err
	}
	if typ != unix.S_IFDIR {
		if typ != 0 {
			if err := a.remove(pfd, rel, base); err != nil {
				return err
			}
		}
		// Owner-only until finishDirs sets the real mode, so a read-only mode in the tar does
		// not stop the directory's own entries from being created.
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return &os.PathError{Op: "mkdirat", Path: a.full(rel), Err: err}
		}
	}
	if err := a.chown(pfd, rel, base, hdr); err != nil {
		return err
	}
	if err := a.xattrs(pfd, rel, base, hdr); err != nil {
		return err
	}
	a.deferDir(rel, hdr)
	return nil
}

func (a *tarApplier) regular(pfd int, rel, base string, hdr *tar.Header, r io.Reader) (int64, error) {
	if err := a.remove(pfd, rel, base); err != nil {
		return 0, err
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, &os.PathError{Op: "openat", Path: a.full(rel), Err: err}
	}
	f := os.NewFile(uintptr(fd), a.full(rel))
	if a.buf == nil {
		a.buf = make([]byte, 128<<10)
	}
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, r, a.buf)
	if err != nil {
		f.Close()
		return n, fmt.Errorf("writing %s: %w", a.full(rel), err)
	}
	if err := f.Close(); err != nil {
		return n, err
	}
	return n, a.meta(pfd, rel, base, hdr)
}

func (a *tarApplier) symlink(pfd int, rel, base string, hdr *tar.Header) error {
	if err := a.remove(pfd, rel, base); err != nil {
		return err
	}
	// The new link may change how later paths resolve.
	a.dirty = true
	if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
		return &os.PathError{Op: "symlinkat", Path: a.full(rel), Err: err}
	}
	if err := a.chown(pfd, rel, base, hdr); err != nil {
		return err
	}
	if err := a.xattrs(pfd, rel, base, hdr); err != nil {
		return err
	}
	return a.times(pfd, rel, base, hdr)
}

// hardlink links base to an entry already extracted from this layer. The tar header of a link
// repeats its target's metadata, which is already on the shared inode, so none is applied.
func (a *tarApplier) hardlink(pfd int, rel, base string, hdr *tar.Header) error {
	target, err := applyCleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link target: %w", err)
	}
	if target == rel {
		return fmt.Errorf("hard link to itself")
	}
	if target == "." {
		return fmt.Errorf("hard link to the layer root")
	}
	tfd, err := a.resolveDir(path.Dir(target), false)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	defer a.closeNotRoot(tfd)
	tbase := path.Base(target)
	typ, err := a.lstatMode(tfd, target, tbase)
	if err != nil {
		return err
	}
	switch typ {
	case 0:
		return fmt.Errorf("hard link target %q is not in this layer", hdr.Linkname)
	case unix.S_IFDIR:
		return fmt.Errorf("hard link target %q is a directory", hdr.Linkname)
	}
	if err := a.remove(pfd, rel, base); err != nil {
		return err
	}
	// flags 0: a target that is a symlink is linked itself, not followed.
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return &os.PathError{Op: "linkat", Path: a.full(rel), Err: err}
	}
	return nil
}

func (a *tarApplier) mknod(pfd int, rel, base string, hdr *tar.Header) error {
	var typ uint32
	switch hdr.Typeflag {
	case tar.TypeChar:
		typ = unix.S_IFCHR
	case tar.TypeBlock:
		typ = unix.S_IFBLK
	default:
		typ = unix.S_IFIFO
	}
	if hdr.Devmajor < 0 || hdr.Devmajor > math.MaxUint32 || hdr.Devminor < 0 || hdr.Devminor > math.MaxUint32 {
		return fmt.Errorf("device number %d:%d out of range", hdr.Devmajor, hdr.Devminor)
	}
	if err := a.remove(pfd, rel, base); err != nil {
		return err
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknodat(pfd, base, typ|0o600, int(dev)); err != nil {
		if errors.Is(err, unix.EPERM) && a.opts.IgnoreOwnership && typ != unix.S_IFIFO {
			// Rootless: devices cannot exist here; the runtime gives containers their /dev.
			return nil
		}
		return &os.PathError{Op: "mknodat", Path: a.full(rel), Err: err}
	}
	return a.meta(pfd, rel, base, hdr)
}

// meta applies ownership, xattrs, mode and times to a non-directory, non-symlink entry.
func (a *tarApplier) meta(pfd int, rel, base string, hdr *tar.Header) error {
	if err := a.chown(pfd, rel, base, hdr); err != nil {
		return err
	}
	if err := a.xattrs(pfd, rel, base, hdr); err != nil {
		return err
	}
	// fchmodat follows a symlink in base, but base is what this entry just created.
	if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode)&0o7777, 0); err != nil {
		return &os.PathError{Op: "fchmodat", Path: a.full(rel), Err: err}
	}
	return a.times(pfd, rel, base, hdr)
}

// chown sets the tar's owner on base in pfd ("" = pfd itself).
func (a *tarApplier) chown(pfd int, rel, base string, hdr *tar.Header) error {
	if a.opts.IgnoreOwnership {
		return nil
	}
	flags := unix.AT_SYMLINK_NOFOLLOW
	if base == "" {
		flags = unix.AT_EMPTY_PATH
	}
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, flags); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL) {
			err = fmt.Errorf("%w (uid %d gid %d; unpacking rootless needs IgnoreOwnership)", err, hdr.Uid, hdr.Gid)
		}
		return &os.PathError{Op: "lchown", Path: a.full(rel), Err: err}
	}
	return nil
}

func (a *tarApplier) xattrs(pfd int, rel, base string, hdr *tar.Header) error {
	if len(hdr.PAXRecords) == 0 {
		return nil
	}
	keys := make([]string, 0, len(hdr.PAXRecords))
	for k := range hdr.PAXRecords {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a stable order keeps failures reproducible
	p := applyProcPath(pfd, base)
	regOrDir := hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeDir
	for _, k := range keys {
		name, ok := applyXattrKey(k)
		if !ok {
			continue
		}
		err := unix.Lsetxattr(p, name, []byte(hdr.PAXRecords[k]), 0)
		if err == nil || errors.Is(err, unix.ENOTSUP) {
			continue
		}
		if errors.Is(err, unix.EPERM) &&
			(!a.isRoot || strings.HasPrefix(name, "security.") || (strings.HasPrefix(name, "user.") && !regOrDir)) {
			continue
		}
		return &os.PathError{Op: "setxattr " + name, Path: a.full(rel), Err: err}
	}
	return nil
}

func applyTimespecs(hdr *tar.Header) []unix.Timespec {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	return []unix.Timespec{
		{Sec: at.Unix(), Nsec: int64(at.Nanosecond())},
		{Sec: hdr.ModTime.Unix(), Nsec: int64(hdr.ModTime.Nanosecond())},
	}
}

func (a *tarApplier) times(pfd int, rel, base string, hdr *tar.Header) error {
	if err := unix.UtimesNanoAt(pfd, base, applyTimespecs(hdr), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: a.full(rel), Err: err}
	}
	return nil
}

func (a *tarApplier) deferDir(rel string, hdr *tar.Header) {
	a.dirs = append(a.dirs, applyDirMeta{
		rel:   rel,
		mode:  uint32(hdr.Mode) & 0o7777,
		atime: hdr.AccessTime,
		mtime: hdr.ModTime,
	})
}

// finishDirs sets directory modes and times, deepest first so a parent turned read-only (or
// unsearchable) does not stop its children, and after all content so nothing bumps the mtimes.
// A directory a later entry replaced or removed is skipped.
func (a *tarApplier) finishDirs() error {
	a.dropCache()
	slices.SortStableFunc(a.dirs, func(x, y applyDirMeta) int {
		return strings.Count(y.rel, "/") - strings.Count(x.rel, "/")
	})
	for _, d := range a.dirs {
		hdr := &tar.Header{ModTime: d.mtime, AccessTime: d.atime}
		if d.rel == "." {
			p := applyProcPath(a.rootfd, ".")
			if err := unix.Chmod(p, d.mode); err != nil {
				return &os.PathError{Op: "chmod", Path: a.root, Err: err}
			}
			if err := unix.UtimesNano(p, applyTimespecs(hdr)); err != nil {
				return &os.PathError{Op: "utimensat", Path: a.root, Err: err}
			}
			continue
		}
		pfd, err := a.resolveDir(path.Dir(d.rel), false)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			continue
		}
		if err != nil {
			return err
		}
		base := path.Base(d.rel)
		typ, err := a.lstatMode(pfd, d.rel, base)
		if err == nil && typ == unix.S_IFDIR {
			err = unix.Fchmodat(pfd, base, d.mode, 0)
			if err != nil {
				err = &os.PathError{Op: "fchmodat", Path: a.full(d.rel), Err: err}
			} else {
				err = a.times(pfd, d.rel, base, hdr)
			}
		}
		a.closeNotRoot(pfd)
		if err != nil {
			return err
		}
	}
	return nil
}
