package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Snapshots is the directory of unpacked layers, $ROOT/snapshots/<chainID hex>, each one a
// complete overlayfs lower directory. A snapshot appears under its name only when whole: it is
// built in a ".tmp-*" directory beside the others and renamed into place, and removed by renaming
// it to ".trash-*" first. Several berth processes may share the directory without a daemon.
type Snapshots struct {
	dir string
}

const (
	snapTmpPrefix   = ".tmp-"
	snapTrashPrefix = ".trash-"
	snapLockSuffix  = ".lock"
)

// OpenSnapshots opens the snapshot directory dir, creating it if missing.
func OpenSnapshots(dir string) (*Snapshots, error) {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	return &Snapshots{dir: abs}, nil
}

// snapHex returns the hex part of a "sha256:<64 hex>" chain ID, the snapshot's name on disk.
func snapHex(chainID string) (string, error) {
	h, ok := strings.CutPrefix(chainID, "sha256:")
	if !ok || len(h) != 64 || !snapIsLowerHex(h) {
		return "", fmt.Errorf("invalid chain ID %q: want sha256:<64 lowercase hex digits>", chainID)
	}
	return h, nil
}

func snapIsLowerHex(s string) bool {
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Path returns where the snapshot of chainID lives (whether or not it exists), or "" when
// chainID is malformed.
func (s *Snapshots) Path(chainID string) string {
	h, err := snapHex(chainID)
	if err != nil {
		return ""
	}
	return filepath.Join(s.dir, h)
}

// Has reports whether the snapshot of chainID is complete on disk.
func (s *Snapshots) Has(chainID string) bool {
	p := s.Path(chainID)
	if p == "" {
		return false
	}
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}

// Prepare returns the path of the snapshot of chainID, creating it first with unpack when
// missing. unpack fills the empty directory it is given; when it fails nothing is left under the
// final name.
//
// Concurrent Prepares of one chain ID (goroutines or processes) each unpack into their own temp
// directory, and the first rename wins; the others discard their copy and return the winner's,
// which has the same content because a chain ID names it. Deduplicating that work in one process
// is the caller's business (singleflight). Each temp directory is guarded by a flock on a
// sibling "<tmp>.lock" file held for its whole life, which is how Cleanup tells a live
// Prepare's directory from a crashed one's.
func (s *Snapshots) Prepare(ctx context.Context, chainID string, unpack func(ctx context.Context, dir string) error) (string, error) {
	h, err := snapHex(chainID)
	if err != nil {
		return "", err
	}
	final := filepath.Join(s.dir, h)
	if s.Has(chainID) {
		return final, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	lock, tmp, err := s.createLockedTemp(h)
	if err != nil {
		return "", err
	}
	// The lock file goes last: while it exists and is locked, tmp belongs to us.
	defer func() {
		os.Remove(lock.Name())
		lock.Close()
	}()

	if err := s.fill(ctx, tmp, unpack); err != nil {
		if rerr := snapRemoveAll(tmp); rerr != nil {
			return "", errors.Join(err, fmt.Errorf("removing failed snapshot: %w", rerr))
		}
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		// fs.ErrExist covers EEXIST and ENOTEMPTY, which is what renaming onto a non-empty
		// directory gives.
		if !errors.Is(err, fs.ErrExist) {
			snapRemoveAll(tmp)
			return "", fmt.Errorf("snapshot %s: %w", chainID, err)
		}
		// Another Prepare got there first; theirs is as good as ours.
		if err := snapRemoveAll(tmp); err != nil {
			return "", fmt.Errorf("discarding duplicate snapshot %s: %w", chainID, err)
		}
		return final, nil
	}
	if err := syncDir(s.dir); err != nil {
		return "", fmt.Errorf("snapshot %s: %w", chainID, err)
	}
	return final, nil
}

// fill runs unpack in tmp and makes the result durable before it gets its final name.
func (s *Snapshots) fill(ctx context.Context, tmp string, unpack func(ctx context.Context, dir string) error) error {
	// MkdirTemp made tmp 0700, but the snapshot root becomes "/" of a read-only overlay when no
	// layer says otherwise.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := unpack(ctx, tmp); err != nil {
		return err
	}
	if err := snapSyncTree(tmp); err != nil {
		return fmt.Errorf("syncing snapshot: %w", err)
	}
	return nil
}

// createLockedTemp creates and locks "<tmp>.lock", then creates the directory tmp. The order
// matters to Cleanup: a temp directory without its lock file is always garbage.
func (s *Snapshots) createLockedTemp(h string) (*os.File, string, error) {
	for range 100 {
		lock, err := os.CreateTemp(s.dir, snapTmpPrefix+h[:12]+"-*"+snapLockSuffix)
		if err != nil {
			return nil, "", fmt.Errorf("snapshot lock: %w", err)
		}
		if err := snapLock(lock, true); err != nil {
			lock.Close()
			os.Remove(lock.Name())
			return nil, "", fmt.Errorf("snapshot lock: %w", err)
		}
		// Between create and flock a Cleanup may have taken the unlocked file for a crashed
		// one's and unlinked it; then ours guards nothing, so start over.
		if !snapSameFile(lock) {
			lock.Close()
			continue
		}
		tmp := strings.TrimSuffix(lock.Name(), snapLockSuffix)
		if err := os.Mkdir(tmp, 0o700); err != nil {
			lock.Close()
			os.Remove(lock.Name())
			return nil, "", fmt.Errorf("snapshot temp dir: %w", err)
		}
		return lock, tmp, nil
	}
	return nil, "", errors.New("snapshot lock: lock files keep disappearing")
}

// snapSameFile reports whether the open file f is still the one linked under its name.
func snapSameFile(f *os.File) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(f.Name())
	return err == nil && os.SameFile(a, b)
}

