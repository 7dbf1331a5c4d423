package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

// Create makes volume name (a random one when name is ""): its directory,
// its _data and its record. An existing volume is returned with created
// false, as `docker volume create` twice succeeds, unless it was asked
// with other driver options. Nothing is left behind when it fails.
func (s *Store) Create(name string, o Options) (v *Volume, created bool, err error) {
	if o.Driver != "" && o.Driver != DriverLocal {
		return nil, false, invalidf("volume driver %q is not supported by berth: it has the local driver only", o.Driver)
	}
	anonymous := o.Anonymous || name == ""
	if name == "" {
		if name, err = newName(); err != nil {
			return nil, false, err
		}
	} else if err := ValidName(name); err != nil {
		return nil, false, err
	}
	if _, err := parseOptions(name, o.DriverOpts); err != nil {
		return nil, false, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	old, err := s.load(name)
	if err == nil {
		if len(o.DriverOpts) > 0 && !maps.Equal(old.Options, o.DriverOpts) {
			return nil, false, invalidf("volume %s already exists with different driver options", name)
		}
		return old, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	v = &Volume{
		Name:       name,
		Driver:     DriverLocal,
		Mountpoint: s.dataPath(name),
		CreatedAt:  time.Now().UTC(),
		Labels:     maps.Clone(o.Labels),
		Scope:      ScopeLocal,
		Anonymous:  anonymous,
	}
	if len(o.DriverOpts) > 0 {
		v.Options = maps.Clone(o.DriverOpts)
	}
	if anonymous {
		if v.Labels == nil {
			v.Labels = map[string]string{}
		}
		v.Labels[LabelAnonymous] = ""
	}
	if err := s.make(v); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	s.event(v, "create")
	return v, true, nil
}

// make makes the directories and record of a new volume, undoing what it
// made when a step fails. A directory left without a record (a crash
// half-way, or a volume directory copied in) is taken over as Docker's
// local driver does, keeping what _data holds, and never removed here.
func (s *Store) make(v *Volume) (err error) {
	var made []string // directories made here, innermost last
	defer func() {
		if err != nil {
			for _, dir := range slices.Backward(made) {
				os.Remove(dir) // empty: made here, nothing written in it yet
			}
		}
	}()
	step := func(name string) error {
		if s.fault != nil {
			return s.fault(name)
		}
		return nil
	}
	for _, d := range []struct {
		step, path string
		mode       os.FileMode
	}{
		{"dir", s.volumeDir(v.Name), 0o701},
		{"data", v.Mountpoint, 0o755},
	} {
		switch err := os.Mkdir(d.path, d.mode); {
		case err == nil:
			made = append(made, d.path)
			// The mode asked for, whatever the umask.
			if err := os.Chmod(d.path, d.mode); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
			if fi, err := os.Lstat(d.path); err != nil {
				return err
			} else if !fi.IsDir() {
				return fmt.Errorf("%s is in the way: not a directory", d.path)
			}
		default:
			return err
		}
		if err := step(d.step); err != nil {
			return err
		}
	}
	if err := step("record"); err != nil {
		return err
	}
	return s.save(v)
}

// Use records that container id references volume name.
func (s *Store) Use(name, containerID string) error {
	if containerID == "" {
		return invalidf("volume %s: use by a container without an id", name)
	}
	return s.update(name, func(v *Volume) (bool, error) {
		var added bool
		v.Users, added = addID(v.Users, containerID)
		return added, nil
	})
}

// Release forgets that container id references volume name; a missing
// volume is no error. A container that is gone has nothing mounted, so a
// mount it still has on record is released too (Unmount).
func (s *Store) Release(name, containerID string) error {
	err := s.update(name, func(v *Volume) (bool, error) {
		var used, mounted bool
		v.Users, used = dropID(v.Users, containerID)
		v.Mounts, mounted = dropID(v.Mounts, containerID)
		if mounted && len(v.Mounts) == 0 && v.needsMount() {
			if err := unmountAll(v.Mountpoint); err != nil {
				return false, fmt.Errorf("volume %s: %w", name, err)
			}
		}
		return used || mounted, nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Mount returns what a starting container binds for volume name: its
// Mountpoint. The first container to mount a volume with driver options
// mounts them there; the others are counted.
func (s *Store) Mount(name, containerID string) (string, error) {
	if containerID == "" {
		return "", invalidf("volume %s: mount by a container without an id", name)
	}
	unlock, err := s.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	v, err := s.get(name)
	if err != nil {
		return "", err
	}
	if fi, err := os.Lstat(v.Mountpoint); err != nil {
		return "", fmt.Errorf("volume %s: its data directory is gone: %w", name, err)
	} else if !fi.IsDir() {
		return "", fmt.Errorf("volume %s: its data directory %s is not a directory", name, v.Mountpoint)
	}
	mountedHere := false
	if v.needsMount() {
		// The kernel, not the record, says whether it is mounted: a
		// reboot forgets the mount, a crash may leave one.
		mounted, err := isMountPoint(v.Mountpoint)
		if err != nil {
			return "", fmt.Errorf("volume %s: %w", name, err)
		}
		if !mounted {
			if err := mountVolume(v); err != nil {
				return "", fmt.Errorf("volume %s: %w", name, err)
			}
			mountedHere = true
		}
	}
	var added bool
	if v.Mounts, added = addID(v.Mounts, containerID); added {
		if err := s.save(v); err != nil {
			if mountedHere {
				err = errors.Join(err, unmountAll(v.Mountpoint))
			}
			return "", err
		}
		s.event(v, "mount", "container", containerID)
	}
	return v.Mountpoint, nil
}

// Unmount is the end of a container's Mount; the last one of a volume with
// driver options unmounts them. Unmounting again, or a missing volume, is
// no error.
func (s *Store) Unmount(name, containerID string) error {
	var unmounted *Volume
	err := s.update(name, func(v *Volume) (bool, error) {
		rest, mounted := dropID(v.Mounts, containerID)
		if len(rest) == 0 && v.needsMount() {
			if err := unmountAll(v.Mountpoint); err != nil {
				return false, fmt.Errorf("volume %s: %w", name, err)
			}
		}
		v.Mounts = rest
		if mounted {
			unmounted = v
		}
		return mounted, nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err == nil && unmounted != nil {
		s.event(unmounted, "unmount", "container", containerID)
	}
	return err
}

// update changes the record of volume name with change under the store's
// lock, and saves it when change reports a change.
func (s *Store) update(name string, change func(*Volume) (bool, error)) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	v, err := s.get(name)
	if err != nil {
		return err
	}
	changed, err := change(v)
	if err != nil || !changed {
		return err
	}
	return s.save(v)
}

// Remove deletes volume name: it refuses while containers use it (ErrInUse)
// unless force, unmounts what its driver options mounted, then deletes its
// _data and record. It never deletes anything inside a mount: a volume
// binding a host directory or mounting a device loses only berth's own
// directories. A missing volume is an error unless force, as Docker's.
func (s *Store) Remove(name string, force bool) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	v, err := s.get(name)
	if errors.Is(err, ErrNotFound) && force {
		return nil
	}
	if err != nil {
		return err
	}
	return s.remove(v, force)
}

// remove deletes v under the store's lock.
func (s *Store) remove(v *Volume, force bool) error {
	if ids := v.holders(); len(ids) > 0 && !force {
		// Docker's words.
		return &userError{msg: fmt.Sprintf("remove %s: volume is in use - [%s]", v.Name, strings.Join(ids, ", ")), kind: ErrInUse}
	}
	if v.needsMount() {
		if err := unmountAll(v.Mountpoint); err != nil {
			return fmt.Errorf("remove volume %s: %w", v.Name, err)
		}
	}
	// _data first, the record after: a removal that fails half-way leaves
	// a volume that can be removed again.
	if err := removeTree(v.Mountpoint); err != nil {
		return fmt.Errorf("remove volume %s: %w", v.Name, err)
	}
	if err := os.Remove(s.recordPath(v.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove volume %s: %w", v.Name, err)
	}
	if err := removeTree(s.volumeDir(v.Name)); err != nil {
		return fmt.Errorf("remove volume %s: %w", v.Name, err)
	}
	s.event(v, "destroy")
	return nil
}

// Prune removes the volumes no container uses: only anonymous ones unless
// all (Docker 23 and later), and only those with every label of labels (an
// empty value matches any). It returns the names removed, sorted, and goes
// on past a volume it cannot remove.
func (s *Store) Prune(all bool, labels map[string]string) ([]string, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	vols, err := s.List()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, v := range vols {
		if len(v.holders()) > 0 || !all && !v.anonymous() || !matchLabels(v.Labels, labels) {
			continue
		}
		if err := s.remove(v, false); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, v.Name)
	}
	return removed, errors.Join(errs...)
}
