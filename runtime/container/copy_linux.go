package container

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/runtime/image"
)

// view is the container's file system as docker cp sees it: its rootfs with its volumes,
// bind mounts, network files (/etc/hosts, /etc/hostname, /etc/resolv.conf) and secrets
// mounted on it, running or not.
//
// It lives in a mount namespace of its own, made by one OS thread that unshares from the
// host's (unshare(2) of CLONE_NEWNS is allowed to a thread of a multi-threaded process,
// setns(2) into another process's mount namespace is not) and stays parked until the copy is
// done. Nothing mounted there reaches the host: the namespace is a slave of the host's, the
// binds are private, and it disappears with the thread, even if berth is killed. The
// descriptor of the rootfs opened there is all the rest of berth uses: lookups from it cross
// the view's mounts from any thread. A running container is copied the same way (its rootfs
// is the same overlay, its volumes the same directories), so both states behave alike and
// neither needs a process in the container.
type view struct {
	// root is an O_PATH descriptor of the rootfs in the view's namespace.
	root int
	// rootMount is the mount id of the rootfs, to tell it from a volume.
	rootMount uint64
	release   chan struct{}
	done      chan struct{}
	// unmount lets go of the volumes mounted for the copy of a stopped container.
	unmount func() error
}

// viewMount is one bind of the view: a host path on a container path.
type viewMount struct {
	source, target      string
	readOnly, recursive bool
}

// openView makes the container's view. The overlay rootfs is mounted first if it is not (after
// a reboot), and stays mounted as after create; close lets go of everything else.
func (c *Container) openView(ctx context.Context, l *image.Local) (*view, error) {
	if c.Incomplete {
		return nil, fmt.Errorf("container %s was not completely created (the berth creating it was interrupted): remove it and create it again", c.Name)
	}
	if err := c.mount(ctx, l); err != nil {
		return nil, err
	}
	binds, unmount, err := c.viewMounts()
	if err != nil {
		return nil, err
	}
	v := &view{root: -1, release: make(chan struct{}), done: make(chan struct{}), unmount: unmount}
	ready := make(chan error, 1)
	go v.hold(c.rootfsPath(), binds, c.Options.ReadOnly, ready)
	if err := <-ready; err != nil {
		<-v.done
		return nil, errors.Join(fmt.Errorf("open the file system of %s: %w", c.Name, err), unmount())
	}
	return v, nil
}

// hold makes the view's namespace on its own thread and keeps it until release.
func (v *view) hold(rootfs string, binds []viewMount, readOnly bool, ready chan<- error) {
	defer close(v.done)
	// Never unlocked: the thread leaves the host's mount namespace, so it must end with this
	// goroutine (the Go runtime then terminates it), taking the namespace with it.
	goruntime.LockOSThread()
	err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS)
	if err != nil {
		ready <- fmt.Errorf("unshare the mount namespace: %w", err)
		return
	}
	// Slave: the host's unmounts still reach the view, nothing made here reaches the host.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		ready <- fmt.Errorf("make the view's mounts slaves: %w", err)
		return
	}
	root, mnt, err := assemble(rootfs, binds, readOnly)
	if err != nil {
		ready <- err
		return
	}
	v.root, v.rootMount = root, mnt
	ready <- nil
	<-v.release
}

// close ends the view: its namespace and every mount in it go with the thread.
func (v *view) close() error {
	if v.root >= 0 {
		unix.Close(v.root)
	}
	close(v.release)
	<-v.done
	return v.unmount()
}

// assemble opens the rootfs in the view's namespace and mounts binds on it, in order; with
// readOnly the rootfs itself (this namespace's copy of its mount only) is made read-only.
func assemble(rootfs string, binds []viewMount, readOnly bool) (int, uint64, error) {
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, 0, &os.PathError{Op: "open", Path: rootfs, Err: err}
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(root)
		}
	}()
	for _, b := range binds {
		if err := attach(root, b); err != nil {
			return -1, 0, fmt.Errorf("mount %s on %s: %w", b.source, b.target, err)
		}
	}
	if readOnly {
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(root, "", unix.AT_EMPTY_PATH, attr); err != nil {
			return -1, 0, fmt.Errorf("make the rootfs read-only: %w", err)
		}
	}
	mnt, err := mountID(root)
	if err != nil {
		return -1, 0, err
	}
	ok = true
	return root, mnt, nil
}

