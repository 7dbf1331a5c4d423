package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/berth-sh/berth/runtime/cgroup"
	"github.com/berth-sh/berth/runtime/jsonlog"
	"github.com/berth-sh/berth/runtime/pid1"
)

const (
	// MonitorArg is argv[1] of berth re-executed as a monitor; main.go must
	// call RunMonitor(os.Args[2]) when it sees it.
	MonitorArg = "monitor"
	// InitArg is argv[1] of berth started as a container's init; main.go
	// must call pid1.Main when it sees it.
	InitArg = "init"

	// Status values of State.
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusRestarting = "restarting" // between runs, waiting for the restart policy's delay
	StatusExited     = "exited"

	// Restart policy names (Docker's).
	RestartNo            = "no"
	RestartAlways        = "always"
	RestartOnFailure     = "on-failure"
	RestartUnlessStopped = "unless-stopped"

	// Health states (Docker's).
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"

	// DefaultStopTimeout is Docker's default grace period on Linux.
	DefaultStopTimeout = 10 * time.Second

	configFile = "config.json"
	stateFile  = "state.json"
	// lockFile is held from a start until the container ends for good.
	lockFile   = "monitor.lock"
	socketName = "monitor.sock"
	// maxSocketPath is sizeof(sockaddr_un.sun_path) minus the NUL.
	maxSocketPath = 107
	// exitMonitorDied is the exit code Status reports when the monitor is
	// gone: its death SIGKILLs the init through PDEATHSIG.
	exitMonitorDied = 128 + int(syscall.SIGKILL)
)

var (
	// ErrRunning is returned by Delete and Start for a container whose
	// monitor is alive.
	ErrRunning = errors.New("container is running")
	// ErrBusy is Start's answer when another start of the container is
	// under way or its monitor runs.
	ErrBusy = errors.New("the container is being started, or runs")
	// ErrNotRunning is returned by Kill when there is no monitor to ask.
	ErrNotRunning = errors.New("container is not running")
	// ErrNotSupported is returned on operating systems without containers.
	ErrNotSupported = errors.New("not supported")
)

// StartError is a container that could not be started: its workload's
// execve failed (ExitCode 126 or 127, as Docker's) or its setup did.
type StartError struct {
	Msg      string
	ExitCode int
}

func (e *StartError) Error() string { return e.Msg }

// Spec is what one monitor runs.
type Spec struct {
	// ID names the container and its cgroup (letters, digits, '-', '_').
	ID string
	// Bundle is $ROOT/containers/<id>: config.json, state.json, the log.
	Bundle string
	// RunDir is $RUN/containers/<id>; RunDir/monitor.sock must stay
	// shorter than 108 bytes.
	RunDir string
	// Init is handed to the container's init.
	Init pid1.Config
	// Cgroup holds the container's limits.
	Cgroup cgroup.Resources
	// Log configures the json-file log (Now is not carried over).
	Log jsonlog.Options
	// StopSignal is sent by stop; zero means SIGTERM.
	StopSignal syscall.Signal
	// StopTimeout is stop's grace period when the request names none;
	// zero means DefaultStopTimeout, negative waits for ever.
	StopTimeout time.Duration
	// Stdin keeps the container's stdin open for attached clients (docker
	// run -i); without it stdin is /dev/null. With Init.Tty the workload's
	// stdin is the pty whatever this says, and attached input goes there.
	Stdin bool
	// StdinOnce closes the container's stdin once the first client that
	// attached it detaches or closes its input (docker run -i).
	StdinOnce bool
	// AttachReplay holds the container's output (up to replayLimit) until
	// the first client attaches and gives it to that client first, so that
	// `run` loses nothing written before it attached.
	AttachReplay bool
	// NetNS is the persistent network namespace the container joins; empty
	// gives it a fresh one with only lo.
	NetNS string
	// HostNetwork shares the host's network namespace (--network host).
	HostNetwork bool
	// DNS is served on 127.0.0.11:53 in NetNS (nil: none).
	DNS *DNSConfig
	// Restart is the restart policy; the zero value is "no".
	Restart RestartPolicy
	// Health is the healthcheck (nil: none).
	Health *HealthConfig
	// Unpublish removes the container's published-port rules
	// (firewall.ContainerOwner(ID)) when it ends for good, as Docker's
	// daemon does, and before the ports' held sockets are let go: a port
	// never looks free while traffic to it still goes to the container.
	Unpublish bool
	// OnExit is executed in place of the monitor once the container has
	// exited after a successful start, unless an attached client took it
	// over (AttachOptions.Remove): docker run --rm's removal, with no
	// daemon to do it for a detached container.
	OnExit []string
	// EventsDir is the state root's event journal (package events), where
	// the monitor records what only it sees: start, die, kill, stop,
	// health_status; empty records nothing. EventAttributes are the
	// container's attributes in them (name, image, labels).
	EventsDir       string
	EventAttributes map[string]string
}

