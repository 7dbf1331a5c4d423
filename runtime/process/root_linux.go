package process

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// resolveFlags confine every lookup to the rootfs: absolute symlinks and ".."
// resolve against rootfs as if it were "/", and /proc magic links (which
// could point anywhere) are refused.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// openInRoot opens name (a container path) inside rootfs with openat2.
func openInRoot(rootfs, name string, flags uint64) (*os.File, error) {
	if rootfs == "" {
		return nil, errors.New("empty rootfs path")
	}
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rootfs, Err: err}
	}
	defer unix.Close(root)
	how := &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: resolveFlags}
	var fd int
	// The kernel answers EAGAIN when a concurrent rename could have let a
	// ".." escape; retrying is the documented answer. EINTR likewise.
	for range 16 {
		fd, err = unix.Openat2(root, name, how)
		if err != unix.EAGAIN && err != unix.EINTR {
			break
		}
	}
	if err != nil {
		if err == unix.ENOSYS {
			return nil, fmt.Errorf("open %s in %s: openat2 needs Linux 5.6 or newer: %w", name, rootfs, err)
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// statInRoot stats name inside rootfs, following symlinks only within it.
func statInRoot(rootfs, name string) (fs.FileMode, error) {
	f, err := openInRoot(rootfs, name, unix.O_PATH)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Mode(), nil
}

// readFileInRoot reads a regular file inside rootfs, at most limit bytes.
func readFileInRoot(rootfs, name string, limit int64) ([]byte, error) {
	// Look before opening for read: opening a FIFO would block and opening a
	// device node can have side effects, and both can come from an image.
	probe, err := openInRoot(rootfs, name, unix.O_PATH)
	if err != nil {
		return nil, err
	}
	defer probe.Close()
	var want unix.Stat_t
	if err := unix.Fstat(int(probe.Fd()), &want); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if want.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	f, err := openInRoot(rootfs, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var got unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &got); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if got.Dev != want.Dev || got.Ino != want.Ino {
		return nil, fmt.Errorf("%s changed while being opened", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return data, nil
}

// HostRlimit returns the calling process's limit for resource (a Linux
// RLIMIT_* number, as in Rlimit.Resource). Go raises the soft NOFILE limit of
// its own process at start-up; only the hard limit is meaningful here.
func HostRlimit(resource int) (unix.Rlimit, error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(resource, &r); err != nil {
		return r, fmt.Errorf("getrlimit %d: %w", resource, err)
	}
	return r, nil
}

// inBoundingSet reports whether capability n is in this process's bounding
// set (an unknown answer counts as yes: the kernel then says no clearly).
func inBoundingSet(n int) bool {
	ok, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0)
	return err != nil || ok == 1
}
