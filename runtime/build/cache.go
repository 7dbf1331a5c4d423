package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// cacheVersion is the cache.json format this code writes and reads; another version is ignored
// (rebuilt), never misread.
const cacheVersion = 1

// cacheMaxAge is how long an entry nobody used stays in the index.
const cacheMaxAge = 30 * 24 * time.Hour

// cacheEntry is the result of one step: the child image's config, byte for byte (its digest is
// the image ID), and its layers, which must still be in the image store for the entry to count.
type cacheEntry struct {
	Config string     `json:"config"`
	Layers []layerRef `json:"layers"`
	Used   time.Time  `json:"used"`
}

type cacheFile struct {
	Version int                    `json:"version"`
	Entries map[string]*cacheEntry `json:"entries"`
}

// buildCache is the step cache under $ROOT/build: cache.json, replaced by rename, and cache.lock,
// which serialises read-modify-write between concurrent builds.
type buildCache struct {
	dir string
}

func (c *buildCache) path() string     { return filepath.Join(c.dir, "cache.json") }
func (c *buildCache) lockPath() string { return filepath.Join(c.dir, "cache.lock") }

// cacheKey is a step's key: the parent image, the history string (which holds the expanded
// instruction, the build args a RUN sees and the checksum of COPY sources) and the config the
// step produces, as the classic builder compares the parent's children's configs. The creation
// time and history are left out of that config: they differ every build.
func cacheKey(parent v1.Hash, createdBy string, child *imageState, extra string) string {
	cfg := child.config.Config
	b, _ := json.Marshal(struct {
		Parent    string
		CreatedBy string
		Config    any
		Platform  any
		Extra     string
	}{parent.String(), createdBy, cfg, child.config.Platform, extra})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (c *buildCache) read() (*cacheFile, error) {
	f := &cacheFile{Version: cacheVersion, Entries: map[string]*cacheEntry{}}
	b, err := os.ReadFile(c.path())
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	var got cacheFile
	if json.Unmarshal(b, &got) != nil || got.Version != cacheVersion || got.Entries == nil {
		// A damaged or foreign index only costs a rebuild.
		return f, nil
	}
	return &got, nil
}

// get returns the entry for key, if any. Readers take no lock: the file is only ever replaced
// whole.
func (c *buildCache) get(key string) (*cacheEntry, error) {
	f, err := c.read()
	if err != nil {
		return nil, err
	}
	return f.Entries[key], nil
}

// update applies change under the lock and replaces the file atomically.
func (c *buildCache) update(change func(*cacheFile)) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	lf, err := os.OpenFile(c.lockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	defer lf.Close()
	for {
		err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("build cache: lock %s: %w", c.lockPath(), err)
	}
	f, err := c.read()
	if err != nil {
		return err
	}
	change(f)
	now := time.Now()
	for k, e := range f.Entries {
		if now.Sub(e.Used) > cacheMaxAge {
			delete(f.Entries, k)
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.dir, "cache-*.json")
	if err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("build cache: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("build cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path()); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	return nil
}

// put records a step's result.
func (c *buildCache) put(key string, s *imageState) error {
	e := &cacheEntry{Config: string(s.raw), Layers: s.layers, Used: time.Now().UTC()}
	return c.update(func(f *cacheFile) { f.Entries[key] = e })
}

// markIntermediate records an image the build wrote only to run a step's container in (the
// parent of a RUN that no cached step produced, such as a stage's base with the default PATH
// added), so that `image ls` hides it as it hides the steps' images. Its key is no step's.
func (c *buildCache) markIntermediate(s *imageState) error {
	e := &cacheEntry{Config: string(s.raw), Layers: s.layers, Used: time.Now().UTC()}
	return c.update(func(f *cacheFile) { f.Entries["intermediate:"+s.id().Hex] = e })
}

// CachedImageIDs are the IDs (sha256:<config digest>) of the images the step cache under root
// records: the intermediate images of builds, which `image ls` hides unless -a, as Docker hides
// the classic builder's.
func CachedImageIDs(root string) (map[string]bool, error) {
	f, err := (&buildCache{dir: filepath.Join(root, "build")}).read()
	if err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(f.Entries))
	for _, e := range f.Entries {
		sum := sha256.Sum256([]byte(e.Config))
		ids["sha256:"+hex.EncodeToString(sum[:])] = true
	}
	return ids, nil
}
