package container

// docker cp: copying files and directories between a container and the host, in either
// direction, for running and stopped containers alike.
//
// The rules of what lands where are Docker's (its client's archive.PrepareArchiveCopy and
// friends): the source is archived as one tar entry tree named after its last path element, and
// the destination decides which directory that tree is extracted into and whether its top entry
// is renamed. This file holds those rules, pure and portable; copy_linux.go opens the
// container's file system and copytar_linux.go moves the bytes.
//
// Decisions, where Docker leaves room or berth differs:
//
//   - The container's file system is what Docker's daemon shows: the rootfs with the
//     container's volumes, bind mounts, /etc/hosts, /etc/hostname, /etc/resolv.conf and
//     secrets mounted on it, for a running and a stopped container alike. tmpfs mounts,
//     /proc, /sys and /dev are not part of it (Docker's documentation says so of its own cp).
//   - Without -a, files copied into a container are owned by root (0:0), as Docker's
//     documentation says; Docker's daemon in fact keeps the uid/gid of the host files
//     (moby/moby#45793). With -a they keep the source's uid/gid (not the container user's,
//     which Docker looks up in the host's passwd, moby/moby#34142). Copied out, files belong
//     to the user running berth, or with -a keep the container's uid/gid.
//   - Errors the daemon words ("Could not find the file /x in container c") are printed
//     without Docker's "Error response from daemon: " prefix, as all of berth's are.
//   - Extended attributes are not copied.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// CopyOptions are docker cp's flags.
type CopyOptions struct {
	// FollowLink (-L) copies what a symlink source points to rather than the link.
	FollowLink bool
	// Archive (-a) keeps the source's uid/gid instead of giving the files to the receiving
	// side's user (root in a container, the caller on the host).
	Archive bool
	// Ref is the container as the user named it, for messages; empty means its name.
	Ref string
}

// CopyResult is what a copy did, for the CLI's summary line.
type CopyResult struct {
	// Size is the number of bytes of regular file content copied.
	Size int64
	// Dest is the destination as Docker names it in "Successfully copied ... to DEST":
	// a host path, or CONTAINER:PATH.
	Dest string
}

// The path rule errors, in the words of Docker's archive package.
var (
	errNotDirectory  = errors.New("not a directory")
	errDirNotExists  = errors.New("no such directory")
	errCannotCopyDir = errors.New("cannot copy directory")
)

// copyInfo describes one end of a copy, as Docker's archive.CopyInfo does.
type copyInfo struct {
	// Path keeps a trailing "/" or "/." of the user's path: they assert a directory.
	Path   string
	Exists bool
	IsDir  bool
	// Rebase is the name the source's top entry takes instead of Path's last element: the
	// name the user gave a symlink that -L followed.
	Rebase string
}

// renaming turns the first path element of archive entries named from into to (Docker's
// RebaseArchiveEntries); the zero value renames nothing.
type renaming struct{ from, to string }

// apply renames name when its first element is r.from.
func (r renaming) apply(name string) string {
	if r.from == "" && r.to == "" {
		return name
	}
	first, rest, more := strings.Cut(name, "/")
	if first != r.from {
		return name
	}
	if more {
		return r.to + "/" + rest
	}
	return r.to
}

// then is r followed by next.
func (r renaming) then(next renaming) func(string) string {
	return func(name string) string { return next.apply(r.apply(name)) }
}

// hasTrailingSeparator reports whether p ends with "/".
func hasTrailingSeparator(p string) bool { return strings.HasSuffix(p, "/") }

// specifiesCurrentDir reports whether p's last element is ".".
func specifiesCurrentDir(p string) bool { return path.Base(p) == "." }

// assertsDirectory reports whether p says it is a directory: it ends with "/" or "/.".
func assertsDirectory(p string) bool { return hasTrailingSeparator(p) || specifiesCurrentDir(p) }

// preserveTrailing puts the trailing "/." or "/" of original back on cleaned (Docker's
// PreserveTrailingDotOrSeparator): path.Clean drops them, and they change what is copied.
func preserveTrailing(cleaned, original string) string {
	if !specifiesCurrentDir(cleaned) && specifiesCurrentDir(original) {
		if !hasTrailingSeparator(cleaned) {
			cleaned += "/"
		}
		cleaned += "."
	}
	if !hasTrailingSeparator(cleaned) && hasTrailingSeparator(original) {
		cleaned += "/"
	}
	return cleaned
}

// splitDirEntry splits p into its directory and last element after cleaning it, keeping a
// last element "." (Docker's SplitPathDirEntry): "/a/b/." is ("/a/b", ".").
func splitDirEntry(p string) (dir, base string) {
	cleaned := path.Clean(p)
	if specifiesCurrentDir(p) {
		cleaned += "/."
	}
	return path.Dir(cleaned), path.Base(cleaned)
}

// archiveName is the name of the top entry of the archive of p: its last element, "." for a
// path ending in "/." and for the root (whose contents are what is copied).
func archiveName(p string) string {
	if _, base := splitDirEntry(p); base != "/" {
		return base
	}
	return "."
}