// List returns the chain IDs of the complete snapshots.
func (s *Snapshots) List() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	var ids []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() && len(n) == 64 && snapIsLowerHex(n) {
			ids = append(ids, "sha256:"+n)
		}
	}
	return ids, nil
}

// Remove deletes the snapshot of chainID. It is renamed to a ".trash-*" name first, so it
// vanishes from its name at once and whole, and a crash during the slow part leaves only trash
// for Cleanup. Removing a snapshot that does not exist is not an error. The caller makes sure no
// mount still uses it.
func (s *Snapshots) Remove(chainID string) error {
	h, err := snapHex(chainID)
	if err != nil {
		return err
	}
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return err
	}
	trash := filepath.Join(s.dir, snapTrashPrefix+h[:12]+"-"+hex.EncodeToString(suffix[:]))
	if err := os.Rename(filepath.Join(s.dir, h), trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("removing snapshot %s: %w", chainID, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("removing snapshot %s: %w", chainID, err)
	}
	if err := snapRemoveAll(trash); err != nil {
		return fmt.Errorf("removing snapshot %s: %w", chainID, err)
	}
	return nil
}

// Cleanup removes what crashed Prepares and Removes left: ".trash-*" directories, and ".tmp-*"
// directories and lock files whose lock nobody holds. A flock dies with its process, so an
// unlocked temp directory has no owner; no age threshold is needed, and a live Prepare (in this
// or another process) is never touched because it holds its lock. It keeps going after an
// error and returns them all.
func (s *Snapshots) Cleanup() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("snapshots: %w", err)
	}
	var errs []error
	for _, e := range ents {
		n := e.Name()
		p := filepath.Join(s.dir, n)
		switch {
		case strings.HasPrefix(n, snapTrashPrefix):
			if err := snapRemoveAll(p); err != nil {
				errs = append(errs, err)
			}
		case strings.HasPrefix(n, snapTmpPrefix) && !strings.HasSuffix(n, snapLockSuffix):
			if err := s.cleanupTemp(p); err != nil {
				errs = append(errs, err)
			}
		case strings.HasPrefix(n, snapTmpPrefix):
			// A lock file whose directory is gone: Prepare died after its rename.
			if _, err := os.Lstat(strings.TrimSuffix(p, snapLockSuffix)); errors.Is(err, fs.ErrNotExist) {
				if err := s.cleanupTemp(strings.TrimSuffix(p, snapLockSuffix)); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// cleanupTemp removes temp directory tmp and its lock file if the lock is free.
func (s *Snapshots) cleanupTemp(tmp string) error {
	lock, err := os.Open(tmp + snapLockSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		// Prepare makes the lock before the directory and deletes it after, so this directory
		// was orphaned by hand or by a crash mid-delete.
		return snapRemoveAll(tmp)
	}
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := snapLock(lock, false); err != nil {
		if errors.Is(err, errSnapLocked) {
			return nil // in use
		}
		return fmt.Errorf("%s: %w", lock.Name(), err)
	}
	if err := snapRemoveAll(tmp); err != nil {
		return err
	}
	// Unlink while holding the lock: a Prepare that created this file and lost the race to
	// lock it sees it gone (snapSameFile) and starts over.
	if err := os.Remove(lock.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// snapRemoveAll is os.RemoveAll that also copes with read-only directories a layer made, which
// stop an unprivileged user from deleting their content.
func snapRemoveAll(p string) error {
	err := os.RemoveAll(p)
	if err == nil || os.Geteuid() == 0 {
		return err
	}
	// WalkDir does not follow symlinks, and chmod only reaches real directories it lists.
	filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(q, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}

// errSnapLocked is snapLock's answer when another open file holds the lock.
var errSnapLocked = errors.New("locked")

// snapLock takes an exclusive flock on f, waiting for it when wait is set. flock locks belong
// to the open file, so two opens in one process exclude each other as two processes do.
func snapLock(f *os.File, wait bool) error {
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err := unix.Flock(int(f.Fd()), how)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return errSnapLocked
		case err != nil:
			return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		return nil
	}
}
