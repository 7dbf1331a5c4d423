//go:build linux

package image

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ovlMaxLayers is the kernel's OVL_MAX_STACK: overlayfs refuses a 501st lower layer.
const ovlMaxLayers = 500

// ovlMaxValue is the longest string fsconfig(FSCONFIG_SET_STRING) accepts (it copies 256 bytes
// including the NUL).
const ovlMaxValue = 255

// errOvlNoNewAPI says the kernel lacks fsopen or overlay's "lowerdir+", so the legacy mount(2)
// has to do.
var errOvlNoNewAPI = errors.New("kernel lacks the new mount API for overlay lowerdir+")

// MountOverlay mounts an overlay of lowers (top-most first, as overlayfs orders them) on target,
// writable into upper with work as its work dir, or read-only when upper and work are "".
//
// It uses the new mount API (fsopen, one fsconfig "lowerdir+" per layer, fsmount, move_mount),
// which has no option-length limit. Where the kernel lacks it (before 6.8 or so), it falls back
// to mount(2), whose options must fit in one page; see mountOverlayLegacy. Both refuse more than
// 500 layers, the kernel's limit.
//
// A read-only stack of one layer is a read-only bind mount: overlayfs needs two lowers when it
// has no upper. index=off is passed where the kernel has the index feature (as docker and
// containerd do: berth's lowers are shared by many mounts, which the index would tie to one), and
// userxattr inside a user namespace, where trusted.* xattrs cannot be read (pair with
// ApplyOptions.UserXattr).
func MountOverlay(lowers []string, upper, work, target string) error {
	if err := ovlCheck(lowers, upper, work); err != nil {
		return fmt.Errorf("mounting overlay on %s: %w", target, err)
	}
	if upper == "" && len(lowers) == 1 {
		return ovlBindReadOnly(lowers[0], target)
	}
	err := ovlMountNew(lowers, upper, work, target)
	if errors.Is(err, errOvlNoNewAPI) {
		return mountOverlayLegacy(lowers, upper, work, target)
	}
	return err
}

func ovlCheck(lowers []string, upper, work string) error {
	switch {
	case len(lowers) == 0:
		return errors.New("no lower layers")
	case len(lowers) > ovlMaxLayers:
		return fmt.Errorf("%d layers: overlayfs stacks at most %d", len(lowers), ovlMaxLayers)
	case (upper == "") != (work == ""):
		return errors.New("the upper dir and the work dir go together")
	}
	return nil
}

// ovlExtraOptions returns the key=value options both mount paths add.
func ovlExtraOptions() [][2]string {
	var opts [][2]string
	if _, err := os.Stat("/sys/module/overlay/parameters/index"); err == nil {
		opts = append(opts, [2]string{"index", "off"})
	}
	if ovlInUserNS() {
		opts = append(opts, [2]string{"userxattr", ""})
	}
	return opts
}

// ovlInUserNS reports whether this process runs in a user namespace other than the initial
// one, whose uid_map is the identity over the full range.
func ovlInUserNS() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

func ovlMountNew(lowers []string, upper, work, target string) (err error) {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("%w: fsopen: %w", errOvlNoNewAPI, err)
		}
		return &os.PathError{Op: "fsopen overlay", Path: target, Err: err}
	}
	defer unix.Close(fsfd)

	// Paths longer than fsconfig takes are passed as /proc/self/fd/N of an O_PATH fd, which
	// the kernel resolves to the directory itself. They stay open until the mount exists.
	var pathFds []int
	defer func() {
		for _, fd := range pathFds {
			unix.Close(fd)
		}
	}()
	set := func(key, val string) error {
		if len(val) > ovlMaxValue {
			fd, err := unix.Open(val, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return &os.PathError{Op: "open " + key, Path: val, Err: err}
			}
			pathFds = append(pathFds, fd)
			val = "/proc/self/fd/" + strconv.Itoa(fd)
		}
		var err error
		if val == "" {
			err = unix.FsconfigSetFlag(fsfd, key)
		} else {
			err = unix.FsconfigSetString(fsfd, key, val)
		}
		if err != nil {
			return fmt.Errorf("overlay option %s=%s: %w%s", key, val, err, ovlKernelLog(fsfd))
		}
		return nil
	}
	for i, l := range lowers {
		if err := set("lowerdir+", l); err != nil {
			if i == 0 && errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("%w: %w", errOvlNoNewAPI, err)
			}
			return err
		}
	}
	if upper != "" {
		if err := set("upperdir", upper); err != nil {
			return err
		}
		if err := set("workdir", work); err != nil {
			return err
		}
	}
	for _, o := range ovlExtraOptions() {
		if err := set(o[0], o[1]); err != nil {
			return err
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("creating overlay for %s: %w%s", target, err, ovlKernelLog(fsfd))
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "fsmount overlay", Path: target, Err: err}
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return &os.PathError{Op: "move_mount overlay", Path: target, Err: err}
	}
	return nil
}

