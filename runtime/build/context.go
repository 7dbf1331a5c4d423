package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/berth-sh/berth/runtime/image"
)

// fileTree is where COPY reads its sources: the build context (with .dockerignore applied) or
// another stage's or image's root filesystem (without).
type fileTree struct {
	root string
	// pm excludes paths; nil excludes nothing.
	pm *patternmatcher.PatternMatcher
	// inRoot resolves symlinks as the tree's own root would (a rootfs), instead of refusing
	// paths that leave the context.
	inRoot bool
	// ownership keeps the files' owners when copied (another stage's files); the build
	// context's files become root's, as Docker's do.
	ownership bool
	// exclude is COPY --exclude: patterns matched against the paths below a directory source,
	// relative to it, and against a file source's path as named. Optional.
	exclude *patternmatcher.PatternMatcher

	pmMu sync.Mutex
}

// excluding is the tree seen through a COPY's --exclude patterns; t itself when there are none.
func (t *fileTree) excluding(pm *patternmatcher.PatternMatcher) *fileTree {
	if pm == nil {
		return t
	}
	return &fileTree{root: t.root, pm: t.pm, inRoot: t.inRoot, ownership: t.ownership, exclude: pm}
}

// excludedByFlag reports whether --exclude drops rel (relative to the source it is under).
func (t *fileTree) excludedByFlag(rel string) bool {
	if t.exclude == nil {
		return false
	}
	t.pmMu.Lock()
	defer t.pmMu.Unlock()
	ok, err := t.exclude.MatchesOrParentMatches(filepath.FromSlash(rel))
	return err == nil && ok
}

// loadIgnore reads the ignore file of a build: <Dockerfile>.dockerignore beside the Dockerfile
// first, then .dockerignore at the context root, as Docker does. It returns nil without either.
func loadIgnore(contextDir, dockerfilePath string) (*patternmatcher.PatternMatcher, []string, error) {
	var candidates []string
	if dockerfilePath != "" {
		candidates = append(candidates, dockerfilePath+".dockerignore")
	}
	candidates = append(candidates, filepath.Join(contextDir, ".dockerignore"))
	for _, p := range candidates {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		pm, err := patternmatcher.New(patterns)
		if err != nil {
			return nil, nil, invalidf("%s: %v", p, err)
		}
		return pm, patterns, nil
	}
	return nil, nil, nil
}

// excluded reports whether the context path rel ("a/b", slash-separated) is ignored.
func (t *fileTree) excluded(rel string) (bool, error) {
	if t.pm == nil || rel == "." || rel == "" {
		return false, nil
	}
	// The matcher compiles its patterns on first use, which is not safe from several goroutines
	// (stages build in parallel).
	t.pmMu.Lock()
	defer t.pmMu.Unlock()
	return t.pm.MatchesOrParentMatches(filepath.FromSlash(rel))
}

// prunable reports whether the walk may skip the ignored directory rel without reading it: no
// exception ("!") pattern can match a path below it. Walking into ignored directories only
// when an exception may reach inside them keeps a large ignored tree (node_modules, .git) from
// being read at all.
func (t *fileTree) prunable(rel string) bool {
	if !t.pm.Exclusions() {
		return true
	}
	dir := strings.Split(rel, "/")
	for _, p := range t.pm.Patterns() {
		if p.Exclusion() && mayMatchBelow(filepath.ToSlash(p.String()), dir) {
			return false
		}
	}
	return true
}

// mayMatchBelow reports whether pattern could match a path strictly below the directory whose
// components are dir. A pattern with no more components than dir and no "**" matches a path
// below dir exactly when it matches one of dir's ancestors or dir itself, which the directory's
// own verdict has already counted; a longer one matters only when its first components can
// match dir's.
func mayMatchBelow(pattern string, dir []string) bool {
	if strings.Contains(pattern, "**") {
		return true
	}
	parts := strings.Split(pattern, "/")
	if len(parts) <= len(dir) {
		return false
	}
	for i, d := range dir {
		ok, err := path.Match(parts[i], d)
		if err != nil || !ok {
			return err != nil
		}
	}
	return true
}

