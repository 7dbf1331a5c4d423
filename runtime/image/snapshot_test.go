package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func testChainID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func openTestSnapshots(t *testing.T) *Snapshots {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "snapshots")
	makeWritable(t, filepath.Dir(dir))
	s, err := OpenSnapshots(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// snapDirNames lists the snapshot directory, temp and trash entries included.
func snapDirNames(t *testing.T, s *Snapshots) []string {
	t.Helper()
	names, err := readDirNames(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func writeOne(name, content string) func(context.Context, string) error {
	return func(_ context.Context, dir string) error {
		return os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
}

func TestSnapshotPrepareIdempotent(t *testing.T) {
	s := openTestSnapshots(t)
	id := testChainID("one")
	if s.Has(id) {
		t.Fatal("Has before Prepare")
	}
	calls := 0
	unpack := func(ctx context.Context, dir string) error {
		calls++
		return writeOne("f", "content")(ctx, dir)
	}
	p1, err := s.Prepare(context.Background(), id, unpack)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.Prepare(context.Background(), id, unpack)
	if err != nil {
		t.Fatal(err)
	}
	if p1 != p2 || p1 != s.Path(id) || calls != 1 {
		t.Fatalf("paths %q %q (Path %q), unpack ran %d times; want one path, one run", p1, p2, s.Path(id), calls)
	}
	if filepath.Base(p1) != strings.TrimPrefix(id, "sha256:") {
		t.Fatalf("snapshot dir %q is not named by the chain ID hex", p1)
	}
	if got := readFile(t, filepath.Join(p1, "f")); got != "content" {
		t.Fatalf("f = %q", got)
	}
	if fi, err := os.Stat(p1); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("snapshot root mode %v, %v; want 0755", fi.Mode(), err)
	}
	if !s.Has(id) {
		t.Fatal("Has after Prepare is false")
	}
	if names := snapDirNames(t, s); !slices.Equal(names, []string{filepath.Base(p1)}) {
		t.Fatalf("snapshot dir holds %v, want only the snapshot", names)
	}
}

func TestSnapshotPrepareConcurrent(t *testing.T) {
	s := openTestSnapshots(t)
	id := testChainID("shared base")
	const n = 8
	// Every unpack waits until all n are running, so all n really race to the rename.
	var arrived sync.WaitGroup
	arrived.Add(n)
	var runs atomic.Int32
	unpack := func(ctx context.Context, dir string) error {
		runs.Add(1)
		arrived.Done()
		arrived.Wait()
		return writeOne("f", "same content")(ctx, dir)
	}
	paths := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { paths[i], errs[i] = s.Prepare(context.Background(), id, unpack) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || paths[i] != s.Path(id) {
			t.Errorf("Prepare %d = %q, %v", i, paths[i], errs[i])
		}
	}
	if runs.Load() != n {
		t.Errorf("%d unpacks ran, want %d", runs.Load(), n)
	}
	if got := readFile(t, filepath.Join(s.Path(id), "f")); got != "same content" {
		t.Errorf("f = %q", got)
	}
	if names := snapDirNames(t, s); !slices.Equal(names, []string{filepath.Base(s.Path(id))}) {
		t.Errorf("snapshot dir holds %v, want only the snapshot (losers' copies discarded)", names)
	}
}

func TestSnapshotPrepareFailure(t *testing.T) {
	s := openTestSnapshots(t)
	id := testChainID("bad layer")
	boom := errors.New("corrupt layer")
	_, err := s.Prepare(context.Background(), id, func(ctx context.Context, dir string) error {
		// Half written, and read-only: removal must cope with that even unprivileged.
		if err := os.MkdirAll(filepath.Join(dir, "half/written"), 0o755); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(dir, "half"), 0o555); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Prepare = %v, want the unpack error", err)
	}
	if s.Has(id) {
		t.Fatal("failed unpack left a snapshot")
	}
	if names := snapDirNames(t, s); len(names) != 0 {
		t.Fatalf("failed unpack left %v", names)
	}
}

func TestSnapshotInvalidChainID(t *testing.T) {
	s := openTestSnapshots(t)
	for _, id := range []string{"", "sha256:", "sha256:abc", "sha512:" + strings.Repeat("a", 64),
		"sha256:" + strings.Repeat("A", 64), "sha256:../../" + strings.Repeat("a", 58), strings.Repeat("a", 64)} {
		if _, err := s.Prepare(context.Background(), id, writeOne("f", "x")); err == nil {
			t.Errorf("Prepare(%q) accepted", id)
		}
		if s.Path(id) != "" || s.Has(id) {
			t.Errorf("Path(%q) = %q, Has = %v", id, s.Path(id), s.Has(id))
		}
		if err := s.Remove(id); err == nil {
			t.Errorf("Remove(%q) accepted", id)
		}
	}
	if names := snapDirNames(t, s); len(names) != 0 {
		t.Fatalf("invalid IDs left %v", names)
	}
}

func TestSnapshotPrepareCanceled(t *testing.T) {
	s := openTestSnapshots(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Prepare(ctx, testChainID("x"), writeOne("f", "x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Prepare with a canceled context = %v", err)
	}
}

func TestSnapshotListAndRemove(t *testing.T) {
	s := openTestSnapshots(t)
	a, b := testChainID("a"), testChainID("b")
	for _, id := range []string{a, b} {
		if _, err := s.Prepare(context.Background(), id, func(ctx context.Context, dir string) error {
			// Read-only directories must not stop removal, even unprivileged.
			if err := os.MkdirAll(filepath.Join(dir, "ro/deeper"), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "ro/deeper/f"), []byte("x"), 0o444); err != nil {
				return err
			}
			os.Chmod(filepath.Join(dir, "ro/deeper"), 0o555)
			return os.Chmod(filepath.Join(dir, "ro"), 0o555)
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Leftovers that are not snapshots.
	os.Mkdir(filepath.Join(s.dir, ".tmp-leftover"), 0o700)
	os.Mkdir(filepath.Join(s.dir, ".trash-leftover"), 0o700)
	os.WriteFile(filepath.Join(s.dir, "README"), nil, 0o644)

	ids, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{a, b}
	slices.Sort(want)
	slices.Sort(ids)
	if !slices.Equal(ids, want) {
		t.Fatalf("List = %v, want %v", ids, want)
	}
	if err := s.Remove(a); err != nil {
		t.Fatal(err)
	}
	if s.Has(a) || !s.Has(b) {
		t.Fatalf("after Remove(a): Has(a)=%v Has(b)=%v", s.Has(a), s.Has(b))
	}
	if ids, _ := s.List(); !slices.Equal(ids, []string{b}) {
		t.Fatalf("List after Remove = %v", ids)
	}
	for _, n := range snapDirNames(t, s) {
		if strings.HasPrefix(n, ".trash-") && n != ".trash-leftover" {
			t.Fatalf("Remove left %s", n)
		}
	}
	if err := s.Remove(a); err != nil {
		t.Fatalf("Remove of a removed snapshot: %v", err)
	}
}

func TestSnapshotCleanup(t *testing.T) {
	s := openTestSnapshots(t)
	// Debris of crashed processes: an unlocked temp dir with its lock file, one without, a lock
	// file whose dir was already renamed, and trash.
	mk := func(name string, dir bool) {
		p := filepath.Join(s.dir, name)
		var err error
		if dir {
			err = os.MkdirAll(filepath.Join(p, "sub"), 0o755)
			if err == nil {
				err = os.WriteFile(filepath.Join(p, "sub/f"), []byte("x"), 0o644)
			}
		} else {
			err = os.WriteFile(p, nil, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	mk(".tmp-aaaa-1", true)
	mk(".tmp-aaaa-1.lock", false)
	mk(".tmp-bbbb-2", true)
	mk(".tmp-cccc-3.lock", false)
	mk(".trash-dddd-4", true)
	done := testChainID("done")
	if _, err := s.Prepare(context.Background(), done, writeOne("f", "x")); err != nil {
		t.Fatal(err)
	}

	// A Prepare in progress, held inside its unpack until Cleanup has run.
	live := testChainID("live")
	inUnpack, release := make(chan string), make(chan struct{})
	prepared := make(chan error, 1)
	go func() {
		_, err := s.Prepare(context.Background(), live, func(ctx context.Context, dir string) error {
			if err := writeOne("f", "live")(ctx, dir); err != nil {
				return err
			}
			inUnpack <- dir
			<-release
			return nil
		})
		prepared <- err
	}()
	liveTmp := <-inUnpack

	if err := s.Cleanup(); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	names := snapDirNames(t, s)
	want := []string{filepath.Base(liveTmp), filepath.Base(liveTmp) + ".lock", strings.TrimPrefix(done, "sha256:")}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("after Cleanup: %v, want %v", names, want)
	}
	close(release)
	if err := <-prepared; err != nil {
		t.Fatalf("the Prepare running during Cleanup failed: %v", err)
	}
	if got := readFile(t, filepath.Join(s.Path(live), "f")); got != "live" {
		t.Fatalf("live snapshot f = %q", got)
	}
	if err := s.Cleanup(); err != nil {
		t.Fatal(err)
	}
	names = snapDirNames(t, s)
	want = []string{strings.TrimPrefix(done, "sha256:"), strings.TrimPrefix(live, "sha256:")}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("after the second Cleanup: %v, want %v", names, want)
	}
}
