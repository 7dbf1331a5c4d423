//go:build linux

package build

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Whiteout names of the OCI layer format.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// mountStubs are paths a container's init creates in its root filesystem as mount points when
// the image lacks them. They are the runtime's, not the RUN's, so they stay out of the layer, as
// Docker's init layer keeps them out of its diffs.
var mountStubs = []string{"proc", "sys", "dev", "etc/hosts", "etc/hostname", "etc/resolv.conf"}

type upperEntry struct {
	rel  string
	abs  string
	info fs.FileInfo
}

// diffUpper writes the changes an overlay upper directory holds as an OCI layer: files and
// directories as they are, deletions (0/0 character devices) as .wh.<name> files and opaque
// directories with a .wh..wh..opq entry. lowers are the directories below the upper, used to tell
// the runtime's mount stubs from the step's own files: with stubs set (the upper directory of a
// container), mountStubs and extraStubs (the RUN's own mount targets) are dropped when the step
// left them empty. It returns how many entries it wrote.
//
// This reading of the upper directory is only right when overlayfs writes no redirects and no
// metacopy-only files: berth's mounts leave both off, and it refuses a tree that has them.
func diffUpper(upper string, lowers []string, stubs bool, extraStubs []string, tw *tar.Writer) (int, error) {
	var entries []upperEntry
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == upper {
			return nil
		}
		rel, _ := filepath.Rel(upper, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		entries = append(entries, upperEntry{rel: filepath.ToSlash(rel), abs: p, info: info})
		return nil
	})
	if err != nil {
		return 0, err
	}
	if stubs {
		entries = dropStubs(entries, lowers, append(append([]string{}, mountStubs...), extraStubs...))
	}
	links := map[uint64]string{}
	n := 0
	for _, e := range entries {
		hdr, err := upperHeader(e, links)
		if err != nil {
			return n, err
		}
		if hdr == nil {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return n, err
		}
		n++
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			if err := copyFileTo(tw, e.abs, hdr.Size); err != nil {
				return n, err
			}
		}
		if e.info.IsDir() && isOpaque(e.abs) {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: path.Join(e.rel, whiteoutOpaque), ModTime: hdr.ModTime}); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// dropStubs removes the mount stubs (paths relative to the root) that are empty and absent from
// the lowers, then, going up from each, the directories that held nothing else and were only
// made or copied up for it: absent from the lowers, or there with the same mode and owner. A
// step's own changes to those directories (a new file, a chmod) keep them.
func dropStubs(entries []upperEntry, lowers []string, stubs []string) []upperEntry {
	lowerInfo := func(rel string) fs.FileInfo {
		for _, l := range lowers {
			if fi, err := os.Lstat(filepath.Join(l, filepath.FromSlash(rel))); err == nil {
				return fi
			}
		}
		return nil
	}
	index := map[string]int{}
	for i, e := range entries {
		index[e.rel] = i
	}
	drop := map[string]bool{}
	// children counts the entries kept below each directory.
	children := map[string]int{}
	for _, e := range entries {
		for d := path.Dir(e.rel); d != "."; d = path.Dir(d) {
			children[d]++
		}
	}
	remove := func(rel string) {
		drop[rel] = true
		for d := path.Dir(rel); d != "."; d = path.Dir(d) {
			children[d]--
		}
	}
	for _, stub := range stubs {
		stub = strings.Trim(path.Clean("/"+stub), "/")
		i, ok := index[stub]
		if !ok || stub == "" || drop[stub] {
			continue
		}
		e := entries[i]
		emptyDir := e.info.IsDir() && children[stub] == 0 && !isOpaque(e.abs)
		emptyFile := e.info.Mode().IsRegular() && e.info.Size() == 0
		if !(emptyDir || emptyFile) || lowerInfo(stub) != nil {
			continue
		}
		remove(stub)
		for d := path.Dir(stub); d != "."; d = path.Dir(d) {
			j, ok := index[d]
			if !ok || drop[d] || children[d] > 0 || isOpaque(entries[j].abs) {
				break
			}
			if li := lowerInfo(d); li != nil && !sameDirMeta(li, entries[j].info) {
				break
			}
			remove(d)
		}
	}
	var out []upperEntry
	for _, e := range entries {
		if !drop[e.rel] {
			out = append(out, e)
		}
	}
	return out
}

// sameDirMeta reports whether two directories have the same mode and owner: an upper directory
// that is only a copy-up of a lower one.
func sameDirMeta(a, b fs.FileInfo) bool {
	if !a.IsDir() || !b.IsDir() || a.Mode() != b.Mode() {
		return false
	}
	au, ag := fileOwner(a)
	bu, bg := fileOwner(b)
	return au == bu && ag == bg
}

// upperHeader is the tar header of one upper entry; nil for what a layer cannot hold (sockets).
func upperHeader(e upperEntry, links map[uint64]string) (*tar.Header, error) {
	st, ok := e.info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("%s: no stat data", e.abs)
	}
	for _, x := range []string{"trusted.overlay.redirect", "trusted.overlay.metacopy", "user.overlay.redirect", "user.overlay.metacopy"} {
		if _, err := unix.Lgetxattr(e.abs, x, nil); err == nil {
			return nil, fmt.Errorf("%s has the overlay attribute %s: berth cannot turn overlay redirects or metacopy files into a layer (mount overlays with redirect_dir=off,metacopy=off)", e.rel, x)
		}
	}
	mode := e.info.Mode()
	hdr := &tar.Header{
		Name:    e.rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: e.info.ModTime(),
	}
	switch {
	case mode&fs.ModeCharDevice != 0 && st.Rdev == 0:
		dir, base := path.Split(e.rel)
		return &tar.Header{Typeflag: tar.TypeReg, Name: dir + whiteoutPrefix + base, ModTime: e.info.ModTime()}, nil
	case mode.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case mode.IsRegular():
		hdr.Typeflag = tar.TypeReg
		if st.Nlink > 1 {
			if first, ok := links[st.Ino]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				break
			}
			links[st.Ino] = e.rel
		}
		hdr.Size = e.info.Size()
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(e.abs)
		if err != nil {
			return nil, err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case mode&fs.ModeNamedPipe != 0:
		hdr.Typeflag = tar.TypeFifo
	case mode&fs.ModeDevice != 0:
		hdr.Typeflag = tar.TypeBlock
		if mode&fs.ModeCharDevice != 0 {
			hdr.Typeflag = tar.TypeChar
		}
		hdr.Devmajor = int64(unix.Major(st.Rdev))
		hdr.Devminor = int64(unix.Minor(st.Rdev))
	default:
		return nil, nil
	}
	if err := addXattrs(hdr, e.abs); err != nil {
		return nil, err
	}
	return hdr, nil
}

// addXattrs records an entry's extended attributes, except overlayfs's own.
func addXattrs(hdr *tar.Header, p string) error {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil || sz == 0 {
		return nil // no xattr support or none: nothing to keep
	}
	buf := make([]byte, sz)
	sz, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		vsz, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, vsz)
		vsz, err = unix.Lgetxattr(p, name, val)
		if err != nil {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+name] = string(val[:vsz])
		hdr.Format = tar.FormatPAX
	}
	return nil
}

// isOpaque reports whether overlayfs marked the upper directory opaque: it hides everything the
// lowers had at that path.
func isOpaque(p string) bool {
	for _, x := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		buf := make([]byte, 4)
		n, err := unix.Lgetxattr(p, x, buf)
		if err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

// fileOwner is the uid and gid of a file.
func fileOwner(info fs.FileInfo) (int, int) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return 0, 0
}
