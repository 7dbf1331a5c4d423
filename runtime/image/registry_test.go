package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry is go-containerregistry's in-process registry on a loopback port, behind a hook
// that fault tests use to corrupt or cut responses.
type testRegistry struct {
	host string
	hook atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
}

func newTestRegistry(t testing.TB) *testRegistry {
	t.Helper()
	reg := &testRegistry{}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := reg.hook.Load(); h != nil && (*h)(w, r) {
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	reg.host = strings.TrimPrefix(srv.URL, "http://")
	return reg
}

func (r *testRegistry) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	if h == nil {
		r.hook.Store(nil)
		return
	}
	r.hook.Store(&h)
}

func (r *testRegistry) ref(t testing.TB, repo string) Reference {
	t.Helper()
	ref, err := ParseReference(r.host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func newLocal(t testing.TB) *Local {
	t.Helper()
	l, err := OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// hostImage is a random image whose config says it is for this machine, as a pull checks.
func hostImage(t testing.TB, size int64, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(size, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	return forPlatform(t, img, HostPlatform())
}

func forPlatform(t testing.TB, img v1.Image, p v1.Platform) v1.Image {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// seed pushes img straight to the registry under ref.
func seed(t testing.TB, ref Reference, img v1.Image) {
	t.Helper()
	if err := remote.Write(ref.Remote, img, remote.WithAuth(authn.Anonymous)); err != nil {
		t.Fatal(err)
	}
}

func digestOf(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func anon() RemoteOptions { return RemoteOptions{Keychain: authn.NewMultiKeychain()} }

func TestPullPushRoundTrip(t *testing.T) {
	reg := newTestRegistry(t)
	src := hostImage(t, 4096, 3)
	ref := reg.ref(t, "team/app:v1")
	seed(t, ref, src)

	a := newLocal(t)
	desc, err := a.Pull(context.Background(), ref, PullOptions{RemoteOptions: anon()})
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != digestOf(t, src) {
		t.Fatalf("pulled manifest %s, registry has %s", desc.Digest, digestOf(t, src))
	}
	// Push under another name, pull that into a second store: identical digests all the way.
	ref2 := reg.ref(t, "team/copy:v2")
	if err := a.Tag(context.Background(), ref.String(), ref2.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Push(context.Background(), ref2, anon()); err != nil {
		t.Fatal(err)
	}
	b := newLocal(t)
	desc2, err := b.Pull(context.Background(), ref2, PullOptions{RemoteOptions: anon()})
	if err != nil {
		t.Fatal(err)
	}
	if desc2.Digest != desc.Digest {
		t.Fatalf("round trip changed the manifest digest: %s -> %s", desc.Digest, desc2.Digest)
	}
	// Layers are unpacked into snapshots keyed by chain ID.
	img, err := b.Store.Image(desc2.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	for _, c := range ChainIDs(cfg.RootFS.DiffIDs) {
		if !b.Snapshots.Has(c.String()) {
			t.Errorf("no snapshot for chain %s", c)
		}
	}
}

func TestPullProgressAndUpToDate(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.ref(t, "app:latest")
	seed(t, ref, hostImage(t, 2048, 2))
	l := newLocal(t)
	var out bytes.Buffer
	o := PullOptions{RemoteOptions: anon()}
	o.Progress = NewDisplay(&out, false)
	if _, err := l.Pull(context.Background(), ref, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"latest: Pulling from app\n", ": Pulling fs layer\n", ": Download complete\n", ": Pull complete\n", "Digest: sha256:", "Status: Downloaded newer image for " + reg.host + "/app:latest\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if _, err := l.Pull(context.Background(), ref, o); err != nil {
		t.Fatal(err)
	}
	// As Docker: an image already there gets no layer lines, just the digest and the status.
	if strings.Contains(out.String(), "Pulling fs layer") || !strings.Contains(out.String(), "Status: Image is up to date for ") {
		t.Errorf("second pull:\n%s", out.String())
	}
}

func TestPullPicksHostPlatform(t *testing.T) {
	reg := newTestRegistry(t)
	host := HostPlatform()
	other := v1.Platform{OS: "linux", Architecture: "s390x"}
	if host.Architecture == "s390x" {
		other.Architecture = "ppc64le"
	}
	mine, theirs := hostImage(t, 1024, 1), forPlatform(t, mustRandom(t), other)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: theirs, Descriptor: v1.Descriptor{Platform: &other}},
		mutate.IndexAddendum{Add: mine, Descriptor: v1.Descriptor{Platform: &host}},
	)
	ref := reg.ref(t, "multi:1")
	if err := remote.WriteIndex(ref.Remote, idx); err != nil {
		t.Fatal(err)
	}
	l := newLocal(t)
	desc, err := l.Pull(context.Background(), ref, PullOptions{RemoteOptions: anon()})
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != digestOf(t, mine) {
		t.Fatalf("pulled %s, want the host platform's image %s", desc.Digest, digestOf(t, mine))
	}
	// --platform picks the other one.
	l2 := newLocal(t)
	desc, err = l2.Pull(context.Background(), ref, PullOptions{RemoteOptions: anon(), Platform: other.OS + "/" + other.Architecture})
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != digestOf(t, theirs) {
		t.Fatalf("--platform %s pulled %s, want %s", other, desc.Digest, digestOf(t, theirs))
	}
	// The index digest is recorded as the repository digest.
	idxDigest, _ := idx.Digest()
	if _, err := l.Store.Ref(ref.named.Name() + "@" + idxDigest.String()); err != nil {
		t.Errorf("no repo digest ref: %v", err)
	}
}

func mustRandom(t testing.TB) v1.Image {
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// storeState is what a failed pull must leave unchanged: the references and the blobs.
func storeState(t *testing.T, l *Local) (refs int, blobs []string) {
	t.Helper()
	r, err := l.Store.Refs()
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(l.Store.Dir(), "blobs", "sha256"))
	for _, e := range entries {
		blobs = append(blobs, e.Name())
	}
	return len(r), blobs
}

func TestPullFaults(t *testing.T) {
	tests := []struct {
		name string
		hook func(layer string, size int64) func(w http.ResponseWriter, r *http.Request) bool
		want string
	}{
		{"wrong digest", func(layer string, size int64) func(http.ResponseWriter, *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+layer) {
					// The right length, the wrong bytes: only the digest can tell.
					w.Write(bytes.Repeat([]byte("x"), int(size)))
					return true
				}
				return false
			}
		}, "checksum"},
		{"connection cut mid-layer", func(layer string, _ int64) func(http.ResponseWriter, *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+layer) {
					w.Header().Set("Content-Length", "100000")
					w.WriteHeader(http.StatusOK)
					w.Write(bytes.Repeat([]byte("y"), 1000))
					if f, ok := w.(http.Flusher); ok {
						f.Flush()
					}
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.(*net.TCPConn).SetLinger(0)
						conn.Close()
					}
					return true
				}
				return false
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newTestRegistry(t)
			img := hostImage(t, 50000, 3)
			ref := reg.ref(t, "faulty:1")
			seed(t, ref, img)
			layers, _ := img.Layers()
			bad, _ := layers[1].Digest()
			badSize, _ := layers[1].Size()

			l := newLocal(t)
			// A good image already in the store must survive untouched.
			okRef := reg.ref(t, "fine:1")
			seed(t, okRef, hostImage(t, 1000, 1))
			if _, err := l.Pull(context.Background(), okRef, PullOptions{RemoteOptions: anon()}); err != nil {
				t.Fatal(err)
			}
			refsBefore, blobsBefore := storeState(t, l)

			reg.setHook(tt.hook(bad.String(), badSize))
			_, err := l.Pull(context.Background(), ref, PullOptions{RemoteOptions: anon()})
			if err == nil {
				t.Fatal("pull succeeded through a fault")
			}
			if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error has several lines: %q", err)
			}
			refsAfter, blobsAfter := storeState(t, l)
			if refsAfter != refsBefore {
				t.Errorf("refs changed: %d -> %d", refsBefore, refsAfter)
			}
			for _, b := range blobsAfter {
				if "sha256:"+b == bad.String() {
					t.Errorf("the bad layer is in the store")
				}
			}
			if len(blobsAfter) < len(blobsBefore) {
				t.Errorf("blobs lost: %d -> %d", len(blobsBefore), len(blobsAfter))
			}
			if _, err := l.Store.Ref(ref.String()); !errors.Is(err, ErrNotFound) {
				t.Errorf("ref to the faulty image exists: %v", err)
			}

			reg.setHook(nil)
			desc, err := l.Pull(context.Background(), ref, PullOptions{RemoteOptions: anon()})
			if err != nil {
				t.Fatalf("pull after the fault: %v", err)
			}
			if desc.Digest != digestOf(t, img) {
				t.Errorf("digest %s, want %s", desc.Digest, digestOf(t, img))
			}
		})
	}
}

func TestConcurrentPulls(t *testing.T) {
	reg := newTestRegistry(t)
	img := hostImage(t, 100000, 4)
	ref := reg.ref(t, "same:1")
	seed(t, ref, img)
	l := newLocal(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each pull through its own Local, as two berth processes would.
			li, err := OpenLocal(filepath.Dir(l.Store.Dir()))
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = li.Pull(context.Background(), ref, PullOptions{RemoteOptions: anon()})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("pull %d: %v", i, err)
		}
	}
	_, blobs := storeState(t, l)
	// 4 layers + config + manifest, one copy each.
	if len(blobs) != 6 {
		t.Errorf("store holds %d blobs, want 6 (one copy of each)", len(blobs))
	}
}

