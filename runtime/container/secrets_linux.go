package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/runtime/rootfs"
)

// fileMounts writes the container's secrets and configs under its run
// directory (memory, on the usual tmpfs /run) with their owners and modes,
// and returns the read-only binds that put them in place.
func (c *Container) fileMounts() ([]rootfs.Mount, error) {
	all := append(append([]FileMount{}, c.Options.Secrets...), c.Options.Configs...)
	if len(all) == 0 {
		return nil, nil
	}
	dir := filepath.Join(c.RunDir, "files")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	var out []rootfs.Mount
	for i, f := range all {
		content := f.Content
		if f.File != "" {
			b, err := os.ReadFile(f.File)
			if err != nil {
				return nil, invalidf("%s: %v", f.Name, err)
			}
			content = b
		}
		p := filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(p, content, 0o600); err != nil {
			return nil, err
		}
		if err := os.Chown(p, f.UID, f.GID); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o444 // compose's default
		}
		if err := os.Chmod(p, os.FileMode(mode&0o777)|modeBits(mode)); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		out = append(out, rootfs.Mount{Source: p, Target: f.Target, Type: "bind",
			Flags: unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC})
	}
	return out, nil
}

// modeBits are the setuid, setgid and sticky bits of mode as an
// os.FileMode.
func modeBits(mode uint32) os.FileMode {
	var m os.FileMode
	if mode&unix.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if mode&unix.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if mode&unix.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}
