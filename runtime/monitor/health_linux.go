package monitor

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/berth-sh/berth/runtime/pid1"
)

const (
	// healthLogEntries and healthOutputLimit are Docker's: the last five
	// probes are kept, with at most 4 KiB of output each.
	healthLogEntries  = 5
	healthOutputLimit = 4096
)

// healthChecker runs a run's healthcheck on a goroutine of its own.
type healthChecker struct {
	stop chan struct{}
	done chan struct{}
}

// begin starts probing the run that just started, in state "starting".
func (h *healthChecker) begin(m *monitor) {
	cfg := m.spec.Health
	if cfg == nil {
		return
	}
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	m.setState(func(s *State) { s.Health = &Health{Status: HealthStarting, Log: []HealthResult{}} })
	go func() {
		defer close(h.done)
		m.healthLoop(cfg, h.stop)
	}()
}

// end stops the probes of a run that ended.
func (h *healthChecker) end() {
	if h.stop == nil {
		return
	}
	close(h.stop)
	<-h.done
	h.stop, h.done = nil, nil
}

// healthLoop probes every Interval (StartInterval during the start period)
// and applies Docker's transitions: a success is healthy and resets the
// failing streak; a failure adds to it, unless the container never was
// healthy and is still in its start period; Retries failures in a row are
// unhealthy.
func (m *monitor) healthLoop(cfg *HealthConfig, stop <-chan struct{}) {
	started := m.getState().StartedAt
	for {
		wait := cfg.Interval
		if time.Since(started) < cfg.StartPeriod {
			wait = cfg.StartInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
		r, ok := m.probe(cfg, stop)
		if !ok {
			return
		}
		changed := ""
		m.setState(func(s *State) {
			h := s.Health
			if h == nil {
				return
			}
			was := h.Status
			defer func() {
				if h.Status != was {
					changed = h.Status
				}
			}()
			if r.ExitCode == 0 {
				h.FailingStreak = 0
				h.Status = HealthHealthy
			} else if h.Status != HealthStarting || r.Start.Sub(started) >= cfg.StartPeriod {
				h.FailingStreak++
				if h.FailingStreak >= cfg.Retries {
					h.Status = HealthUnhealthy
				}
			}
			h.Log = append(h.Log, r)
			if len(h.Log) > healthLogEntries {
				h.Log = h.Log[len(h.Log)-healthLogEntries:]
			}
		})
		if changed != "" {
			m.event("health_status: " + changed)
		}
	}
}

// probe runs the healthcheck's command once in the container, as an exec
// of the container's user, environment and working directory, and kills it
// after Timeout. ok is false when the run ended meanwhile.
func (m *monitor) probe(cfg *HealthConfig, stop <-chan struct{}) (r HealthResult, ok bool) {
	r.Start = time.Now().UTC()
	args := cfg.Test[1:]
	if cfg.Test[0] == "CMD-SHELL" {
		args = []string{"/bin/sh", "-c", cfg.Test[1]}
	}
	fail := func(code int, msg string) (HealthResult, bool) {
		r.End, r.ExitCode, r.Output = time.Now().UTC(), code, msg
		return r, true
	}
	m.mu.Lock()
	link := m.link
	m.mu.Unlock()
	id, ch, err := link.open()
	if err != nil {
		return r, false
	}
	defer link.end(id)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fail(-1, err.Error())
	}
	out, w, err := os.Pipe()
	if err != nil {
		devnull.Close()
		return fail(-1, err.Error())
	}
	init := m.spec.Init
	err = link.send(pid1.Message{ExecID: id, Exec: &pid1.ExecRequest{
		Args: args, Env: init.Env, Cwd: init.Cwd, User: init.User,
	}}, devnull, w, w)
	devnull.Close()
	w.Close()
	if err != nil {
		out.Close()
		return fail(-1, err.Error())
	}
	output := make(chan string, 1)
	go func() {
		defer out.Close()
		b, _ := io.ReadAll(io.LimitReader(out, healthOutputLimit))
		_, _ = io.Copy(io.Discard, out) // the rest, so that the probe never blocks
		output <- string(b)
	}()
	timeout := time.NewTimer(cfg.Timeout)
	defer timeout.Stop()
	for {
		select {
		case <-stop:
			_ = link.send(pid1.Message{ExecID: id, Kill: true})
			return r, false
		case <-timeout.C:
			_ = link.send(pid1.Message{ExecID: id, Kill: true})
			return fail(-1, fmt.Sprintf("Health check exceeded timeout (%v)", cfg.Timeout))
		case im, open := <-ch:
			if !open {
				return r, false
			}
			closeFiles([]*os.File{im.file})
			switch {
			case im.msg.Error != "":
				return fail(im.msg.ExitCode, im.msg.Error)
			case im.msg.Exited:
				var text string
				select {
				case text = <-output:
				case <-timeout.C:
					// Something the probe started still holds its output.
				}
				return fail(im.msg.ExitCode, text)
			}
		}
	}
}
