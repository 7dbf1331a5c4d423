package volumes

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// errMountPoint stops a removal at a mount point.
var errMountPoint = errors.New("a mount point: berth never deletes what is mounted in a volume")

// removeTree deletes path and everything under it without ever entering
// another mount: a mount point anywhere in the tree (a bound host
// directory, a device, a tmpfs left mounted) stops it with an error before
// anything in that mount is touched. It works on file descriptors, so
// neither a symlink nor a mount made meanwhile can lead it elsewhere. A
// missing path is no error.
func removeTree(path string) error {
	dir, name := filepath.Split(filepath.Clean(path))
	pfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(pfd)
	var st unix.Statx_t
	if err := unix.Statx(pfd, "", unix.AT_EMPTY_PATH, unix.STATX_TYPE, &st); err != nil {
		return &os.PathError{Op: "statx", Path: dir, Err: err}
	}
	return removeAt(pfd, dir, name, devOf(&st))
}

// removeAt removes name in the directory dirfd (whose path is dir, for
// errors), a directory with everything in it, staying on device dev.
func removeAt(dirfd int, dir, name string, dev uint64) error {
	path := filepath.Join(dir, name)
	var st unix.Statx_t
	err := unix.Statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, unix.STATX_TYPE, &st)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "statx", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		// A file that is a mount point cannot be unlinked (EBUSY).
		if err := unix.Unlinkat(dirfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return &os.PathError{Op: "unlink", Path: path, Err: err}
		}
		return nil
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	// What is checked is the directory opened, which is what is emptied.
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_TYPE, &st); err != nil {
		return &os.PathError{Op: "statx", Path: path, Err: err}
	}
	mounted, err := isMountRoot(&st, path)
	if err != nil {
		return err
	}
	if mounted || devOf(&st) != dev {
		return &os.PathError{Op: "remove", Path: path, Err: errMountPoint}
	}
	names, err := readNames(fd, path)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := removeAt(fd, path, n, dev); err != nil {
			return err
		}
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "rmdir", Path: path, Err: err}
	}
	return nil
}

// isMountRoot reads the mount-root attribute of a statx result, or asks
// mountinfo on kernels that do not give it (before 5.8).
func isMountRoot(st *unix.Statx_t, path string) (bool, error) {
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
	}
	return inMountinfo(path)
}

func devOf(st *unix.Statx_t) uint64 { return unix.Mkdev(st.Dev_major, st.Dev_minor) }

// readNames lists the directory fd (path, for errors) without closing fd.
func readNames(fd int, path string) ([]string, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, &os.PathError{Op: "dup", Path: path, Err: err}
	}
	unix.CloseOnExec(dup)
	f := os.NewFile(uintptr(dup), path)
	defer f.Close()
	return f.Readdirnames(-1)
}