// attach binds b.source (a host path, trusted) on b.target, resolved inside root and made
// when missing: a detached clone given its flags before it is attached, so it is never
// writable when it should not be, and private, so that what is mounted under it stays here.
func attach(root int, b viewMount) error {
	fi, err := os.Stat(b.source)
	if err != nil {
		return err
	}
	target, err := mountTarget(root, b.target, fi.IsDir())
	if err != nil {
		return err
	}
	defer unix.Close(target)
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	at := uint(unix.AT_EMPTY_PATH)
	if b.recursive {
		flags |= unix.AT_RECURSIVE
		at |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, b.source, flags)
	if err != nil {
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(tree)
	attr := &unix.MountAttr{Propagation: unix.MS_PRIVATE}
	if b.readOnly {
		attr.Attr_set = unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.MountSetattr(tree, "", at, attr); err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	if err := unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// mountTarget opens the container path p inside root as an O_PATH descriptor, making it
// when missing (a directory for a directory source, an empty file otherwise), as the start
// of the container would.
func mountTarget(root int, p string, dir bool) (int, error) {
	fd, err := openIn(root, p, unix.O_PATH, inRoot)
	if err != unix.ENOENT {
		return fd, err
	}
	parent, err := openDirAll(root, path.Dir(p), inRoot)
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	if dir {
		err = unix.Mkdirat(parent, path.Base(p), 0o755)
	} else {
		var f int
		f, err = unix.Openat(parent, path.Base(p), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(f)
		}
	}
	if err != nil && err != unix.EEXIST {
		return -1, err
	}
	return openIn(root, p, unix.O_PATH, inRoot)
}

// mountID is the id of the mount the file open at fd is on.
func mountID(fd int) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, fmt.Errorf("statx: %w", err)
	}
	return stx.Mnt_id, nil
}

// viewMounts are the binds of the view, in the order the container's start mounts them:
// the network files (once a start wrote them), the volumes and bind mounts (tmpfs ones have
// nothing to show outside the running container, as with Docker), the secrets and configs.
// A stopped container's volumes are mounted for the copy (those with driver options need
// it), and an empty one first gets the image's content, as a start would do.
func (c *Container) viewMounts() ([]viewMount, func() error, error) {
	var out []viewMount
	for _, name := range []string{"hostname", "hosts", "resolv.conf"} {
		if p := filepath.Join(c.RunDir, name); exists(p) {
			out = append(out, viewMount{source: p, target: "/etc/" + name})
		}
	}
	st, err := c.State()
	if err != nil {
		return nil, nil, err
	}
	running := st.Status == StatusRunning || st.Status == StatusRestarting
	var mounted []string
	unmount := func() error { return nil }
	for _, m := range c.Options.Mounts {
		vm := viewMount{target: m.Target, readOnly: m.ReadOnly, recursive: !m.NonRecursive}
		switch m.Type {
		case "bind":
			if !exists(m.Source) {
				continue // made by the first start (-v), or refused by it (--mount)
			}
			vm.source = m.Source
		case "volume":
			dir, err := c.volumeDir(m, running)
			if err != nil {
				return nil, nil, errors.Join(err, c.unmountFor(mounted))
			}
			if !running {
				mounted = append(mounted, m.Source)
			}
			vm.source = dir
			if m.SubPath != "" {
				vm.source = filepath.Join(dir, m.SubPath)
			}
			if !exists(vm.source) {
				continue
			}
		default:
			continue
		}
		out = append(out, vm)
	}
	if len(mounted) > 0 {
		unmount = func() error { return c.unmountFor(mounted) }
	}
	files := append(append([]FileMount{}, c.Options.Secrets...), c.Options.Configs...)
	for i, f := range files {
		if p := filepath.Join(c.RunDir, "files", strconv.Itoa(i)); exists(p) {
			out = append(out, viewMount{source: p, target: f.Target, readOnly: true})
		}
	}
	return out, unmount, nil
}

// volumeDir is the directory of volume mount m: the one its start mounted while running,
// else mounted now (and copied up into when empty, as a start would).
func (c *Container) volumeDir(m Mount, running bool) (string, error) {
	store, err := c.volumeStore()
	if err != nil {
		return "", err
	}
	if running {
		v, err := store.Get(m.Source)
		if err != nil {
			return "", err
		}
		return v.Mountpoint, nil
	}
	dir, err := store.Mount(m.Source, c.ID)
	if err != nil {
		return "", err
	}
	if !m.NoCopy && m.SubPath == "" {
		if err := c.copyUp(dir, m.Target); err != nil {
			return "", errors.Join(fmt.Errorf("volume %s: copy the image's %s: %w", m.Source, m.Target, err), store.Unmount(m.Source, c.ID))
		}
	}
	return dir, nil
}

// unmountFor lets go of the volumes mounted for a copy, unless the container started
// meanwhile: its start has them mounted for itself now.
func (c *Container) unmountFor(names []string) error {
	if len(names) == 0 {
		return nil
	}
	if st, err := c.State(); err == nil && (st.Status == StatusRunning || st.Status == StatusRestarting) {
		return nil
	}
	store, err := c.volumeStore()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		errs = append(errs, store.Unmount(n, c.ID))
	}
	return errors.Join(errs...)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// locate opens the directory holding the container path p and names p's last element in
// it ("." for the directory itself), as Docker's ResolvePath does: symlinks are followed up
// to the last element, which is not. A trailing "/" or "/." makes the directory the entry.
func (v *view) locate(p string) (parent int, name string, st unix.Stat_t, err error) {
	abs := preserveTrailing(path.Join("/", p), p)
	dir, base := path.Split(abs)
	name = base
	if base == "" {
		name = "."
	}
	parent, err = openIn(v.root, dir, unix.O_PATH|unix.O_DIRECTORY, inRoot)
	if err != nil {
		return -1, "", st, err
	}
	if err = unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		unix.Close(parent)
		return -1, "", st, err
	}
	return parent, name, st, nil
}

