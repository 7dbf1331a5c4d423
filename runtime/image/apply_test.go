package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// tarEntry is one entry of a test layer; Body is the content of regular files.
type tarEntry struct {
	Hdr  tar.Header
	Body string
}

var tarTestTime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

func tDir(name string, mode int64) tarEntry {
	return tarEntry{Hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: tarTestTime}}
}

func tFile(name, body string, mode int64) tarEntry {
	return tarEntry{Hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, ModTime: tarTestTime}, Body: body}
}

func tSymlink(name, target string) tarEntry {
	return tarEntry{Hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: tarTestTime}}
}

func tHardlink(name, target string) tarEntry {
	return tarEntry{Hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: tarTestTime}}
}

// tWhiteout is how image builders write whiteouts and opaque markers: empty regular files.
func tWhiteout(name string) tarEntry { return tFile(name, "", 0o644) }

// buildTar writes entries as a tar stream, filling in sizes and the PAX format where needed.
func buildTar(t testing.TB, ents ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.Hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if len(h.PAXRecords) > 0 {
			h.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar header %q: %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// makeWritable lets t.TempDir's cleanup delete trees a layer made read-only, which an
// unprivileged test user could not otherwise remove. Register it after t.TempDir: cleanups run
// last-in first-out.
func makeWritable(t testing.TB, dir string) {
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
	})
}

func TestDecompress(t *testing.T) {
	plain := buildTar(t, tFile("hello.txt", "hello", 0o644))

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()

	var zs bytes.Buffer
	zsw, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	zsw.Write(plain)
	zsw.Close()

	for name, in := range map[string][]byte{"plain": plain, "gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		t.Run(name, func(t *testing.T) {
			rc, err := Decompress(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("decompressed %d bytes, want the %d-byte tar", len(got), len(plain))
			}
		})
	}
}

func TestDecompressEdgeCases(t *testing.T) {
	// Empty and tiny streams are passed through, not mistaken for an error.
	for _, in := range [][]byte{nil, {0x1f}} {
		rc, err := Decompress(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("Decompress(%x): %v", in, err)
		}
		got, _ := io.ReadAll(rc)
		if !bytes.Equal(got, in) {
			t.Fatalf("Decompress(%x) = %x", in, got)
		}
	}
	// A plain tar whose first file name starts like a bzip2 header stays plain.
	plain := buildTar(t, tFile("BZh9-not-bzip2", "x", 0o644))
	rc, err := Decompress(bytes.NewReader(plain))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(rc); !bytes.Equal(got, plain) {
		t.Fatal("plain tar named BZh9... was not passed through")
	}
	// xz is refused by name rather than handed on as a corrupt tar.
	if _, err := Decompress(bytes.NewReader([]byte{0xfd, '7', 'z', 'X', 'Z', 0, 1, 2, 3, 4})); err == nil {
		t.Fatal("xz stream accepted")
	}
	// A corrupt gzip header is an error.
	if _, err := Decompress(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0, 0, 0, 0, 0, 0, 0})); err == nil {
		t.Fatal("corrupt gzip accepted")
	}
}

func TestApplyCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"a/b":        "a/b",
		"./a/b/":     "a/b",
		"/abs/path":  "abs/path",
		"//x//y":     "x/y",
		"a/../b":     "b",
		"./":         ".",
		"/":          ".",
		"":           ".",
		"a/b/../../": ".",
	} {
		got, err := applyCleanName(in)
		if err != nil || got != want {
			t.Errorf("applyCleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"..", "../x", "../../etc/x", "a/../../x", "/../x", "./.."} {
		if got, err := applyCleanName(in); err == nil {
			t.Errorf("applyCleanName(%q) = %q, want an error", in, got)
		}
	}
}

func TestApplyXattrKey(t *testing.T) {
	for key, want := range map[string]string{
		"SCHILY.xattr.user.foo":               "user.foo",
		"SCHILY.xattr.security.capability":    "security.capability",
		"SCHILY.xattr.trusted.overlay.opaque": "",
		"SCHILY.xattr.user.overlay.redirect":  "",
		"SCHILY.xattr.":                       "",
		"LIBARCHIVE.xattr.user.foo":           "",
		"path":                                "",
	} {
		got, ok := applyXattrKey(key)
		if got != want || ok != (want != "") {
			t.Errorf("applyXattrKey(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	return names, err
}
