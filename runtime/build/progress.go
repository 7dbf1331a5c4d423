package build

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress writes a build's progress. Plain (the default) is Docker's plain format: numbered
// vertices, each with its lines and an end line ("#5 DONE 0.3s", "#5 CACHED", "#5 ERROR: ..."),
// separated by blank lines. TTY is a compact live view for a terminal, redrawn in place: a
// header with the elapsed time and the steps done, one line per step, and the last lines of
// the output of the steps running.
type progress struct {
	mu   sync.Mutex
	w    io.Writer
	next int

	tty      *ttyView // nil: plain
	stopTick chan struct{}
	ticked   sync.WaitGroup
}

func newProgress(w io.Writer) *progress { return &progress{w: w, next: 1} }

// newTTYProgress is the live view, width columns wide, redrawn every interval.
func newTTYProgress(w io.Writer, width int, interval time.Duration) *progress {
	p := &progress{w: w, next: 1, tty: &ttyView{start: time.Now(), width: width}, stopTick: make(chan struct{})}
	p.ticked.Add(1)
	go func() {
		defer p.ticked.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.mu.Lock()
				p.tty.draw(p.w, false)
				p.mu.Unlock()
			case <-p.stopTick:
				return
			}
		}
	}()
	return p
}

// close ends the view: the last picture stays, followed by the messages printed meanwhile and,
// for failed steps, their whole output. Plain progress has nothing to close.
func (p *progress) close() {
	if p.tty == nil {
		return
	}
	close(p.stopTick)
	p.ticked.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tty.draw(p.w, true)
	for _, v := range p.tty.vertices {
		if v.state == stateError && len(v.log) > 0 {
			fmt.Fprintf(p.w, "------\n > %s:\n", v.name)
			for _, l := range v.log {
				fmt.Fprintf(p.w, "%s\n", l)
			}
			fmt.Fprintf(p.w, "------\n")
		}
	}
	io.WriteString(p.w, p.tty.messages.String())
}

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty != nil {
		fmt.Fprintf(&p.tty.messages, format, args...)
		return
	}
	fmt.Fprintf(p.w, format, args...)
}

// vertex starts a numbered entry.
func (p *progress) vertex(name string) *vertex {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := &vertex{p: p, n: p.next, start: time.Now(), name: name}
	p.next++
	if p.tty != nil {
		p.tty.vertices = append(p.tty.vertices, v)
		return v
	}
	fmt.Fprintf(p.w, "#%d %s\n", v.n, name)
	return v
}

type vertexState int

const (
	stateRunning vertexState = iota
	stateDone
	stateCached
	stateError
)

type vertex struct {
	p     *progress
	n     int
	start time.Time
	name  string

	// The live view's record of the vertex; guarded by p.mu.
	state vertexState
	took  time.Duration
	log   []string
}

func (v *vertex) line(s string) {
	if v.p.tty != nil {
		v.p.mu.Lock()
		v.log = append(v.log, s)
		v.p.mu.Unlock()
		return
	}
	v.p.printf("#%d %s\n", v.n, s)
}

func (v *vertex) end(s vertexState) {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	v.state, v.took = s, time.Since(v.start)
}

func (v *vertex) done() {
	if v.p.tty != nil {
		v.end(stateDone)
		return
	}
	v.p.printf("#%d DONE %.1fs\n\n", v.n, time.Since(v.start).Seconds())
}

func (v *vertex) cached() {
	if v.p.tty != nil {
		v.end(stateCached)
		return
	}
	v.p.printf("#%d CACHED\n\n", v.n)
}

func (v *vertex) fail(err error) {
	if v.p.tty != nil {
		v.end(stateError)
		v.line("ERROR: " + oneLine(err))
		return
	}
	v.p.printf("#%d ERROR: %s\n\n", v.n, oneLine(err))
}

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
	if l.v.p.tty != nil {
		l.v.line(s)
		return
	}
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

// ttyView is the live view's state.
type ttyView struct {
	start    time.Time
	width    int
	vertices []*vertex
	messages bytes.Buffer
	drawn    int // lines of the last picture, which the next one overwrites
}

// logTail is how many output lines a running step shows.
const logTail = 6

// draw paints the picture over the previous one.
func (t *ttyView) draw(w io.Writer, final bool) {
	var b strings.Builder
	if t.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", t.drawn)
	}
	lines := 0
	put := func(s string) {
		if t.width > 0 && len(s) > t.width {
			s = s[:t.width]
		}
		b.WriteString(s)
		b.WriteString("\x1b[K\n")
		lines++
	}
	done := 0
	for _, v := range t.vertices {
		if v.state != stateRunning {
			done++
		}
	}
	status := "[+] Building"
	if final {
		status = "[+] Built"
	}
	put(fmt.Sprintf("%s %.1fs (%d/%d)%s", status, time.Since(t.start).Seconds(), done, len(t.vertices), map[bool]string{true: " FINISHED", false: ""}[final]))
	for _, v := range t.vertices {
		took := v.took
		if v.state == stateRunning {
			took = time.Since(v.start)
		}
		label := v.name
		switch v.state {
		case stateCached:
			label = "CACHED " + label
		case stateError:
			label = "ERROR " + label
		}
		timing := fmt.Sprintf("%.1fs", took.Seconds())
		head := " => " + label
		if pad := t.width - len(head) - len(timing) - 1; t.width > 0 && pad > 0 {
			head += strings.Repeat(" ", pad)
		} else {
			head += " "
		}
		put(head + timing)
		if v.state == stateRunning && !final {
			from := max(0, len(v.log)-logTail)
			for _, l := range v.log[from:] {
				put(" => => # " + l)
			}
		}
	}
	// Clear what is left of a taller previous picture.
	for i := lines; i < t.drawn; i++ {
		b.WriteString("\x1b[K\n")
	}
	if extra := t.drawn - lines; extra > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", extra)
	}
	t.drawn = lines
	io.WriteString(w, b.String())
}
