package volumes

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountSpec is what a volume's driver options mount on its _data:
// mount(2)'s arguments, as mount(8) makes them of `-t type -o o device`.
type mountSpec struct {
	fstype, device string
	flags          uintptr // mount(2) flags of o
	propagation    uintptr // MS_SHARED and the like, set by a second call
	data           string  // the rest of o, for the filesystem
	bind           bool
}

// mountFlags are the words of o that mount(8) turns into mount(2) flags
// (clear: the word turns the flag off); every other word is the
// filesystem's and goes in data.
var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"defaults":      {false, 0},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"suid":          {true, unix.MS_NOSUID},
	"nosuid":        {false, unix.MS_NOSUID},
	"dev":           {true, unix.MS_NODEV},
	"nodev":         {false, unix.MS_NODEV},
	"exec":          {true, unix.MS_NOEXEC},
	"noexec":        {false, unix.MS_NOEXEC},
	"sync":          {false, unix.MS_SYNCHRONOUS},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"mand":          {false, unix.MS_MANDLOCK},
	"nomand":        {true, unix.MS_MANDLOCK},
	"atime":         {true, unix.MS_NOATIME},
	"noatime":       {false, unix.MS_NOATIME},
	"diratime":      {true, unix.MS_NODIRATIME},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"relatime":      {false, unix.MS_RELATIME},
	"norelatime":    {true, unix.MS_RELATIME},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"silent":        {false, unix.MS_SILENT},
	"loud":          {true, unix.MS_SILENT},
	"bind":          {false, unix.MS_BIND},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
}

var propagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parseOptions checks a volume's driver options and makes its mountSpec;
// nil when there are none (a plain directory). It touches nothing but a
// bind's device, which must exist.
func parseOptions(name string, opts map[string]string) (*mountSpec, error) {
	if len(opts) == 0 {
		return nil, nil
	}
	for k := range opts {
		switch k {
		case "type", "device", "o":
		default:
			return nil, invalidf("volume %s: driver option %q is not supported by berth: the local driver takes type, device and o (as in mount -t type -o o device)", name, k)
		}
	}
	typ, device, o := opts["type"], opts["device"], opts["o"]
	// Docker's local driver: type and device go together, o needs both.
	if typ == "" {
		return nil, invalidf("volume %s: driver option \"type\" is required with \"device\" and \"o\" (as in mount -t type -o o device)", name)
	}
	if device == "" {
		return nil, invalidf("volume %s: driver option \"device\" is required with \"type\" (as in mount -t type -o o device; device=tmpfs for a tmpfs)", name)
	}
	spec := &mountSpec{fstype: typ, device: device}
	var data []string
	for _, word := range strings.Split(o, ",") {
		if word == "" {
			continue
		}
		if f, ok := mountFlags[word]; ok {
			if f.clear {
				spec.flags &^= f.flag
			} else {
				spec.flags |= f.flag
			}
			continue
		}
		if f, ok := propagationFlags[word]; ok {
			spec.propagation |= f
			continue
		}
		if word == "remount" {
			return nil, invalidf("volume %s: mount option \"remount\" in o has no meaning for a volume", name)
		}
		data = append(data, word)
	}
	spec.data = strings.Join(data, ",")
	if typ == "bind" {
		// Not a filesystem: what `type: bind` can only mean.
		spec.fstype, spec.flags = "none", spec.flags|unix.MS_BIND
	}
	spec.bind = spec.flags&unix.MS_BIND != 0
	if spec.fstype == "none" && !spec.bind {
		return nil, invalidf("volume %s: type %q mounts nothing without o=bind (type=none,o=bind,device=/path binds a host directory)", name, typ)
	}
	if spec.bind {
		if !filepath.IsAbs(device) {
			return nil, invalidf("volume %s: device %q of a bind mount must be an absolute path", name, device)
		}
		fi, err := os.Stat(device)
		if err != nil {
			return nil, invalidf("volume %s: device %q of a bind mount must be an existing directory: %v", name, device, err)
		}
		if !fi.IsDir() {
			return nil, invalidf("volume %s: device %q of a bind mount must be a directory", name, device)
		}
	}
	return spec, nil
}

