package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-sh/berth/internal/testutil"
	"golang.org/x/sys/unix"
)

func requireOverlayMounts(t testing.TB) {
	t.Helper()
	requireRootMounts(t)
	testutil.RequireOverlay(t)
}

// mountDirs makes target, upper and work dirs under a temp dir and unmounts target when the
// test ends, whatever happened.
func mountDirs(t *testing.T) (target, upper, work string) {
	t.Helper()
	base := t.TempDir()
	target, upper, work = filepath.Join(base, "merged"), filepath.Join(base, "upper"), filepath.Join(base, "work")
	for _, d := range []string{target, upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if err := Unmount(target); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return target, upper, work
}

// prepareLayer unpacks a tar built from ents into a snapshot and returns its path.
func prepareLayer(t *testing.T, s *Snapshots, ents ...tarEntry) string {
	t.Helper()
	tarb := buildTar(t, ents...)
	p, err := s.Prepare(context.Background(), testChainID(string(tarb)), func(ctx context.Context, dir string) error {
		_, err := Apply(ctx, dir, bytes.NewReader(tarb), ApplyOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOverlayMergedView(t *testing.T) {
	requireOverlayMounts(t)
	s := openTestSnapshots(t)
	l1 := prepareLayer(t, s,
		tDir("etc/", 0o755), tFile("etc/a", "a1", 0o644), tFile("etc/b", "b1", 0o644),
		tDir("data/", 0o755), tFile("data/old1", "o", 0o644), tFile("data/sub/old2", "o", 0o644),
		tFile("bin/busybox", "bb", 0o755), tHardlink("bin/sh", "bin/busybox"),
		tFile("gone/x", "x", 0o644),
	)
	l2 := prepareLayer(t, s,
		tDir("etc/", 0o755), tWhiteout("etc/.wh.a"), tWhiteout("etc/.wh.b"),
		tDir("data/", 0o755), tFile("data/new", "n2", 0o644), tWhiteout("data/.wh..wh..opq"),
		tWhiteout(".wh.gone"),
	)
	l3 := prepareLayer(t, s,
		tDir("etc/", 0o755), tFile("etc/b", "b3", 0o644),
		tDir("gone/", 0o755), tFile("gone/y", "y", 0o644),
	)
	target, upper, work := mountDirs(t)
	if err := MountOverlay([]string{l3, l2, l1}, upper, work, target); err != nil {
		t.Fatal(err)
	}
	ls := func(dir string) []string {
		names, err := readDirNames(filepath.Join(target, dir))
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	for dir, want := range map[string][]string{
		"etc":  {"b"},   // a deleted, b deleted then re-created
		"data": {"new"}, // opaque: old1 and sub/ hidden
		"gone": {"y"},   // deleted dir re-created: x stays hidden
		"bin":  {"busybox", "sh"},
		".":    {"bin", "data", "etc", "gone"},
	} {
		if got := ls(dir); !slices.Equal(got, want) {
			t.Errorf("merged %s/ = %v, want %v", dir, got, want)
		}
	}
	if got := readFile(t, filepath.Join(target, "etc/b")); got != "b3" {
		t.Errorf("etc/b = %q, want the re-created b3", got)
	}
	if got := readFile(t, filepath.Join(target, "bin/sh")); got != "bb" {
		t.Errorf("bin/sh = %q", got)
	}
	// Writes go to the upper dir; the snapshots stay as they were.
	if err := os.WriteFile(filepath.Join(target, "etc/new"), []byte("w"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(upper, "etc/new")); got != "w" {
		t.Errorf("upper etc/new = %q", got)
	}
	if _, err := os.Stat(filepath.Join(l3, "etc/new")); err == nil {
		t.Error("a write reached a snapshot")
	}
}

func TestOverlayReadOnly(t *testing.T) {
	requireOverlayMounts(t)
	s := openTestSnapshots(t)
	l1 := prepareLayer(t, s, tFile("f", "one", 0o644))
	l2 := prepareLayer(t, s, tFile("g", "two", 0o644))
	for name, lowers := range map[string][]string{"one layer (bind)": {l1}, "two layers": {l2, l1}} {
		t.Run(name, func(t *testing.T) {
			target, _, _ := mountDirs(t)
			if err := MountOverlay(lowers, "", "", target); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(target, "f")); got != "one" {
				t.Errorf("f = %q", got)
			}
			err := os.WriteFile(filepath.Join(target, "new"), nil, 0o644)
			if !errors.Is(err, unix.EROFS) {
				t.Errorf("write into the read-only mount: %v, want EROFS", err)
			}
		})
	}
}

// manyLayers makes n lower dirs with store-like long paths, each holding f<i>, the lowest also
// bottom.txt, and returns them top-most first.
func manyLayers(t *testing.T, n int) []string {
	t.Helper()
	base := filepath.Join(t.TempDir(), "images", "snapshots")
	lowers := make([]string, n)
	for i := range n {
		d := filepath.Join(base, strings.TrimPrefix(testChainID(fmt.Sprint(i)), "sha256:"))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := os.WriteFile(filepath.Join(d, "bottom.txt"), []byte("from the bottom"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		lowers[n-1-i] = d
	}
	return lowers
}

func checkManyLayers(t *testing.T, target string, n int) {
	t.Helper()
	if got := readFile(t, filepath.Join(target, "bottom.txt")); got != "from the bottom" {
		t.Fatalf("bottom.txt = %q", got)
	}
	names, err := readDirNames(target)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != n+1 {
		t.Fatalf("merged view has %d entries, want %d", len(names), n+1)
	}
}

func TestOverlayManyLayers(t *testing.T) {
	requireOverlayMounts(t)
	for _, n := range []int{128, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			lowers := manyLayers(t, n)
			target, upper, work := mountDirs(t)
			if err := MountOverlay(lowers, upper, work, target); err != nil {
				t.Fatal(err)
			}
			checkManyLayers(t, target, n)
			// This kernel has lowerdir+, so the new API did the mount: the layers appear by
			// their real paths, not as the legacy fallback's short links.
			if opts := mountOptions(t, target); !strings.Contains(opts, lowers[n-1]) {
				t.Errorf("mount options do not name the bottom layer: %.300s", opts)
			}
		})
	}
}

// TestOverlayLegacyLongOptions drives the mount(2) fallback with options far over one page, so
// it has to use the short links.
func TestOverlayLegacyLongOptions(t *testing.T) {
	requireOverlayMounts(t)
	for _, n := range []int{3, 128, 500} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			lowers := manyLayers(t, n)
			target, upper, work := mountDirs(t)
			long := len(ovlLegacyData(lowers, upper, work)) > 4096
			if long != (n > 3) {
				t.Fatalf("options of %d layers exceed 4 KiB: %v", n, long)
			}
			if err := mountOverlayLegacy(lowers, upper, work, target); err != nil {
				t.Fatal(err)
			}
			checkManyLayers(t, target, n)
			// The links are gone once the mount holds the layers.
			names, _ := readDirNames(filepath.Dir(target))
			if want := []string{"merged", "upper", "work"}; !slices.Equal(names, want) {
				t.Errorf("beside the target: %v, want %v", names, want)
			}
			if wd, _ := os.Getwd(); strings.Contains(wd, ".ovl-links-") {
				t.Errorf("the process cwd moved to %s", wd)
			}
		})
	}
}

func TestOverlayLongPaths(t *testing.T) {
	requireOverlayMounts(t)
	// Each path longer than fsconfig's 256-byte string limit.
	deep := filepath.Join(t.TempDir(), strings.Repeat("d", 200), strings.Repeat("e", 100))
	lowers := []string{filepath.Join(deep, "l1"), filepath.Join(deep, "l0")}
	for i, l := range lowers {
		if err := os.MkdirAll(l, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(l, fmt.Sprintf("f%d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	upper, work := filepath.Join(deep, "upper"), filepath.Join(deep, "work")
	os.Mkdir(upper, 0o755)
	os.Mkdir(work, 0o755)
	target, _, _ := mountDirs(t)
	if err := MountOverlay(lowers, upper, work, target); err != nil {
		t.Fatal(err)
	}
	if names, _ := readDirNames(target); !slices.Equal(names, []string{"f0", "f1"}) {
		t.Fatalf("merged view %v", names)
	}
}

func TestOverlayArgumentErrors(t *testing.T) {
	target := t.TempDir()
	lowers := make([]string, 501)
	for i := range lowers {
		lowers[i] = target
	}
	for name, c := range map[string]struct {
		lowers      []string
		upper, work string
	}{
		"no layers":      {nil, "", ""},
		"501 layers":     {lowers, "", ""},
		"upper, no work": {lowers[:2], target, ""},
	} {
		if err := MountOverlay(c.lowers, c.upper, c.work, target); err == nil {
			Unmount(target)
			t.Errorf("%s: MountOverlay accepted", name)
		}
	}
}

func TestUnmountNotMounted(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{dir, filepath.Join(dir, "missing")} {
		if err := Unmount(p); err != nil && os.Geteuid() == 0 {
			t.Errorf("Unmount(%s) = %v", p, err)
		}
	}
}

// TestSnapshotRemoveAtomic makes the slow part of Remove fail (a mount inside the snapshot) and
// checks the snapshot has vanished from its name anyway, leaving trash for Cleanup.
func TestSnapshotRemoveAtomic(t *testing.T) {
	requireRootMounts(t)
	s := openTestSnapshots(t)
	id := testChainID("busy")
	p, err := s.Prepare(context.Background(), id, func(ctx context.Context, dir string) error {
		return os.Mkdir(filepath.Join(dir, "mnt"), 0o755)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", filepath.Join(p, "mnt"), "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	var trash string
	t.Cleanup(func() {
		if trash != "" {
			Unmount(filepath.Join(trash, "mnt"))
		}
		Unmount(filepath.Join(p, "mnt"))
	})
	if err := s.Remove(id); err == nil {
		t.Fatal("Remove succeeded through a busy mount point")
	}
	if s.Has(id) {
		t.Fatal("a half-removed snapshot is still visible")
	}
	if ids, _ := s.List(); len(ids) != 0 {
		t.Fatalf("List = %v", ids)
	}
	for _, n := range snapDirNames(t, s) {
		if strings.HasPrefix(n, ".trash-") {
			trash = filepath.Join(s.dir, n)
		}
	}
	if trash == "" {
		t.Fatal("no trash dir left by the failed Remove")
	}
	if err := Unmount(filepath.Join(trash, "mnt")); err != nil {
		t.Fatal(err)
	}
	if err := s.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if names := snapDirNames(t, s); len(names) != 0 {
		t.Fatalf("after Cleanup: %v", names)
	}
}

// mountOptions returns the superblock options of the mount on target from mountinfo.
func mountOptions(t *testing.T, target string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == target {
			return f[len(f)-1]
		}
	}
	t.Fatalf("%s is not in mountinfo", target)
	return ""
}
