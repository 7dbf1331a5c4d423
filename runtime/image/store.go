package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// ErrNotFound reports that a blob, manifest or reference is not in the store.
var ErrNotFound = errors.New("not found")

// ErrDigestMismatch reports content whose sha256 or size differs from what it was asked to be.
// Content that fails this check never becomes visible in the store.
var ErrDigestMismatch = errors.New("digest mismatch")

const (
	// maxManifestSize bounds what is read into memory as a manifest or index. Registries refuse
	// manifests above 4 MiB, so anything larger is a layer or garbage.
	maxManifestSize = 4 << 20
	// imageWriteJobs is how many layers of one image are written at once: enough to overlap
	// several downloads, few enough not to starve other pulls of the same process.
	imageWriteJobs = 3
	// copyBufferSize is the chunk blobs are copied in; large enough that hashing, not syscalls,
	// dominates.
	copyBufferSize = 256 << 10
	// refsVersion is the refs.json format this code writes and understands.
	refsVersion = 1
)

// Store is berth's content-addressed image store in one directory. It is safe for use by many
// goroutines and, through its file locks, by many processes at once.
type Store struct {
	dir string

	// inflight holds, per digest, a channel closed when this process's write of that blob ends,
	// so that N services sharing a base image download it once, not N times.
	mu       sync.Mutex
	inflight map[v1.Hash]chan struct{}

	// onLockBusy, when set (by tests), is called each time a store lock is found taken and the
	// caller starts waiting for it. It lets tests prove ordering without sleeping.
	onLockBusy func(exclusive bool)
}

// OpenStore opens the store in dir, creating its directories and lock files when missing.
func OpenStore(dir string) (*Store, error) {
	s := &Store{dir: dir, inflight: map[v1.Hash]chan struct{}{}}
	for _, d := range []string{s.blobsDir(), s.ingestDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	for _, p := range []string{s.lockPath(), s.refsLockPath()} {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
		f.Close()
	}
	return s, nil
}

// Dir is the directory the store lives in.
func (s *Store) Dir() string { return s.dir }

func (s *Store) blobsDir() string     { return filepath.Join(s.dir, "blobs", "sha256") }
func (s *Store) ingestDir() string    { return filepath.Join(s.dir, "ingest") }
func (s *Store) refsPath() string     { return filepath.Join(s.dir, "refs.json") }
func (s *Store) lockPath() string     { return filepath.Join(s.dir, "lock") }
func (s *Store) refsLockPath() string { return filepath.Join(s.dir, "refs.lock") }

// validDigest accepts only lowercase sha256 digests: the hex becomes a file name, so anything
// else could escape blobs/ or alias another blob.
func validDigest(h v1.Hash) error {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return fmt.Errorf("digest %q: not a sha256 digest", h.String())
	}
	for _, c := range h.Hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("digest %q: not a sha256 digest", h.String())
		}
	}
	return nil
}

// BlobPath is where the blob h lives (or would live) on disk, for callers that need a file name,
// such as a layer applier. It is "" when h is not a valid sha256 digest.
func (s *Store) BlobPath(h v1.Hash) string {
	if validDigest(h) != nil {
		return ""
	}
	return filepath.Join(s.blobsDir(), h.Hex)
}

