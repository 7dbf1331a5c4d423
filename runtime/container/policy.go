package container

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/berth-sh/berth/runtime/monitor"
)

// Docker's healthcheck defaults (moby's daemon/health.go).
const (
	defaultHealthInterval      = 30 * time.Second
	defaultHealthTimeout       = 30 * time.Second
	defaultHealthStartInterval = 5 * time.Second
	defaultHealthRetries       = 3
	// minHealthDuration is the smallest non-zero duration Docker accepts.
	minHealthDuration = time.Millisecond
)

// HealthOptions are a container's healthcheck settings on top of the
// image's HEALTHCHECK: a field left zero keeps the image's (or Docker's
// default); Test ["NONE"] or Disable turns the image's check off.
type HealthOptions struct {
	Test          []string      `json:",omitempty"`
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
	Disable       bool          `json:",omitempty"`
}

// ParseRestartPolicy reads docker run's --restart: no, always,
// unless-stopped or on-failure[:max-retries].
func ParseRestartPolicy(s string) (monitor.RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	p := monitor.RestartPolicy{Name: name}
	switch name {
	case "", monitor.RestartNo, monitor.RestartAlways, monitor.RestartUnlessStopped:
		if hasCount {
			return p, invalidf("invalid restart policy: maximum retry count can only be used with 'on-failure'")
		}
	case monitor.RestartOnFailure:
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil {
				return p, invalidf("invalid restart policy format: maximum retry count must be an integer")
			}
			if n < 0 {
				return p, invalidf("invalid restart policy: maximum retry count cannot be negative")
			}
			p.MaxRetries = n
		}
	default:
		return p, invalidf("invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", name)
	}
	return p, nil
}

// checkHealth refuses what Docker refuses in the health flags.
func checkHealth(h *HealthOptions) error {
	if h == nil {
		return nil
	}
	set := len(h.Test) > 0 || h.Interval != 0 || h.Timeout != 0 || h.StartPeriod != 0 || h.StartInterval != 0 || h.Retries != 0
	if h.Disable && set {
		return invalidf("--no-healthcheck conflicts with --health-* options")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--health-interval", h.Interval}, {"--health-timeout", h.Timeout}, {"--health-start-period", h.StartPeriod}, {"--health-start-interval", h.StartInterval}} {
		if d.v < 0 || d.v > 0 && d.v < minHealthDuration {
			return invalidf("%s cannot be less than %v", d.name, minHealthDuration)
		}
	}
	if h.Retries < 0 {
		return invalidf("--health-retries cannot be negative")
	}
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE":
		case "CMD", "CMD-SHELL":
			if len(h.Test) < 2 {
				return invalidf("healthcheck %s needs a command", h.Test[0])
			}
		default:
			return invalidf("unknown healthcheck type %q: use CMD, CMD-SHELL or NONE", h.Test[0])
		}
	}
	return nil
}

// imageHealth reads the image's HEALTHCHECK from its raw config, whose
// StartInterval the registry library's types do not carry.
func imageHealth(rawConfig []byte) *HealthOptions {
	var cfg struct {
		Config struct {
			Healthcheck *HealthOptions
		} `json:"config"`
	}
	if json.Unmarshal(rawConfig, &cfg) != nil || cfg.Config.Healthcheck == nil || len(cfg.Config.Healthcheck.Test) == 0 {
		return nil
	}
	return cfg.Config.Healthcheck
}

// healthConfig merges the container's settings over the image's as Docker
// does, with Docker's defaults; nil when there is no check to run.
func healthConfig(image, opts *HealthOptions) *monitor.HealthConfig {
	var h HealthOptions
	if image != nil {
		h = *image
	}
	if opts != nil {
		if opts.Disable {
			return nil
		}
		if len(opts.Test) > 0 {
			h.Test = opts.Test
		}
		for _, f := range []struct{ dst, src *time.Duration }{
			{&h.Interval, &opts.Interval}, {&h.Timeout, &opts.Timeout},
			{&h.StartPeriod, &opts.StartPeriod}, {&h.StartInterval, &opts.StartInterval},
		} {
			if *f.src != 0 {
				*f.dst = *f.src
			}
		}
		if opts.Retries != 0 {
			h.Retries = opts.Retries
		}
	}
	if len(h.Test) < 2 || h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL" {
		return nil
	}
	or := func(d, def time.Duration) time.Duration {
		if d == 0 {
			return def
		}
		return d
	}
	retries := h.Retries
	if retries == 0 {
		retries = defaultHealthRetries
	}
	return &monitor.HealthConfig{
		Test:          h.Test,
		Interval:      or(h.Interval, defaultHealthInterval),
		Timeout:       or(h.Timeout, defaultHealthTimeout),
		StartPeriod:   h.StartPeriod,
		StartInterval: or(h.StartInterval, defaultHealthStartInterval),
		Retries:       retries,
	}
}