// maxLinks bounds the symlinks followed for one path, as the kernel's MAXSYMLINKS.
const maxLinks = 40

// linkTarget follows the symlinks at the last element of the container path p and returns
// the path they lead to (Docker's stat LinkTarget): every element but the last is resolved
// in the container when it is opened, so the target need not be resolved here. A dangling
// link leads to the path it names.
func (v *view) linkTarget(p string) (string, error) {
	p = path.Join("/", p)
	for range maxLinks {
		parent, name, st, err := v.locate(p)
		if missing(err) {
			return p, nil
		}
		if err != nil {
			return "", err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			unix.Close(parent)
			return p, nil
		}
		target, err := readlinkAt(parent, name)
		unix.Close(parent)
		if err != nil {
			return "", err
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(p), target)
		}
		p = path.Clean(target)
	}
	return "", &os.PathError{Op: "readlink", Path: p, Err: unix.ELOOP}
}

// missing reports whether err says a path is not there.
func missing(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)
}

func isDir(st unix.Stat_t) bool  { return st.Mode&unix.S_IFMT == unix.S_IFDIR }
func isLink(st unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFLNK }

// fileMode is st's type as an fs.FileMode, for Docker's destination checks.
func fileMode(st unix.Stat_t) fs.FileMode {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFREG:
		return 0
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	}
	return fs.ModeIrregular
}

func (o CopyOptions) ref(c *Container) string {
	if o.Ref != "" {
		return o.Ref
	}
	return c.Name
}

