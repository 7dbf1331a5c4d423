package image

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// putLooseBlob writes data as a blob nothing names.
func putLooseBlob(t *testing.T, s *Store, data []byte) v1.Hash {
	t.Helper()
	h := hashOf(data)
	txn := testBegin(t, s)
	if err := txn.WriteBlob(context.Background(), h, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	txn.Close()
	return h
}

func requireBlobs(t *testing.T, s *Store, present bool, hs ...v1.Hash) {
	t.Helper()
	for _, h := range hs {
		if s.HasBlob(h) != present {
			t.Errorf("blob %s present=%v, want %v", h, !present, present)
		}
	}
}

// waitBusy returns what the next lock wait reports. The deadline only turns a regression (a lock
// that never conflicts) into a failure instead of a hang; it asserts nothing about timing.
func waitBusy(t *testing.T, busy <-chan bool) bool {
	t.Helper()
	select {
	case exclusive := <-busy:
		return exclusive
	case <-time.After(30 * time.Second):
		t.Fatal("no lock wait happened: the locks do not conflict")
		return false
	}
}

func TestGCRemovesUnreferenced(t *testing.T) {
	s := testStore(t)
	named := storeRandomImage(t, 2)
	putImage(t, s, named, "example.com/named:1")
	unnamed := storeRandomImage(t, 2)
	putImage(t, s, unnamed, "")
	loose := putLooseBlob(t, s, []byte("loose"))

	idx, err := random.Index(256, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	txn := testBegin(t, s)
	idesc, err := txn.WriteIndex(context.Background(), idx, func(d v1.Descriptor) bool { return d.Digest == im.Manifests[2].Digest })
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.SetRef("example.com/multi:1", idesc); err != nil {
		t.Fatal(err)
	}
	txn.Close()
	child, err := idx.Image(im.Manifests[2].Digest)
	if err != nil {
		t.Fatal(err)
	}

	var wantBytes int64
	for _, h := range append(imageBlobs(t, unnamed), loose) {
		fi, err := os.Stat(s.BlobPath(h))
		if err != nil {
			t.Fatal(err)
		}
		wantBytes += fi.Size()
	}
	st, err := s.GC(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	requireBlobs(t, s, true, imageBlobs(t, named)...)
	requireBlobs(t, s, true, idesc.Digest)
	requireBlobs(t, s, true, imageBlobs(t, child)...)
	requireBlobs(t, s, false, imageBlobs(t, unnamed)...)
	requireBlobs(t, s, false, loose)
	if st.BlobsRemoved != 5 || st.BytesRemoved != wantBytes || st.BlobsKept != 4+1+4 || len(st.Warnings) != 0 {
		t.Fatalf("stats %+v, want 5 removed (%d bytes), 9 kept", st, wantBytes)
	}
	if _, err := s.Image(im.Manifests[2].Digest); err != nil {
		t.Fatal(err)
	}

	st, err = s.GC(context.Background(), nil)
	if err != nil || st.BlobsRemoved != 0 || st.BlobsKept != 9 {
		t.Fatalf("second GC: %+v, %v", st, err)
	}

	// Removing the references makes everything collectable.
	for _, n := range []string{"example.com/named:1", "example.com/multi:1"} {
		if err := s.DeleteRef(n); err != nil {
			t.Fatal(err)
		}
	}
	if st, err = s.GC(context.Background(), nil); err != nil || st.BlobsKept != 0 || len(blobNames(t, s)) != 0 {
		t.Fatalf("after deleting refs: %+v, %v, %v", st, err, blobNames(t, s))
	}
}

func TestGCKeep(t *testing.T) {
	s := testStore(t)
	byManifest := storeRandomImage(t, 2)
	md := putImage(t, s, byManifest, "")
	byID := storeRandomImage(t, 2)
	putImage(t, s, byID, "")
	id, _ := byID.ConfigName()
	pinned := putLooseBlob(t, s, []byte("pinned"))
	gone := storeRandomImage(t, 1)
	putImage(t, s, gone, "")

	keep := func(h v1.Hash) bool { return h == md.Digest || h == id || h == pinned }
	if _, err := s.GC(context.Background(), keep); err != nil {
		t.Fatal(err)
	}
	requireBlobs(t, s, true, imageBlobs(t, byManifest)...)
	requireBlobs(t, s, true, imageBlobs(t, byID)...)
	requireBlobs(t, s, true, pinned)
	requireBlobs(t, s, false, imageBlobs(t, gone)...)
}

func TestGCRefusesUnreadableRoot(t *testing.T) {
	s := testStore(t)
	bogus := putLooseBlob(t, s, []byte(`{"not":"a manifest"}`))
	loose := putLooseBlob(t, s, []byte("loose"))
	txn := testBegin(t, s)
	if err := txn.SetRef("example.com/broken:1", v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: bogus, Size: 20}); err != nil {
		t.Fatal(err)
	}
	txn.Close()
	// What the broken root names is unknown, so nothing may be removed.
	if _, err := s.GC(context.Background(), nil); err == nil {
		t.Fatal("GC went ahead with an unreadable root")
	}
	requireBlobs(t, s, true, bogus, loose)
}

func TestGCWaitsForTxn(t *testing.T) {
	s := testStore(t)
	busy := make(chan bool, 4)
	s.onLockBusy = func(exclusive bool) { busy <- exclusive }

	txn := testBegin(t, s)
	done := make(chan GCStats)
	errc := make(chan error, 1)
	go func() {
		st, err := s.GC(context.Background(), nil)
		errc <- err
		done <- st
	}()
	if exclusive := waitBusy(t, busy); !exclusive {
		t.Fatal("a shared lock waited; only GC should")
	}
	// GC is waiting for the lock this Txn holds. Everything written now, named or not yet, must
	// be judged by GC only after Close.
	select {
	case <-done:
		t.Fatal("GC ran while a Txn was open")
	default:
	}
	img := storeRandomImage(t, 2)
	desc, err := txn.WriteImage(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	loose := []byte("written in the txn, never named")
	if err := txn.WriteBlob(context.Background(), hashOf(loose), -1, bytes.NewReader(loose)); err != nil {
		t.Fatal(err)
	}
	if err := txn.SetRef("example.com/app:1", desc); err != nil {
		t.Fatal(err)
	}
	if err := txn.Close(); err != nil {
		t.Fatal(err)
	}
	st := <-done
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	requireBlobs(t, s, true, imageBlobs(t, img)...)
	requireBlobs(t, s, false, hashOf(loose))
	if st.BlobsRemoved != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBeginWaitsForGC(t *testing.T) {
	s := testStore(t)
	putLooseBlob(t, s, []byte("something for keep to look at"))
	busy := make(chan bool, 4)
	s.onLockBusy = func(exclusive bool) { busy <- exclusive }

	inGC := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	keep := func(v1.Hash) bool {
		once.Do(func() {
			close(inGC)
			<-release
		})
		return false
	}
	gcErr := make(chan error, 1)
	go func() {
		_, err := s.GC(context.Background(), keep)
		gcErr <- err
	}()
	<-inGC // GC holds the exclusive lock now

	// A writer whose context ends while waiting gives up with that error.
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() {
		_, err := s.Begin(ctx)
		cancelled <- err
	}()
	if exclusive := waitBusy(t, busy); exclusive {
		t.Fatal("GC waited for its own lock")
	}
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Begin: %v", err)
	}

	began := make(chan *Txn, 1)
	go func() {
		txn, err := s.Begin(context.Background())
		if err != nil {
			t.Error(err)
		}
		began <- txn
	}()
	if exclusive := waitBusy(t, busy); exclusive {
		t.Fatal("GC waited for its own lock")
	}
	select {
	case <-began:
		t.Fatal("Begin returned while GC held the store")
	default:
	}
	close(release)
	if err := <-gcErr; err != nil {
		t.Fatal(err)
	}
	if txn := <-began; txn != nil {
		txn.Close()
	}
}

func TestGCStaleIngest(t *testing.T) {
	s := testStore(t)
	old := time.Now().Add(-2 * ingestGrace)
	mk := func(name string, stale bool) string {
		p := filepath.Join(s.ingestDir(), name)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if stale {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	fresh := mk("blob-fresh", false)
	stale := mk("blob-stale", true)
	held := mk("refs-held", true)
	staleDir := filepath.Join(s.ingestDir(), "leftover-dir")
	if err := os.MkdirAll(filepath.Join(staleDir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(staleDir, old, old); err != nil {
		t.Fatal(err)
	}
	// A writer that does not take the store lock (DeleteRef) still holds its file's flock.
	f, err := os.Open(held)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	st, err := s.GC(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{fresh: true, stale: false, held: true, staleDir: false} {
		if _, err := os.Lstat(p); (err == nil) != want {
			t.Errorf("%s present=%v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	if st.IngestRemoved != 2 || st.IngestBytes < int64(len("partial")) || len(st.Warnings) != 0 {
		t.Fatalf("stats %+v", st)
	}
}
