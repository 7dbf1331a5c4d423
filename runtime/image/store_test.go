package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// storeHelperEnv selects the child-process role of TestStoreHelperProcess.
const storeHelperEnv = "BERTH_IMAGE_STORE_HELPER"

func testStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(filepath.Join(t.TempDir(), "images"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testBegin(t *testing.T, s *Store) *Txn {
	t.Helper()
	txn, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { txn.Close() })
	return txn
}

func storeRandomImage(t *testing.T, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(1024, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// putImage writes img in its own transaction and names it ref, when ref is not "".
func putImage(t *testing.T, s *Store, img v1.Image, ref string) v1.Descriptor {
	t.Helper()
	txn := testBegin(t, s)
	desc, err := txn.WriteImage(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if ref != "" {
		if err := txn.SetRef(ref, desc); err != nil {
			t.Fatal(err)
		}
	}
	if err := txn.Close(); err != nil {
		t.Fatal(err)
	}
	return desc
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func blobNames(t *testing.T, s *Store) []string { return dirNames(t, s.blobsDir()) }

func ingestNames(t *testing.T, s *Store) []string { return dirNames(t, s.ingestDir()) }

func hashOf(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// imageBlobs is every blob digest an image consists of.
func imageBlobs(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	out := []v1.Hash{d, m.Config.Digest}
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

func TestWriteImageRoundTrip(t *testing.T) {
	s := testStore(t)
	img := storeRandomImage(t, 3)
	desc := putImage(t, s, img, "")

	want, _ := img.Digest()
	if desc.Digest != want {
		t.Fatalf("descriptor digest %s, want %s", desc.Digest, want)
	}
	wantRaw, _ := img.RawManifest()
	if desc.Size != int64(len(wantRaw)) || !desc.MediaType.IsImage() {
		t.Fatalf("descriptor %+v", desc)
	}
	got, err := s.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); d != want {
		t.Fatalf("stored image digest %s, want %s", d, want)
	}
	gotRaw, _ := got.RawManifest()
	if !bytes.Equal(gotRaw, wantRaw) {
		t.Fatal("manifest bytes differ")
	}
	wantCfg, _ := img.RawConfigFile()
	gotCfg, err := got.RawConfigFile()
	if err != nil || !bytes.Equal(gotCfg, wantCfg) {
		t.Fatalf("config differs (%v)", err)
	}
	if id, _ := got.ConfigName(); id != hashOf(wantCfg) {
		t.Fatalf("config name %s", id)
	}
	cf, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := got.Layers()
	if err != nil || len(layers) != 3 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	for i, l := range layers {
		d, _ := l.Digest()
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := v1.SHA256(rc)
		rc.Close()
		if err != nil || h != d {
			t.Fatalf("layer %d: compressed content hashes to %s, want %s (%v)", i, h, d, err)
		}
		diffID, err := l.DiffID()
		if err != nil || diffID != cf.RootFS.DiffIDs[i] {
			t.Fatalf("layer %d: diff ID %s, %v", i, diffID, err)
		}
		u, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		h, _, err = v1.SHA256(u)
		u.Close()
		if err != nil || h != diffID {
			t.Fatalf("layer %d: uncompressed content hashes to %s, want %s (%v)", i, h, diffID, err)
		}
	}
	if len(blobNames(t, s)) != 5 || len(ingestNames(t, s)) != 0 {
		t.Fatalf("blobs %v, ingest %v", blobNames(t, s), ingestNames(t, s))
	}

	// Writing it again reads nothing and changes nothing.
	if again := putImage(t, s, img, ""); again.Digest != desc.Digest {
		t.Fatal("second write gave another digest")
	}
	if _, err := s.Image(hashOf([]byte("absent"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent image: %v", err)
	}
	cfgDigest, _ := img.ConfigName()
	if _, err := s.Image(cfgDigest); err == nil {
		t.Fatal("a config was accepted as a manifest")
	}
}

func TestWriteBlobDigestMismatch(t *testing.T) {
	s := testStore(t)
	txn := testBegin(t, s)
	ctx := context.Background()
	data := []byte("hello, berth")
	wrong := hashOf([]byte("something else"))
	if err := txn.WriteBlob(ctx, wrong, -1, bytes.NewReader(data)); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("wrong digest: %v", err)
	}
	right := hashOf(data)
	for _, size := range []int64{int64(len(data)) - 1, int64(len(data)) + 1} {
		if err := txn.WriteBlob(ctx, right, size, bytes.NewReader(data)); !errors.Is(err, ErrDigestMismatch) {
			t.Fatalf("size %d: %v", size, err)
		}
	}
	if err := txn.WriteBlob(ctx, v1.Hash{Algorithm: "sha256", Hex: "../../etc"}, -1, bytes.NewReader(data)); err == nil {
		t.Fatal("a digest naming a path was accepted")
	}
	if b, i := blobNames(t, s), ingestNames(t, s); len(b) != 0 || len(i) != 0 || s.HasBlob(wrong) || s.HasBlob(right) {
		t.Fatalf("left behind: blobs %v, ingest %v", b, i)
	}
	if err := txn.WriteBlob(ctx, right, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	rc, err := s.OpenBlob(right)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %q", got)
	}
	if _, err := s.OpenBlob(wrong); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent blob: %v", err)
	}
}

// failingReader yields some data and then fails, like a connection cut mid-download.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// panicReader fails a test that expected its reader to be left alone.
type panicReader struct{ t *testing.T }

func (r panicReader) Read([]byte) (int, error) {
	r.t.Error("reader read although the blob is present")
	return 0, io.EOF
}

func TestWriteBlobInterrupted(t *testing.T) {
	s := testStore(t)
	txn := testBegin(t, s)
	data := bytes.Repeat([]byte("layer"), 100000)
	h := hashOf(data)
	cut := errors.New("connection reset by peer")
	err := txn.WriteBlob(context.Background(), h, int64(len(data)), &failingReader{data: data[:len(data)/2], err: cut})
	if !errors.Is(err, cut) {
		t.Fatalf("cut stream: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := txn.WriteBlob(ctx, h, -1, bytes.NewReader(data)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if s.HasBlob(h) || len(blobNames(t, s)) != 0 || len(ingestNames(t, s)) != 0 {
		t.Fatalf("left behind: blobs %v, ingest %v", blobNames(t, s), ingestNames(t, s))
	}
	if err := txn.WriteBlob(context.Background(), h, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	// Present now: a second write must not touch its reader.
	if err := txn.WriteBlob(context.Background(), h, int64(len(data)), panicReader{t}); err != nil {
		t.Fatal(err)
	}
	if err := txn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := txn.WriteBlob(context.Background(), h, -1, bytes.NewReader(data)); err == nil {
		t.Fatal("write through a closed transaction succeeded")
	}
}

func TestConcurrentWritersSameImage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	img := storeRandomImage(t, 4)
	// Two Store values on one directory behave like two processes; two goroutines on each share
	// one Store the way a compose up pulling several services does.
	var stores []*Store
	for range 2 {
		s, err := OpenStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	start := make(chan struct{})
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for i := range 4 {
		s := stores[i%2]
		wg.Go(func() {
			<-start
			txn, err := s.Begin(context.Background())
			if err != nil {
				errs <- err
				return
			}
			defer txn.Close()
			desc, err := txn.WriteImage(context.Background(), img)
			if err == nil {
				err = txn.SetRef(fmt.Sprintf("example.com/app:%d", i), desc)
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := stores[0]
	want := imageBlobs(t, img)
	if got := blobNames(t, s); len(got) != len(want) {
		t.Fatalf("blobs on disk %v, want %d", got, len(want))
	}
	for _, h := range want {
		if !s.HasBlob(h) {
			t.Fatalf("blob %s missing", h)
		}
	}
	if i := ingestNames(t, s); len(i) != 0 {
		t.Fatalf("ingest left %v", i)
	}
	refs, err := s.Refs()
	if err != nil || len(refs) != 4 {
		t.Fatalf("refs %v, %v", refs, err)
	}
}

func TestConcurrentWriterProcesses(t *testing.T) {
	src := testStore(t)
	img := storeRandomImage(t, 4)
	desc := putImage(t, src, img, "")
	dst := testStore(t)

	var children []*exec.Cmd
	var stdins []io.WriteCloser
	for i := range 2 {
		cmd := helperCommand(t, "writeimage",
			"SRC="+src.Dir(), "DST="+dst.Dir(), "DIGEST="+desc.Digest.String(), "REF=example.com/app:"+strconv.Itoa(i))
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the child is up so that both start writing at the same moment.
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("child %d: %q, %v", i, line, err)
		}
		children = append(children, cmd)
		stdins = append(stdins, in)
	}
	for _, in := range stdins {
		in.Close() // the start signal
	}
	for i, cmd := range children {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, cmd.Stderr)
		}
	}
	want := imageBlobs(t, img)
	if got := blobNames(t, dst); len(got) != len(want) {
		t.Fatalf("blobs on disk %v, want %d", got, len(want))
	}
	if i := ingestNames(t, dst); len(i) != 0 {
		t.Fatalf("ingest left %v", i)
	}
	refs, err := dst.Refs()
	if err != nil || len(refs) != 2 || refs["example.com/app:0"].Digest != desc.Digest || refs["example.com/app:1"].Digest != desc.Digest {
		t.Fatalf("refs %v, %v", refs, err)
	}
	if _, err := dst.Image(desc.Digest); err != nil {
		t.Fatal(err)
	}
}

// patternReader produces size deterministic bytes in chunks of at most chunk bytes. After
// stallAfter chunks (when > 0) it calls stall, which a child process uses to report that it is
// mid-write and then block until it is killed.
type patternReader struct {
	off, size  int64
	chunk      int
	chunks     int
	stallAfter int
	stall      func()
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.stallAfter > 0 && r.chunks == r.stallAfter {
		r.stall()
	}
	n := min(len(p), r.chunk, int(r.size-r.off))
	for i := range n {
		x := r.off + int64(i)
		p[i] = byte(x ^ x>>8 ^ x>>16)
	}
	r.off += int64(n)
	r.chunks++
	return n, nil
}

const killedBlobSize = 32 << 20

func killedBlobDigest(t *testing.T) v1.Hash {
	t.Helper()
	h, _, err := v1.SHA256(&patternReader{size: killedBlobSize, chunk: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestKilledWriterLeavesNoBlob(t *testing.T) {
	s := testStore(t)
	named := putImage(t, s, storeRandomImage(t, 2), "example.com/base:1")
	refsBefore, err := s.Refs()
	if err != nil {
		t.Fatal(err)
	}
	blobsBefore := blobNames(t, s)
	h := killedBlobDigest(t)

	cmd := helperCommand(t, "slowblob", "DST="+s.Dir(), "DIGEST="+h.String())
	stdin, err := cmd.StdinPipe() // never written: the child blocks on it mid-write
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "writing\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q, %v\n%s", line, err, cmd.Stderr)
	}
	// The child has written part of the blob and holds the shared lock.
	partial := ingestNames(t, s)
	if len(partial) != 1 {
		t.Fatalf("ingest while writing: %v", partial)
	}
	if fi, err := os.Stat(filepath.Join(s.ingestDir(), partial[0])); err != nil || fi.Size() == 0 {
		t.Fatalf("partial file: %v, %v", fi, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("killed child exited cleanly")
	}

	if s.HasBlob(h) {
		t.Fatal("a partial blob became visible")
	}
	if got := blobNames(t, s); !slices.Equal(got, blobsBefore) {
		t.Fatalf("blobs %v, before %v", got, blobsBefore)
	}
	refsAfter, err := s.Refs()
	if err != nil || len(refsAfter) != len(refsBefore) || refsAfter["example.com/base:1"].Digest != named.Digest {
		t.Fatalf("refs %v, before %v (%v)", refsAfter, refsBefore, err)
	}
	// The kernel dropped the dead child's lock: a new write proceeds and succeeds.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	txn, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.WriteBlob(ctx, h, killedBlobSize, &patternReader{size: killedBlobSize, chunk: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	txn.Close()
	if !s.HasBlob(h) {
		t.Fatal("rewrite left no blob")
	}

	// The dead child's temp file is fresh, so GC keeps it; once stale, GC removes it.
	st, err := s.GC(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.IngestRemoved != 0 || len(ingestNames(t, s)) != 1 {
		t.Fatalf("fresh ingest file: %+v, %v", st, ingestNames(t, s))
	}
	old := time.Now().Add(-2 * ingestGrace)
	if err := os.Chtimes(filepath.Join(s.ingestDir(), partial[0]), old, old); err != nil {
		t.Fatal(err)
	}
	st, err = s.GC(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.IngestRemoved != 1 || len(ingestNames(t, s)) != 0 {
		t.Fatalf("stale ingest file: %+v, %v", st, ingestNames(t, s))
	}
	if !s.HasBlob(named.Digest) {
		t.Fatal("GC removed a named image")
	}
}

// helperCommand re-executes the test binary as a child playing role, with env settings.
func helperCommand(t *testing.T, role string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStoreHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), storeHelperEnv+"="+role)
	for _, e := range env {
		cmd.Env = append(cmd.Env, storeHelperEnv+"_"+e)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t.Cleanup(func() {
		if cmd.Process != nil && cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// TestStoreHelperProcess is not a test: it is the child process of the multi-process tests,
// selected by BERTH_IMAGE_STORE_HELPER, and does nothing in a normal run.
func TestStoreHelperProcess(t *testing.T) {
	role := os.Getenv(storeHelperEnv)
	if role == "" {
		return
	}
	arg := func(k string) string { return os.Getenv(storeHelperEnv + "_" + k) }
	ctx := context.Background()
	dst, err := OpenStore(arg("DST"))
	if err != nil {
		t.Fatal(err)
	}
	digest, err := v1.NewHash(arg("DIGEST"))
	if err != nil {
		t.Fatal(err)
	}
	switch role {
	case "slowblob":
		txn, err := dst.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := &patternReader{size: killedBlobSize, chunk: 64 << 10, stallAfter: 3, stall: func() {
			// Three chunks are on disk. Say so, then hang until killed.
			fmt.Println("writing")
			io.Copy(io.Discard, os.Stdin)
			time.Sleep(time.Hour)
		}}
		err = txn.WriteBlob(ctx, digest, killedBlobSize, r)
		t.Fatalf("write was supposed to be killed, returned %v", err)
	case "writeimage":
		src, err := OpenStore(arg("SRC"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := src.Image(digest)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin) // start when the parent closes stdin
		txn, err := dst.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := txn.WriteImage(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		if err := txn.SetRef(arg("REF"), desc); err != nil {
			t.Fatal(err)
		}
		if err := txn.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown helper role %q", role)
	}
}

func TestRefs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := putImage(t, s, storeRandomImage(t, 1), "")
	b := putImage(t, s, storeRandomImage(t, 1), "")
	if _, err := s.Ref("example.com/app:1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unset ref: %v", err)
	}
	txn := testBegin(t, s)
	if err := txn.SetRef("example.com/app:1", a); err != nil {
		t.Fatal(err)
	}
	if err := txn.SetRef("example.com/app:2", a); err != nil {
		t.Fatal(err)
	}
	if err := txn.SetRef("example.com/app:1", b); err != nil { // overwrite
		t.Fatal(err)
	}
	missing := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: hashOf([]byte("nope")), Size: 4}
	if err := txn.SetRef("example.com/app:3", missing); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ref to a missing blob: %v", err)
	}
	if err := txn.SetRef("", a); err == nil {
		t.Fatal("empty name accepted")
	}
	txn.Close()
	if d, err := s.Ref("example.com/app:1"); err != nil || d.Digest != b.Digest || d.MediaType != b.MediaType || d.Size != b.Size {
		t.Fatalf("overwritten ref: %+v, %v", d, err)
	}

	reopened, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := reopened.Refs()
	if err != nil || len(refs) != 2 || refs["example.com/app:2"].Digest != a.Digest {
		t.Fatalf("after reopen: %v, %v", refs, err)
	}
	if err := reopened.DeleteRef("example.com/app:2"); err != nil {
		t.Fatal(err)
	}
	if err := reopened.DeleteRef("example.com/app:2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if refs, _ := s.Refs(); len(refs) != 1 || refs["example.com/app:1"].Digest != b.Digest {
		t.Fatalf("after delete: %v", refs)
	}
	if i := ingestNames(t, s); len(i) != 0 {
		t.Fatalf("ingest left %v", i)
	}

	// A corrupt refs.json is an error, never an empty store that a writer would then save.
	if err := os.WriteFile(s.refsPath(), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refs(); err == nil {
		t.Fatal("corrupt refs.json read as valid")
	}
	if err := s.DeleteRef("example.com/app:1"); err == nil {
		t.Fatal("update of a corrupt refs.json succeeded")
	}
}

func TestSetRefConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	desc := putImage(t, s, storeRandomImage(t, 1), "")
	const n = 16
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Each goroutine its own Store, so the refs.lock flock is what serialises them.
			s, err := OpenStore(dir)
			if err != nil {
				errs <- err
				return
			}
			txn, err := s.Begin(context.Background())
			if err != nil {
				errs <- err
				return
			}
			defer txn.Close()
			for j := range 3 {
				if err := txn.SetRef(fmt.Sprintf("example.com/app%d:%d", i, j), desc); err != nil {
					errs <- err
					return
				}
			}
			if i%2 == 0 {
				errs <- s.DeleteRef(fmt.Sprintf("example.com/app%d:0", i))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	refs, err := s.Refs()
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != n*3-n/2 {
		t.Fatalf("%d refs, want %d: %v", len(refs), n*3-n/2, refs)
	}
	for i := range n {
		for j := range 3 {
			_, ok := refs[fmt.Sprintf("example.com/app%d:%d", i, j)]
			if ok != (j != 0 || i%2 != 0) {
				t.Fatalf("ref app%d:%d present=%v", i, j, ok)
			}
		}
	}
}

func TestIndexRoundTrip(t *testing.T) {
	s := testStore(t)
	idx, err := random.Index(512, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	chosen := im.Manifests[1].Digest
	txn := testBegin(t, s)
	desc, err := txn.WriteIndex(context.Background(), idx, func(d v1.Descriptor) bool { return d.Digest == chosen })
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.SetRef("example.com/multi:1", desc); err != nil {
		t.Fatal(err)
	}
	txn.Close()
	if want, _ := idx.Digest(); desc.Digest != want || !desc.MediaType.IsIndex() {
		t.Fatalf("index descriptor %+v", desc)
	}
	if _, err := s.Image(desc.Digest); err == nil {
		t.Fatal("Image accepted an index digest")
	}
	stored, err := s.Index(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	wantRaw, _ := idx.RawManifest()
	if raw, _ := stored.RawManifest(); !bytes.Equal(raw, wantRaw) {
		t.Fatal("index bytes differ")
	}
	img, err := stored.Image(chosen)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d != chosen {
		t.Fatalf("child digest %s", d)
	}
	if _, err := stored.Image(im.Manifests[0].Digest); !errors.Is(err, ErrNotFound) {
		t.Fatalf("skipped child: %v", err)
	}
	// 1 index + the chosen child's manifest, config and 2 layers.
	if got := blobNames(t, s); len(got) != 5 {
		t.Fatalf("blobs %v", got)
	}

	// With no filter every child is stored.
	all := testStore(t)
	txn = testBegin(t, all)
	if _, err := txn.WriteIndex(context.Background(), idx, nil); err != nil {
		t.Fatal(err)
	}
	txn.Close()
	if got := blobNames(t, all); len(got) != 1+3*4 {
		t.Fatalf("blobs %v", got)
	}
}

func TestImages(t *testing.T) {
	s := testStore(t)
	tagged := storeRandomImage(t, 2)
	td := putImage(t, s, tagged, "example.com/app:1")
	txn := testBegin(t, s)
	if err := txn.SetRef("example.com/app:latest", td); err != nil {
		t.Fatal(err)
	}
	txn.Close()
	dangling := putImage(t, s, storeRandomImage(t, 1), "")

	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	txn = testBegin(t, s)
	idesc, err := txn.WriteIndex(context.Background(), idx, func(d v1.Descriptor) bool { return d.Digest == im.Manifests[0].Digest })
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.SetRef("example.com/multi:1", idesc); err != nil {
		t.Fatal(err)
	}
	txn.Close()

	imgs, err := s.Images()
	if err != nil {
		t.Fatal(err)
	}
	byDigest := map[v1.Hash]StoredImage{}
	for _, i := range imgs {
		byDigest[i.Manifest.Digest] = i
	}
	if len(imgs) != 3 {
		t.Fatalf("images %+v", imgs)
	}
	got := byDigest[td.Digest]
	wantID, _ := tagged.ConfigName()
	m, _ := tagged.Manifest()
	if !slices.Equal(got.Names, []string{"example.com/app:1", "example.com/app:latest"}) || got.ID != wantID ||
		got.Size != m.Layers[0].Size+m.Layers[1].Size || got.Manifest.Size != td.Size {
		t.Fatalf("tagged image %+v", got)
	}
	if cf, _ := tagged.ConfigFile(); !got.Created.Equal(cf.Created.Time) {
		t.Fatalf("created %v, want %v", got.Created, cf.Created.Time)
	}
	if d := byDigest[dangling.Digest]; d.Names != nil || d.ID.Hex == "" {
		t.Fatalf("dangling image %+v", d)
	}
	if c := byDigest[im.Manifests[0].Digest]; !slices.Equal(c.Names, []string{"example.com/multi:1"}) {
		t.Fatalf("index child %+v", c)
	}
}

func TestChainIDs(t *testing.T) {
	h := func(s string) v1.Hash {
		t.Helper()
		x, err := v1.NewHash(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	a := h("sha256:" + string(bytes.Repeat([]byte("a"), 64)))
	b := h("sha256:" + string(bytes.Repeat([]byte("b"), 64)))
	c := h("sha256:" + string(bytes.Repeat([]byte("c"), 64)))
	// Computed by hand: printf 'sha256:aa…a sha256:bb…b' | sha256sum, then the same with the
	// result and cc…c. The first matches opencontainers/image-spec identity.ChainIDs.
	want := []v1.Hash{
		a,
		h("sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c"),
		h("sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588"),
	}
	if got := ChainIDs([]v1.Hash{a, b, c}); !slices.Equal(got, want) {
		t.Fatalf("ChainIDs = %v, want %v", got, want)
	}
	if got := ChainIDs(nil); len(got) != 0 {
		t.Fatalf("ChainIDs(nil) = %v", got)
	}
}
