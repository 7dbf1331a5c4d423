//go:build linux

package build

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/runtime/image"
	"github.com/berth-sh/berth/runtime/process"
)

// mutate runs fn on a writable view of st's root filesystem (an overlay of its snapshots with a
// fresh upper directory) and returns what fn changed as a layer, nil when nothing.
func (b *builder) mutate(ctx context.Context, st *imageState, fn func(root string) error) (*layerRef, error) {
	lowers, err := st.lowers(ctx, b.local)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(b.tmpDir, "step-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	upper, work, merged := filepath.Join(tmp, "upper"), filepath.Join(tmp, "work"), filepath.Join(tmp, "merged")
	for _, d := range []string{upper, work, merged, filepath.Join(tmp, "empty")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	mountLowers := lowers
	if len(mountLowers) == 0 {
		mountLowers = []string{filepath.Join(tmp, "empty")}
	}
	if err := image.MountOverlay(mountLowers, upper, work, merged); err != nil {
		return nil, err
	}
	err = fn(merged)
	if uerr := image.Unmount(merged); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		return nil, err
	}
	return writeLayer(ctx, b.txn, tmp, func(tw *tar.Writer) (int, error) {
		return diffUpper(upper, lowers, false, nil, tw)
	})
}

// view runs fn on a read-only view of st's root filesystem.
func (b *builder) view(ctx context.Context, st *imageState, fn func(root string) error) error {
	lowers, err := st.lowers(ctx, b.local)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(b.tmpDir, "view-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if len(lowers) == 0 {
		// Nothing to mount: an empty directory is the whole of a scratch image.
		return fn(tmp)
	}
	target := filepath.Join(tmp, "root")
	if err := os.Mkdir(target, 0o755); err != nil {
		return err
	}
	if err := image.MountOverlay(lowers, "", "", target); err != nil {
		return err
	}
	err = fn(target)
	if uerr := image.Unmount(target); uerr != nil && err == nil {
		err = uerr
	}
	return err
}

// placer writes files into a root filesystem, every path resolved inside it (an image's
// symlink cannot send a write to the host).
type placer struct {
	root string
	// chown, when set, owns everything placed and every directory created; otherwise keep says
	// whether entries keep their source owner (or become root's).
	chown    *[2]int
	keep     bool
	chmod    fileMode
	dirTimes map[string]time.Time
}

// mkdir places the directory rel (kept if it exists) with its owner and mode; its mtime is set
// by finish, once nothing more is placed inside it.
func (p *placer) mkdir(rel string, mode fs.FileMode, uid, gid int, mtime time.Time) error {
	full, err := p.target(rel, true)
	if err != nil {
		return err
	}
	if err := os.Mkdir(full, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := os.Lchown(full, uid, gid); err != nil {
		return err
	}
	if err := os.Chmod(full, mode); err != nil {
		return err
	}
	if p.dirTimes == nil {
		p.dirTimes = map[string]time.Time{}
	}
	p.dirTimes[full] = mtime
	return nil
}

// owner is who owns an entry placed from a source owned by uid:gid.
func (p *placer) owner(uid, gid int) (int, int) {
	switch {
	case p.chown != nil:
		return p.chown[0], p.chown[1]
	case p.keep:
		return uid, gid
	}
	return 0, 0
}

// dir makes sure directory rel exists (and its parents), returning its host path. Directories
// it creates are 0755 and root's, or the --chown owner's.
func (p *placer) dir(rel string) (string, error) {
	full, err := resolveInRoot(p.root, rel)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(full)
	if err == nil {
		if !fi.IsDir() {
			return "", fmt.Errorf("cannot copy to %s: not a directory", "/"+cleanRel(rel))
		}
		return full, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if _, err := p.dir(path.Dir(cleanRel(rel))); err != nil {
		return "", err
	}
	// The parent exists now; resolve again in case it was a symlink.
	full, err = resolveInRoot(p.root, rel)
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(full, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	uid, gid := p.owner(0, 0)
	if err := os.Lchown(full, uid, gid); err != nil {
		return "", err
	}
	return full, nil
}

// target is the host path of rel's final component, its parent created; whatever non-directory
// was there is removed so that it is replaced, never written through.
func (p *placer) target(rel string, wantDir bool) (string, error) {
	parent, err := p.dir(path.Dir(cleanRel(rel)))
	if err != nil {
		return "", err
	}
	full := filepath.Join(parent, path.Base(cleanRel(rel)))
	if fi, err := os.Lstat(full); err == nil && (!fi.IsDir() || !wantDir) {
		if err := os.RemoveAll(full); err != nil {
			return "", err
		}
	}
	return full, nil
}

// place copies one entry (file, directory, symlink) to rel.
func (p *placer) place(rel, src string, info fs.FileInfo) error {
	uid, gid := fileOwner(info)
	uid, gid = p.owner(uid, gid)
	mode := info.Mode().Perm() | info.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
	if p.chmod != nil {
		mode = p.chmod(mode, info.IsDir())
	}
	switch {
	case info.IsDir():
		return p.mkdir(rel, mode, uid, gid, info.ModTime())
	case info.Mode().IsRegular():
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		return p.writeFile(rel, in, mode, uid, gid, info.ModTime())
	case info.Mode()&fs.ModeSymlink != 0:
		link, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return p.symlink(rel, link, uid, gid, info.ModTime())
	}
	// Devices, pipes and sockets in a context are not copied.
	return nil
}

func (p *placer) writeFile(rel string, r io.Reader, mode fs.FileMode, uid, gid int, mtime time.Time) error {
	full, err := p.target(rel, false)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(full, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Lchown(full, uid, gid); err != nil {
		return err
	}
	// chmod after chown: chown clears setuid bits.
	if err := os.Chmod(full, mode); err != nil {
		return err
	}
	return os.Chtimes(full, mtime, mtime)
}

func (p *placer) symlink(rel, link string, uid, gid int, mtime time.Time) error {
	full, err := p.target(rel, false)
	if err != nil {
		return err
	}
	if err := os.Symlink(link, full); err != nil {
		return err
	}
	if err := os.Lchown(full, uid, gid); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, full, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// finish sets the directories' times, once nothing more is written into them.
func (p *placer) finish() error {
	for d, t := range p.dirTimes {
		if err := os.Chtimes(d, t, t); err != nil {
			return err
		}
	}
	return nil
}

// copyTree copies source s of tree t to dest (relative to the root): a directory's contents go
// into dest, a file goes to dest, or into it when destDir.
func (p *placer) copyTree(t *fileTree, s source, dest string, destDir bool) error {
	if s.info.IsDir() {
		if _, err := p.dir(dest); err != nil {
			return err
		}
		return t.walk(s, func(rel, abs string, info fs.FileInfo) error {
			return p.place(path.Join(dest, rel), abs, info)
		})
	}
	if destDir {
		if _, err := p.dir(dest); err != nil {
			return err
		}
		dest = path.Join(dest, path.Base(s.rel))
	}
	return p.place(dest, s.abs, s.info)
}

// extract unpacks a (possibly compressed) tar archive into directory dest, ADD's treatment of a
// local archive. Entries keep their owner from the archive unless --chown is given.
func (p *placer) extract(r io.Reader, dest string) error {
	plain, err := image.Decompress(r)
	if err != nil {
		return err
	}
	defer plain.Close()
	if _, err := p.dir(dest); err != nil {
		return err
	}
	tr := tar.NewReader(plain)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rel := cleanRel(h.Name)
		if rel == "" {
			continue
		}
		target := path.Join(dest, rel)
		uid, gid := h.Uid, h.Gid
		if p.chown != nil {
			uid, gid = p.chown[0], p.chown[1]
		}
		mode := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := p.mkdir(target, mode, uid, gid, h.ModTime); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := p.writeFile(target, tr, mode, uid, gid, h.ModTime); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := p.symlink(target, h.Linkname, uid, gid, h.ModTime); err != nil {
				return err
			}
		case tar.TypeLink:
			old, err := resolveInRoot(p.root, path.Join(dest, cleanRel(h.Linkname)))
			if err != nil {
				return err
			}
			full, err := p.target(target, false)
			if err != nil {
				return err
			}
			if err := os.Link(old, full); err != nil {
				return err
			}
		}
	}
}

// mkdirLayer is WORKDIR's layer: the directory, created when missing (nil when it exists).
func (b *builder) mkdirLayer(ctx context.Context, parent *imageState, dir string) (*layerRef, error) {
	return b.mutate(ctx, parent, func(root string) error {
		_, err := (&placer{root: root}).dir(dir)
		return err
	})
}

// copyLayer is COPY's or ADD's layer on a cache miss.
func (b *builder) copyLayer(ctx context.Context, parent *imageState, plan copyPlan) (*layerRef, error) {
	return b.mutate(ctx, parent, func(root string) error {
		p := &placer{root: root, keep: plan.tree.ownership, chmod: plan.mode}
		if plan.chown != "" {
			ids, err := chownIDs(root, plan.chown)
			if err != nil {
				return err
			}
			p.chown = &ids
		}
		destDir := strings.HasSuffix(plan.dest, "/")
		dest := cleanRel(plan.dest)
		if !destDir && len(plan.srcs) == 1 && !plan.srcs[0].info.IsDir() {
			// A single file goes into an existing directory of that name.
			if full, err := resolveInRoot(root, dest); err == nil {
				if fi, err := os.Stat(full); err == nil && fi.IsDir() {
					destDir = true
				}
			}
		}
		for _, s := range plan.srcs {
			if plan.unpack && !s.remote && s.info.Mode().IsRegular() && isArchive(s.abs) {
				f, err := os.Open(s.abs)
				if err != nil {
					return err
				}
				err = p.extract(f, dest)
				f.Close()
				if err != nil {
					return fmt.Errorf("extracting %s: %w", s.rel, err)
				}
				continue
			}
			if err := p.copyTree(plan.tree, s, dest, destDir); err != nil {
				return err
			}
		}
		for _, c := range plan.contents {
			target := dest
			if destDir {
				target = path.Join(dest, c.Path)
			}
			mode := fs.FileMode(0o644)
			if plan.mode != nil {
				mode = plan.mode(mode, false)
			}
			uid, gid := p.owner(0, 0)
			if err := p.writeFile(target, strings.NewReader(c.Data), mode, uid, gid, time.Now()); err != nil {
				return err
			}
		}
		return p.finish()
	})
}

// chownIDs resolves --chown as Docker does: names through the image's /etc/passwd and
// /etc/group, and a user without a group gets the user's number as its group.
func chownIDs(root, spec string) ([2]int, error) {
	user, group, hasGroup := strings.Cut(spec, ":")
	if !hasGroup || group == "" {
		u, err := process.ResolveUser(root, user, nil)
		if err != nil {
			return [2]int{}, fmt.Errorf("--chown=%s: %w", spec, err)
		}
		return [2]int{int(u.UID), int(u.UID)}, nil
	}
	u, err := process.ResolveUser(root, user+":"+group, nil)
	if err != nil {
		return [2]int{}, fmt.Errorf("--chown=%s: %w", spec, err)
	}
	return [2]int{int(u.UID), int(u.GID)}, nil
}

// isArchive reports whether the file is a tar archive, plain or compressed: what ADD unpacks.
func isArchive(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	plain, err := image.Decompress(f)
	if err != nil {
		return false
	}
	defer plain.Close()
	head := make([]byte, 512)
	if _, err := io.ReadFull(plain, head); err != nil {
		return false
	}
	return string(head[257:262]) == "ustar"
}
