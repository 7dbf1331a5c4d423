package container

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestPreserveTrailing(t *testing.T) {
	for _, tc := range []struct{ cleaned, original, want string }{
		{"/a/b", "a/b", "/a/b"},
		{"/a/b", "a/b/", "/a/b/"},
		{"/a/b", "a/b/.", "/a/b/."},
		{"/a/b", "a/b/./", "/a/b/./"},
		{"/", "/", "/"},
		{"/", "/.", "/."},
		{"/", "", "/."}, // an empty container path is the root's contents
	} {
		if got := preserveTrailing(tc.cleaned, tc.original); got != tc.want {
			t.Errorf("preserveTrailing(%q, %q) = %q, want %q", tc.cleaned, tc.original, got, tc.want)
		}
	}
}

func TestSplitDirEntryAndArchiveName(t *testing.T) {
	for _, tc := range []struct{ p, dir, base, arc string }{
		{"/a/b", "/a", "b", "b"},
		{"/a/b/", "/a", "b", "b"},
		{"/a/b/.", "/a/b", ".", "."},
		{"a", ".", "a", "a"},
		{"/", "/", "/", "."},
		{"/.", "/", ".", "."},
	} {
		dir, base := splitDirEntry(tc.p)
		if dir != tc.dir || base != tc.base {
			t.Errorf("splitDirEntry(%q) = %q, %q; want %q, %q", tc.p, dir, base, tc.dir, tc.base)
		}
		if arc := archiveName(tc.p); arc != tc.arc {
			t.Errorf("archiveName(%q) = %q, want %q", tc.p, arc, tc.arc)
		}
	}
}

// TestPrepareCopy is Docker's table of docker cp's path rules (docker container cp's
// reference), one row per case.
func TestPrepareCopy(t *testing.T) {
	file := func(p string) copyInfo { return copyInfo{Path: p, Exists: true} }
	dir := func(p string) copyInfo { return copyInfo{Path: p, Exists: true, IsDir: true} }
	missing := func(p string) copyInfo { return copyInfo{Path: p} }
	for _, tc := range []struct {
		name     string
		src, dst copyInfo
		wantDir  string
		from, to string // the top entry's renaming, "" for none
		err      error
	}{
		{"file to a missing path: saved there", file("/s/f"), missing("/d/new"), "/d", "f", "new", nil},
		{"file to a missing dir/: the directory must exist", file("/s/f"), missing("/d/new/"), "", "", "", errDirNotExists},
		{"file to a missing dir/.: the directory must exist", file("/s/f"), missing("/d/new/."), "", "", "", errDirNotExists},
		{"file onto a file: overwritten", file("/s/f"), file("/d/g"), "/d", "f", "g", nil},
		{"file into a directory: by its name", file("/s/f"), dir("/d/x"), "/d/x", "", "", nil},
		{"directory to a missing path: created with the contents", dir("/s/d"), missing("/d/new"), "/d", "d", "new", nil},
		{"directory onto a file: error", dir("/s/d"), file("/d/g"), "", "", "", errCannotCopyDir},
		{"directory into a directory: copied into it", dir("/s/d"), dir("/d/x"), "/d/x", "", "", nil},
		{"dir/. into a directory: its contents", dir("/s/d/."), dir("/d/x"), "/d/x", "", "", nil},
		{"dir/. to a missing path: created with the contents", dir("/s/d/."), missing("/d/new"), "/d", ".", "new", nil},
		{"followed link keeps the user's name", copyInfo{Path: "/s/target", Exists: true, Rebase: "link"}, missing("/d/new"), "/d", "link", "new", nil},
		{"root to a missing path: its contents", dir("/"), missing("/d/new"), "/d", ".", "new", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotDir, ren, err := prepareCopy(tc.src, tc.dst)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if gotDir != tc.wantDir || ren.from != tc.from || ren.to != tc.to {
				t.Errorf("got dir %q renaming %q->%q; want %q, %q->%q", gotDir, ren.from, ren.to, tc.wantDir, tc.from, tc.to)
			}
		})
	}
}

func TestRenaming(t *testing.T) {
	r := renaming{from: "src", to: "dst"}
	for in, want := range map[string]string{
		"src": "dst", "src/": "dst/", "src/a/b": "dst/a/b", "srcx/a": "srcx/a", "other/src": "other/src",
	} {
		if got := r.apply(in); got != want {
			t.Errorf("apply(%q) = %q, want %q", in, got, want)
		}
	}
	dot := renaming{from: ".", to: "new"}
	if got := dot.apply("./a"); got != "new/a" {
		t.Errorf("apply(./a) = %q", got)
	}
	if got := (renaming{}).apply("./a"); got != "./a" {
		t.Errorf("the zero renaming changed ./a to %q", got)
	}
	chain := renaming{from: "target", to: "link"}.then(renaming{from: "link", to: "new"})
	if got := chain("target/x"); got != "new/x" {
		t.Errorf("chain(target/x) = %q", got)
	}
}

