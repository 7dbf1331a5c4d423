package container

import (
	"strings"
	"time"

	"github.com/berth-sh/berth/runtime/monitor"
)

// Inspection is the subset of Docker's container inspect output berth
// fills, with Docker's field names.
type Inspection struct {
	ID              string `json:"Id"`
	Created         string
	Path            string
	Args            []string
	State           InspectState
	Image           string
	Name            string
	RestartCount    int
	LogPath         string
	Config          InspectConfig
	HostConfig      InspectHostConfig
	Mounts          []InspectMount
	NetworkSettings InspectNetworkSettings
}

// InspectMount is one entry of Docker's Mounts list.
type InspectMount struct {
	Type        string
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation string
}

// InspectState is Docker's State block.
type InspectState struct {
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  string
	FinishedAt string
	Health     *monitor.Health `json:",omitempty"`
}

// InspectConfig is Docker's Config block.
type InspectConfig struct {
	Hostname    string
	Domainname  string
	User        string
	Env         []string
	Cmd         []string
	Image       string
	WorkingDir  string
	Entrypoint  []string
	Labels      map[string]string
	Tty         bool
	OpenStdin   bool
	StdinOnce   bool
	Healthcheck *HealthOptions `json:",omitempty"`
	StopSignal  string         `json:",omitempty"`
	StopTimeout *int           `json:",omitempty"`
	// ExposedPorts are the image's and --expose's ports, each to {}.
	ExposedPorts map[string]struct{} `json:",omitempty"`
}

// InspectHostConfig is Docker's HostConfig block.
type InspectHostConfig struct {
	AutoRemove     bool
	CapAdd         []string
	CapDrop        []string
	Privileged     bool
	ReadonlyRootfs bool
	SecurityOpt    []string
	Memory         int64
	NanoCpus       int64
	PidsLimit      *int64
	Ulimits        []string
	LogConfig      LogConfig
	RestartPolicy  RestartPolicy
	Tmpfs          map[string]string `json:",omitempty"`
	NetworkMode    string
	Links          []string
	Sysctls        map[string]string `json:",omitempty"`
}

// RestartPolicy is Docker's HostConfig.RestartPolicy.
type RestartPolicy struct {
	Name              string
	MaximumRetryCount int
}

// LogConfig is Docker's HostConfig.LogConfig.
type LogConfig struct {
	Type   string
	Config map[string]string
}

// zeroTime is how Docker prints a time that never happened.
const zeroTime = "0001-01-01T00:00:00Z"