// mountError is a failed mount(2) or umount2(2) with its arguments; it
// unwraps to the errno.
type mountError struct {
	op, source, target, fstype string
	flags                      uintptr
	data                       string
	err                        error
}

func (e *mountError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.op, e.target)
	if e.source != "" {
		fmt.Fprintf(&b, " from %s", e.source)
	}
	if e.fstype != "" {
		fmt.Fprintf(&b, " (type %s, flags %#x", e.fstype, e.flags)
		if e.data != "" {
			fmt.Fprintf(&b, ", data %q", hidePassword(e.data))
		}
		b.WriteString(")")
	} else if e.flags != 0 {
		fmt.Fprintf(&b, " (flags %#x)", e.flags)
	}
	return b.String() + ": " + e.err.Error()
}

func (e *mountError) Unwrap() error { return e.err }

// hidePassword masks a cifs password in mount data shown in an error, as
// Docker does.
func hidePassword(data string) string {
	words := strings.Split(data, ",")
	for i, w := range words {
		if strings.HasPrefix(w, "password=") {
			words[i] = "password=********"
		}
	}
	return strings.Join(words, ",")
}

func mount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return &mountError{op: "mount", source: source, target: target, fstype: fstype, flags: flags, data: data, err: err}
	}
	return nil
}

// mountVolume mounts the volume's driver options on its _data.
func mountVolume(v *Volume) error {
	spec, err := parseOptions(v.Name, v.Options)
	if err != nil {
		return err
	}
	data, err := resolveAddr(spec)
	if err != nil {
		return err
	}
	target := v.Mountpoint
	if err := mount(spec.device, target, spec.fstype, spec.flags, data); err != nil {
		return err
	}
	// A bind mount takes ro, nosuid and the like only on a remount.
	if extra := spec.flags &^ (unix.MS_BIND | unix.MS_REC); spec.bind && extra != 0 {
		if err := mount("", target, "", spec.flags&^unix.MS_REC|unix.MS_REMOUNT, ""); err != nil {
			return errors.Join(err, unmountAll(target))
		}
	}
	if spec.propagation != 0 {
		if err := mount("", target, "", spec.propagation, ""); err != nil {
			return errors.Join(err, unmountAll(target))
		}
	}
	return nil
}

// resolveAddr returns the spec's mount data with a host name in addr=
// (nfs, cifs) replaced by its address, which the kernel needs, as Docker
// does.
func resolveAddr(spec *mountSpec) (string, error) {
	switch spec.fstype {
	case "nfs", "nfs4", "cifs":
	default:
		return spec.data, nil
	}
	words := strings.Split(spec.data, ",")
	for i, w := range words {
		host, ok := strings.CutPrefix(w, "addr=")
		if !ok || net.ParseIP(host) != nil {
			continue
		}
		addr, err := net.ResolveIPAddr("ip", host)
		if err != nil {
			return "", fmt.Errorf("resolve the address of %s (addr=%s): %w", spec.fstype, host, err)
		}
		words[i] = "addr=" + addr.String()
	}
	return strings.Join(words, ","), nil
}

// unmountAll detaches every mount stacked on path; none is no error.
func unmountAll(path string) error {
	for range 64 {
		mounted, err := isMountPoint(path)
		if err != nil || !mounted {
			return err
		}
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return &mountError{op: "unmount", target: path, flags: unix.MNT_DETACH, err: err}
		}
	}
	return &mountError{op: "unmount", target: path, err: errors.New("still a mount point after 64 unmounts")}
}

// isMountPoint reports whether path (not followed if a symlink) is the
// root of a mount; a missing path is not.
func isMountPoint(path string) (bool, error) {
	var st unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, unix.STATX_TYPE, &st)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, &os.PathError{Op: "statx", Path: path, Err: err}
	}
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
	}
	// Kernels before 5.8 do not say: look in mountinfo.
	real, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return false, err
	}
	return inMountinfo(filepath.Join(real, filepath.Base(path)))
}

func inMountinfo(path string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == path {
			return true, nil
		}
	}
	return false, sc.Err()
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a blank).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
