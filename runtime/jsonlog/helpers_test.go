package jsonlog

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// stepClock returns t0, t0+1s, t0+2s, ... so entries have distinct, known
// times.
func stepClock() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n-1) * time.Second)
	}
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func newWriter(t *testing.T, path string, o Options) *Writer {
	t.Helper()
	w, err := NewWriter(path, o)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func write(t *testing.T, w interface{ Write([]byte) (int, error) }, s string) {
	t.Helper()
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatalf("write %q: %v", s, err)
	}
}

func readAll(t *testing.T, path string, o ReadOptions) []Entry {
	t.Helper()
	var got []Entry
	err := Read(context.Background(), path, o, func(e Entry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatalf("Read %s: %v", path, err)
	}
	return got
}

func logs(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = string(e.Log)
	}
	return out
}

// fileLines returns the raw lines of a file, each checked to be one JSON
// object with exactly the keys Docker writes.
func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end in a newline", path)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%s: line %q is not JSON: %v", path, l, err)
		}
	}
	return lines
}

func secs(n int) time.Duration { return time.Duration(n) * time.Second }