func TestSaveLoadSameID(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.ref(t, "saved:1")
	seed(t, ref, hostImage(t, 3000, 2))
	a := newLocal(t)
	if _, err := a.Pull(context.Background(), ref, PullOptions{RemoteOptions: anon()}); err != nil {
		t.Fatal(err)
	}
	var tarball bytes.Buffer
	if err := a.Save(context.Background(), &tarball, []Reference{ref}); err != nil {
		t.Fatal(err)
	}
	b := newLocal(t)
	loaded, err := b.Load(context.Background(), bytes.NewReader(tarball.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	descA, _ := a.Store.Ref(ref.String())
	imgA, _ := a.Store.Image(descA.Digest)
	idA, _ := imgA.ConfigName()
	if len(loaded) != 1 || loaded[0].ID != idA {
		t.Fatalf("loaded %+v, want image ID %s", loaded, idA)
	}
	if len(loaded[0].Names) != 1 || loaded[0].Names[0] != ref.Familiar() {
		t.Errorf("names %v, want %s", loaded[0].Names, ref.Familiar())
	}
	if _, err := b.Store.Ref(ref.String()); err != nil {
		t.Errorf("loaded image not named: %v", err)
	}
}

func TestLoadCorrupt(t *testing.T) {
	l := newLocal(t)
	refsBefore, blobsBefore := storeState(t, l)
	for _, in := range [][]byte{[]byte("not a tarball at all"), {}, bytes.Repeat([]byte{0}, 2048)} {
		if _, err := l.Load(context.Background(), bytes.NewReader(in)); err == nil {
			t.Errorf("loaded %q", in[:min(len(in), 10)])
		}
	}
	refsAfter, blobsAfter := storeState(t, l)
	if refsAfter != refsBefore || len(blobsAfter) != len(blobsBefore) {
		t.Errorf("store changed by failed loads")
	}
	leftovers, _ := filepath.Glob(filepath.Join(l.Store.Dir(), "ingest", "load-*"))
	if len(leftovers) != 0 {
		t.Errorf("spool files left: %v", leftovers)
	}
}

func TestPullErrors(t *testing.T) {
	reg := newTestRegistry(t)
	l := newLocal(t)
	_, err := l.Pull(context.Background(), reg.ref(t, "nope:1"), PullOptions{RemoteOptions: anon()})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown image: %v", err)
	}
	down, _ := ParseReference("127.0.0.1:1/app:1")
	if _, err := l.Pull(context.Background(), down, PullOptions{RemoteOptions: anon()}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("registry down: %v", err)
	}
}

func TestLoadOCIArchive(t *testing.T) {
	img := hostImage(t, 2000, 2)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"io.containerd.image.name": "docker.io/library/oci-app:1"})); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, path)
		if rel == "." || err != nil {
			return err
		}
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Name: rel + "/", Typeflag: tar.TypeDir, Mode: 0o755})
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		tw.WriteHeader(&tar.Header{Name: rel, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))})
		_, err = tw.Write(b)
		return err
	})
	tw.Close()
	l := newLocal(t)
	loaded, err := l.Load(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	if len(loaded) != 1 || loaded[0].ID != id || len(loaded[0].Names) != 1 || loaded[0].Names[0] != "oci-app:1" {
		t.Fatalf("loaded %+v, want oci-app:1 with ID %s", loaded, id)
	}
	if desc, err := l.Store.Ref("docker.io/library/oci-app:1"); err != nil || desc.Digest != digestOf(t, img) {
		t.Errorf("ref: %v %v", desc, err)
	}
}

