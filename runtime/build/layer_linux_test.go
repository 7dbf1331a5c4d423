//go:build linux

package build

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/testutil"
)

func TestDiffUpperWhiteouts(t *testing.T) {
	testutil.RequireRoot(t)
	upper := t.TempDir()
	lower := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(upper, "a"), []byte("content"), 0o640))
	must(os.Link(filepath.Join(upper, "a"), filepath.Join(upper, "a-link")))
	must(os.Symlink("a", filepath.Join(upper, "sym")))
	must(unix.Mknod(filepath.Join(upper, "gone"), unix.S_IFCHR, 0))
	must(os.Mkdir(filepath.Join(upper, "op"), 0o755))
	must(unix.Setxattr(filepath.Join(upper, "op"), "trusted.overlay.opaque", []byte("y"), 0))
	must(os.WriteFile(filepath.Join(upper, "op/n"), nil, 0o644))
	// Mount stubs of a container's init, absent from the lower: not the step's.
	must(os.Mkdir(filepath.Join(upper, "proc"), 0o755))
	must(os.Mkdir(filepath.Join(upper, "etc"), 0o755))
	must(os.WriteFile(filepath.Join(upper, "etc/hosts"), nil, 0o644))

	layer := func(stubs bool) map[string]*tar.Header {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if _, err := diffUpper(upper, []string{lower}, stubs, nil, tw); err != nil {
			t.Fatal(err)
		}
		must(tw.Close())
		got := map[string]*tar.Header{}
		tr := tar.NewReader(&buf)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return got
			}
			must(err)
			got[h.Name] = h
		}
	}
	got := layer(true)
	var names []string
	for n := range got {
		names = append(names, n)
	}
	want := []string{"a", "a-link", ".wh.gone", "op/", "op/.wh..wh..opq", "op/n", "sym"}
	if len(names) != len(want) {
		t.Errorf("entries %v, want %v", names, want)
	}
	for _, n := range want {
		if got[n] == nil {
			t.Errorf("missing %s in %v", n, names)
		}
	}
	if h := got["a-link"]; h != nil && (h.Typeflag != tar.TypeLink || h.Linkname != "a") {
		t.Errorf("hardlink %+v", h)
	}
	if h := got["sym"]; h != nil && (h.Typeflag != tar.TypeSymlink || h.Linkname != "a") {
		t.Errorf("symlink %+v", h)
	}
	if h := got["a"]; h != nil && (h.Mode != 0o640 || h.Size != 7) {
		t.Errorf("file %+v", h)
	}
	if _, ok := got["op/"].PAXRecords["SCHILY.xattr.trusted.overlay.opaque"]; ok {
		t.Error("overlay xattrs must not reach the layer")
	}
	// Without stub filtering (COPY's upper), the same tree keeps them.
	all := layer(false)
	for _, n := range []string{"proc/", "etc/", "etc/hosts"} {
		if all[n] == nil {
			t.Errorf("without stubs, %s is missing", n)
		}
	}
	// A stub the lower has is a real change.
	must(os.Mkdir(filepath.Join(lower, "etc"), 0o755))
	must(os.WriteFile(filepath.Join(lower, "etc/hosts"), []byte("x"), 0o644))
	withLower := layer(true)
	if withLower["etc/hosts"] == nil || withLower["proc/"] != nil {
		t.Errorf("stubs with a lower: %v", reflect.ValueOf(withLower).MapKeys())
	}
}

func TestDiffUpperDropsMountTargets(t *testing.T) {
	testutil.RequireRoot(t)
	upper, lower := t.TempDir(), t.TempDir()
	for _, d := range []string{"tmp", "var", "var/lib", "keep"} {
		if err := os.Mkdir(filepath.Join(lower, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"tmp", "tmp/cache", "new", "new/deep", "var", "var/lib", "var/lib/apt", "mine", "keep", "keep/cache"} {
		if err := os.Mkdir(filepath.Join(upper, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The step changed /keep itself: it stays, though its stub goes.
	if err := os.Chmod(filepath.Join(upper, "keep"), 0o700); err != nil {
		t.Fatal(err)
	}
	// /var/lib has a file of the step's beside the stub: /var/lib stays.
	if err := os.WriteFile(filepath.Join(upper, "var/lib/f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if _, err := diffUpper(upper, []string{lower}, true, []string{"/tmp/cache", "/new/deep", "/var/lib/apt", "/keep/cache"}, tw); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	var got []string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Name)
	}
	want := []string{"keep/", "mine/", "var/", "var/lib/", "var/lib/f"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("layer %v, want %v", got, want)
	}
}