// CopyFrom copies the container path src to the host path dst, or writes it to stdout as a
// tar archive when dst is "-" (docker cp CONTAINER:SRC DST). A missing src is Docker's
// "Could not find the file" (matching fs.ErrNotExist).
func (c *Container) CopyFrom(ctx context.Context, l *image.Local, src, dst string, o CopyOptions, stdout io.Writer) (CopyResult, error) {
	res := CopyResult{Dest: dst}
	if dst != "-" {
		abs, err := resolveLocalPath(dst)
		if err != nil {
			return res, err
		}
		res.Dest = abs
		if err := validateOutputPath(abs); err != nil {
			return res, err
		}
	}
	v, err := c.openView(ctx, l)
	if err != nil {
		return res, err
	}
	n, err := c.copyFrom(ctx, v, src, res.Dest, o, stdout)
	res.Size = n
	return res, errors.Join(err, v.close())
}

func (c *Container) copyFrom(ctx context.Context, v *view, src, dst string, o CopyOptions, stdout io.Writer) (int64, error) {
	ref := o.ref(c)
	var rebase string
	if o.FollowLink {
		if parent, _, st, err := v.locate(src); err == nil {
			unix.Close(parent)
			if isLink(st) {
				target, err := v.linkTarget(src)
				if err != nil {
					return 0, err
				}
				src, rebase = rebaseName(src, target)
			}
		}
	}
	parent, name, st, err := v.locate(src)
	if missing(err) {
		return 0, fileNotFound(src, ref)
	}
	if err != nil {
		return 0, fmt.Errorf("copy %s from %s: %w", src, ref, err)
	}
	defer unix.Close(parent)
	top := archiveName(preserveTrailing(path.Join("/", src), src))
	if dst == "-" {
		return writeArchive(ctx, stdout, parent, name, top)
	}
	dstInfo, err := hostDestination(dst)
	if err != nil {
		return 0, err
	}
	dir, rename, err := prepareCopy(copyInfo{Path: src, Exists: true, IsDir: isDir(st), Rebase: rebase}, dstInfo)
	if err != nil {
		return 0, err
	}
	dirfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(dirfd)
	// A followed link's entries are first given the name the user used (Docker's client
	// does so before extracting), then the destination's.
	first := renaming{}
	if rebase != "" {
		first = renaming{from: top, to: rebase}
	}
	e := &extractor{
		ctx: ctx, root: dirfd, resolve: beneath, dir: ".",
		shown:  func(rel string) string { return filepath.Join(dir, rel) },
		rename: first.then(rename),
		owner: func(h *tar.Header) (int, int, bool) {
			return h.Uid, h.Gid, o.Archive
		},
	}
	return pipe(func(w io.Writer) error {
		_, err := writeArchive(ctx, w, parent, name, top)
		return err
	}, e.extract)
}

// CopyTo copies the host path src into the container at dst, or extracts the tar archive
// (plain or compressed) read from stdin when src is "-" (docker cp SRC CONTAINER:DST).
func (c *Container) CopyTo(ctx context.Context, l *image.Local, src, dst string, o CopyOptions, stdin io.Reader) (CopyResult, error) {
	ref := o.ref(c)
	res := CopyResult{Dest: ref + ":" + dst}
	if src != "-" {
		abs, err := resolveLocalPath(src)
		if err != nil {
			return res, err
		}
		src = abs
	}
	v, err := c.openView(ctx, l)
	if err != nil {
		return res, err
	}
	n, dest, err := c.copyTo(ctx, v, src, dst, o, stdin)
	res.Size = n
	if dest != "" {
		res.Dest = ref + ":" + dest
	}
	return res, errors.Join(err, v.close())
}