// ovlKernelLog reads the messages the kernel queued on an fs context: overlayfs explains its
// EINVALs there ("overlay: failed to resolve ...") rather than in the errno.
func ovlKernelLog(fsfd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for range 8 {
		n, err := unix.Read(fsfd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, string(bytes.TrimSpace(buf[:n])))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (kernel: " + strings.Join(msgs, "; ") + ")"
}

// mountOverlayLegacy mounts with mount(2), whose options the kernel truncates to one page
// (4 KiB here; the truncated path then fails as ENOENT, not E2BIG). Options that fit, with no
// character needing escape, go as they are. Otherwise every directory gets a symlink with a
// base-36 name ("0".."dr"; upper and work get "U" and "W") in a scratch directory beside
// target, and the mount runs with that directory as its cwd, so the options read
// "lowerdir=0:1:...,upperdir=U,workdir=W": under 2 KiB for 500 layers. Overlayfs resolves the links at mount time, so they are removed right after.
// The chdir happens on a dedicated OS thread that first unshares its fs state (CLONE_FS) and
// is never returned to the Go scheduler, so the process's cwd never changes.
func mountOverlayLegacy(lowers []string, upper, work, target string) error {
	if err := ovlCheck(lowers, upper, work); err != nil {
		return fmt.Errorf("mounting overlay on %s: %w", target, err)
	}
	target, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	data := ovlLegacyData(lowers, upper, work)
	if len(data) < os.Getpagesize() && !ovlNeedsEscape(lowers, upper, work) {
		if err := unix.Mount("overlay", target, "overlay", 0, data); err != nil {
			return &os.PathError{Op: "mount overlay", Path: target, Err: err}
		}
		return nil
	}

	links, err := os.MkdirTemp(filepath.Dir(target), ".ovl-links-")
	if err != nil {
		return fmt.Errorf("overlay short links: %w", err)
	}
	defer os.RemoveAll(links)
	link := func(name, dir string) (string, error) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", err
		}
		if err := os.Symlink(abs, filepath.Join(links, name)); err != nil {
			return "", fmt.Errorf("overlay short links: %w", err)
		}
		return name, nil
	}
	short := make([]string, len(lowers))
	for i, l := range lowers {
		if short[i], err = link(strconv.FormatInt(int64(i), 36), l); err != nil {
			return err
		}
	}
	if upper != "" {
		if upper, err = link("U", upper); err != nil {
			return err
		}
		if work, err = link("W", work); err != nil {
			return err
		}
	}
	data = ovlLegacyData(short, upper, work)
	if len(data) >= os.Getpagesize() {
		return fmt.Errorf("mounting overlay on %s: options are %d bytes even with short links", target, len(data))
	}

	errc := make(chan error, 1)
	go func() {
		// No UnlockOSThread: the thread's cwd is no longer the process's, so it must die with
		// this goroutine.
		goruntime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_FS): %w", err)
			return
		}
		if err := unix.Chdir(links); err != nil {
			errc <- &os.PathError{Op: "chdir", Path: links, Err: err}
			return
		}
		if err := unix.Mount("overlay", target, "overlay", 0, data); err != nil {
			errc <- &os.PathError{Op: "mount overlay (short links in " + links + ")", Path: target, Err: err}
			return
		}
		errc <- nil
	}()
	return <-errc
}

func ovlLegacyData(lowers []string, upper, work string) string {
	var b strings.Builder
	b.WriteString("lowerdir=")
	b.WriteString(strings.Join(lowers, ":"))
	if upper != "" {
		b.WriteString(",upperdir=" + upper + ",workdir=" + work)
	}
	for _, o := range ovlExtraOptions() {
		b.WriteString("," + o[0])
		if o[1] != "" {
			b.WriteString("=" + o[1])
		}
	}
	return b.String()
}

// ovlNeedsEscape reports paths that mount(2) options cannot carry as they are: "," ends an
// option, and ":" and "\" would need overlayfs escaping in lowerdir.
func ovlNeedsEscape(lowers []string, upper, work string) bool {
	for _, p := range append([]string{upper, work}, lowers...) {
		if strings.ContainsAny(p, ",:\\") {
			return true
		}
	}
	return false
}

// ovlBindReadOnly bind-mounts dir read-only on target. The read-only flag only takes on a
// remount; if that fails the bind is undone.
func ovlBindReadOnly(dir, target string) error {
	if err := unix.Mount(dir, target, "", unix.MS_BIND, ""); err != nil {
		return &os.PathError{Op: "bind mount " + dir, Path: target, Err: err}
	}
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		unix.Unmount(target, unix.MNT_DETACH)
		return &os.PathError{Op: "remount read-only", Path: target, Err: err}
	}
	return nil
}

// Unmount unmounts target. A busy mount is detached (MNT_DETACH): it disappears from target now
// and the kernel finishes once the last user lets go, which is what tearing down a container
// needs; its layers must not be removed until then. A target that is not mounted (or does not
// exist) is not an error, so cleanup can call Unmount unconditionally.
func Unmount(target string) error {
	err := unix.Unmount(target, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return &os.PathError{Op: "umount", Path: target, Err: err}
}
