package monitor

import (
	"syscall"
	"testing"
	"time"
)

func TestThawsFor(t *testing.T) {
	for _, tc := range []struct {
		name       string
		stopSignal syscall.Signal
		sig        syscall.Signal
		want       bool
	}{
		{"no stop signal, SIGTERM", 0, syscall.SIGTERM, true},
		{"no stop signal, any signal", 0, syscall.SIGHUP, true},
		{"own stop signal, that signal", syscall.SIGINT, syscall.SIGINT, true},
		{"own stop signal, SIGKILL", syscall.SIGINT, syscall.SIGKILL, true},
		{"own stop signal, another signal", syscall.SIGINT, syscall.SIGHUP, false},
		{"own stop signal, SIGTERM", syscall.SIGINT, syscall.SIGTERM, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &monitor{spec: Spec{StopSignal: tc.stopSignal}}
			if got := m.thawsFor(tc.sig); got != tc.want {
				t.Errorf("thawsFor(%v) = %v, want %v", tc.sig, got, tc.want)
			}
		})
	}
}

func TestRestartDelay(t *testing.T) {
	run := func(d time.Duration, code int) runResult {
		start := time.Unix(1000, 0)
		return runResult{code: code, started: start, finished: start.Add(d)}
	}
	m := &monitor{spec: Spec{Restart: RestartPolicy{Name: RestartAlways}}}
	var got []time.Duration
	for range 12 {
		d, again := m.restartDelay(run(time.Second, 1))
		if !again {
			t.Fatal("always did not restart")
		}
		got = append(got, d)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("backoff %v, want %v ms", got, want)
		}
	}
	// A run of ten seconds or more starts the backoff over.
	if d, _ := m.restartDelay(run(10*time.Second, 1)); d != 100*time.Millisecond {
		t.Errorf("after a long run: %v, want 100ms", d)
	}

	m = &monitor{spec: Spec{Restart: RestartPolicy{Name: RestartOnFailure, MaxRetries: 2}}}
	if _, again := m.restartDelay(run(0, 0)); again {
		t.Error("on-failure restarted a clean exit")
	}
	m.state.RestartCount = 2
	if _, again := m.restartDelay(run(0, 1)); again {
		t.Error("on-failure:2 restarted a third time")
	}
	m = &monitor{spec: Spec{Restart: RestartPolicy{Name: RestartUnlessStopped}}, stopped: make(chan struct{})}
	m.markStopped()
	if _, again := m.restartDelay(run(0, 1)); again {
		t.Error("restarted after a stop by the user")
	}
	m = &monitor{spec: Spec{}}
	if _, again := m.restartDelay(run(0, 1)); again {
		t.Error("no policy restarted")
	}
}
