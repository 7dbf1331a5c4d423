package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/berth-sh/berth/runtime/monitor"
)

func TestParseLogTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"10m":                  now.Add(-10 * time.Minute),
		"2026-01-01T00:00:00Z": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		"1700000000.5":         time.Unix(1700000000, 5e8),
	} {
		if got, err := parseLogTime(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseLogTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseLogTime("yesterday", now); err == nil {
		t.Error("parseLogTime(yesterday) did not fail")
	}
}

func TestStatusText(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		st   monitor.State
		want string
	}{
		{monitor.State{Status: "created"}, "Created"},
		{monitor.State{Status: "running", StartedAt: now.Add(-3 * time.Second)}, "Up 3 seconds"},
		{monitor.State{Status: "paused", StartedAt: now.Add(-3 * time.Second)}, "Up 3 seconds (Paused)"},
		{monitor.State{Status: "exited", ExitCode: 42, FinishedAt: now.Add(-5 * time.Second)}, "Exited (42) 5 seconds ago"},
		{monitor.State{Status: "exited", ExitCode: 137}, "Exited (137)"},
	} {
		if got := statusText(tc.st); got != tc.want {
			t.Errorf("statusText(%+v) = %q, want %q", tc.st, got, tc.want)
		}
	}
}

func TestDetachReader(t *testing.T) {
	for _, tc := range []struct {
		keys     string
		in, want string
		detached bool
	}{
		{"", "abc", "abc", false},
		{"", "ab\x10\x11cd", "ab", true},
		{"", "a\x10b", "a\x10b", false},
		{"", "\x10\x10\x11", "\x10", true},
		{"ctrl-a,d", "x\x01y\x01d", "x\x01y", true},
		{"q", "abq", "ab", true},
	} {
		keys, err := parseDetachKeys(tc.keys)
		if err != nil {
			t.Fatal(err)
		}
		// One byte at a time, as a terminal delivers keys.
		d := &detachReader{r: iotest.OneByteReader(strings.NewReader(tc.in)), keys: keys}
		got, err := io.ReadAll(d)
		if string(got) != tc.want || errors.Is(err, monitor.ErrDetached) != tc.detached {
			t.Errorf("keys %q, input %q: read %q, err %v; want %q, detached %v", tc.keys, tc.in, got, err, tc.want, tc.detached)
		}
	}
}

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string]string{"": "\x10\x11", "ctrl-p,ctrl-q": "\x10\x11", "ctrl-@,ctrl-_,a": "\x00\x1fa", "ctrl-[": "\x1b"} {
		got, err := parseDetachKeys(in)
		if err != nil || string(got) != want {
			t.Errorf("parseDetachKeys(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ctrl-", "ctrl-1", "ab", "ctrl-pp"} {
		if _, err := parseDetachKeys(bad); err == nil || !strings.Contains(err.Error(), "Invalid detach keys") {
			t.Errorf("parseDetachKeys(%q): %v, want an error", bad, err)
		}
	}
}
