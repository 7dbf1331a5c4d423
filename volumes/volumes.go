// Package volumes owns berth's named and anonymous volumes: Docker's local
// volume driver. A volume is a directory under the state root,
// $ROOT/volumes/<name>/_data, with its record beside it in
// $ROOT/volumes/<name>/volume.json; a volume made with driver options
// (type, device, o) has what they name mounted on _data while a running
// container uses it. The package also does Docker's copy-up of an image's
// content into a new volume (CopyUp).
//
// It must never lose what a volume holds: removal never crosses a mount
// point, so the content of a bound host directory or a mounted device is
// never deleted, and every change of a record happens under one lock so that
// concurrent berth processes never lose a user or a mount.
package volumes

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"syscall"
	"time"
)

const (
	// DriverLocal is the one driver berth has.
	DriverLocal = "local"
	// ScopeLocal is the scope of every local volume.
	ScopeLocal = "local"
	// LabelAnonymous marks an anonymous volume, as Docker (23 and later)
	// does; `volume prune` without --all removes only volumes with it.
	LabelAnonymous = "com.docker.volume.anonymous"

	dataDir    = "_data"
	recordName = "volume.json"
)

var (
	// ErrNotFound is matched by "no such volume: X".
	ErrNotFound = errors.New("no such volume")
	// ErrInvalid is matched by every error about the user's input.
	ErrInvalid = errors.New("invalid volume configuration")
	// ErrInUse is matched when a volume still has containers.
	ErrInUse = errors.New("volume is in use")
)

type userError struct {
	msg  string
	kind error
}

func (e *userError) Error() string        { return e.msg }
func (e *userError) Is(target error) bool { return target == e.kind }

func invalidf(format string, args ...any) error {
	return &userError{msg: fmt.Sprintf(format, args...), kind: ErrInvalid}
}

func notFound(name string) error {
	return &userError{msg: "no such volume: " + name, kind: ErrNotFound}
}

// Options are `volume create`'s (and compose's volumes:) settings.
type Options struct {
	// Driver is "" or "local".
	Driver string
	Labels map[string]string
	// DriverOpts are the local driver's: "type", "device" and "o", as in
	// `mount -t type -o o device`. Empty makes a plain directory.
	DriverOpts map[string]string
	// Anonymous marks a volume made for an image's VOLUME or a `-v /path`
	// (label com.docker.volume.anonymous); a volume created without a name
	// is always anonymous.
	Anonymous bool
}

// Volume is a volume's record, $ROOT/volumes/<name>/volume.json.
type Volume struct {
	Name       string
	Driver     string // "local"
	Mountpoint string // $ROOT/volumes/<name>/_data
	CreatedAt  time.Time
	Labels     map[string]string `json:",omitempty"`
	Options    map[string]string `json:",omitempty"`
	Scope      string            // "local"
	Anonymous  bool              `json:",omitempty"`
	// Users are the ids of the containers that reference the volume
	// (created, running or not), sorted.
	Users []string `json:",omitempty"`
	// Mounts are the ids of the running containers that have the volume
	// mounted, sorted. A volume with driver options is mounted on
	// Mountpoint while there is one.
	Mounts []string `json:",omitempty"`
}

// needsMount reports whether the volume is a mount of its driver options
// rather than a plain directory.
func (v *Volume) needsMount() bool {
	return v.Options["type"] != "" || v.Options["device"] != ""
}

// holders are the containers that keep the volume from being removed: its
// users and whatever has it mounted, sorted.
func (v *Volume) holders() []string {
	ids := slices.Concat(v.Users, v.Mounts)
	slices.Sort(ids)
	return slices.Compact(ids)
}

func (v *Volume) anonymous() bool {
	_, labelled := v.Labels[LabelAnonymous]
	return v.Anonymous || labelled
}

