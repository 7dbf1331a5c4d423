package jsonlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rotatedLog writes lines "line 01".."line n" with a step clock into a log
// with 10 entries per file, MaxFile 3 (so the first files are dropped).
func rotatedLog(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, path, Options{MaxSize: 650, MaxFile: 3, Now: stepClock()})
	for i := 1; i <= n; i++ {
		write(t, w.Stream("stdout"), fmt.Sprintf("line %02d\n", i))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n > 10 {
		if got := len(fileLines(t, path+".1")); got != 10 {
			t.Fatalf("test assumes 10 entries per file, got %d", got)
		}
	}
	return path
}

func lineRange(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "line %02d\n", i)
	}
	return b.String()
}

// TestReadTailAcrossRotatedFiles: lines 11-35 are kept (in .2, .1 and the
// current file); tail counts back across them.
func TestReadTailAcrossRotatedFiles(t *testing.T) {
	path := rotatedLog(t, 35)
	cases := []struct {
		tail, maxFile int
		want          string
	}{
		{-1, 3, lineRange(11, 35)},
		{-1, 0, lineRange(11, 35)}, // probing finds .1 and .2
		{-1, 2, lineRange(21, 35)}, // a reader told MaxFile 2 ignores .2
		{0, 3, ""},
		{3, 3, lineRange(33, 35)},
		{5, 3, lineRange(31, 35)},
		{7, 3, lineRange(29, 35)},
		{15, 3, lineRange(21, 35)},
		{16, 0, lineRange(20, 35)},
		{100, 3, lineRange(11, 35)},
	}
	for _, c := range cases {
		got := strings.Join(logs(readAll(t, path, ReadOptions{Tail: c.tail, MaxFile: c.maxFile})), "")
		if got != c.want {
			t.Errorf("tail %d maxfile %d: got %q, want %q", c.tail, c.maxFile, got, c.want)
		}
	}
}

// TestReadSinceUntil: line i was written at t0+(i-1)s.
func TestReadSinceUntil(t *testing.T) {
	path := rotatedLog(t, 35)
	at := func(line int) time.Time { return t0.Add(secs(line - 1)) }
	cases := []struct {
		name string
		o    ReadOptions
		want string
	}{
		{"since inclusive", ReadOptions{Tail: -1, Since: at(30)}, lineRange(30, 35)},
		{"until inclusive", ReadOptions{Tail: -1, Until: at(14)}, lineRange(11, 14)},
		{"both", ReadOptions{Tail: -1, Since: at(19), Until: at(22)}, lineRange(19, 22)},
		{"tail first, then since", ReadOptions{Tail: 3, Since: at(20)}, lineRange(33, 35)},
		{"tail then until", ReadOptions{Tail: 5, Until: at(32)}, lineRange(31, 32)},
		{"since after all", ReadOptions{Tail: -1, Since: at(99)}, ""},
	}
	for _, c := range cases {
		got := strings.Join(logs(readAll(t, path, c.o)), "")
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

// TestReadCorruptLines: bad lines are skipped, the rest is delivered, and
// the error says how many were skipped.
func TestReadCorruptLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	e := func(s string) string { return string(appendEntry(nil, []byte(s), "stdout", t0)) }
	content := e("one\n") + "garbage\n" + `{"log":1}` + "\n" + strings.Repeat("\x00", 100) + e("two\n") +
		"\n" + `{"log":"no time\n"}` + "\n" + strings.Repeat("z", maxLine+10) + "\n" + e("three\n")
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := Read(context.Background(), path, ReadOptions{Tail: -1}, func(e Entry) error {
		got = append(got, string(e.Log))
		return nil
	})
	if strings.Join(got, "") != "one\ntwo\nthree\n" {
		t.Errorf("got %q", got)
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "4 line(s)") || !strings.Contains(err.Error(), "offset 64") {
		t.Errorf("error %v, want 4 corrupt lines, first at offset 64", err)
	}
}

// TestReadWaitsForIncompleteLine: the last line of the current file without
// "\n" is being written; it is neither delivered nor corrupt.
func TestReadWaitsForIncompleteLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	full := string(appendEntry(nil, []byte("one\n"), "stdout", t0))
	half := string(appendEntry(nil, []byte("two\n"), "stdout", t0))[:20]
	if err := os.WriteFile(path, []byte(full+half), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, tail := range []int{-1, 1} {
		if got := logs(readAll(t, path, ReadOptions{Tail: tail})); len(got) != 1 || got[0] != "one\n" {
			t.Errorf("tail %d: got %q", tail, got)
		}
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	err := Read(context.Background(), filepath.Join(dir, "missing"), ReadOptions{Tail: -1}, func(Entry) error { return nil })
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	path := rotatedLog(t, 5)
	if _, err := os.Stat(path + ".1"); err == nil {
		t.Fatal("test assumes no rotation")
	}
	stop := errors.New("stop")
	n := 0
	err = Read(context.Background(), path, ReadOptions{Tail: -1}, func(Entry) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("out error: got %v after %d entries", err, n)
	}
}

func TestFormat(t *testing.T) {
	e := Entry{Stream: "stdout", Time: time.Date(2026, 1, 2, 3, 4, 5, 100_000_000, time.FixedZone("X", 3600)), Log: []byte("hi\n")}
	if got := string(Format(e, true)); got != "2026-01-02T02:04:05.100000000Z hi\n" {
		t.Errorf("with timestamps: %q", got)
	}
	if got := string(Format(e, false)); got != "hi\n" {
		t.Errorf("without: %q", got)
	}
}

// follower runs a follow Read in a goroutine owned by the test; entries
// arrive on a channel, and stop cancels and waits for Read to return.
type follower struct {
	t       *testing.T
	entries chan Entry
	done    chan error
	cancel  context.CancelFunc
}

func follow(t *testing.T, path string, o ReadOptions) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{t: t, entries: make(chan Entry, 1000), done: make(chan error, 1), cancel: cancel}
	o.Follow = true
	go func() {
		f.done <- Read(ctx, path, o, func(e Entry) error {
			select {
			case f.entries <- e:
			case <-ctx.Done():
			}
			return nil
		})
	}()
	t.Cleanup(func() { f.stop() })
	return f
}

// expect waits (generously) for the next entries to be exactly want.
func (f *follower) expect(want string) {
	f.t.Helper()
	var got strings.Builder
	deadline := time.After(10 * time.Second)
	for got.Len() < len(want) {
		select {
		case e := <-f.entries:
			got.Write(e.Log)
		case err := <-f.done:
			f.t.Fatalf("follow ended early: %v (got %q)", err, got.String())
		case <-deadline:
			f.t.Fatalf("timed out: got %q, want %q", got.String(), want)
		}
	}
	if got.String() != want {
		f.t.Fatalf("got %q, want %q", got.String(), want)
	}
}

func (f *follower) stop() error {
	f.cancel()
	select {
	case err := <-f.done:
		f.done <- err // a second stop (Cleanup) gets it too
		return err
	case <-time.After(10 * time.Second):
		f.t.Fatal("follow did not stop after cancel")
		return nil
	}
}

// TestFollowSeesAppendedLines: tail then follow, and an entry written in two
// pieces is delivered once, whole.
func TestFollowSeesAppendedLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, path, Options{})
	write(t, w.Stream("stdout"), "a\nb\nc\n")
	f := follow(t, path, ReadOptions{Tail: 2})
	f.expect("b\nc\n")
	write(t, w.Stream("stderr"), "d\n")
	f.expect("d\n")

	entry := appendEntry(nil, []byte("torn\n"), "stdout", t0)
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.Write(entry[:15]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * pollInterval) // let the follower see the half (not an assertion)
	if _, err := fh.Write(entry[15:]); err != nil {
		t.Fatal(err)
	}
	write(t, w.Stream("stdout"), "e\n")
	f.expect("torn\ne\n")
	if err := f.stop(); err != nil {
		t.Errorf("follow returned %v, want nil (no corrupt lines)", err)
	}
}

