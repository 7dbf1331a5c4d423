package container

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/runtime/rootfs"
)

// propagationFlags are the bind propagation modes as mount flags.
var propagationFlags = map[string]uintptr{
	"rprivate": unix.MS_PRIVATE | unix.MS_REC, "private": unix.MS_PRIVATE,
	"rshared": unix.MS_SHARED | unix.MS_REC, "shared": unix.MS_SHARED,
	"rslave": unix.MS_SLAVE | unix.MS_REC, "slave": unix.MS_SLAVE,
}

// volumeMounts mounts the container's volumes and binds for its start:
// driver_opts volumes are mounted, an empty volume first gets what the
// image has at its target (unless nocopy), a missing -v bind source is
// made a directory.
func (c *Container) volumeMounts() ([]rootfs.Mount, error) {
	if len(c.Options.Mounts) == 0 {
		return nil, nil
	}
	store, err := c.volumeStore()
	if err != nil {
		return nil, err
	}
	var out []rootfs.Mount
	for _, m := range c.Options.Mounts {
		rm := rootfs.Mount{Target: m.Target, Type: "bind", Flags: unix.MS_BIND | unix.MS_REC}
		if m.NonRecursive {
			rm.Flags = unix.MS_BIND
		}
		if m.ReadOnly {
			rm.Flags |= unix.MS_RDONLY
		}
		switch m.Type {
		case "tmpfs":
			rm = rootfs.Mount{Source: "tmpfs", Target: m.Target, Type: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV}
			if m.ReadOnly {
				rm.Flags |= unix.MS_RDONLY
			}
			mode := m.TmpfsMode
			if mode == 0 {
				mode = 0o1777
			}
			rm.Data = fmt.Sprintf("mode=%o", mode)
			if m.TmpfsSize > 0 {
				rm.Data += fmt.Sprintf(",size=%d", m.TmpfsSize)
			}
		case "bind":
			if _, err := os.Stat(m.Source); err == nil {
				// A file or a directory, bound as it is.
			} else if m.CreateHostPath {
				if err := os.MkdirAll(m.Source, 0o755); err != nil {
					return nil, invalidf("bind source %s: %v", m.Source, err)
				}
			} else {
				return nil, invalidf("invalid mount config for type \"bind\": bind source path does not exist: %s", m.Source)
			}
			rm.Source = m.Source
			rm.Propagation = propagationFlags[m.Propagation]
		case "volume":
			dir, err := store.Mount(m.Source, c.ID)
			if err != nil {
				return nil, err
			}
			if !m.NoCopy && m.SubPath == "" {
				if err := c.copyUp(dir, m.Target); err != nil {
					return nil, fmt.Errorf("volume %s: copy the image's %s: %w", m.Source, m.Target, err)
				}
			}
			rm.Source = dir
			if m.SubPath != "" {
				rm.Source = filepath.Join(dir, m.SubPath)
				if fi, err := os.Lstat(rm.Source); err != nil || !fi.IsDir() && !fi.Mode().IsRegular() {
					return nil, invalidf("volume %s: subpath %s does not exist in the volume", m.Source, m.SubPath)
				}
			}
		}
		out = append(out, rm)
	}
	return out, nil
}
