//go:build linux

package image

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Vocabularies the entry generator builds names and link targets from: the components that
// matter for escapes and whiteouts. @OUT and @VIC stand for the absolute paths of the sentinel
// dir and the victim dir outside root.
var (
	fuzzComps   = []string{"a", "b", "..", ".", "lnk", ".wh.a", ".wh..wh..opq", "", "@OUT", "@VIC", "c/d", "/", ".wh.", "a/../..", "file"}
	fuzzTargets = []string{"..", "../..", "../../../..", "@OUT", "@VIC", "@VIC/file", "a", "lnk", "/", "a/b", "../victim/file",
		"lnk/file", "../../victim/file", "/lnk/..", "file", "@OUT/../victim/file"}
)

// fuzzTar turns fuzz input into a layer: 6 bytes per entry (type and name length, three name
// components, link target, mode). Random bytes rarely make a tar with valid checksums, so this
// is how the fuzzer reaches the applier's logic rather than the tar reader's.
func fuzzTar(t *testing.T, prog []byte, outside, victim string) []byte {
	expand := func(s string) string {
		return strings.NewReplacer("@OUT", outside, "@VIC", victim).Replace(s)
	}
	var ents []tarEntry
	for len(prog) >= 6 && len(ents) < 16 {
		op, c := prog[:6], prog[6:]
		prog = c
		parts := make([]string, 1+int(op[0]>>4)%3)
		for i := range parts {
			parts[i] = fuzzComps[int(op[1+i])%len(fuzzComps)]
		}
		name := expand(strings.Join(parts, "/"))
		target := expand(fuzzTargets[int(op[4])%len(fuzzTargets)])
		mode := int64(op[5])<<4&0o7770 | 0o600
		var e tarEntry
		switch op[0] % 7 {
		case 0:
			e = tDir(name, mode|0o700)
		case 1:
			e = tFile(name, "content", mode)
		case 2:
			e = tSymlink(name, target)
		case 3:
			e = tHardlink(name, target)
		case 4:
			e = tarEntry{Hdr: tar.Header{Typeflag: tar.TypeFifo, Name: name, Mode: mode}}
		case 5:
			e = tarEntry{Hdr: tar.Header{Typeflag: tar.TypeChar, Name: name, Mode: mode, Devmajor: 1, Devminor: 3}}
		case 6:
			e = tWhiteout(name + "/.wh." + parts[0])
		}
		ents = append(ents, e)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.Hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		// Some generated names are not encodable (trailing slash on a file, ...): skip those.
		if tw.WriteHeader(&h) != nil {
			continue
		}
		tw.Write([]byte(e.Body))
	}
	tw.Close()
	return buf.Bytes()
}

func FuzzApply(f *testing.F) {
	// Raw tar seeds are a header long: the fuzzer minimizes each input it finds interesting,
	// an iteration costs milliseconds of inode creation here, and minimizing kilobyte inputs
	// would eat the whole fuzz time. The hostile layers of TestApplyConfinement are the long
	// form of these.
	raw := func(ents ...tarEntry) []byte {
		return append([]byte{0}, bytes.TrimRight(buildTar(f, ents...), "\x00")...)
	}
	f.Add(raw(tSymlink("lnk", "../../..")))
	f.Add(raw(tHardlink("hl", "../../../etc/hostname")))
	f.Add([]byte{0, 1, 2, 3})
	// Generated: a symlink to the sentinel, then a file through it.
	f.Add([]byte{1, 0x02, 4, 0, 0, 3, 0x10 | 1, 1, 4, 14, 0, 0, 0x64})
	// Generated: relative escape link then a hard link through it, then a whiteout.
	f.Add([]byte{1, 0x02, 4, 0, 0, 2, 0x7, 0x13, 4, 14, 0, 12, 0, 0x16, 4, 0, 0, 0, 0})
	// Generated: an absolute link to the victim's file, a file over it, a whiteout of it.
	f.Add([]byte{1, 0x02, 4, 0, 0, 5, 0, 0x01, 4, 0, 0, 0, 0, 0x06, 4, 0, 0, 0, 0})
	// Generated: "a/../.." names and targets.
	f.Add([]byte{1, 0x01, 13, 0, 0, 0, 0, 0x03, 0, 0, 0, 2, 0, 0x02, 0, 0, 0, 13, 0})
	// Generated: directories with odd modes, devices and fifos.
	f.Add([]byte{1, 0x00, 0, 0, 0, 0, 0, 0x11, 0, 1, 0, 0, 0xff, 0x14, 0, 1, 0, 0, 0x20, 0x25, 1, 2, 0, 0, 0x3f})

	// The sentinel and the victim are shared by all inputs (creating inodes is the slow part
	// of an iteration here); each input gets its own jail/root beside them.
	base := f.TempDir()
	makeWritable(f, base)
	outside, victim := filepath.Join(base, "outside"), filepath.Join(base, "victim")
	for _, d := range []string{outside, victim} {
		if err := os.Mkdir(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(victim, "file"), []byte("victim"), 0o644); err != nil {
		f.Fatal(err)
	}
	opts := testApplyOpts()
	f.Fuzz(func(t *testing.T, data []byte) {
		jail, err := os.MkdirTemp(base, "jail-")
		if err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(jail, "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		defer snapRemoveAll(jail)

		var layer []byte
		if len(data) > 0 && data[0]&1 == 1 {
			layer = fuzzTar(t, data[1:], outside, victim)
		} else if len(data) > 0 {
			layer = data[1:]
		}
		Apply(context.Background(), root, bytes.NewReader(layer), opts)

		if names, _ := readDirNames(jail); !slices.Equal(names, []string{"root"}) {
			t.Errorf("created beside root: %v", names)
		}
		names, _ := readDirNames(base)
		if want := []string{filepath.Base(jail), "outside", "victim"}; !slices.Equal(names, want) {
			t.Errorf("created beside the jail: %v, want %v", names, want)
		}
		if names, _ := readDirNames(outside); len(names) != 0 {
			t.Errorf("created outside root: %v", names)
		}
		if names, _ := readDirNames(victim); !slices.Equal(names, []string{"file"}) {
			t.Errorf("victim dir changed: %v", names)
		}
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(victim, "file"), &st); err != nil || st.Nlink != 1 || st.Size != int64(len("victim")) {
			t.Errorf("victim file changed: nlink %d size %d err %v", st.Nlink, st.Size, err)
		}
	})
}