// TestPullDuringRemove removes an image while a pull of another image sharing its base layer is
// half way: the removal waits for the pull, and both end with the store consistent.
func TestPullDuringRemove(t *testing.T) {
	reg := newTestRegistry(t)
	base := layerOf(t, map[string]string{"base.txt": "shared"})
	a, err := mutate.AppendLayers(empty.Image, base)
	if err != nil {
		t.Fatal(err)
	}
	b, err := mutate.AppendLayers(a, layerOf(t, map[string]string{"b.txt": "only in b"}))
	if err != nil {
		t.Fatal(err)
	}
	refA, refB := reg.ref(t, "a:1"), reg.ref(t, "b:1")
	seed(t, refA, a)
	seed(t, refB, b)
	l := newLocal(t)
	if _, err := l.Pull(context.Background(), refA, PullOptions{RemoteOptions: anon()}); err != nil {
		t.Fatal(err)
	}
	layersB, _ := b.Layers()
	top, _ := layersB[1].Digest()
	entered, release := make(chan struct{}), make(chan struct{})
	reg.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+top.String()) {
			close(entered)
			<-release
		}
		return false
	})
	pulled := make(chan error, 1)
	go func() {
		_, err := l.Pull(context.Background(), refB, PullOptions{RemoteOptions: anon()})
		pulled <- err
	}()
	<-entered

	// Another process's view of the same store, told when its lock is taken.
	other, err := OpenLocal(l.root)
	if err != nil {
		t.Fatal(err)
	}
	busy := make(chan bool, 1)
	other.Store.onLockBusy = func(exclusive bool) {
		select {
		case busy <- exclusive:
		default:
		}
	}
	removed := make(chan error, 1)
	go func() {
		_, err := other.Remove(context.Background(), []string{refA.String()}, false)
		removed <- err
	}()
	if exclusive := <-busy; !exclusive {
		t.Fatalf("the removal waited for a shared lock, want the exclusive one")
	}
	select {
	case err := <-removed:
		t.Fatalf("the removal finished while the pull was running: %v", err)
	default:
	}
	close(release)
	if err := <-pulled; err != nil {
		t.Fatalf("pull: %v", err)
	}
	if err := <-removed; err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := l.Store.Ref(refA.String()); !errors.Is(err, ErrNotFound) {
		t.Errorf("a:1 still named: %v", err)
	}
	desc, err := l.Store.Ref(refB.String())
	if err != nil {
		t.Fatal(err)
	}
	img, err := l.Store.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	for _, c := range ChainIDs(cfg.RootFS.DiffIDs) {
		if !l.Snapshots.Has(c.String()) {
			t.Errorf("b:1 lost snapshot %s (its base layer is shared with the removed image)", c)
		}
	}
	layers, _ := img.Layers()
	for _, layer := range layers {
		d, _ := layer.Digest()
		if !l.Store.HasBlob(d) {
			t.Errorf("b:1 lost layer blob %s", d)
		}
	}
}
