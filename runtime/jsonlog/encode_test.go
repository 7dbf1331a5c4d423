package jsonlog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestEntryBytesGolden pins the exact bytes Docker's json-file driver writes
// for one line, escaping included.
func TestEntryBytesGolden(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	cases := []struct {
		name, in, stream, want string
		t                      time.Time
	}{
		{"plain", "hello\n", "stdout", `{"log":"hello\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`, ts},
		{"quotes and backslash", "say \"hi\" \\ bye\n", "stderr", `{"log":"say \"hi\" \\ bye\n","stream":"stderr","time":"2026-01-02T03:04:05.123456789Z"}`, ts},
		{"html", "<a>&</a>\n", "stdout", `{"log":"\u003ca\u003e\u0026\u003c/a\u003e\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`, ts},
		{"controls", "\t\x00\x1b\x7f\r\n", "stdout", "{\"log\":\"\\u0009\\u0000\\u001b\x7f\\r\\n\",\"stream\":\"stdout\",\"time\":\"2026-01-02T03:04:05.123456789Z\"}", ts},
		{"unicode", "héllo 世界 🙂 \uFFFD\n", "stdout", `{"log":"héllo 世界 🙂 ` + "\uFFFD" + `\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`, ts},
		{"invalid utf8", "a\xffb\xc3(\xe4\xb8\n", "stdout", `{"log":"a\ufffdb\ufffd(\ufffd\ufffd\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`, ts},
		{"line separators", "x\u2028y\u2029\n", "stdout", `{"log":"x\u2028y\u2029\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`, ts},
		{"partial has no newline", "abc", "stdout", `{"log":"abc","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}`, ts},
		{"whole seconds trim zeros", "x\n", "stdout", `{"log":"x\n","stream":"stdout","time":"2026-01-02T03:04:05Z"}`, t0},
		{"trailing zeros trimmed", "x\n", "stdout", `{"log":"x\n","stream":"stdout","time":"2026-01-02T03:04:05.1Z"}`, t0.Add(100 * time.Millisecond)},
		{"local time written as UTC", "x\n", "stdout", `{"log":"x\n","stream":"stdout","time":"2026-01-02T03:04:05Z"}`, t0.In(time.FixedZone("X", 3600))},
		{"no log", "", "stdout", `{"stream":"stdout","time":"2026-01-02T03:04:05Z"}`, t0},
		{"no stream", "x\n", "", `{"log":"x\n","time":"2026-01-02T03:04:05Z"}`, t0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := string(appendEntry(nil, []byte(c.in), c.stream, c.t))
			if got != c.want+"\n" {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
			// Whatever the escaping, a JSON decoder gets the text back
			// (invalid UTF-8 byte by byte as U+FFFD).
			var fe fileEntry
			if err := json.Unmarshal([]byte(got), &fe); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if fe.Log != replaceInvalid(c.in) || fe.Stream != c.stream || !fe.Time.Equal(c.t) {
				t.Errorf("decoded %+v", fe)
			}
		})
	}
}

// TestWriterWritesGoldenLine checks the bytes through the public path.
func TestWriterWritesGoldenLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	w := newWriter(t, path, Options{Now: fixedClock(t0.Add(5))})
	write(t, w.Stream("stdout"), "a \"b\"\tc\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"log":"a \"b\"\u0009c\n","stream":"stdout","time":"2026-01-02T03:04:05.000000005Z"}` + "\n"
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o007 != 0 {
		t.Errorf("log file mode %v is readable by others", st.Mode().Perm())
	}
}

// replaceInvalid is what a JSON round trip does to arbitrary bytes: each
// byte that is not part of valid UTF-8 becomes U+FFFD.
func replaceInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