// HasBlob reports whether the blob h is in the store. A present blob is always whole and verified.
func (s *Store) HasBlob(h v1.Hash) bool {
	p := s.BlobPath(h)
	if p == "" {
		return false
	}
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// OpenBlob opens the blob h for reading. The error wraps ErrNotFound when it is absent.
func (s *Store) OpenBlob(h v1.Hash) (io.ReadCloser, error) {
	if err := validDigest(h); err != nil {
		return nil, err
	}
	f, err := os.Open(s.BlobPath(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w: %w", h, ErrNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	return f, nil
}

// readBlob reads a whole blob of at most limit bytes.
func (s *Store) readBlob(h v1.Hash, limit int64) ([]byte, error) {
	rc, err := s.OpenBlob(h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("blob %s: larger than %d bytes", h, limit)
	}
	return b, nil
}

// lock opens the store lock file and takes a flock on it, shared or exclusive. flock(2) cannot be
// interrupted by a context, so it polls with LOCK_NB and a growing pause until it gets the lock or
// ctx ends. Every caller gets its own open file description, so locks taken by goroutines of one
// process conflict with each other just as those of different processes do.
func (s *Store) lock(ctx context.Context, exclusive bool) (*os.File, error) {
	p := s.lockPath()
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("image store lock: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	pause := time.Millisecond
	notified := false
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if err == unix.EINTR {
			continue
		}
		if err != unix.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("image store lock: %w", &os.PathError{Op: "flock", Path: p, Err: err})
		}
		if !notified && s.onLockBusy != nil {
			s.onLockBusy(exclusive)
		}
		notified = true
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("waiting for image store lock %s: %w", p, context.Cause(ctx))
		case <-t.C:
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// flockBlocking takes a flock that is only ever held for milliseconds, so waiting without a
// context is fine.
func flockBlocking(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			if err != nil {
				return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}

// syncDir makes a rename or unlink in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// createIngest makes a temporary file in ingest/ and flocks it exclusively for as long as it is
// open. GC removes only ingest files it can lock, which catches writers (such as DeleteRef) that
// do not hold the store lock.
func (s *Store) createIngest(prefix string) (*os.File, error) {
	f, err := os.CreateTemp(s.ingestDir(), prefix+"-*")
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, &os.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return f, nil
}

// Txn is a writer session: it holds the shared store lock from Begin to Close, so that garbage
// collection cannot remove what it writes before a reference names it. A Txn may be used by
// several goroutines at once; Close waits for their calls to return.
type Txn struct {
	s *Store

	mu     sync.RWMutex // read-held by every call, write-held by Close
	lockF  *os.File
	closed bool
}

// Begin starts a writer session, waiting while a garbage collection holds the store. It returns
// ctx's error if ctx ends first. The caller must Close the Txn.
func (s *Store) Begin(ctx context.Context) (*Txn, error) {
	f, err := s.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	return &Txn{s: s, lockF: f}, nil
}

// Close ends the session and releases the store lock. It waits for calls still running on the
// Txn. Closing twice is harmless.
func (t *Txn) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	// Closing the descriptor drops the flock.
	if err := t.lockF.Close(); err != nil {
		return fmt.Errorf("image store lock: %w", err)
	}
	return nil
}

// enter marks a call in progress; the returned function ends it.
func (t *Txn) enter() (func(), error) {
	t.mu.RLock()
	if t.closed {
		t.mu.RUnlock()
		return nil, errors.New("image store: transaction is closed")
	}
	return t.mu.RUnlock, nil
}

// WriteBlob stores the content r yields as the blob want. size is the expected length, or -1 when
// unknown. When the blob is already present it returns at once without reading r. Content whose
// digest or size differs fails with ErrDigestMismatch and leaves nothing behind.
func (t *Txn) WriteBlob(ctx context.Context, want v1.Hash, size int64, r io.Reader) error {
	leave, err := t.enter()
	if err != nil {
		return err
	}
	defer leave()
	return t.writeBlob(ctx, want, size, func() (io.ReadCloser, error) { return io.NopCloser(r), nil })
}

// writeBlob stores blob want, calling open only when the blob is missing, so that a remote layer
// is not even requested when the store has it.
func (t *Txn) writeBlob(ctx context.Context, want v1.Hash, size int64, open func() (io.ReadCloser, error)) error {
	if err := validDigest(want); err != nil {
		return err
	}
	s := t.s
	for {
		if s.HasBlob(want) {
			return nil
		}
		s.mu.Lock()
		ch, busy := s.inflight[want]
		if !busy {
			ch = make(chan struct{})
			s.inflight[want] = ch
		}
		s.mu.Unlock()
		if !busy {
			break
		}
		// Another goroutine of this process is writing the same blob: wait, then re-check, and
		// write it ourselves only if that write failed.
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("blob %s: %w", want, context.Cause(ctx))
		}
	}
	defer func() {
		s.mu.Lock()
		close(s.inflight[want])
		delete(s.inflight, want)
		s.mu.Unlock()
	}()

	rc, err := open()
	if err != nil {
		return fmt.Errorf("blob %s: %w", want, err)
	}
	defer rc.Close()
	return s.ingest(ctx, want, size, rc)
}

// ingest copies r into a temporary file while hashing it and renames the file into blobs/ only
// once size and digest match and the data is on disk.
func (s *Store) ingest(ctx context.Context, want v1.Hash, size int64, r io.Reader) (err error) {
	tmp, err := s.createIngest("blob-" + want.Hex[:12])
	if err != nil {
		return fmt.Errorf("blob %s: %w", want, err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	h := sha256.New()
	src := io.Reader(&ctxReader{ctx: ctx, r: r})
	if size >= 0 {
		// One byte more than expected is enough to tell an overlong stream, without letting a
		// broken or hostile source fill the disk.
		src = io.LimitReader(src, size+1)
	}
	n, err := io.CopyBuffer(io.MultiWriter(tmp, h), src, make([]byte, copyBufferSize))
	if err != nil {
		return fmt.Errorf("blob %s: %w", want, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("blob %s: %w: %d bytes, want %d", want, ErrDigestMismatch, n, size)
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if got != want {
		return fmt.Errorf("blob %s: %w: content is %s", want, ErrDigestMismatch, got)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("blob %s: %w", want, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("blob %s: %w", want, err)
	}
	// rename replaces a copy another process committed meanwhile; both hold the same bytes, so
	// either winning leaves one correct file.
	if err := os.Rename(tmp.Name(), s.BlobPath(want)); err != nil {
		os.Remove(tmp.Name())
		committed = true
		return fmt.Errorf("blob %s: %w", want, err)
	}
	committed = true
	if err := syncDir(s.blobsDir()); err != nil {
		return fmt.Errorf("blob %s: %w", want, err)
	}
	return nil
}

// ctxReader stops a copy between reads once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}

// WriteImage stores img: its layers as the compressed blobs the manifest names (a few at a
// time), its config, and last its manifest exactly as img serialises it, each verified against
// the manifest's digests and sizes. Blobs already present are not read from img. Non-distributable
// (foreign) layers are not stored. It returns the descriptor of the stored manifest.
func (t *Txn) WriteImage(ctx context.Context, img v1.Image) (v1.Descriptor, error) {
	leave, err := t.enter()
	if err != nil {
		return v1.Descriptor{}, err
	}
	defer leave()
	return t.writeImage(ctx, img)
}

func (t *Txn) writeImage(ctx context.Context, img v1.Image) (v1.Descriptor, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("image manifest: %w", err)
	}
	// The digest is that of the bytes stored, whatever the source claims; the claim is checked.
	dgst, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, err
	}
	if claimed, err := img.Digest(); err != nil {
		return v1.Descriptor{}, fmt.Errorf("image %s: %w", dgst, err)
	} else if claimed != dgst {
		return v1.Descriptor{}, fmt.Errorf("image %s: %w: source names it %s", dgst, ErrDigestMismatch, claimed)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("image %s: manifest: %w", dgst, err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("image %s: %w", dgst, err)
	}
	if m.MediaType != "" {
		mt = m.MediaType
	}
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	if !mt.IsImage() {
		return v1.Descriptor{}, fmt.Errorf("image %s: media type %s is not an image manifest", dgst, mt)
	}

	err = t.writeBlob(ctx, m.Config.Digest, m.Config.Size, func() (io.ReadCloser, error) {
		b, err := img.RawConfigFile()
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	})
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("image %s: config: %w", dgst, err)
	}

	var layers []v1.Descriptor
	seen := map[v1.Hash]bool{}
	for _, l := range m.Layers {
		if !l.MediaType.IsDistributable() || seen[l.Digest] {
			continue
		}
		seen[l.Digest] = true
		layers = append(layers, l)
	}
	if err := t.writeLayers(ctx, img, layers); err != nil {
		return v1.Descriptor{}, fmt.Errorf("image %s: %w", dgst, err)
	}

	// The manifest goes last: once it is visible, everything it names is too.
	if err := t.writeBlob(ctx, dgst, size, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}); err != nil {
		return v1.Descriptor{}, fmt.Errorf("image %s: manifest: %w", dgst, err)
	}
	return v1.Descriptor{MediaType: mt, Size: size, Digest: dgst}, nil
}

// writeLayers writes layers of img, imageWriteJobs at a time, and stops the others at the first
// failure.
func (t *Txn) writeLayers(ctx context.Context, img v1.Image, layers []v1.Descriptor) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		sem      = make(chan struct{}, imageWriteJobs)
	)
	fail := func(err error) {
		once.Do(func() {
			firstErr = err
			cancel(err)
		})
	}
	for _, desc := range layers {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			err := t.writeBlob(ctx, desc.Digest, desc.Size, func() (io.ReadCloser, error) {
				l, err := img.LayerByDigest(desc.Digest)
				if err != nil {
					return nil, err
				}
				return l.Compressed()
			})
			if err != nil {
				fail(fmt.Errorf("layer %w", err))
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// WriteIndex stores an image index (OCI index or Docker manifest list) with the children it
// selects: the images whose descriptors children accepts (all of them when children is nil,
// typically a platform matcher for a pull) and, recursively, every nested index. Children it
// skips are neither fetched nor stored, but the index blob itself is stored whole, so its digest
// stays the one the registry serves. It returns the descriptor of the stored index.
func (t *Txn) WriteIndex(ctx context.Context, idx v1.ImageIndex, children func(v1.Descriptor) bool) (v1.Descriptor, error) {
	leave, err := t.enter()
	if err != nil {
		return v1.Descriptor{}, err
	}
	defer leave()
	return t.writeIndex(ctx, idx, children)
}

func (t *Txn) writeIndex(ctx context.Context, idx v1.ImageIndex, children func(v1.Descriptor) bool) (v1.Descriptor, error) {
	raw, err := idx.RawManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("image index: %w", err)
	}
	dgst, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, err
	}
	if claimed, err := idx.Digest(); err != nil {
		return v1.Descriptor{}, fmt.Errorf("index %s: %w", dgst, err)
	} else if claimed != dgst {
		return v1.Descriptor{}, fmt.Errorf("index %s: %w: source names it %s", dgst, ErrDigestMismatch, claimed)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("index %s: %w", dgst, err)
	}
	mt, err := idx.MediaType()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("index %s: %w", dgst, err)
	}
	if im.MediaType != "" {
		mt = im.MediaType
	}
	if mt == "" {
		mt = types.OCIImageIndex
	}
	if !mt.IsIndex() {
		return v1.Descriptor{}, fmt.Errorf("index %s: media type %s is not an index", dgst, mt)
	}
	for _, child := range im.Manifests {
		var got v1.Descriptor
		switch {
		case child.MediaType.IsIndex():
			sub, err := idx.ImageIndex(child.Digest)
			if err != nil {
				return v1.Descriptor{}, fmt.Errorf("index %s: child %s: %w", dgst, child.Digest, err)
			}
			if got, err = t.writeIndex(ctx, sub, children); err != nil {
				return v1.Descriptor{}, fmt.Errorf("index %s: %w", dgst, err)
			}
		case child.MediaType.IsImage():
			if children != nil && !children(child) {
				continue
			}
			img, err := idx.Image(child.Digest)
			if err != nil {
				return v1.Descriptor{}, fmt.Errorf("index %s: child %s: %w", dgst, child.Digest, err)
			}
			if got, err = t.writeImage(ctx, img); err != nil {
				return v1.Descriptor{}, fmt.Errorf("index %s: %w", dgst, err)
			}
		default:
			// Artifacts of unknown kinds are not images berth can run.
			continue
		}
		if got.Digest != child.Digest {
			return v1.Descriptor{}, fmt.Errorf("index %s: child %s: %w: stored %s", dgst, child.Digest, ErrDigestMismatch, got.Digest)
		}
	}
	if err := t.writeBlob(ctx, dgst, size, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}); err != nil {
		return v1.Descriptor{}, fmt.Errorf("index %s: %w", dgst, err)
	}
	return v1.Descriptor{MediaType: mt, Size: size, Digest: dgst}, nil
}

// refsFile is the content of refs.json.
type refsFile struct {
	Version int                 `json:"version"`
	Refs    map[string]refEntry `json:"refs"`
}

// refEntry is one reference: the descriptor it resolves to and when it was last set, which helps
// when reading the file by hand after something went wrong.
type refEntry struct {
	MediaType types.MediaType `json:"mediaType"`
	Digest    v1.Hash         `json:"digest"`
	Size      int64           `json:"size"`
	Platform  *v1.Platform    `json:"platform,omitempty"`
	Set       time.Time       `json:"set"`
}

func (e refEntry) descriptor() v1.Descriptor {
	return v1.Descriptor{MediaType: e.MediaType, Digest: e.Digest, Size: e.Size, Platform: e.Platform}
}

// readRefs reads refs.json without a lock: it is only ever replaced by rename, so a reader sees
// one complete version. A missing file is an empty store; a corrupt one is an error, never an
// empty map, so that no writer or collector acts on a store it misread.
func (s *Store) readRefs() (map[string]refEntry, error) {
	b, err := os.ReadFile(s.refsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]refEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image references: %w", err)
	}
	var f refsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("image references %s: %w", s.refsPath(), err)
	}
	if f.Version > refsVersion {
		return nil, fmt.Errorf("image references %s: format version %d is newer than this berth understands (%d)", s.refsPath(), f.Version, refsVersion)
	}
	if f.Refs == nil {
		f.Refs = map[string]refEntry{}
	}
	return f.Refs, nil
}

