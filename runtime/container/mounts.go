package container

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-sh/berth/runtime/rootfs"
	"github.com/berth-sh/berth/volumes"
)

// Mount is one volume, bind mount or tmpfs of the container (docker run -v
// and --mount, compose's volumes:).
type Mount struct {
	// Type is "volume", "bind" or "tmpfs".
	Type string
	// Source is the volume's name (set at create for an anonymous one) or
	// the host path of a bind (absolute).
	Source string `json:",omitempty"`
	// Target is the absolute path in the container.
	Target   string
	ReadOnly bool `json:",omitempty"`
	// NoCopy: an empty volume is not filled with the image's content at
	// Target (volume-nocopy, -v name:/path:nocopy).
	NoCopy bool `json:",omitempty"`
	// SubPath mounts a directory inside the volume (volume-subpath).
	SubPath string `json:",omitempty"`
	// Anonymous: the volume was made for this container (-v /path, an
	// image VOLUME); rm -v removes it.
	Anonymous bool `json:",omitempty"`
	// CreateHostPath makes a missing bind source a directory, as -v does;
	// --mount and compose's create_host_path: false refuse it instead.
	CreateHostPath bool `json:",omitempty"`
	// Propagation of a bind: rprivate (the default), private, rshared,
	// shared, rslave or slave.
	Propagation string `json:",omitempty"`
	// NonRecursive binds only the source, not the mounts below it.
	NonRecursive bool `json:",omitempty"`
	// TmpfsSize in bytes (0: the kernel's default) and TmpfsMode (0:
	// 1777) of a tmpfs.
	TmpfsSize int64  `json:",omitempty"`
	TmpfsMode uint32 `json:",omitempty"`
}

// propagations are the bind propagation modes.
var propagations = map[string]bool{"rprivate": true, "private": true, "rshared": true, "shared": true, "rslave": true, "slave": true}

// ParseVolume reads docker run's -v value, [SOURCE:]TARGET[:OPTIONS]: an
// absolute (or ./-relative, resolved against dir) SOURCE is a bind, a
// name a named volume, none an anonymous volume. OPTIONS are ro, rw, z,
// Z (accepted: berth does no SELinux labelling), nocopy and the
// propagation modes.
func ParseVolume(v, dir string) (Mount, error) {
	bad := func(format string, args ...any) error {
		return invalidf("invalid volume specification: '%s': %s", v, fmt.Sprintf(format, args...))
	}
	parts := strings.Split(v, ":")
	var m Mount
	switch len(parts) {
	case 1:
		m = Mount{Type: "volume", Target: parts[0]}
	case 2, 3:
		// Docker reads /path:ro as a mount of "/path" on "ro", and refuses it.
		m = Mount{Source: parts[0], Target: parts[1]}
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch {
				case o == "ro":
					m.ReadOnly = true
				case o == "rw", o == "z", o == "Z", o == "":
				case o == "nocopy":
					m.NoCopy = true
				case propagations[o]:
					m.Propagation = o
				default:
					return Mount{}, bad("unknown option %q", o)
				}
			}
		}
	default:
		return Mount{}, bad("too many colons")
	}
	if m.Source != "" {
		switch {
		case filepath.IsAbs(m.Source):
			m.Type, m.CreateHostPath = "bind", true
		case m.Source == "." || m.Source == ".." || strings.HasPrefix(m.Source, "./") || strings.HasPrefix(m.Source, "../"):
			m.Type, m.CreateHostPath, m.Source = "bind", true, filepath.Join(dir, m.Source)
		default:
			if err := volumes.ValidName(m.Source); err != nil {
				return Mount{}, invalid(err)
			}
			m.Type = "volume"
		}
	}
	if m.Type == "volume" && m.Propagation != "" {
		return Mount{}, bad("propagation %s is for bind mounts", m.Propagation)
	}
	if m.Type == "bind" && m.NoCopy {
		return Mount{}, bad("nocopy is for volumes")
	}
	return m, m.check()
}

