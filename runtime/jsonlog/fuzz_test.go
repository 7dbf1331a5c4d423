package jsonlog

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzWriterRoundTrip feeds arbitrary chunks to both streams (with rotation)
// and checks that reading the files back gives, per stream, the input cut
// into Docker's entries (lines, 16 KiB pieces), each piece with invalid
// UTF-8 replaced byte by byte as the JSON encoding does.
//
// The input is a little program: each op byte picks the stream (low bit)
// and a length (the rest); length 127 means 3000 copies of the next byte,
// to reach the 16 KiB split.
func FuzzWriterRoundTrip(f *testing.F) {
	f.Add([]byte("\x0ahello\nworld\x0b\nerr\xff\xfe\n"))
	f.Add([]byte("\xfe\x61\xfe\x61\xfe\x61\xfe\x61\xfe\x61\xfe\x61\x03\n\n"))
	f.Add([]byte("\x09\xe4\xb8\x96\x01\x00\x02\"\\<\n\x04\x00"))
	f.Fuzz(func(t *testing.T, prog []byte) {
		path := filepath.Join(t.TempDir(), "c-json.log")
		// Up to 200 KiB of input escapes to at most 1.2 MB: under 100
		// files of 16 KiB, so nothing is dropped by rotation.
		w, err := NewWriter(path, Options{MaxSize: 16 << 10, MaxFile: 100})
		if err != nil {
			t.Fatal(err)
		}
		names := [2]string{"stdout", "stderr"}
		var in [2]bytes.Buffer
		for len(prog) > 0 && in[0].Len()+in[1].Len() < 200<<10 {
			op := prog[0]
			prog = prog[1:]
			s, n := int(op&1), int(op>>1)
			var chunk []byte
			if n == 127 {
				if len(prog) == 0 {
					break
				}
				chunk = bytes.Repeat(prog[:1], 3000)
				prog = prog[1:]
			} else {
				n = min(n, len(prog))
				chunk, prog = prog[:n], prog[n:]
			}
			in[s].Write(chunk)
			if _, err := w.Stream(names[s]).Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var got [2]strings.Builder
		for _, e := range readAll(t, path, ReadOptions{Tail: -1}) {
			s := 0
			if e.Stream == "stderr" {
				s = 1
			}
			if e.Partial == bytes.HasSuffix(e.Log, []byte("\n")) {
				t.Fatalf("entry %q: Partial %v", e.Log, e.Partial)
			}
			got[s].Write(e.Log)
		}
		for s := range names {
			if want := expectedLog(in[s].Bytes()); got[s].String() != want {
				t.Errorf("%s: got %q\nwant %q", names[s], got[s].String(), want)
			}
		}
	})
}

// expectedLog is an independent statement of the splitting rule: each line
// goes out in MaxLineSize pieces, the last one with its "\n"; an unfinished
// last line goes out in pieces on Close.
func expectedLog(in []byte) string {
	var b strings.Builder
	for len(in) > 0 {
		line := in
		if i := bytes.IndexByte(in, '\n'); i >= 0 {
			line = in[:i+1]
		}
		in = in[len(line):]
		for len(line) > 0 {
			n := min(len(line), MaxLineSize)
			b.WriteString(replaceInvalid(string(line[:n])))
			line = line[n:]
		}
	}
	return b.String()
}
