package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks bounds symlink expansion while resolving one path, as the
// kernel's MAXSYMLINKS does, so a symlink loop in an image ends in ELOOP.
const maxSymlinks = 40

// createKind says what resolveInRoot makes when the path is missing.
type createKind int

const (
	createNone createKind = iota // missing is ENOENT
	createDir                    // missing parents and the target are directories
	createFile                   // missing parents are directories, the target an empty file
)

// strictResolve is how every open below walks a path that resolveInRoot
// has already checked component by component: no symlink at all, nothing
// above the starting directory. If a component was swapped for a symlink
// since the check, the open fails (ELOOP) instead of following it.
const strictResolve = unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_BENEATH

// Openat2 is unix.Openat2 (with O_CLOEXEC) retried on EAGAIN and EINTR:
// the kernel answers EAGAIN when a concurrent rename might have let a
// lookup escape.
func Openat2(dirfd int, name string, flags uint64, resolve uint64) (int, error) {
	how := &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: resolve}
	for range 16 {
		fd, err := unix.Openat2(dirfd, name, how)
		if err != unix.EAGAIN && err != unix.EINTR {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// openStrict opens rel (a path with no symlinks, relative to rootfd) as an
// O_PATH descriptor.
func openStrict(rootfd int, rel string, flags uint64) (int, error) {
	if rel == "" {
		rel = "."
	}
	return Openat2(rootfd, rel, unix.O_PATH|unix.O_NOFOLLOW|flags, strictResolve)
}

// splitPath splits p into its components, dropping empty ones and ".".
func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// onlyDots reports whether comps holds nothing that names a component.
func onlyDots(comps []string) bool {
	for _, c := range comps {
		if c != "" && c != "." {
			return false
		}
	}
	return true
}

// resolveInRoot resolves the container path p inside the rootfs open at
// rootfd, as if rootfd were "/": an absolute symlink restarts at rootfd, and
// ".." stops there. Symlinks are read with readlinkat and expanded here, one
// component at a time, which is what lets a dangling symlink such as
// /data -> /../../../tmp/outside be created inside the rootfs (at
// <root>/tmp/outside) rather than fail or escape. Missing components are
// created according to kind. It returns an O_PATH descriptor of the target,
// opened with no symlink following, and the resolved path relative to the
// rootfs (no "..", no symlinks, "" for the rootfs itself).
func resolveInRoot(rootfd int, p string, kind createKind) (int, string, error) {
	todo := splitPath(p)
	var done []string // resolved components: real directories, no symlinks
	links, creates := 0, 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		if c == ".." {
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		dirfd, err := openStrict(rootfd, path.Join(done...), unix.O_DIRECTORY)
		if err != nil {
			return -1, "", err
		}
		var st unix.Stat_t
		err = unix.Fstatat(dirfd, c, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.ENOENT && kind != createNone {
			last := onlyDots(todo)
			err = createAt(dirfd, c, last && kind == createFile)
			unix.Close(dirfd)
			if err != nil {
				return -1, "", err
			}
			// Look again rather than trust the creation: whatever is there
			// now is what gets checked and used.
			if creates++; creates > 4*maxSymlinks {
				return -1, "", unix.ELOOP
			}
			todo = append([]string{c}, todo...)
			continue
		}
		if err != nil {
			unix.Close(dirfd)
			return -1, "", err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			target, err := readlinkat(dirfd, c)
			unix.Close(dirfd)
			if err != nil {
				return -1, "", err
			}
			if links++; links > maxSymlinks {
				return -1, "", unix.ELOOP
			}
			if strings.HasPrefix(target, "/") {
				done = nil
			}
			todo = append(splitPath(target), todo...)
			continue
		}
		unix.Close(dirfd)
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && !onlyDots(todo) {
			return -1, "", unix.ENOTDIR
		}
		done = append(done, c)
	}
	rel := path.Join(done...)
	fd, err := openStrict(rootfd, rel, 0)
	if err != nil {
		return -1, "", err
	}
	return fd, rel, nil
}

// createAt makes name in dirfd: an empty file when file is set, otherwise a
// directory. Something already there (a concurrent creation) is not an
// error: the caller looks again.
func createAt(dirfd int, name string, file bool) error {
	if !file {
		err := unix.Mkdirat(dirfd, name, 0o755)
		if err == unix.EEXIST {
			return nil
		}
		return err
	}
	// O_NOFOLLOW|O_EXCL: never create through a symlink planted meanwhile.
	fd, err := unix.Openat(dirfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err == unix.EEXIST {
		return nil
	}
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// readlinkat reads the symlink name in dirfd, growing the buffer as needed.
func readlinkat(dirfd int, name string) (string, error) {
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
	return "", errors.New("symlink target too long")
}

// InRoot returns the host path of the container path p inside the rootfs
// at root, resolved as the container would see it: symlinks expanded
// inside root, ".." stopping there. ok is false when nothing is there.
func InRoot(root, p string) (hostPath string, ok bool, err error) {
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", false, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(rootfd)
	fd, rel, err := resolveInRoot(rootfd, p, createNone)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("resolve %s in %s: %w", p, root, err)
	}
	unix.Close(fd)
	return filepath.Join(root, rel), true, nil
}
