package image

import (
	"bytes"
	"strings"
	"testing"
)

func TestDisplayPlain(t *testing.T) {
	var out bytes.Buffer
	d := NewDisplay(&out, false)
	d.Update("abc", "Pulling fs layer", 0, 0)
	d.Update("abc", "Downloading", 10, 100)
	d.Update("abc", "Downloading", 50, 100)
	d.Update("def", "Already exists", 0, 0)
	d.Update("abc", "Download complete", 100, 100)
	d.Message("Digest: sha256:1")
	want := "abc: Pulling fs layer\nabc: Downloading\ndef: Already exists\nabc: Download complete\nDigest: sha256:1\n"
	if out.String() != want {
		t.Errorf("plain output:\n%q\nwant\n%q", out.String(), want)
	}
}

func TestDisplayTerminal(t *testing.T) {
	var out bytes.Buffer
	d := NewDisplay(&out, true)
	d.Update("abc", "Downloading", 25, 100)
	d.Update("def", "Waiting", 0, 0)
	d.Update("abc", "Downloading", 50, 100)
	s := out.String()
	// The third update moves up over both lines and redraws them, abc with a half-full bar.
	last := s[strings.LastIndex(s, "\x1b[2A"):]
	if !strings.Contains(last, "abc: Downloading [=========================>") || !strings.Contains(last, "50B/100B") {
		t.Errorf("redraw: %q", last)
	}
	if !strings.Contains(last, "def: Waiting\n") {
		t.Errorf("redraw lost the second line: %q", last)
	}
}

func TestShortID(t *testing.T) {
	if got := ShortID("sha256:0123456789abcdef0123"); got != "0123456789ab" {
		t.Errorf("ShortID = %q", got)
	}
}
