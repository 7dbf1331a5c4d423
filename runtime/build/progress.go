package build

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
)

// progress writes Docker's plain progress: numbered vertices, each with its lines and an end
// line ("#5 DONE 0.3s", "#5 CACHED", "#5 ERROR: ..."), separated by blank lines.
type progress struct {
	mu   sync.Mutex
	w    io.Writer
	next int
}

func newProgress(w io.Writer) *progress { return &progress{w: w, next: 1} }

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

// vertex starts a numbered entry.
func (p *progress) vertex(name string) *vertex {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := &vertex{p: p, n: p.next, start: time.Now()}
	p.next++
	fmt.Fprintf(p.w, "#%d %s\n", v.n, name)
	return v
}

type vertex struct {
	p     *progress
	n     int
	start time.Time
}

func (v *vertex) line(s string) { v.p.printf("#%d %s\n", v.n, s) }

func (v *vertex) done() {
	v.p.printf("#%d DONE %.1fs\n\n", v.n, time.Since(v.start).Seconds())
}

func (v *vertex) cached() { v.p.printf("#%d CACHED\n\n", v.n) }

func (v *vertex) fail(err error) { v.p.printf("#%d ERROR: %s\n\n", v.n, oneLine(err)) }

// output is a writer for a RUN's output: each line prefixed with the vertex number and the
// seconds since the step began, as BuildKit's plain progress shows it.
func (v *vertex) output() *lineWriter { return &lineWriter{v: v} }

type lineWriter struct {
	mu  sync.Mutex
	v   *vertex
	buf bytes.Buffer
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	for {
		i := bytes.IndexByte(l.buf.Bytes(), '\n')
		if i < 0 {
			return len(b), nil
		}
		line := l.buf.Next(i + 1)
		l.emit(string(line[:len(line)-1]))
	}
}

func (l *lineWriter) emit(s string) {
	l.v.p.printf("#%d %.3f %s\n", l.v.n, time.Since(l.v.start).Seconds(), s)
}

// flush writes a last line without a newline.
func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		l.emit(l.buf.String())
		l.buf.Reset()
	}
}