// ParseMount reads docker run's --mount value: comma-separated key=value
// fields (type, source/src, target/destination/dst, readonly/ro,
// volume-nocopy, volume-subpath, bind-propagation, bind-recursive,
// tmpfs-size, tmpfs-mode), relative bind sources resolved against dir.
func ParseMount(v, dir string) (Mount, error) {
	bad := func(format string, args ...any) error {
		return invalidf("invalid argument %q for \"--mount\" flag: %s", v, fmt.Sprintf(format, args...))
	}
	m := Mount{Type: "volume"}
	for _, f := range strings.Split(v, ",") {
		key, val, hasVal := strings.Cut(f, "=")
		boolean := func() (bool, error) {
			switch strings.ToLower(val) {
			case "", "1", "true":
				return !hasVal || val != "", nil
			case "0", "false":
				return false, nil
			}
			return false, bad("invalid value for %s: %s", key, val)
		}
		var err error
		switch strings.ToLower(key) {
		case "type":
			m.Type = val
		case "source", "src":
			m.Source = val
		case "target", "destination", "dst":
			m.Target = val
		case "readonly", "ro":
			m.ReadOnly, err = boolean()
			if !hasVal {
				m.ReadOnly = true
			}
		case "volume-nocopy":
			m.NoCopy, err = boolean()
			if !hasVal {
				m.NoCopy = true
			}
		case "volume-subpath":
			m.SubPath = val
		case "bind-propagation":
			if !propagations[val] {
				return Mount{}, bad("invalid propagation mode: %s", val)
			}
			m.Propagation = val
		case "bind-recursive":
			switch val {
			case "enabled":
			case "disabled":
				m.NonRecursive = true
			default:
				return Mount{}, bad("bind-recursive %q is not supported by berth (enabled, disabled)", val)
			}
		case "bind-nonrecursive":
			m.NonRecursive, err = boolean()
		case "tmpfs-size":
			m.TmpfsSize, err = parseSize(val)
		case "tmpfs-mode":
			var mode uint64
			mode, err = strconv.ParseUint(val, 8, 32)
			m.TmpfsMode = uint32(mode)
		case "consistency", "bind-create-host-path":
			if key == "bind-create-host-path" {
				m.CreateHostPath, err = boolean()
			}
		default:
			return Mount{}, bad("unexpected key '%s' in '%s'", key, f)
		}
		if err != nil {
			return Mount{}, bad("%s: %v", key, err)
		}
	}
	switch m.Type {
	case "bind":
		if m.Source == "" {
			return Mount{}, bad("source is required when specifying volume-driver")
		}
		if !filepath.IsAbs(m.Source) {
			m.Source = filepath.Join(dir, m.Source)
		}
	case "volume":
		if m.Source != "" {
			if err := volumes.ValidName(m.Source); err != nil {
				return Mount{}, invalid(err)
			}
		}
	case "tmpfs":
		if m.Source != "" {
			return Mount{}, bad("source is not allowed for tmpfs")
		}
	default:
		return Mount{}, bad("mount type %q is not supported by berth (volume, bind, tmpfs)", m.Type)
	}
	return m, m.check()
}

// parseSize reads a size with Docker's units (k, m, g, with or without b).
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.ToLower(s), "b")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult, t = 1<<10, t[:n-1]
		case 'm':
			mult, t = 1<<20, t[:n-1]
		case 'g':
			mult, t = 1<<30, t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}

// check refuses what no mount may be.
func (m Mount) check() error {
	if m.Target == "" {
		return invalidf("invalid mount config: a mount needs a target (the path in the container)")
	}
	if !path.IsAbs(m.Target) {
		return invalidf("invalid mount config for type %q: invalid mount path: '%s' mount path must be absolute", m.Type, m.Target)
	}
	if path.Clean(m.Target) == "/" {
		return invalidf("invalid specification: destination can't be '/'")
	}
	if m.SubPath != "" && (m.Type != "volume" || path.IsAbs(m.SubPath) || slices.Contains(strings.Split(m.SubPath, "/"), "..")) {
		return invalidf("invalid volume-subpath %q: a relative path inside a volume", m.SubPath)
	}
	return nil
}

// checkMounts refuses two mounts on one target, and a bind source that is
// missing where it may not be made.
func checkMounts(ms []Mount) error {
	seen := map[string]bool{}
	for _, m := range ms {
		t := path.Clean(m.Target)
		if seen[t] {
			return invalidf("Duplicate mount point: %s", t)
		}
		seen[t] = true
		if m.Type == "bind" && !m.CreateHostPath {
			if _, err := os.Stat(m.Source); err != nil {
				return invalidf("invalid mount config for type \"bind\": bind source path does not exist: %s", m.Source)
			}
		}
	}
	return nil
}

// claimVolumes makes the container's volumes (anonymous ones get their
// names, and one is made for every image VOLUME no mount covers) and
// records the container as their user. On failure nothing is claimed.
func (c *Container) claimVolumes(store *volumes.Store, imageVolumes []string) (err error) {
	var claimed []string
	defer func() {
		if err != nil {
			for _, name := range claimed {
				_ = store.Release(name, c.ID)
			}
			for _, m := range c.Options.Mounts {
				if m.Anonymous && slices.Contains(claimed, m.Source) {
					_ = store.Remove(m.Source, true)
				}
			}
		}
	}()
	for _, iv := range imageVolumes {
		covered := slices.ContainsFunc(c.Options.Mounts, func(m Mount) bool { return path.Clean(m.Target) == path.Clean(iv) })
		if !covered && path.IsAbs(iv) && path.Clean(iv) != "/" {
			c.Options.Mounts = append(c.Options.Mounts, Mount{Type: "volume", Target: path.Clean(iv)})
		}
	}
	for i := range c.Options.Mounts {
		m := &c.Options.Mounts[i]
		if m.Type != "volume" {
			continue
		}
		if m.Source == "" {
			m.Anonymous = true
		}
		v, _, err := store.Create(m.Source, volumes.Options{Anonymous: m.Anonymous})
		if err != nil {
			return invalid(err)
		}
		m.Source = v.Name
		if err := store.Use(v.Name, c.ID); err != nil {
			return err
		}
		claimed = append(claimed, v.Name)
	}
	return nil
}