// prepareCopy decides, from what the source is and what the destination is, which directory
// the source's archive is extracted into and how its top entry is renamed (Docker's
// PrepareArchiveCopy):
//
//   - destination a directory: into it, as it is (a "dir/." source brings its contents);
//   - destination a file: a directory source is an error, a file replaces it;
//   - destination missing: the source takes its name in its parent directory, except that a
//     file cannot become a destination that asserts a directory ("dir/").
func prepareCopy(src, dst copyInfo) (dir string, rename renaming, err error) {
	dstDir, dstBase := splitDirEntry(dst.Path)
	_, srcBase := splitDirEntry(src.Path)
	if src.Rebase != "" {
		srcBase = src.Rebase
	}
	if srcBase == "/" {
		srcBase = "."
	}
	switch {
	case dst.Exists && dst.IsDir:
		return dst.Path, renaming{}, nil
	case dst.Exists && src.IsDir:
		return "", renaming{}, errCannotCopyDir
	case dst.Exists, src.IsDir:
		return dstDir, renaming{from: srcBase, to: dstBase}, nil
	case assertsDirectory(dst.Path):
		return "", renaming{}, errDirNotExists
	default:
		return dstDir, renaming{from: srcBase, to: dstBase}, nil
	}
}

// rebaseName is Docker's GetRebaseName: the symlink target a -L source resolved to, with the
// source's trailing "/." or "/" kept, and the name the copy must keep when the target's last
// element differs from the one the user gave.
func rebaseName(p, resolved string) (string, string) {
	if specifiesCurrentDir(p) && !specifiesCurrentDir(resolved) {
		resolved += "/."
	}
	if hasTrailingSeparator(p) && !hasTrailingSeparator(resolved) {
		resolved += "/"
	}
	if path.Base(p) != path.Base(resolved) {
		return resolved, path.Base(p)
	}
	return resolved, ""
}

// resolveLocalPath makes a host path absolute, keeping its trailing "/" or "/.".
func resolveLocalPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return preserveTrailing(abs, p), nil
}

// hostSource describes the host path p (absolute) as the source of a copy (Docker's
// CopyInfoSourcePath): symlinks before its last element are followed, and with followLink
// the last one too, the copy then keeping the name the user gave.
func hostSource(p string, followLink bool) (copyInfo, error) {
	var resolved, rebase string
	if followLink {
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			return copyInfo{}, err
		}
		resolved, rebase = rebaseName(p, r)
	} else {
		dir, base := filepath.Split(p)
		r, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return copyInfo{}, err
		}
		resolved = strings.TrimSuffix(r, "/") + "/" + base
		if hasTrailingSeparator(p) && filepath.Base(p) != filepath.Base(resolved) {
			rebase = filepath.Base(p)
		}
	}
	fi, err := os.Lstat(resolved)
	if err != nil {
		return copyInfo{}, err
	}
	return copyInfo{Path: resolved, Exists: true, IsDir: fi.IsDir(), Rebase: rebase}, nil
}

// maxDestLinks is how many symlinks a destination may go through (Docker's limit).
const maxDestLinks = 10

// hostDestination describes the host path p (absolute) as the destination of a copy
// (Docker's CopyInfoDestinationPath): a symlink is followed, even a dangling one (the copy
// creates its target), and a missing destination needs an existing parent directory.
func hostDestination(p string) (copyInfo, error) {
	original := p
	fi, err := os.Lstat(p)
	for n := 0; err == nil && fi.Mode()&fs.ModeSymlink != 0; n++ {
		if n > maxDestLinks {
			return copyInfo{}, errors.New("too many symlinks in " + original)
		}
		target, rerr := os.Readlink(p)
		if rerr != nil {
			return copyInfo{}, rerr
		}
		if !filepath.IsAbs(target) {
			parent, _ := splitDirEntry(p)
			target = filepath.Join(parent, target)
		}
		p = target
		fi, err = os.Lstat(p)
	}
	if err == nil {
		return copyInfo{Path: p, Exists: true, IsDir: fi.IsDir()}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return copyInfo{}, err
	}
	parent, _ := splitDirEntry(p)
	pfi, err := os.Stat(parent)
	if err != nil {
		return copyInfo{}, err
	}
	if !pfi.IsDir() {
		return copyInfo{}, errNotDirectory
	}
	return copyInfo{Path: p}, nil
}

// validateOutputPath refuses a host destination whose directory is missing or which is
// something else than a directory or a regular file (Docker's ValidateOutputPath).
func validateOutputPath(p string) error {
	if p == "-" {
		return nil
	}
	if dir := filepath.Dir(filepath.Clean(p)); dir != "" && dir != "." {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("invalid output path: directory %q does not exist", dir)
		}
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().IsRegular() {
		return nil
	}
	if err := irregular(fi.Mode()); err != nil {
		return fmt.Errorf("invalid output path: %q: %w", p, err)
	}
	return nil
}

// irregular refuses a device or another irregular file as a destination (Docker's
// ValidateOutputPathFileMode).
func irregular(m fs.FileMode) error {
	switch {
	case m&fs.ModeDevice != 0:
		return errors.New("got a device")
	case m&fs.ModeIrregular != 0:
		return errors.New("got an irregular file")
	}
	return nil
}

// within reports whether the clean absolute path p is dir or below it.
func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// fileNotFound is Docker's 404 for a path missing in a container; it matches fs.ErrNotExist.
func fileNotFound(p, ref string) error {
	return refusal(fs.ErrNotExist, "Could not find the file %s in container %s", p, ref)
}
