package monitor

import (
	"syscall"
	"testing"
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