// volumeStore is the state root's volume store.
func (c *Container) volumeStore() (*volumes.Store, error) {
	return volumes.Open(filepath.Dir(filepath.Dir(c.bundle)))
}

// copyUp fills the empty volume at dir with what the image has at target,
// as Docker does the first time a volume is mounted over content: owners,
// modes and all. A volume with anything in it is left as it is.
func (c *Container) copyUp(dir, target string) error {
	empty, err := volumes.IsEmpty(dir)
	if err != nil || !empty {
		return err
	}
	src, ok, err := rootfs.InRoot(c.rootfsPath(), target)
	if err != nil || !ok {
		return err
	}
	if fi, err := os.Lstat(src); err != nil || !fi.IsDir() {
		return nil // nothing, or not a directory: nothing to copy
	}
	return volumes.CopyUp(src, dir)
}

// unmountVolumes lets the container's volumes go when it stops.
func (c *Container) unmountVolumes() error {
	if !slices.ContainsFunc(c.Options.Mounts, func(m Mount) bool { return m.Type == "volume" }) {
		return nil
	}
	store, err := c.volumeStore()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range c.Options.Mounts {
		if m.Type == "volume" {
			errs = append(errs, store.Unmount(m.Source, c.ID))
		}
	}
	return errors.Join(errs...)
}

// releaseVolumes forgets the container as a user of its volumes, at rm;
// with removeAnonymous (rm -v) its anonymous volumes go too.
func (c *Container) releaseVolumes(removeAnonymous bool) error {
	if !slices.ContainsFunc(c.Options.Mounts, func(m Mount) bool { return m.Type == "volume" }) {
		return nil
	}
	store, err := c.volumeStore()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range c.Options.Mounts {
		if m.Type != "volume" {
			continue
		}
		errs = append(errs, store.Unmount(m.Source, c.ID), store.Release(m.Source, c.ID))
		if removeAnonymous && m.Anonymous {
			// Another container may use it too (--volumes-from): then it stays, as with Docker.
			if err := store.Remove(m.Source, false); err != nil && !errors.Is(err, volumes.ErrInUse) && !errors.Is(err, volumes.ErrNotFound) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// inspectMounts is inspect's Mounts: the volumes and binds, as Docker
// lists them.
func (c *Container) inspectMounts() []InspectMount {
	out := []InspectMount{}
	store, _ := c.volumeStore()
	for _, m := range c.Options.Mounts {
		im := InspectMount{Type: m.Type, Source: m.Source, Destination: m.Target, RW: !m.ReadOnly}
		switch m.Type {
		case "volume":
			im.Name, im.Driver, im.Mode = m.Source, "local", "z"
			im.Source = ""
			if store != nil {
				if v, err := store.Get(m.Source); err == nil {
					im.Source = v.Mountpoint
				}
			}
		case "bind":
			im.Propagation = m.Propagation
			if im.Propagation == "" {
				im.Propagation = "rprivate"
			}
		case "tmpfs":
			im.Source = ""
		}
		out = append(out, im)
	}
	return out
}

// mountsFrom adds the mounts of the --volumes-from containers, as Docker
// does: the container's own mounts win on the same target, ":ro" makes
// them read-only, ":rw" writable.
func (c *Container) mountsFrom(root string) error {
	for _, from := range c.Options.VolumesFrom {
		name, mode, _ := strings.Cut(from, ":")
		if mode != "" && mode != "ro" && mode != "rw" {
			return invalidf("invalid mode for volumes-from: %s", mode)
		}
		other, err := Lookup(root, name)
		if err != nil {
			return invalid(err)
		}
		for _, m := range other.Options.Mounts {
			if m.Type == "tmpfs" || slices.ContainsFunc(c.Options.Mounts, func(have Mount) bool { return path.Clean(have.Target) == path.Clean(m.Target) }) {
				continue
			}
			switch mode {
			case "ro":
				m.ReadOnly = true
			case "rw":
				m.ReadOnly = false
			}
			// The volume is the other container's: rm -v here does not remove it.
			m.Anonymous = false
			c.Options.Mounts = append(c.Options.Mounts, m)
		}
	}
	return nil
}

// CheckMount refuses what no mount may be (compose's volumes, mapped by the engine).
func CheckMount(m Mount) error { return m.check() }
