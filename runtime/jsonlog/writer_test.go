package jsonlog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestWriterSplitsLongLines checks Docker's 16 KiB partials: pieces without
// "\n", all stamped with the time of the first piece.
func TestWriterSplitsLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, path, Options{Now: stepClock()})
	out := w.Stream("stdout")
	a := strings.Repeat("a", 2*MaxLineSize+100)
	b := strings.Repeat("b", MaxLineSize)
	c := strings.Repeat("c", MaxLineSize-1)
	// Odd chunk sizes: the split must not depend on how bytes arrive.
	all := a + "\n" + b + "\n" + c + "\n" + "tail"
	for i := 0; i < len(all); i += 1000 {
		write(t, out, all[i:min(i+1000, len(all))])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, path, ReadOptions{Tail: -1})
	want := []struct {
		log     string
		partial bool
		sec     int
	}{
		{a[:MaxLineSize], true, 0},
		{a[MaxLineSize : 2*MaxLineSize], true, 0},
		{a[2*MaxLineSize:] + "\n", false, 0},
		{b, true, 1},
		{"\n", false, 1},
		{c + "\n", false, 2},
		{"tail", true, 3},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %q", len(got), len(want), logs(got))
	}
	for i, wnt := range want {
		g := got[i]
		if string(g.Log) != wnt.log || g.Partial != wnt.partial || g.Stream != "stdout" || !g.Time.Equal(t0.Add(secs(wnt.sec))) {
			t.Errorf("entry %d: len %d partial %v time %v; want len %d partial %v +%ds",
				i, len(g.Log), g.Partial, g.Time, len(wnt.log), wnt.partial, wnt.sec)
		}
	}
}

// TestWriterFlush writes an incomplete line as a partial on Flush; the
// line's rest keeps the first piece's time.
func TestWriterFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, path, Options{Now: stepClock()})
	out := w.Stream("stderr")
	write(t, out, "progress 10%")
	if len(fileLines(t, path)) != 0 {
		t.Fatal("incomplete line written before Flush")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	write(t, out, " 100%\nnext\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, path, ReadOptions{Tail: -1})
	if strings.Join(logs(got), "|") != "progress 10%| 100%\n|next\n" {
		t.Fatalf("got %q", logs(got))
	}
	if !got[0].Partial || got[1].Partial || !got[0].Time.Equal(got[1].Time) || got[2].Time.Equal(got[0].Time) {
		t.Errorf("partial flags or times wrong: %+v", got)
	}
	if _, err := out.Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after Close: %v, want ErrClosed", err)
	}
}

// TestWriterInterleavedStreams writes both streams from two goroutines in
// random chunks: every file line must be one whole entry and each stream
// must read back intact.
func TestWriterInterleavedStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, path, Options{MaxSize: 4096, MaxFile: 1000})
	inputs := map[string]string{}
	for _, name := range []string{"stdout", "stderr"} {
		var b strings.Builder
		for i := 0; i < 500; i++ {
			fmt.Fprintf(&b, "%s line %d %s\n", name, i, strings.Repeat("x", i%50))
		}
		inputs[name] = b.String()
	}
	var wg sync.WaitGroup
	for name, in := range inputs {
		wg.Add(1)
		go func(s *stream, in string, seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			for len(in) > 0 {
				n := min(1+rng.Intn(100), len(in))
				if _, err := s.Write([]byte(in[:n])); err != nil {
					t.Error(err)
					return
				}
				in = in[n:]
			}
		}(w.Stream(name).(*stream), in, int64(len(name)))
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string]*bytes.Buffer{"stdout": {}, "stderr": {}}
	for _, e := range readAll(t, path, ReadOptions{Tail: -1}) {
		got[e.Stream].Write(e.Log)
	}
	for name, in := range inputs {
		if got[name].String() != in {
			t.Errorf("%s read back differs (%d bytes, want %d)", name, got[name].Len(), len(in))
		}
	}
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Errorf("expected rotation to have happened: %v", err)
	}
}

// TestWriterRotation checks Docker's rotation: rotate before a write once
// the file reached max-size, keep max-file files, drop the oldest; and a
// reopened writer continues where the last one stopped.
func TestWriterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "abc-json.log")
	o := Options{MaxSize: 950, MaxFile: 3, Now: fixedClock(t0)}
	pad := strings.Repeat("x", 31)
	entry := len(appendEntry(nil, []byte("line 00 "+pad+"\n"), "stdout", t0))
	if entry*9 >= 950 || entry*10 < 950 {
		t.Fatalf("test assumes 10 entries of %d bytes per file", entry)
	}
	for _, batch := range [][2]int{{1, 17}, {18, 35}} {
		w := newWriter(t, path, o)
		for i := batch[0]; i <= batch[1]; i++ {
			write(t, w.Stream("stdout"), fmt.Sprintf("line %02d %s\n", i, pad))
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// 35 lines, 10 per file: generations 1-10, 11-20, 21-30, 31-35; the
	// first is dropped.
	wantFiles := map[string][2]int{path + ".2": {11, 20}, path + ".1": {21, 30}, path: {31, 35}}
	for name, span := range wantFiles {
		lines := fileLines(t, name)
		if len(lines) != span[1]-span[0]+1 || !strings.Contains(lines[0], fmt.Sprintf("line %02d ", span[0])) {
			t.Errorf("%s: %d lines starting %q, want lines %d-%d", filepath.Base(name), len(lines), lines[0], span[0], span[1])
		}
		if name != path {
			st, _ := os.Stat(name)
			if st.Size() < 950 || st.Size() >= 950+int64(entry) {
				t.Errorf("%s size %d, want [950, %d)", filepath.Base(name), st.Size(), 950+entry)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files %v, want abc-json.log, .1, .2", names)
	}
}

// TestWriterRotationMaxFileOne: with one file, rotation starts over in a
// new file and keeps nothing else.
func TestWriterRotationMaxFileOne(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c-json.log")
	w := newWriter(t, path, Options{MaxSize: 250, Now: fixedClock(t0)})
	for i := 1; i <= 7; i++ {
		write(t, w.Stream("stdout"), fmt.Sprintf("line %d %s\n", i, strings.Repeat("y", 40)))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := fileLines(t, path)
	if len(lines) != 1 || !strings.Contains(lines[0], "line 7 ") {
		t.Errorf("current file %q, want only line 7", lines)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files, want 1", len(entries))
	}
}

// TestNewWriterRepairsTornEntry: a torn last entry from a crashed writer is
// ended with "\n" so it costs only itself.
func TestNewWriterRepairsTornEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	torn := string(appendEntry(nil, []byte("before\n"), "stdout", t0)) + `{"log":"tor`
	if err := os.WriteFile(path, []byte(torn), 0o640); err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, path, Options{Now: fixedClock(t0)})
	write(t, w.Stream("stdout"), "after\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := Read(t.Context(), path, ReadOptions{Tail: -1}, func(e Entry) error {
		got = append(got, string(e.Log))
		return nil
	})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "1 line(s)") {
		t.Errorf("Read error %v, want one corrupt line", err)
	}
	if strings.Join(got, "") != "before\nafter\n" {
		t.Errorf("got %q", got)
	}
}

func TestNewWriterRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []Options{{Compress: true, MaxSize: 10, MaxFile: 2}, {MaxSize: -1}, {MaxFile: -1}} {
		if _, err := NewWriter(filepath.Join(dir, "x"), o); err == nil {
			t.Errorf("NewWriter(%+v) accepted", o)
		} else if o.Compress && !strings.Contains(err.Error(), "compress is not supported") {
			t.Errorf("compress error %q", err)
		}
	}
}