// DNSConfig is the container's DNS server: the record files of its
// networks (package resolver's format), where unknown names go, and
// whether they may go anywhere (not when every network is internal).
type DNSConfig struct {
	Records   []string
	Upstreams []string `json:",omitempty"`
	NoForward bool     `json:",omitempty"`
	// NdotsSet: the container's resolv.conf sets ndots itself (see
	// resolver.Config).
	NdotsSet bool `json:",omitempty"`
	// Links maps link aliases to the container names they stand for.
	Links map[string]string `json:",omitempty"`
}

// RestartPolicy is Docker's: Name is "", "no", "always", "on-failure" or
// "unless-stopped"; MaxRetries bounds on-failure (0: no bound).
type RestartPolicy struct {
	Name       string `json:",omitempty"`
	MaxRetries int    `json:",omitempty"`
}

// HealthConfig is a healthcheck as Docker runs it, resolved: Test is
// ["CMD", arg...] or ["CMD-SHELL", command]; durations are set (the
// caller applies Docker's defaults).
type HealthConfig struct {
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
}

// Health is Docker's State.Health.
type Health struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
}

// HealthResult is one probe, as Docker keeps the last five.
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// State is the content of state.json.
type State struct {
	Status     string    `json:"status"`
	Pid        int       `json:"pid,omitempty"` // the init, in the host's PID namespace
	MonitorPid int       `json:"monitor_pid,omitempty"`
	ExitCode   int       `json:"exit_code"`
	OOMKilled  bool      `json:"oom_killed,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Error      string    `json:"error,omitempty"`
	// RestartCount is how often the restart policy started it again.
	RestartCount int     `json:"restart_count,omitempty"`
	Health       *Health `json:"health,omitempty"`
}

// specFile is Spec as stored in config.json: jsonlog.Options holds a func,
// which encoding/json refuses.
type specFile struct {
	ID            string
	Bundle        string
	RunDir        string
	Init          pid1.Config
	Cgroup        cgroup.Resources
	LogMaxSize    int64
	LogMaxFile    int
	LogCompress   bool
	StopSignal    int
	StopTimeoutNs int64
	Stdin         bool          `json:",omitempty"`
	StdinOnce     bool          `json:",omitempty"`
	NetNS         string        `json:",omitempty"`
	HostNetwork   bool          `json:",omitempty"`
	DNS           *DNSConfig    `json:",omitempty"`
	Restart       RestartPolicy `json:",omitzero"`
	Health        *HealthConfig `json:",omitempty"`
	AttachReplay  bool          `json:",omitempty"`
	OnExit        []string      `json:",omitempty"`
	Unpublish     bool          `json:",omitempty"`

	EventsDir  string            `json:",omitempty"`
	EventAttrs map[string]string `json:",omitempty"`
}

func (s *Spec) toFile() specFile {
	return specFile{
		ID: s.ID, Bundle: s.Bundle, RunDir: s.RunDir, Init: s.Init, Cgroup: s.Cgroup,
		LogMaxSize: s.Log.MaxSize, LogMaxFile: s.Log.MaxFile, LogCompress: s.Log.Compress,
		StopSignal: int(s.StopSignal), StopTimeoutNs: int64(s.StopTimeout),
		Stdin: s.Stdin, StdinOnce: s.StdinOnce, AttachReplay: s.AttachReplay, OnExit: s.OnExit,
		Restart: s.Restart, Health: s.Health, NetNS: s.NetNS, HostNetwork: s.HostNetwork, DNS: s.DNS,
		Unpublish: s.Unpublish, EventsDir: s.EventsDir, EventAttrs: s.EventAttributes,
	}
}

func (f *specFile) spec() Spec {
	return Spec{
		ID: f.ID, Bundle: f.Bundle, RunDir: f.RunDir, Init: f.Init, Cgroup: f.Cgroup,
		Log:        jsonlog.Options{MaxSize: f.LogMaxSize, MaxFile: f.LogMaxFile, Compress: f.LogCompress},
		StopSignal: syscall.Signal(f.StopSignal), StopTimeout: time.Duration(f.StopTimeoutNs),
		Stdin: f.Stdin, StdinOnce: f.StdinOnce, AttachReplay: f.AttachReplay, OnExit: f.OnExit,
		Restart: f.Restart, Health: f.Health, NetNS: f.NetNS, HostNetwork: f.HostNetwork, DNS: f.DNS,
		Unpublish: f.Unpublish, EventsDir: f.EventsDir, EventAttributes: f.EventAttrs,
	}
}

// check refuses a Spec the monitor could not serve.
func (s *Spec) check() error {
	if s.ID == "" {
		return errors.New("monitor: spec: empty id")
	}
	if !filepath.IsAbs(s.Bundle) || !filepath.IsAbs(s.RunDir) {
		return fmt.Errorf("monitor %s: spec: bundle %q and run dir %q must be absolute", s.ID, s.Bundle, s.RunDir)
	}
	if p := socketPath(s.RunDir); len(p) > maxSocketPath {
		return fmt.Errorf("monitor %s: spec: socket path %s is %d bytes, the limit is %d", s.ID, p, len(p), maxSocketPath)
	}
	if s.EventsDir != "" && !filepath.IsAbs(s.EventsDir) {
		return fmt.Errorf("monitor %s: spec: events directory %q is not an absolute path", s.ID, s.EventsDir)
	}
	if len(s.OnExit) > 0 && !filepath.IsAbs(s.OnExit[0]) {
		return fmt.Errorf("monitor %s: spec: on-exit program %q is not an absolute path", s.ID, s.OnExit[0])
	}
	switch s.Restart.Name {
	case "", RestartNo, RestartAlways, RestartOnFailure, RestartUnlessStopped:
	default:
		return fmt.Errorf("monitor %s: spec: unknown restart policy %q", s.ID, s.Restart.Name)
	}
	if s.Restart.MaxRetries < 0 || s.Restart.MaxRetries > 0 && s.Restart.Name != RestartOnFailure {
		return fmt.Errorf("monitor %s: spec: maximum retry count %d needs on-failure and cannot be negative", s.ID, s.Restart.MaxRetries)
	}
	if h := s.Health; h != nil {
		if len(h.Test) < 2 || h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL" {
			return fmt.Errorf("monitor %s: spec: healthcheck test %q must be CMD or CMD-SHELL with a command", s.ID, h.Test)
		}
		if h.Interval <= 0 || h.Timeout <= 0 || h.StartInterval <= 0 || h.StartPeriod < 0 || h.Retries < 1 {
			return fmt.Errorf("monitor %s: spec: healthcheck durations and retries must be set", s.ID)
		}
	}
	if s.HostNetwork && s.NetNS != "" {
		return fmt.Errorf("monitor %s: spec: the host's network and a namespace of its own", s.ID)
	}
	if s.DNS != nil && s.NetNS == "" {
		return fmt.Errorf("monitor %s: spec: a DNS server needs the container's network namespace", s.ID)
	}
	if s.StopSignal < 0 || s.StopSignal > 64 {
		return fmt.Errorf("monitor %s: spec: invalid stop signal %d", s.ID, s.StopSignal)
	}
	return nil
}

func (s *Spec) stopSignal() syscall.Signal {
	if s.StopSignal == 0 {
		return syscall.SIGTERM
	}
	return s.StopSignal
}

func (s *Spec) stopTimeout() time.Duration {
	if s.StopTimeout == 0 {
		return DefaultStopTimeout
	}
	return s.StopTimeout
}

func socketPath(runDir string) string { return filepath.Join(runDir, socketName) }

// writeJSONAtomic replaces path with v as JSON: temp file in the same
// directory, fsync, rename, fsync of the directory, so a reader sees the
// old or the new content, never a torn one, even after a crash.
func writeJSONAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: the rename is already visible
		d.Close()
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// readSpec loads config.json of bundle.
func readSpec(bundle string) (Spec, error) {
	var f specFile
	if err := readJSON(filepath.Join(bundle, configFile), &f); err != nil {
		return Spec{}, fmt.Errorf("monitor: read spec: %w", err)
	}
	return f.spec(), nil
}

// request and response are the control socket's protocol.
type request struct {
	Op        string `json:"op"`
	Signal    int    `json:"signal,omitempty"`
	TimeoutMs *int64 `json:"timeout_ms,omitempty"`
	// Attach's options.
	Stdin  bool `json:"stdin,omitempty"`
	Remove bool `json:"remove,omitempty"`
	// Keep: stop without running Spec.OnExit (a restart).
	Keep bool `json:"keep,omitempty"`
	// Exec's process; Detach leaves it running when the client goes.
	Exec   *pid1.ExecRequest `json:"exec,omitempty"`
	Detach bool              `json:"detach,omitempty"`
	// DNS is the container's DNS server after a network connect or
	// disconnect.
	DNS *DNSConfig `json:"dns,omitempty"`
}

type response struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	State *State `json:"state,omitempty"`
}