func TestRebaseName(t *testing.T) {
	for _, tc := range []struct{ p, resolved, want, rebase string }{
		{"/a/link", "/a/target", "/a/target", "link"},
		{"/a/same", "/b/same", "/b/same", ""},
		{"/a/link/", "/a/target", "/a/target/", "link"},
		{"/a/link/.", "/a/target", "/a/target/.", ""},
	} {
		got, rebase := rebaseName(tc.p, tc.resolved)
		if got != tc.want || rebase != tc.rebase {
			t.Errorf("rebaseName(%q, %q) = %q, %q; want %q, %q", tc.p, tc.resolved, got, rebase, tc.want, tc.rebase)
		}
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		p, dir string
		want   bool
	}{
		{"/tmp/out", "/tmp/out", true},
		{"/tmp/out/x", "/tmp/out", true},
		{"/tmp/outside", "/tmp/out", false},
		{"/etc", "/tmp", false},
		{"/etc", "/", true},
	} {
		if got := within(tc.p, tc.dir); got != tc.want {
			t.Errorf("within(%q, %q) = %v", tc.p, tc.dir, got)
		}
	}
}

// TestHostEnds checks the host side's descriptions of a source and a destination on a real
// directory: symlinks, missing paths and their parents.
func TestHostEnds(t *testing.T) {
	d := t.TempDir()
	mk := func(name string) string { return filepath.Join(d, name) }
	if err := os.Mkdir(mk("dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mk("file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for old, name := range map[string]string{"dir": "dirlink", "file": "filelink", "nowhere": "dangling", "loop1": "loop2", "loop2": "loop1"} {
		if err := os.Symlink(old, mk(name)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("source", func(t *testing.T) {
		for _, tc := range []struct {
			p      string
			follow bool
			want   copyInfo
		}{
			{mk("file"), false, copyInfo{Path: mk("file"), Exists: true}},
			{mk("dir"), false, copyInfo{Path: mk("dir"), Exists: true, IsDir: true}},
			// The link itself, unless -L.
			{mk("dirlink"), false, copyInfo{Path: mk("dirlink"), Exists: true}},
			{mk("dirlink"), true, copyInfo{Path: mk("dir"), Exists: true, IsDir: true, Rebase: "dirlink"}},
			// A trailing slash goes through the link, keeping the name.
			{mk("dirlink") + "/", false, copyInfo{Path: mk("dir") + "/", Exists: true, IsDir: true, Rebase: "dirlink"}},
		} {
			got, err := hostSource(tc.p, tc.follow)
			if err != nil || got != tc.want {
				t.Errorf("hostSource(%q, %v) = %+v, %v; want %+v", tc.p, tc.follow, got, err, tc.want)
			}
		}
		if _, err := hostSource(mk("nope"), false); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("missing source: %v", err)
		}
	})

	t.Run("destination", func(t *testing.T) {
		for _, tc := range []struct {
			p    string
			want copyInfo
		}{
			{mk("dir"), copyInfo{Path: mk("dir"), Exists: true, IsDir: true}},
			{mk("dirlink"), copyInfo{Path: mk("dir"), Exists: true, IsDir: true}},
			{mk("filelink"), copyInfo{Path: mk("file"), Exists: true}},
			{mk("dangling"), copyInfo{Path: mk("nowhere")}},
			{mk("new"), copyInfo{Path: mk("new")}},
		} {
			got, err := hostDestination(tc.p)
			if err != nil || got != tc.want {
				t.Errorf("hostDestination(%q) = %+v, %v; want %+v", tc.p, got, err, tc.want)
			}
		}
		if _, err := hostDestination(mk("nope/new")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("missing parent: %v", err)
		}
		if _, err := hostDestination(mk("file/new")); !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("parent a file: %v", err)
		}
		if _, err := hostDestination(mk("loop1")); err == nil || err.Error() != "too many symlinks in "+mk("loop1") {
			t.Errorf("symlink loop: %v", err)
		}
	})

	t.Run("output path", func(t *testing.T) {
		if err := validateOutputPath(mk("nope/x")); err == nil || err.Error() != `invalid output path: directory "`+mk("nope")+`" does not exist` {
			t.Errorf("missing directory: %v", err)
		}
		for _, ok := range []string{mk("dir"), mk("file"), mk("new"), "-"} {
			if err := validateOutputPath(ok); err != nil {
				t.Errorf("%s: %v", ok, err)
			}
		}
		if err := validateOutputPath("/dev/null"); err == nil || err.Error() != `invalid output path: "/dev/null": got a device` {
			t.Errorf("a device: %v", err)
		}
	})
}