func (c *Container) copyTo(ctx context.Context, v *view, src, dst string, o CopyOptions, stdin io.Reader) (int64, string, error) {
	ref := o.ref(c)
	// The destination as Docker's client sees it: a symlink there is followed, a destination
	// that is neither a directory nor a regular file refused, a missing one fine.
	dstInfo := copyInfo{Path: dst}
	if parent, _, st, err := v.locate(dst); err == nil {
		unix.Close(parent)
		if isLink(st) {
			if dstInfo.Path, err = v.linkTarget(dst); err != nil {
				return 0, "", err
			}
			var p int
			if p, _, st, err = v.locate(dstInfo.Path); err == nil {
				unix.Close(p)
			}
		}
		if err == nil {
			if err := irregular(fileMode(st)); err != nil {
				return 0, "", fmt.Errorf("destination \"%s:%s\" must be a directory or a regular file: %w", ref, dst, err)
			}
			dstInfo.Exists, dstInfo.IsDir = true, isDir(st)
		}
	}
	var (
		dir     string
		rename  func(string) string
		produce func(io.Writer) error
	)
	if src == "-" {
		if !dstInfo.IsDir {
			return 0, dstInfo.Path, fmt.Errorf("destination \"%s:%s\" must be a directory", ref, dst)
		}
		dir = dstInfo.Path
	} else {
		srcInfo, err := hostSource(src, o.FollowLink)
		if err != nil {
			return 0, dstInfo.Path, err
		}
		d, r, err := prepareCopy(srcInfo, dstInfo)
		if err != nil {
			return 0, dstInfo.Path, err
		}
		dir, rename = d, r.apply
		sdir, sbase := splitDirEntry(srcInfo.Path)
		if sbase == "/" {
			sbase = "."
		}
		top := sbase
		if srcInfo.Rebase != "" {
			top = srcInfo.Rebase
		}
		produce = func(w io.Writer) error {
			fd, err := unix.Open(sdir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return &os.PathError{Op: "open", Path: sdir, Err: err}
			}
			defer unix.Close(fd)
			_, err = writeArchive(ctx, w, fd, sbase, top)
			return err
		}
	}
	dir = path.Join("/", dir)
	// The daemon's side: the extraction directory must be there, be a directory, and be
	// writable, with Docker's words for each.
	dirfd, err := openIn(v.root, dir, unix.O_PATH, inRoot)
	if missing(err) {
		return 0, dstInfo.Path, fileNotFound(dir, ref)
	}
	if err != nil {
		return 0, dstInfo.Path, fmt.Errorf("copy to %s:%s: %w", ref, dir, err)
	}
	err = c.checkWritable(v, dirfd)
	unix.Close(dirfd)
	if err != nil {
		return 0, dstInfo.Path, err
	}
	e := &extractor{
		ctx: ctx, root: v.root, resolve: inRoot, dir: dir,
		shown:  func(rel string) string { return rel },
		rename: rename,
		owner: func(h *tar.Header) (int, int, bool) {
			if o.Archive {
				return h.Uid, h.Gid, true
			}
			return 0, 0, true
		},
	}
	if produce == nil {
		r, done, err := decompressed(stdin)
		if err != nil {
			return 0, dstInfo.Path, err
		}
		defer done()
		n, err := e.extract(r)
		return n, dstInfo.Path, err
	}
	n, err := pipe(produce, e.extract)
	return n, dstInfo.Path, err
}

// checkWritable refuses an extraction directory that is not a directory or is on a
// read-only mount, in Docker's words: the rootfs of a --read-only container, or a volume
// or bind mounted read-only.
func (c *Container) checkWritable(v *view, dirfd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(dirfd, &st); err != nil {
		return err
	}
	if !isDir(st) {
		return errors.New("extraction point is not a directory")
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(dirfd, &sfs); err != nil {
		return err
	}
	if sfs.Flags&unix.ST_RDONLY == 0 {
		return nil
	}
	mnt, err := mountID(dirfd)
	if err != nil {
		return err
	}
	if mnt == v.rootMount {
		return errors.New("container rootfs is marked read-only")
	}
	return errors.New("mounted volume is marked read-only")
}