// updateRefs applies change to the references under the exclusive refs.lock and replaces
// refs.json atomically: temp file, fsync, rename, directory fsync.
func (s *Store) updateRefs(change func(map[string]refEntry) error) error {
	lf, err := os.OpenFile(s.refsLockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("image references: %w", err)
	}
	defer lf.Close()
	if err := flockBlocking(lf, unix.LOCK_EX); err != nil {
		return fmt.Errorf("image references: %w", err)
	}
	refs, err := s.readRefs()
	if err != nil {
		return err
	}
	if err := change(refs); err != nil {
		return err
	}
	b, err := json.MarshalIndent(refsFile{Version: refsVersion, Refs: refs}, "", "  ")
	if err != nil {
		return fmt.Errorf("image references: %w", err)
	}
	tmp, err := s.createIngest("refs")
	if err != nil {
		return fmt.Errorf("image references: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name()) // fails harmlessly once renamed
	}()
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("image references: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("image references: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.refsPath()); err != nil {
		return fmt.Errorf("image references: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("image references: %w", err)
	}
	return nil
}

func validRefName(name string) error {
	if name == "" || strings.TrimSpace(name) != name || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("reference %q: not a valid name", name)
	}
	return nil
}

// SetRef points the reference name (a normalised reference such as
// "docker.io/library/busybox:latest", or a repository@digest) at desc, a manifest or index that
// must already be in the store: a reference never dangles. Other references are untouched, even
// when several processes set references at once.
func (t *Txn) SetRef(name string, desc v1.Descriptor) error {
	leave, err := t.enter()
	if err != nil {
		return err
	}
	defer leave()
	if err := validRefName(name); err != nil {
		return err
	}
	if !desc.MediaType.IsImage() && !desc.MediaType.IsIndex() {
		return fmt.Errorf("reference %s: media type %q is neither an image manifest nor an index", name, desc.MediaType)
	}
	if err := validDigest(desc.Digest); err != nil {
		return fmt.Errorf("reference %s: %w", name, err)
	}
	if !t.s.HasBlob(desc.Digest) {
		return fmt.Errorf("reference %s: blob %s: %w", name, desc.Digest, ErrNotFound)
	}
	return t.s.updateRefs(func(refs map[string]refEntry) error {
		refs[name] = refEntry{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, Platform: desc.Platform, Set: time.Now().UTC()}
		return nil
	})
}

// DeleteRef removes the reference name; the error wraps ErrNotFound when there is none. It takes
// only the references lock, not the store lock: removing a name can only make content
// collectable, and a collection already running keeps what it saw named, so there is nothing to
// wait for. The content stays until the next GC.
func (s *Store) DeleteRef(name string) error {
	return s.updateRefs(func(refs map[string]refEntry) error {
		if _, ok := refs[name]; !ok {
			return fmt.Errorf("reference %s: %w", name, ErrNotFound)
		}
		delete(refs, name)
		return nil
	})
}

// Ref returns the descriptor the reference name points at; the error wraps ErrNotFound when
// there is no such reference.
func (s *Store) Ref(name string) (v1.Descriptor, error) {
	refs, err := s.readRefs()
	if err != nil {
		return v1.Descriptor{}, err
	}
	e, ok := refs[name]
	if !ok {
		return v1.Descriptor{}, fmt.Errorf("reference %s: %w", name, ErrNotFound)
	}
	return e.descriptor(), nil
}

// Refs returns every reference and its descriptor.
func (s *Store) Refs() (map[string]v1.Descriptor, error) {
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	out := make(map[string]v1.Descriptor, len(refs))
	for n, e := range refs {
		out[n] = e.descriptor()
	}
	return out, nil
}

// Image returns the image whose manifest has digest manifestDigest, backed by the store's blobs:
// layers are read compressed from their blob files, the config and manifest as stored. Nothing is
// re-verified at read time beyond what go-containerregistry itself does: blobs were verified when
// written. Layer DiffIDs come from the config. An index digest is an error: callers holding a
// reference to an index resolve it to one platform's manifest through Index first. The error
// wraps ErrNotFound when the manifest is absent.
func (s *Store) Image(manifestDigest v1.Hash) (v1.Image, error) {
	raw, err := s.readBlob(manifestDigest, maxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", manifestDigest, err)
	}
	p := probeManifest(raw)
	if p.kind == kindIndex {
		return nil, fmt.Errorf("image %s: is an index (%s): resolve it to a platform's manifest first", manifestDigest, p.mediaType)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", manifestDigest, err)
	}
	if p.kind != kindManifest {
		return nil, fmt.Errorf("image %s: not an image manifest", manifestDigest)
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	return partial.CompressedToImage(&storeImage{s: s, digest: manifestDigest, raw: raw, manifest: m, mediaType: mt})
}

// storeImage is the compressed core of an image in the store; partial fills in the rest of
// v1.Image.
type storeImage struct {
	s         *Store
	digest    v1.Hash
	raw       []byte
	manifest  *v1.Manifest
	mediaType types.MediaType

	cfgOnce sync.Once
	cfgRaw  []byte
	cfg     *v1.ConfigFile
	cfgErr  error
}

var _ partial.CompressedImageCore = (*storeImage)(nil)

func (i *storeImage) loadConfig() {
	i.cfgOnce.Do(func() {
		rc, err := i.s.OpenBlob(i.manifest.Config.Digest)
		if err != nil {
			i.cfgErr = fmt.Errorf("image %s: config: %w", i.digest, err)
			return
		}
		defer rc.Close()
		if i.cfgRaw, err = io.ReadAll(rc); err != nil {
			i.cfgErr = fmt.Errorf("image %s: config: %w", i.digest, err)
			return
		}
		// A config go-containerregistry cannot parse is still returned raw; only DiffID needs it.
		i.cfg, _ = v1.ParseConfigFile(bytes.NewReader(i.cfgRaw))
	})
}

// RawConfigFile implements partial.CompressedImageCore. The bytes are those stored, so fields
// ggcr's ConfigFile does not know survive (see HEALTHCHECK --start-interval).
func (i *storeImage) RawConfigFile() ([]byte, error) {
	i.loadConfig()
	if i.cfgErr != nil {
		return nil, i.cfgErr
	}
	return bytes.Clone(i.cfgRaw), nil
}

// MediaType implements partial.CompressedImageCore.
func (i *storeImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }

// RawManifest implements partial.CompressedImageCore.
func (i *storeImage) RawManifest() ([]byte, error) { return bytes.Clone(i.raw), nil }

// Digest saves partial from rehashing the manifest: it was verified when written.
func (i *storeImage) Digest() (v1.Hash, error) { return i.digest, nil }

// LayerByDigest implements partial.CompressedImageCore. The config blob is served too, as ggcr's
// own images do, for code that treats it as a layer.
func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.manifest.Config.Digest {
		return &storeLayer{img: i, desc: i.manifest.Config, index: -1}, nil
	}
	for n, l := range i.manifest.Layers {
		if l.Digest == h {
			return &storeLayer{img: i, desc: l, index: n}, nil
		}
	}
	return nil, fmt.Errorf("image %s: layer %s: %w", i.digest, h, ErrNotFound)
}

// storeLayer is one compressed blob of a stored image.
type storeLayer struct {
	img   *storeImage
	desc  v1.Descriptor
	index int // position in the manifest's layers, -1 for the config
}

// Digest implements partial.CompressedLayer.
func (l *storeLayer) Digest() (v1.Hash, error) { return l.desc.Digest, nil }

// Compressed implements partial.CompressedLayer: the blob as stored.
func (l *storeLayer) Compressed() (io.ReadCloser, error) { return l.img.s.OpenBlob(l.desc.Digest) }

// Size implements partial.CompressedLayer.
func (l *storeLayer) Size() (int64, error) { return l.desc.Size, nil }

// MediaType implements partial.CompressedLayer.
func (l *storeLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// Descriptor keeps the manifest's annotations and URLs on the layer, for push.
func (l *storeLayer) Descriptor() (*v1.Descriptor, error) {
	d := l.desc
	return &d, nil
}

// DiffID reads the diff ID from the config instead of letting partial decompress the whole layer
// to compute it.
func (l *storeLayer) DiffID() (v1.Hash, error) {
	if l.index < 0 {
		return l.desc.Digest, nil
	}
	l.img.loadConfig()
	if l.img.cfgErr != nil {
		return v1.Hash{}, l.img.cfgErr
	}
	if l.img.cfg == nil || len(l.img.cfg.RootFS.DiffIDs) != len(l.img.manifest.Layers) {
		return v1.Hash{}, fmt.Errorf("image %s: config and manifest disagree on the number of layers", l.img.digest)
	}
	return l.img.cfg.RootFS.DiffIDs[l.index], nil
}

// Index returns the image index (OCI index or Docker manifest list) with digest h, backed by the
// store. Its Image and ImageIndex methods return only children that are in the store; the others
// fail with ErrNotFound, since a pull stores just the platform it chose.
func (s *Store) Index(h v1.Hash) (v1.ImageIndex, error) {
	raw, err := s.readBlob(h, maxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", h, err)
	}
	if p := probeManifest(raw); p.kind != kindIndex {
		return nil, fmt.Errorf("index %s: not an image index", h)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", h, err)
	}
	mt := im.MediaType
	if mt == "" {
		mt = types.OCIImageIndex
	}
	return &storeIndex{s: s, digest: h, raw: raw, manifest: im, mediaType: mt}, nil
}

// storeIndex is an image index in the store.
type storeIndex struct {
	s         *Store
	digest    v1.Hash
	raw       []byte
	manifest  *v1.IndexManifest
	mediaType types.MediaType
}

var _ v1.ImageIndex = (*storeIndex)(nil)

// MediaType implements v1.ImageIndex.
func (x *storeIndex) MediaType() (types.MediaType, error) { return x.mediaType, nil }

// Digest implements v1.ImageIndex.
func (x *storeIndex) Digest() (v1.Hash, error) { return x.digest, nil }

// Size implements v1.ImageIndex.
func (x *storeIndex) Size() (int64, error) { return int64(len(x.raw)), nil }

// IndexManifest implements v1.ImageIndex; each call returns a fresh copy the caller may change.
func (x *storeIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}

// RawManifest implements v1.ImageIndex.
func (x *storeIndex) RawManifest() ([]byte, error) { return bytes.Clone(x.raw), nil }

// Image implements v1.ImageIndex for children listed in the index and present in the store.
func (x *storeIndex) Image(h v1.Hash) (v1.Image, error) {
	if !x.lists(h) {
		return nil, fmt.Errorf("index %s: manifest %s: %w", x.digest, h, ErrNotFound)
	}
	return x.s.Image(h)
}

// ImageIndex implements v1.ImageIndex for nested indexes listed and present.
func (x *storeIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	if !x.lists(h) {
		return nil, fmt.Errorf("index %s: index %s: %w", x.digest, h, ErrNotFound)
	}
	return x.s.Index(h)
}

func (x *storeIndex) lists(h v1.Hash) bool {
	for _, d := range x.manifest.Manifests {
		if d.Digest == h {
			return true
		}
	}
	return false
}

// manifestKind says what a blob is, as far as the store's graph is concerned.
type manifestKind int

const (
	kindOther manifestKind = iota // a layer, a config, or anything else without children
	kindManifest
	kindIndex
)

// probedManifest is what the store needs to know about a manifest or index blob: its kind and the
// blobs it names.
type probedManifest struct {
	kind      manifestKind
	mediaType types.MediaType
	config    v1.Descriptor
	layers    []v1.Descriptor
	manifests []v1.Descriptor
}

// children lists the blobs a manifest or index names directly.
func (p probedManifest) children() []v1.Descriptor {
	switch p.kind {
	case kindManifest:
		return append([]v1.Descriptor{p.config}, p.layers...)
	case kindIndex:
		return p.manifests
	}
	return nil
}

// probeManifest tells manifests and indexes from everything else by their content, because
// nothing on disk records media types. schemaVersion 2 is the discriminator: configs have none,
// and a Docker config's "config" object is not a descriptor.
func probeManifest(raw []byte) probedManifest {
	var p struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     types.MediaType `json:"mediaType"`
		Config        *v1.Descriptor  `json:"config"`
		Layers        []v1.Descriptor `json:"layers"`
		Manifests     []v1.Descriptor `json:"manifests"`
	}
	if len(bytes.TrimSpace(raw)) == 0 || bytes.TrimSpace(raw)[0] != '{' {
		return probedManifest{}
	}
	if err := json.Unmarshal(raw, &p); err != nil || p.SchemaVersion != 2 {
		return probedManifest{}
	}
	switch {
	case p.MediaType.IsIndex() || (p.MediaType == "" && p.Manifests != nil && p.Config == nil):
		mt := p.MediaType
		if mt == "" {
			mt = types.OCIImageIndex
		}
		return probedManifest{kind: kindIndex, mediaType: mt, manifests: p.Manifests}
	case p.Config != nil && validDigest(p.Config.Digest) == nil:
		mt := p.MediaType
		if mt == "" {
			mt = types.OCIManifestSchema1
		}
		return probedManifest{kind: kindManifest, mediaType: mt, config: *p.Config, layers: p.Layers}
	}
	return probedManifest{}
}

// listBlobs returns the size of every blob file. Names that are not sha256 hex are not berth's
// and are left alone rather than failing the listing.
func (s *Store) listBlobs() (map[v1.Hash]int64, error) {
	entries, err := os.ReadDir(s.blobsDir())
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	out := make(map[v1.Hash]int64, len(entries))
	for _, e := range entries {
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if validDigest(h) != nil || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
		out[h] = fi.Size()
	}
	return out, nil
}

// scanManifests reads every blob small enough to be a manifest and returns those that are
// manifests or indexes. Only the first byte of anything not JSON is read.
func (s *Store) scanManifests(blobs map[v1.Hash]int64) (map[v1.Hash]probedManifest, error) {
	out := map[v1.Hash]probedManifest{}
	for h, size := range blobs {
		if size > maxManifestSize || size == 0 {
			continue
		}
		p, err := s.probeBlob(h)
		if errors.Is(err, ErrNotFound) {
			continue // removed since listed (DeleteRef + GC elsewhere cannot, but be lenient)
		}
		if err != nil {
			return nil, err
		}
		if p.kind != kindOther {
			out[h] = p
		}
	}
	return out, nil
}

func (s *Store) probeBlob(h v1.Hash) (probedManifest, error) {
	rc, err := s.OpenBlob(h)
	if err != nil {
		return probedManifest{}, err
	}
	defer rc.Close()
	var first [1]byte
	if _, err := io.ReadFull(rc, first[:]); err != nil {
		return probedManifest{}, fmt.Errorf("blob %s: %w", h, err)
	}
	if first[0] != '{' {
		return probedManifest{}, nil
	}
	rest, err := io.ReadAll(io.LimitReader(rc, maxManifestSize))
	if err != nil {
		return probedManifest{}, fmt.Errorf("blob %s: %w", h, err)
	}
	return probeManifest(append(first[:], rest...)), nil
}

// StoredImage describes one image manifest in the store, one row of `berth images`.
type StoredImage struct {
	// Manifest is the image manifest's descriptor.
	Manifest v1.Descriptor
	// ID is the config digest, which Docker calls the image ID.
	ID v1.Hash
	// Names are the references that resolve to this manifest, directly or through an index that
	// lists it, sorted. None means the image is dangling, Docker's <none>:<none>.
	Names []string
	// Created is the creation time from the config; zero when the config has none.
	Created time.Time
	// Size is the sum of the compressed layer sizes the manifest lists. The store never learns
	// uncompressed sizes; the snapshots do, and a caller wanting Docker's on-disk size can add
	// those up instead.
	Size int64
}

// Images lists every image manifest in the store: those references name (directly, or through an
// index, in which case each child manifest present gets the index's names) and the dangling
// ones, which no reference names but which stay until GC removes them (as Docker keeps an image
// whose tag moved). Manifests of non-image artifacts (whose config is not an image config, such
// as attestations) are left out. The list is sorted newest first.
func (s *Store) Images() ([]StoredImage, error) {
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	blobs, err := s.listBlobs()
	if err != nil {
		return nil, err
	}
	graph, err := s.scanManifests(blobs)
	if err != nil {
		return nil, err
	}
	names := map[v1.Hash][]string{}
	for name, e := range refs {
		// An index may list itself through a cycle only if sha256 is broken; visited guards
		// against hand-made stores anyway.
		visited := map[v1.Hash]bool{}
		var walk func(h v1.Hash)
		walk = func(h v1.Hash) {
			if visited[h] {
				return
			}
			visited[h] = true
			p, ok := graph[h]
			if !ok {
				return
			}
			switch p.kind {
			case kindManifest:
				names[h] = append(names[h], name)
			case kindIndex:
				for _, c := range p.manifests {
					walk(c.Digest)
				}
			}
		}
		walk(e.Digest)
	}
	var out []StoredImage
	for h, p := range graph {
		if p.kind != kindManifest || !p.config.MediaType.IsConfig() && p.config.MediaType != "" {
			continue
		}
		img := StoredImage{
			Manifest: v1.Descriptor{MediaType: p.mediaType, Digest: h, Size: blobs[h]},
			ID:       p.config.Digest,
			Names:    names[h],
		}
		sort.Strings(img.Names)
		for _, l := range p.layers {
			img.Size += l.Size
		}
		if raw, err := s.readBlob(p.config.Digest, 64<<20); err == nil {
			var c struct {
				Created time.Time `json:"created"`
			}
			if json.Unmarshal(raw, &c) == nil {
				img.Created = c.Created
			}
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].Manifest.Digest.Hex < out[j].Manifest.Digest.Hex
	})
	return out, nil
}

// ChainIDs computes the OCI chain IDs of a layer stack from its diff IDs: the first is the first
// diff ID, each next one sha256("<previous chain ID> <diff ID>"). A chain ID names a layer
// together with everything below it, which is what an unpacked snapshot is.
func ChainIDs(diffIDs []v1.Hash) []v1.Hash {
	out := make([]v1.Hash, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[0] = d
			continue
		}
		sum := sha256.Sum256([]byte(out[i-1].String() + " " + d.String()))
		out[i] = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	}
	return out
}
