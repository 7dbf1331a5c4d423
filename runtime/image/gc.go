package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// ingestGrace is how long an ingest file must go unmodified before GC removes it. A live write
// touches its file with every chunk and holds a flock on it, so the lock check alone would do on
// a sane filesystem; the age check covers filesystems where flock is a no-op, at the price of a
// killed pull's leftovers lingering a few minutes.
const ingestGrace = 10 * time.Minute

// GCStats reports what a collection did.
type GCStats struct {
	// BlobsKept is how many blobs were reachable and stayed.
	BlobsKept int
	// BlobsRemoved and BytesRemoved count the unreachable blobs deleted.
	BlobsRemoved int
	BytesRemoved int64
	// IngestRemoved and IngestBytes count the abandoned temporary files deleted.
	IngestRemoved int
	IngestBytes   int64
	// Warnings are cleanup failures that did not stop the collection (a file that could not be
	// removed is retried next time; it must never make the store unusable).
	Warnings []error
}

// GC removes every blob nothing needs, under the exclusive store lock, so it waits for writers
// (and they for it) and never removes what an unfinished pull wrote but has not named yet; it
// returns ctx's error if ctx ends while it waits.
//
// Roots are every reference, every blob keep accepts, and every manifest whose config digest
// keep accepts: keep may name a manifest, an index or an image ID, and containers pin their
// image that way even when no tag names it. From the roots it marks recursively, index ->
// manifests -> config and layers; children absent from the store (platforms a pull skipped) are
// ignored. Unmarked blobs are removed, then abandoned ingest files (unlocked and not written to
// for a while). A root that cannot be read stops the collection before anything is removed, since
// what it names is unknown.
func (s *Store) GC(ctx context.Context, keep func(v1.Hash) bool) (GCStats, error) {
	var st GCStats
	err := s.Exclusive(ctx, func() error {
		var err error
		st, err = s.GCLocked(ctx, keep)
		return err
	})
	return st, err
}

// Exclusive runs fn holding the store's exclusive lock: no pull, load, import or build is writing
// meanwhile. Cleanups that must not race a writer (snapshots no image needs) run in it, after
// GCLocked.
func (s *Store) Exclusive(ctx context.Context, fn func() error) error {
	lf, err := s.lock(ctx, true)
	if err != nil {
		return err
	}
	defer lf.Close()
	return fn()
}

// GCLocked is GC for a caller that already holds the exclusive lock through Exclusive.
func (s *Store) GCLocked(ctx context.Context, keep func(v1.Hash) bool) (GCStats, error) {
	var st GCStats
	refs, err := s.readRefs()
	if err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}
	blobs, err := s.listBlobs()
	if err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}
	graph, err := s.scanManifests(blobs)
	if err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}

	marked := map[v1.Hash]bool{}
	var mark func(h v1.Hash)
	mark = func(h v1.Hash) {
		if marked[h] {
			return
		}
		if _, ok := blobs[h]; !ok {
			return
		}
		marked[h] = true
		for _, c := range graph[h].children() {
			mark(c.Digest)
		}
	}
	for name, e := range refs {
		if _, ok := blobs[e.Digest]; !ok {
			st.Warnings = append(st.Warnings, fmt.Errorf("gc: reference %s: blob %s: %w", name, e.Digest, ErrNotFound))
			continue
		}
		if p := graph[e.Digest]; p.kind == kindOther {
			return st, fmt.Errorf("gc: reference %s: blob %s is neither a readable manifest nor an index; remove the reference", name, e.Digest)
		}
		mark(e.Digest)
	}
	if keep != nil {
		for h := range blobs {
			if keep(h) {
				mark(h)
			}
		}
		for h, p := range graph {
			if p.kind == kindManifest && keep(p.config.Digest) {
				mark(h)
			}
		}
	}

	for h, size := range blobs {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("gc: %w", context.Cause(ctx))
		}
		if marked[h] {
			st.BlobsKept++
			continue
		}
		if err := os.Remove(s.BlobPath(h)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			st.Warnings = append(st.Warnings, fmt.Errorf("gc: blob %s: %w", h, err))
			continue
		}
		st.BlobsRemoved++
		st.BytesRemoved += size
	}
	if st.BlobsRemoved > 0 {
		if err := syncDir(s.blobsDir()); err != nil {
			st.Warnings = append(st.Warnings, fmt.Errorf("gc: %w", err))
		}
	}
	s.cleanIngest(&st, time.Now())
	return st, nil
}

// cleanIngest removes ingest entries that are stale and that no one holds a flock on.
func (s *Store) cleanIngest(st *GCStats, now time.Time) {
	entries, err := os.ReadDir(s.ingestDir())
	if err != nil {
		st.Warnings = append(st.Warnings, fmt.Errorf("gc: ingest: %w", err))
		return
	}
	for _, e := range entries {
		p := filepath.Join(s.ingestDir(), e.Name())
		fi, err := e.Info()
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				st.Warnings = append(st.Warnings, fmt.Errorf("gc: ingest: %w", err))
			}
			continue
		}
		if now.Sub(fi.ModTime()) < ingestGrace {
			continue
		}
		if fi.Mode().IsRegular() {
			busy, err := ingestBusy(p)
			if err != nil {
				st.Warnings = append(st.Warnings, fmt.Errorf("gc: ingest: %w", err))
				continue
			}
			if busy {
				continue
			}
		}
		// The lock is dropped before removing, so a file could in principle be picked up again
		// in between; writers only ever create fresh files, never reopen old ones, so none will.
		if err := os.RemoveAll(p); err != nil {
			st.Warnings = append(st.Warnings, fmt.Errorf("gc: ingest: %w", err))
			continue
		}
		st.IngestRemoved++
		st.IngestBytes += fi.Size()
	}
}

// ingestBusy reports whether a writer still holds the flock on an ingest file.
func ingestBusy(p string) (bool, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil // gone already; nothing to remove
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch err {
		case nil:
			return false, nil
		case unix.EINTR:
			continue
		case unix.EWOULDBLOCK:
			return true, nil
		default:
			return false, &os.PathError{Op: "flock", Path: p, Err: err}
		}
	}
}
