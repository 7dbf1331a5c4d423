package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrConflict marks a removal that needs -f: an image named by several repositories.
var ErrConflict = errors.New("conflict")

// Resolve finds an image by name (`busybox`, `localhost:5000/app:v1`, `app@sha256:...`), by ID or
// an unambiguous prefix of it (`sha256:4f3c...`, `4f3c`), as Docker's CLI does.
func (l *Local) Resolve(s string) (StoredImage, error) {
	images, err := l.Store.Images()
	if err != nil {
		return StoredImage{}, err
	}
	if ref, err := ParseReference(s); err == nil {
		if desc, err := l.Store.Ref(ref.String()); err == nil {
			for _, img := range images {
				if img.Manifest.Digest == desc.Digest {
					return img, nil
				}
			}
		}
	}
	id := strings.TrimPrefix(s, "sha256:")
	if len(id) >= 4 && strings.Trim(id, "0123456789abcdef") == "" {
		var found []StoredImage
		for _, img := range images {
			if strings.HasPrefix(img.ID.Hex, id) && !slices.ContainsFunc(found, func(f StoredImage) bool { return f.ID == img.ID }) {
				found = append(found, img)
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
		default:
			return StoredImage{}, fmt.Errorf("%s: ambiguous image ID prefix: %d images match", s, len(found))
		}
	}
	return StoredImage{}, noSuchImage(s)
}

// noSuchImage is Docker's "No such image: NAME", matching ErrNotFound.
func noSuchImage(s string) error { return &notFoundError{msg: "No such image: " + s} }

type notFoundError struct{ msg string }

func (e *notFoundError) Error() string        { return e.msg }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// Tag names the image src resolves to dst as well.
func (l *Local) Tag(ctx context.Context, src, dst string) error {
	img, err := l.Resolve(src)
	if err != nil {
		return err
	}
	ref, err := ParseReference(dst)
	if err != nil {
		return err
	}
	txn, err := l.Store.Begin(ctx)
	if err != nil {
		return err
	}
	defer txn.Close()
	return txn.SetRef(ref.String(), img.Manifest)
}

// Tags is the familiar form of the tag references among names (no digest references).
func Tags(names []string) []string {
	var out []string
	for _, n := range names {
		if strings.Contains(n, "@") {
			continue
		}
		if ref, err := ParseReference(n); err == nil {
			out = append(out, ref.Familiar())
		}
	}
	return out
}

// Digests is the familiar form of the digest references among names: repo@sha256:...
func Digests(names []string) []string {
	var out []string
	for _, n := range names {
		if !strings.Contains(n, "@") {
			continue
		}
		if ref, err := ParseReference(n); err == nil {
			out = append(out, ref.Familiar())
		}
	}
	return out
}

// RemoveResult says what one removal did, in Docker's words: each tag untagged, each image deleted.
type RemoveResult struct {
	Untagged []string
	Deleted  []v1.Hash
}

// Remove untags what names names and deletes images no name is left on, as `docker rmi` does.
// An image given by ID that several repositories name needs force. An image a container uses
// (ContainersUsing) is refused; with force it loses its names but stays, dangling, for the
// container, except that an image a running container uses cannot be removed by ID at all.
func (l *Local) Remove(ctx context.Context, names []string, force bool) (RemoveResult, error) {
	var res RemoveResult
	for _, n := range names {
		img, err := l.Resolve(n)
		if err != nil {
			return res, err
		}
		var untag []string
		if ref, err := ParseReference(n); err == nil && slices.Contains(img.Names, ref.String()) {
			untag = []string{ref.String()}
			// Removing the last tag also drops the digest references, as Docker does.
			if len(Tags(img.Names)) == 1 {
				untag = img.Names
			}
		} else {
			if len(Tags(img.Names)) > 1 && !force {
				return res, fmt.Errorf("%w: unable to delete %s (must be forced) - image is referenced in multiple repositories", ErrConflict, ShortID(img.ID.String()))
			}
			untag = img.Names
		}
		deleting := len(untag) == len(img.Names)
		if deleting {
			users, err := l.users(img.ID)
			if err != nil {
				return res, err
			}
			if len(users) > 0 {
				if err := inUse(n, img, users, force); err != nil {
					return res, err
				}
				deleting = false
			}
		}
		for _, name := range untag {
			if err := l.Store.DeleteRef(name); err != nil && !errors.Is(err, ErrNotFound) {
				return res, err
			}
			if ref, err := ParseReference(name); err == nil {
				res.Untagged = append(res.Untagged, ref.Familiar())
			}
		}
		if deleting {
			res.Deleted = append(res.Deleted, img.ID)
		}
	}
	return res, l.collect(ctx, res.Deleted)
}

// users is ContainersUsing(id), none when it is not set.
func (l *Local) users(id v1.Hash) ([]ImageUser, error) {
	if l.ContainersUsing == nil {
		return nil, nil
	}
	return l.ContainersUsing(id)
}

// inUse is Docker's refusal to remove image img, named n, that users use; nil when force
// allows untagging it (it then stays for them).
func inUse(n string, img StoredImage, users []ImageUser, force bool) error {
	short := ShortID(img.ID.String())
	byRef := false
	if ref, err := ParseReference(n); err == nil && slices.Contains(img.Names, ref.String()) {
		byRef = true
	}
	for _, u := range users {
		if u.Running && !byRef {
			return fmt.Errorf("%w: unable to delete %s (cannot be forced) - image is being used by running container %s", ErrConflict, short, ShortID(u.ID))
		}
	}
	if force {
		return nil
	}
	if byRef {
		return fmt.Errorf("%w: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ErrConflict, n, ShortID(users[0].ID), short)
	}
	return fmt.Errorf("%w: unable to delete %s (must be forced) - image is being used by stopped container %s", ErrConflict, short, ShortID(users[0].ID))
}

// PruneResult is what Prune removed.
type PruneResult struct {
	RemoveResult
	Reclaimed int64
}

// Prune removes dangling images (no tag), or with all every image no container uses.
func (l *Local) Prune(ctx context.Context, all bool) (PruneResult, error) {
	var res PruneResult
	images, err := l.Store.Images()
	if err != nil {
		return res, err
	}
	for _, img := range images {
		if len(Tags(img.Names)) > 0 && !all {
			continue
		}
		users, err := l.users(img.ID)
		if err != nil {
			return res, err
		}
		if len(users) > 0 {
			continue
		}
		for _, name := range img.Names {
			if err := l.Store.DeleteRef(name); err != nil && !errors.Is(err, ErrNotFound) {
				return res, err
			}
			if ref, err := ParseReference(name); err == nil {
				res.Untagged = append(res.Untagged, ref.Familiar())
			}
		}
		res.Deleted = append(res.Deleted, img.ID)
	}
	before := l.diskUsage()
	err = l.collect(ctx, res.Deleted)
	res.Reclaimed = max(0, before-l.diskUsage())
	return res, err
}

// collect removes the blobs and snapshots of the images gone, keeping every other image,
// dangling ones included (those go with prune only).
func (l *Local) collect(ctx context.Context, gone []v1.Hash) error {
	images, err := l.Store.Images()
	if err != nil {
		return err
	}
	keep := map[v1.Hash]bool{}
	for _, img := range images {
		if !slices.Contains(gone, img.ID) {
			keep[img.Manifest.Digest] = true
		}
	}
	// Snapshots are swept under the same exclusive lock: a pull holds the shared one from writing
	// its manifest until its layers are unpacked, so no snapshot it counts on can go.
	return l.Store.Exclusive(ctx, func() error {
		if _, err := l.Store.GCLocked(ctx, func(h v1.Hash) bool { return keep[h] }); err != nil {
			return err
		}
		return l.collectSnapshots()
	})
}

// collectSnapshots removes the snapshots no stored image's layers need.
func (l *Local) collectSnapshots() error {
	images, err := l.Store.Images()
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, si := range images {
		img, err := l.Store.Image(si.Manifest.Digest)
		if err != nil {
			return err
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return err
		}
		for _, c := range ChainIDs(cfg.RootFS.DiffIDs) {
			used[c.String()] = true
		}
	}
	all, err := l.Snapshots.List()
	if err != nil {
		return err
	}
	for _, c := range all {
		if !used[c] {
			if err := l.Snapshots.Remove(c); err != nil {
				return err
			}
		}
	}
	// What killed unpacks and interrupted removals left behind.
	return l.Snapshots.Cleanup()
}

// diskUsage adds up the store's blobs and snapshots, for the space prune reclaims.
func (l *Local) diskUsage() int64 {
	return dirSize(l.Store.Dir()) + dirSize(filepath.Join(l.root, "snapshots"))
}

// LayerSize is the unpacked size of one layer: the files of its snapshot.
func (l *Local) LayerSize(chainID string) int64 {
	return dirSize(l.Snapshots.Path(chainID))
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