// TestFollowAcrossRotation: the follower keeps up through rotations, with
// one rotation between checks (MaxFile 2 and 1) and with several at once.
func TestFollowAcrossRotation(t *testing.T) {
	for _, tc := range []struct {
		maxFile, batch int
	}{{2, 2}, {1, 2}, {6, 12}} {
		t.Run(fmt.Sprintf("maxfile=%d,batch=%d", tc.maxFile, tc.batch), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c-json.log")
			// About 3 entries per file.
			w := newWriter(t, path, Options{MaxSize: 200, MaxFile: tc.maxFile})
			write(t, w.Stream("stdout"), "old\n")
			f := follow(t, path, ReadOptions{Tail: 1, MaxFile: tc.maxFile})
			f.expect("old\n") // the follower is past its snapshot
			n := 1
			for range 4 {
				var want strings.Builder
				for range tc.batch {
					fmt.Fprintf(&want, "line %d\n", n)
					n++
				}
				write(t, w.Stream("stdout"), want.String())
				f.expect(want.String())
			}
			if _, err := os.Stat(path + ".1"); tc.maxFile > 1 && err != nil {
				t.Errorf("no rotation happened: %v", err)
			}
		})
	}
}

// TestFollowStopsOnCancel: cancelling ctx ends a follow with nil, also when
// the log never changes.
func TestFollowStopsOnCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, path, Options{})
	write(t, w.Stream("stdout"), "x\n")
	f := follow(t, path, ReadOptions{Tail: -1})
	f.expect("x\n")
	if err := f.stop(); err != nil {
		t.Errorf("follow returned %v after cancel", err)
	}
}

// TestFollowUntilInThePast ends by itself at the first newer entry.
func TestFollowUntilInThePast(t *testing.T) {
	path := rotatedLog(t, 15)
	done := make(chan error, 1)
	go func() {
		done <- Read(context.Background(), path, ReadOptions{Tail: -1, Follow: true, Until: t0.Add(secs(12))}, func(Entry) error { return nil })
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow with until did not end")
	}
}
