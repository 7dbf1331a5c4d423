package build

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestTTYProgress(t *testing.T) {
	var out bytes.Buffer
	p := newTTYProgress(&out, 60, time.Hour) // no tick: only the final picture
	v := p.vertex("[1/3] FROM docker.io/library/bb:1")
	v.done()
	v = p.vertex("[2/3] COPY a.txt /")
	v.cached()
	v = p.vertex("[3/3] RUN false")
	w := v.output()
	w.Write([]byte("some output\nlast words"))
	w.flush()
	v.fail(errors.New("The command '/bin/sh -c false' returned a non-zero code: 1"))
	p.printf("[Warning] a message\n")
	p.close()
	got := regexp.MustCompile(`\d+\.\ds`).ReplaceAllString(strings.ReplaceAll(out.String(), "\x1b[K", ""), "T")
	for _, l := range strings.Split(got, "\n") {
		if (strings.HasPrefix(l, " => ") || strings.HasPrefix(l, "[+]")) && len(l) > 60 {
			t.Errorf("line longer than the terminal: %q", l)
		}
	}
	got = regexp.MustCompile(` {2,}`).ReplaceAllString(got, " ")
	want := "[+] Built T (3/3) FINISHED\n" +
		" => [1/3] FROM docker.io/library/bb:1 T\n" +
		" => CACHED [2/3] COPY a.txt / T\n" +
		" => ERROR [3/3] RUN false T\n" +
		"------\n > [3/3] RUN false:\nsome output\nlast words\nERROR: The command '/bin/sh -c false' returned a non-zero code: 1\n------\n" +
		"[Warning] a message\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestTTYProgressRedraws(t *testing.T) {
	var out bytes.Buffer
	p := newTTYProgress(&out, 0, time.Hour)
	v := p.vertex("[1/1] RUN x")
	v.output().Write([]byte("1\n2\n3\n4\n5\n6\n7\n"))
	p.mu.Lock()
	p.tty.draw(&out, false)
	p.mu.Unlock()
	first := out.String()
	if !strings.Contains(first, " => => # 7") || strings.Contains(first, " => => # 1\x1b") {
		t.Errorf("a running step shows its last %d lines:\n%q", logTail, first)
	}
	v.done()
	p.close()
	// The final picture starts by moving up over the 8 lines of the first.
	if rest := out.String()[len(first):]; !strings.HasPrefix(rest, "\x1b[8A") {
		t.Errorf("no redraw in place: %q", rest)
	}
}
