package main

import (
	"testing"
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
