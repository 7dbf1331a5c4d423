package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/berth-sh/berth/runtime/container"
)

// runMount is one RUN --mount the builder supports: a cache directory or a tmpfs.
type runMount struct {
	typ     instructions.MountType
	target  string // absolute
	id      string // cache: the cache's name, the target unless id= is given
	sharing instructions.ShareMode
	ro      bool
	size    int64
	mode    *uint64
	uid     *uint64
	gid     *uint64
}

// key is the mount as the step's cache key sees it: what it is, never what a cache holds.
func (m runMount) key() string {
	k := fmt.Sprintf("type=%s,target=%s,ro=%t", m.typ, m.target, m.ro)
	if m.typ == instructions.MountTypeCache {
		k += fmt.Sprintf(",id=%s,sharing=%s", m.id, m.sharing)
		for _, f := range []struct {
			name string
			v    *uint64
		}{{"mode", m.mode}, {"uid", m.uid}, {"gid", m.gid}} {
			if f.v != nil {
				k += fmt.Sprintf(",%s=%d", f.name, *f.v)
			}
		}
	} else if m.size > 0 {
		k += fmt.Sprintf(",size=%d", m.size)
	}
	return k
}

// runMounts checks a RUN's --mount flags and resolves their targets against the working
// directory, as BuildKit does. Cache and tmpfs mounts are supported; bind, secret and ssh mounts
// need sources berth's builder does not have.
func runMounts(c *instructions.RunCommand, workdir string) ([]runMount, error) {
	var out []runMount
	for _, m := range instructions.GetMounts(c) {
		switch m.Type {
		case instructions.MountTypeCache, instructions.MountTypeTmpfs:
		default:
			return nil, fmt.Errorf("--mount=type=%s is not supported by berth (cache and tmpfs are)", m.Type)
		}
		if m.From != "" || m.Source != "" {
			return nil, fmt.Errorf("--mount=type=%s: from= and source= are not supported by berth", m.Type)
		}
		if m.Target == "" {
			return nil, fmt.Errorf("--mount=type=%s: a target is required", m.Type)
		}
		target := m.Target
		if !path.IsAbs(target) {
			if workdir == "" {
				workdir = "/"
			}
			target = path.Join(workdir, target)
		}
		target = path.Clean(target)
		if target == "/" {
			return nil, fmt.Errorf("--mount=type=%s: cannot mount on /", m.Type)
		}
		rm := runMount{typ: m.Type, target: target, ro: m.ReadOnly, size: m.SizeLimit, mode: m.Mode, uid: m.UID, gid: m.GID}
		if m.Type == instructions.MountTypeCache {
			rm.id = m.CacheID
			if rm.id == "" {
				rm.id = target
			}
			rm.sharing = m.CacheSharing
			if rm.sharing == "" {
				rm.sharing = instructions.MountSharingShared
			}
		}
		out = append(out, rm)
	}
	return out, nil
}

// cacheMountsDir holds the RUN cache mounts: one directory per cache id, named by the id's
// digest, with an instance per concurrent private user ("0", "1", ...) and a lock file beside
// each. It lives under the state root and survives builds; no layer ever includes it.
func cacheMountsDir(root string) string { return filepath.Join(root, "build", "cache-mounts") }

// heldMounts are the mounts of one RUN, ready for its container, with the locks they hold.
type heldMounts struct {
	mounts []container.Mount
	locks  []*os.File
}

// release drops the locks; the caches stay.
func (h *heldMounts) release() {
	for _, f := range h.locks {
		f.Close()
	}
	h.locks = nil
}

// holdMounts prepares ms for a container: each cache directory is created (owned by uid:gid,
// with mode, 0755 and root by default) and locked as its sharing says: shared users run
// together, a locked one runs alone, and a private one gets an instance no one else is using.
func (b *builder) holdMounts(ctx context.Context, ms []runMount) (*heldMounts, error) {
	h := &heldMounts{}
	for _, m := range ms {
		if m.typ == instructions.MountTypeTmpfs {
			h.mounts = append(h.mounts, container.Mount{Type: "tmpfs", Target: m.target, TmpfsSize: m.size})
			continue
		}
		dir, lock, err := b.holdCache(ctx, m)
		if err != nil {
			h.release()
			return nil, fmt.Errorf("--mount=type=cache,id=%s: %w", m.id, err)
		}
		h.locks = append(h.locks, lock)
		h.mounts = append(h.mounts, container.Mount{Type: "bind", Source: dir, Target: m.target, ReadOnly: m.ro})
	}
	return h, nil
}

func (b *builder) holdCache(ctx context.Context, m runMount) (string, *os.File, error) {
	sum := sha256.Sum256([]byte(m.id))
	base := filepath.Join(cacheMountsDir(b.o.Root), hex.EncodeToString(sum[:16]))
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", nil, err
	}
	// The id in clear, for whoever looks at the directory.
	if _, err := os.Stat(filepath.Join(base, "id")); errors.Is(err, fs.ErrNotExist) {
		_ = os.WriteFile(filepath.Join(base, "id"), []byte(m.id+"\n"), 0o600)
	}
	var (
		n    int
		lock *os.File
		err  error
	)
	switch m.sharing {
	case instructions.MountSharingPrivate:
		for n = 0; ; n++ {
			lock, err = tryLock(filepath.Join(base, strconv.Itoa(n)+".lock"), syscall.LOCK_EX)
			if err != nil || lock != nil {
				break
			}
		}
	case instructions.MountSharingLocked:
		lock, err = waitLock(ctx, filepath.Join(base, "0.lock"), syscall.LOCK_EX)
	default:
		lock, err = waitLock(ctx, filepath.Join(base, "0.lock"), syscall.LOCK_SH)
	}
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Join(base, strconv.Itoa(n))
	if err := prepareCacheDir(dir, m); err != nil {
		lock.Close()
		return "", nil, err
	}
	return dir, lock, nil
}

// prepareCacheDir makes the cache's directory, and gives its root the owner and mode the mount
// asks for: on every use, so that a changed uid= takes effect.
func prepareCacheDir(dir string, m runMount) error {
	created := false
	if err := os.Mkdir(dir, 0o755); err == nil {
		created = true
	} else if !errors.Is(err, fs.ErrExist) {
		return err
	}
	if created || m.uid != nil || m.gid != nil {
		uid, gid := 0, 0
		if m.uid != nil {
			uid = int(*m.uid)
		}
		if m.gid != nil {
			gid = int(*m.gid)
		}
		if err := os.Lchown(dir, uid, gid); err != nil {
			return err
		}
	}
	if created || m.mode != nil {
		mode := fs.FileMode(0o755)
		if m.mode != nil {
			mode = fs.FileMode(*m.mode) & fs.ModePerm
		}
		if err := os.Chmod(dir, mode); err != nil {
			return err
		}
	}
	return nil
}

// tryLock takes a flock on p without waiting; nil, nil when someone else holds it.
func tryLock(p string, how int) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.EWOULDBLOCK {
		f.Close()
		return nil, nil
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return f, nil
}

// waitLock takes a flock on p, waiting for it as long as ctx lets it.
func waitLock(ctx context.Context, p string, how int) (*os.File, error) {
	for {
		f, err := tryLock(p, how)
		if err != nil || f != nil {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// mountKeys is the cache-key text of a RUN's mounts.
func mountKeys(ms []runMount) string {
	var keys []string
	for _, m := range ms {
		keys = append(keys, "mount="+m.key())
	}
	return strings.Join(keys, ";")
}