// source is one path COPY copies, relative to its tree.
type source struct {
	rel  string // slash-separated, "." for the root
	abs  string
	info fs.FileInfo
	// remote: downloaded by ADD from a URL, never unpacked.
	remote bool
}

// hasMeta reports whether a path is a pattern rather than a name.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[`) }

// cleanRel makes a COPY source path relative to its tree, refusing to climb out of a context.
func cleanRel(p string) string {
	rel := path.Clean("/" + filepath.ToSlash(p))
	return strings.TrimPrefix(rel, "/")
}

// resolve finds the sources one COPY argument names: a path or a pattern matched against every
// path of the tree (Docker's filepath.Match over the walked context). Ignored paths do not exist.
func (t *fileTree) resolve(arg string) ([]source, error) {
	rel := cleanRel(arg)
	if rel == "" {
		rel = "."
	}
	if !hasMeta(rel) {
		s, err := t.stat(rel)
		if err != nil {
			return nil, err
		}
		return []source{s}, nil
	}
	// Walk only below the longest directory prefix without a pattern.
	dir := "."
	parts := strings.Split(rel, "/")
	for i, p := range parts {
		if hasMeta(p) {
			dir = path.Join(parts[:i]...)
			break
		}
	}
	if dir == "" {
		dir = "."
	}
	var out []source
	depth := len(parts)
	start, err := t.full(dir)
	if err != nil {
		return nil, nil // a prefix that does not exist matches nothing
	}
	err = filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		r, _ := filepath.Rel(start, p)
		r = path.Join(dir, filepath.ToSlash(r))
		if r == "." {
			return nil
		}
		if ex, err := t.excluded(r); err != nil {
			return err
		} else if ex {
			if d.IsDir() && t.prunable(r) {
				return filepath.SkipDir
			}
			return nil
		}
		if ok, _ := path.Match(rel, r); ok {
			info, err := d.Info()
			if err != nil {
				return err
			}
			out = append(out, source{rel: r, abs: p, info: info})
		}
		if d.IsDir() && strings.Count(r, "/")+1 >= depth {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// full is the host path of rel, following symlinks inside the tree. In a context, a symlink
// that leads out of it is an error, as in Docker.
func (t *fileTree) full(rel string) (string, error) {
	if t.inRoot {
		return resolveInRoot(t.root, rel)
	}
	p := filepath.Join(t.root, filepath.FromSlash(rel))
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	rootReal, err := filepath.EvalSymlinks(t.root)
	if err != nil {
		return "", err
	}
	if real != rootReal && !strings.HasPrefix(real, rootReal+string(filepath.Separator)) {
		return "", fmt.Errorf("forbidden path outside the build context: %s", rel)
	}
	return real, nil
}

// stat finds one named source, refusing an ignored one as missing.
func (t *fileTree) stat(rel string) (source, error) {
	if ex, err := t.excluded(rel); err != nil {
		return source{}, err
	} else if ex {
		return source{}, fs.ErrNotExist
	}
	p, err := t.full(rel)
	if err != nil {
		return source{}, err
	}
	info, err := os.Stat(p)
	if err != nil {
		return source{}, err
	}
	return source{rel: rel, abs: p, info: info}, nil
}

// resolveInRoot follows path p inside root as if root were "/": absolute symlinks restart at
// root and ".." stops there. The result may not exist in its last components.
func resolveInRoot(root, p string) (string, error) {
	parts := strings.Split(cleanRel(p), "/")
	cur := "" // resolved, relative to root
	for hops := 0; len(parts) > 0; {
		part := parts[0]
		parts = parts[1:]
		if part == "" || part == "." {
			continue
		}
		if part == ".." {
			cur = path.Dir(cur)
			if cur == "." || cur == "/" {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, part)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 255 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			cur = ""
		}
		parts = append(strings.Split(strings.Trim(target, "/"), "/"), parts...)
	}
	return filepath.Join(root, filepath.FromSlash(cur)), nil
}

// hashSources is the checksum COPY and ADD put in their history and cache key: "file:<hex>" for
// one file, "dir:<hex>" for one directory, "multi:<hex>" for several sources. Each file counts
// with its name, type, permission bits, link target and content, never its mtime or owner in a
// context (ownership is part of it for another stage's files, which keep it).
func (t *fileTree) hashSources(srcs []source) (string, error) {
	var sums []string
	for _, s := range srcs {
		h, err := t.hashOne(s)
		if err != nil {
			return "", err
		}
		sums = append(sums, h)
	}
	if len(srcs) == 1 {
		kind := "file"
		if srcs[0].info.IsDir() {
			kind = "dir"
		}
		return kind + ":" + sums[0], nil
	}
	sum := sha256.Sum256([]byte(strings.Join(sums, ",")))
	return "multi:" + hex.EncodeToString(sum[:]), nil
}

func (t *fileTree) hashOne(s source) (string, error) {
	h := sha256.New()
	if !s.info.IsDir() {
		if err := t.hashEntry(h, path.Base(s.rel), s.abs, s.info); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	err := t.walk(s, func(rel, abs string, info fs.FileInfo) error {
		return t.hashEntry(h, rel, abs, info)
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashEntry adds one entry's header and content to h.
func (t *fileTree) hashEntry(h io.Writer, name, abs string, info fs.FileInfo) error {
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		l, err := os.Readlink(abs)
		if err != nil {
			return err
		}
		link = l
	}
	owner := ""
	if t.ownership {
		uid, gid := fileOwner(info)
		owner = strconv.Itoa(uid) + ":" + strconv.Itoa(gid)
	}
	size := int64(0)
	if info.Mode().IsRegular() {
		size = info.Size()
	}
	fmt.Fprintf(h, "%q %o %s %d %q\x00", name, uint32(info.Mode()), owner, size, link)
	if info.Mode().IsRegular() {
		f, err := os.Open(abs)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
	}
	return nil
}

// walk visits every entry below directory source s (not s itself) in lexical order, with its
// path relative to s, skipping ignored paths. Symlinks are not followed.
func (t *fileTree) walk(s source, fn func(rel, abs string, info fs.FileInfo) error) error {
	return filepath.WalkDir(s.abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == s.abs {
			return nil
		}
		r, _ := filepath.Rel(s.abs, p)
		r = filepath.ToSlash(r)
		if t.excludedByFlag(r) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if ex, err := t.excluded(path.Join(s.rel, r)); err != nil {
			return err
		} else if ex {
			if d.IsDir() && t.prunable(path.Join(s.rel, r)) {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return fn(r, p, info)
	})
}

// extractContext unpacks a context tar (plain or compressed) into dir, keeping files,
// directories and symlinks and refusing paths that leave dir.
func extractContext(r io.Reader, dir string) error {
	plain, err := image.Decompress(r)
	if err != nil {
		return invalidf("context: %v", err)
	}
	defer plain.Close()
	tr := tar.NewReader(plain)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return invalidf("context: not a valid tar archive: %v", err)
		}
		rel := cleanRel(h.Name)
		if rel == "" {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		mode := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(target, mode); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Chmod(target, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			_ = os.Remove(target)
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		default:
			continue
		}
		if h.Typeflag != tar.TypeSymlink {
			_ = os.Chtimes(target, h.ModTime, h.ModTime)
		}
	}
}

// isTarStream peeks at r and reports whether it starts like a (possibly compressed) tar, as
// opposed to a Dockerfile: `docker build - < Dockerfile` versus `- < context.tar`.
func isTarStream(br *bufio.Reader) bool {
	head, _ := br.Peek(512)
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}), bytes.HasPrefix(head, []byte("BZh")),
		bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}), bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return true
	case len(head) == 512:
		return bytes.Equal(head[257:262], []byte("ustar"))
	}
	return false
}

// sortSources orders sources by path, for a stable checksum and copy order.
func sortSources(s []source) {
	sort.SliceStable(s, func(i, j int) bool { return s[i].rel < s[j].rel })
}
