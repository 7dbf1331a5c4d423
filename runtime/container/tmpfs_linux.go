package container

import (
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/runtime/rootfs"
)

// tmpfsFlags are the mount flags a --tmpfs option string may set or clear.
var tmpfsFlags = map[string]struct {
	flag  uintptr
	clear bool
}{
	"ro": {unix.MS_RDONLY, false}, "rw": {unix.MS_RDONLY, true},
	"noexec": {unix.MS_NOEXEC, false}, "exec": {unix.MS_NOEXEC, true},
	"nosuid": {unix.MS_NOSUID, false}, "suid": {unix.MS_NOSUID, true},
	"nodev": {unix.MS_NODEV, false}, "dev": {unix.MS_NODEV, true},
	"sync": {unix.MS_SYNCHRONOUS, false}, "async": {unix.MS_SYNCHRONOUS, true},
	"noatime": {unix.MS_NOATIME, false}, "atime": {unix.MS_NOATIME, true},
	"nodiratime": {unix.MS_NODIRATIME, false}, "diratime": {unix.MS_NODIRATIME, true},
	"relatime": {unix.MS_RELATIME, false}, "norelatime": {unix.MS_RELATIME, true},
	"strictatime": {unix.MS_STRICTATIME, false},
}

// tmpfsData are the tmpfs options passed on to the kernel as data.
var tmpfsData = map[string]bool{
	"size": true, "mode": true, "uid": true, "gid": true, "nr_inodes": true,
	"nr_blocks": true, "mpol": true, "huge": true,
}

// tmpfsMount is the mount of one --tmpfs entry: Docker's defaults noexec,
// nosuid and nodev, then the user's options in order.
func tmpfsMount(target, opts string) (rootfs.Mount, error) {
	if !path.IsAbs(target) {
		return rootfs.Mount{}, invalidf("invalid mount path for --tmpfs %q: must be absolute", target)
	}
	if path.Clean(target) == "/" {
		return rootfs.Mount{}, invalidf("invalid mount path for --tmpfs %q: cannot be /", target)
	}
	flags := uintptr(unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV)
	var data []string
	for _, o := range strings.Split(opts, ",") {
		if o == "" {
			continue
		}
		if f, ok := tmpfsFlags[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		k, _, ok := strings.Cut(o, "=")
		if !ok || !tmpfsData[k] {
			return rootfs.Mount{}, invalidf("invalid tmpfs option %q for %s", o, target)
		}
		data = append(data, o)
	}
	return rootfs.Mount{Source: "tmpfs", Target: path.Clean(target), Type: "tmpfs", Flags: flags, Data: strings.Join(data, ",")}, nil
}