func dockerTime(t time.Time) string {
	if t.IsZero() {
		return zeroTime
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Inspect describes the container as `docker inspect` does.
func (c *Container) Inspect() (*Inspection, error) {
	st, err := c.Status()
	if err != nil {
		return nil, err
	}
	running := st.Status == StatusRunning || st.Status == StatusPaused
	o, p := c.Options, c.Process
	in := &Inspection{
		ID:      c.ID,
		Created: dockerTime(c.Created),
		Image:   c.ImageID,
		Name:    "/" + c.Name,
		LogPath: c.logPath(),

		RestartCount: st.RestartCount,
		State: InspectState{
			Status:     st.Status,
			Running:    running, // a paused container is still running, as in Docker
			Paused:     st.Status == StatusPaused,
			Restarting: st.Status == StatusRestarting,
			Health:     st.Health,
			OOMKilled:  st.OOMKilled,
			ExitCode:   st.ExitCode,
			Error:      st.Error,
			StartedAt:  dockerTime(st.StartedAt),
			FinishedAt: dockerTime(st.FinishedAt),
		},
		Config: InspectConfig{
			Hostname:    p.Hostname,
			Domainname:  o.Domainname,
			User:        o.User,
			Env:         p.Env,
			Image:       o.Image,
			WorkingDir:  o.WorkingDir,
			Labels:      o.Labels,
			Tty:         o.Tty,
			OpenStdin:   o.OpenStdin,
			StdinOnce:   o.StdinOnce,
			Healthcheck: healthOf(p.ImageHealth, o.Health),
			StopSignal:  o.StopSignal,
			StopTimeout: o.StopTimeout,
		},
		HostConfig: InspectHostConfig{
			AutoRemove:     o.AutoRemove,
			CapAdd:         o.CapAdd,
			CapDrop:        o.CapDrop,
			Privileged:     o.Privileged,
			ReadonlyRootfs: o.ReadOnly,
			SecurityOpt:    o.SecurityOpt,
			Memory:         o.Memory,
			NanoCpus:       int64(o.CPUs * 1e9),
			Ulimits:        o.Ulimits,
			LogConfig:      LogConfig{Type: "json-file", Config: o.LogOpts},
			RestartPolicy:  restartPolicyOf(o.Restart),
			Tmpfs:          o.Tmpfs,
		},
	}
	if exposed, err := ExposedPorts(append(append([]string{}, p.ImageExposed...), o.Expose...)); err == nil && len(exposed) > 0 {
		in.Config.ExposedPorts = map[string]struct{}{}
		for _, e := range exposed {
			in.Config.ExposedPorts[e] = struct{}{}
		}
	}
	in.HostConfig.Sysctls = o.Sysctls
	in.HostConfig.NetworkMode = o.NetworkMode
	if in.HostConfig.NetworkMode == "" {
		in.HostConfig.NetworkMode = "bridge"
		if len(o.Networks) > 0 {
			in.HostConfig.NetworkMode = o.Networks[0].Network
		}
	}
	in.NetworkSettings = c.networkSettings(running)
	in.Mounts = c.inspectMounts()
	for _, l := range o.Links {
		// Docker's form: /<linked>:/<this container>/<alias>.
		name, alias, _ := strings.Cut(strings.TrimPrefix(l, "/"), ":")
		if alias == "" {
			alias = name
		}
		in.HostConfig.Links = append(in.HostConfig.Links, "/"+name+":/"+c.Name+"/"+alias)
	}
	if in.HostConfig.LogConfig.Config == nil {
		in.HostConfig.LogConfig.Config = map[string]string{}
	}
	if in.Config.Labels == nil {
		in.Config.Labels = map[string]string{}
	}
	if o.PidsLimit != 0 {
		pl := o.PidsLimit
		in.HostConfig.PidsLimit = &pl
	}
	if running {
		in.State.Pid = st.Pid
	}
	// Docker's Config shows the entrypoint and command in effect, each
	// from the user when given, else from the image.
	in.Config.Entrypoint = p.ImageEntrypoint
	if o.EntrypointSet {
		in.Config.Entrypoint = o.Entrypoint
	}
	in.Config.Cmd = p.ImageCmd
	if len(o.Cmd) > 0 {
		in.Config.Cmd = o.Cmd
	} else if o.EntrypointSet {
		in.Config.Cmd = nil // a new entrypoint resets the image's command
	}
	if len(p.Args) > 0 {
		in.Path, in.Args = p.Args[0], p.Args[1:]
	}
	if in.Args == nil {
		in.Args = []string{}
	}
	return in, nil
}

// Command is the command line `docker ps` shows.
func (c *Container) Command() string { return strings.Join(c.Process.Args, " ") }

// restartPolicyOf is the policy as inspect shows it: "no" when none is set.
func restartPolicyOf(s string) RestartPolicy {
	p, err := ParseRestartPolicy(s)
	if err != nil || p.Name == "" {
		return RestartPolicy{Name: monitor.RestartNo}
	}
	return RestartPolicy{Name: p.Name, MaximumRetryCount: p.MaxRetries}
}

// healthOf is Config.Healthcheck: the container's settings over the image's.
func healthOf(image, opts *HealthOptions) *HealthOptions {
	if opts == nil || opts.Disable {
		if opts != nil {
			return &HealthOptions{Test: []string{"NONE"}}
		}
		return image
	}
	h := *opts
	if len(h.Test) == 0 && image != nil {
		h.Test = image.Test
	}
	return &h
}
