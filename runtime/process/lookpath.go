package process

import (
	"errors"
	"io/fs"
	"os/exec"
	"path"
	"strings"
	"syscall"
)

// LookPath finds file the way the workload's exec would (Go's exec.LookPath,
// which runc's init uses), but from the host, inside rootfs, with the
// container's env:
//
//   - a name containing "/" is checked as given; a relative one is taken
//     relative to "/" (join it with the working directory first if that
//     matters);
//   - otherwise each absolute directory of the env's PATH (DefaultPath if env
//     has none) is tried in order; empty or relative PATH entries are skipped,
//     since Go refuses them too (exec.ErrDot);
//   - a match is a non-directory with at least one x bit; a file without x bits
//     in a PATH directory is skipped, as Go does.
//
// Symlinks are followed only inside rootfs (RESOLVE_IN_ROOT). Errors are
// *exec.Error, so ExecError turns them into Docker's code and text.
func LookPath(rootfs, file string, env []string) (string, error) {
	if err := checkRootfs(rootfs); err != nil {
		return "", &exec.Error{Name: file, Err: err}
	}
	if file == "" {
		return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
	}
	if strings.Contains(file, "/") {
		p := file
		if !path.IsAbs(p) {
			p = "/" + p
		}
		if err := findExecutable(rootfs, p); err != nil {
			return "", &exec.Error{Name: file, Err: err}
		}
		return file, nil
	}
	pathEnv, ok := lookupEnv(env, "PATH")
	if !ok {
		pathEnv = DefaultPath
	}
	for _, dir := range strings.Split(pathEnv, ":") {
		if !path.IsAbs(dir) {
			continue
		}
		p := path.Join(dir, file)
		err := findExecutable(rootfs, p)
		if err == nil {
			return p, nil
		}
		// Anything but "not here / not usable" means we cannot look at all
		// (no openat2, rootfs gone): say so rather than "not found".
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) &&
			!errors.Is(err, syscall.EISDIR) && !errors.Is(err, syscall.ENOTDIR) &&
			!errors.Is(err, syscall.ELOOP) {
			return "", &exec.Error{Name: file, Err: err}
		}
	}
	return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}

// findExecutable mirrors Go's unix findExecutable on the mode bits (we are
// not the container's user, so eaccess would answer for the wrong user).
func findExecutable(rootfs, p string) error {
	mode, err := statInRoot(rootfs, p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			// Go reports "stat /x: no such file or directory"; keep that text.
			return &fs.PathError{Op: "stat", Path: p, Err: pe.Err}
		}
		return err
	}
	if mode.IsDir() {
		return syscall.EISDIR
	}
	if mode&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}