// validName is Docker's rule for local volume names.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// ValidName checks a volume name with Docker's rule and words.
func ValidName(name string) error {
	if len(name) == 1 {
		return invalidf("volume name is too short, names should be at least two alphanumeric characters")
	}
	if !validName.MatchString(name) {
		return invalidf(`%q includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`, name)
	}
	return nil
}

// Store is the volumes directory of a state root.
type Store struct {
	dir string
	// fault, set by tests only, fails Create at a step ("dir", "data",
	// "record") to show that nothing is left behind.
	fault func(step string) error
}

// Open returns the store of the state root ($ROOT/volumes), making it.
// Paths are made absolute: a Mountpoint is what a container binds.
func Open(root string) (*Store, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "volumes")
	if err := os.MkdirAll(dir, 0o701); err != nil {
		return nil, err
	}
	return &Store{dir: dir}, nil
}

func (s *Store) volumeDir(name string) string { return filepath.Join(s.dir, name) }
func (s *Store) dataPath(name string) string  { return filepath.Join(s.dir, name, dataDir) }
func (s *Store) recordPath(name string) string {
	return filepath.Join(s.dir, name, recordName)
}

// lock takes the store's exclusive lock: every read-modify-write of a
// record happens under it, in this process and in every other.
func (s *Store) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", s.dir, err)
	}
	return func() { f.Close() }, nil
}

// load reads the record of name; an error matching fs.ErrNotExist when
// there is none.
func (s *Store) load(name string) (*Volume, error) {
	b, err := os.ReadFile(s.recordPath(name))
	if err != nil {
		return nil, err
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("read volume %s: %w", name, err)
	}
	// The record's place, not what it says, is the truth: a state root
	// that was moved keeps its volumes.
	v.Name, v.Mountpoint = name, s.dataPath(name)
	slices.Sort(v.Users)
	slices.Sort(v.Mounts)
	return &v, nil
}

// get is load with the user's error for a missing volume.
func (s *Store) get(name string) (*Volume, error) {
	if !validName.MatchString(name) {
		return nil, notFound(name)
	}
	v, err := s.load(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(name)
	}
	return v, err
}

// save replaces the record atomically: a temporary file, synced, renamed
// over the record, and the directory synced.
func (s *Store) save(v *Volume) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	dir := s.volumeDir(v.Name)
	f, err := os.CreateTemp(dir, recordName+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.recordPath(v.Name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("volume %s: write record: %w", v.Name, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get returns volume name.
func (s *Store) Get(name string) (*Volume, error) {
	return s.get(name)
}

// List returns every volume, by name.
func (s *Store) List() ([]*Volume, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []*Volume
	for _, e := range ents {
		if !e.IsDir() || !validName.MatchString(e.Name()) {
			continue
		}
		v, err := s.load(e.Name())
		if errors.Is(err, fs.ErrNotExist) {
			// Being created or removed, or left by a crash: not a volume.
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// IsEmpty reports whether directory dir has no entries; a missing dir
// counts as empty.
func IsEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	return false, err
}

// newName is an anonymous volume's name: 64 random hex digits, as Docker's.
func newName() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// addID inserts id into the sorted ids unless it is there; it reports
// whether it was added.
func addID(ids []string, id string) ([]string, bool) {
	i, found := slices.BinarySearch(ids, id)
	if found {
		return ids, false
	}
	return slices.Insert(ids, i, id), true
}

// dropID removes id from the sorted ids; it reports whether it was there.
func dropID(ids []string, id string) ([]string, bool) {
	i, found := slices.BinarySearch(ids, id)
	if !found {
		return ids, false
	}
	ids = slices.Delete(ids, i, i+1)
	if len(ids) == 0 {
		ids = nil
	}
	return ids, true
}

// matchLabels reports whether labels has every filter label: a filter
// with an empty value asks only for the key (label=k), others for the
// value too (label=k=v).
func matchLabels(labels, filter map[string]string) bool {
	for k, want := range filter {
		got, ok := labels[k]
		if !ok || want != "" && got != want {
			return false
		}
	}
	return true
}
