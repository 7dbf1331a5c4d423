package pid1

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/berth-sh/berth/runtime/process"
	"github.com/berth-sh/berth/runtime/rootfs"
	"github.com/berth-sh/berth/runtime/seccomp"
)

const (
	// ConfigFD is the descriptor on which the init reads its Config (JSON),
	// and on which the workload-exec mode reads its spec: the first entry of
	// exec.Cmd.ExtraFiles or syscall.ProcAttr.Files[3].
	ConfigFD = 3
	// ControlFD is the init's end of a SOCK_SEQPACKET socketpair with the
	// monitor (optional: an init started without one reports nothing). The
	// init sends Messages on it: the pty master for a Tty container, then
	// whether the workload's execve succeeded.
	ControlFD = 4
	// StatusFD is where the workload-exec mode reports a failure to start
	// the workload (a Message as JSON) before it exits; it is close-on-exec,
	// so a successful execve closes it with nothing written.
	StatusFD = 4
	// PidsFD is, with Config.PidsLimit, the container cgroup's pids.max
	// open for writing: the init's inherited fd 5, which it passes on to
	// the workload-exec mode as its fd 5.
	PidsFD = 5
	// WorkloadExecArg is argv[1] of berth re-executed by the init to become
	// the workload; main.go must call ExecWorkload when it sees it.
	WorkloadExecArg = "workload-exec"
	// DefaultUmask is the workload's umask unless Config.Umask says
	// otherwise: runc's (and so Docker's) default.
	DefaultUmask = 0o022
)

// Config is everything the init needs to build the container and start its
// workload. It travels as JSON on ConfigFD.
type Config struct {
	// Rootfs is prepared by rootfs.Prepare. Its Hostname is overridden by
	// Hostname when that is set.
	Rootfs rootfs.Spec
	// Hostname of the container's UTS namespace; empty keeps the one the
	// namespace was created with (the caller's).
	Hostname string
	// Args is the resolved argv of the workload (process.Args); Args[0] is
	// looked up in Env's PATH inside the container.
	Args []string
	// Env is the workload's complete environment (process.EnvWith).
	Env []string
	// Cwd is the absolute working directory in the container; "" means "/".
	Cwd string
	// User holds the uid, gid and the groups for setgroups.
	User process.User
	// Capabilities ("CAP_CHOWN", ...) become the bounding set and, for
	// root, the effective and permitted sets (process.Capabilities).
	// Inheritable and ambient sets are always empty, as with Docker.
	Capabilities []string
	// NoNewPrivileges sets PR_SET_NO_NEW_PRIVS for the workload
	// (security_opt no-new-privileges).
	NoNewPrivileges bool
	// Seccomp is the assembled filter (seccomp.Compile + seccomp.Assemble,
	// compiled by the caller against Capabilities); empty means unconfined.
	// The profile choice belongs to the caller, which can report a bad
	// profile before any namespace exists.
	Seccomp []seccomp.SockFilter
	// Rlimits are set on the workload (not on the init).
	Rlimits []process.Rlimit
	// Sysctls are written under /proc/sys before the rootfs is prepared;
	// only namespaced keys are allowed (process.CheckSysctlsIn).
	Sysctls map[string]string
	// HostNetwork says the init shares the host's network namespace
	// (network_mode: host), where net.* sysctls are refused. The init
	// cannot tell that by comparing with its parent as it does for the
	// other namespaces: the monitor's threads enter the container's
	// network namespace for a moment to start the init and its DNS server.
	HostNetwork bool `json:",omitempty"`
	// Umask of the workload; nil means DefaultUmask.
	Umask *uint32
	// Tty gives the workload a pty from the container's own devpts as its
	// stdin, stdout and stderr and makes it its controlling terminal; the
	// master goes to the monitor over ControlFD, which must be there.
	Tty bool `json:",omitempty"`
	// ConsoleSize is the pty's initial [height, width], as Docker's
	// HostConfig.ConsoleSize; zero leaves the kernel's default.
	ConsoleSize [2]uint16 `json:",omitzero"`
	// PidsLimit is the container's pids limit, which the workload writes to
	// PidsFD right before its execve: the monitor's limit until then leaves
	// room for the init and the workload-exec process's threads.
	PidsLimit int64 `json:",omitempty"`
}

// Message travels between the init and the monitor on ControlFD, one
// SOCK_SEQPACKET message each, as JSON. ExecID 0 is about the workload,
// others about the exec session of that id.
type Message struct {
	ExecID int `json:",omitempty"`
	// Pty (init to monitor): the message carries the pty master (SCM_RIGHTS).
	Pty bool `json:",omitempty"`
	// Started (init to monitor): the process's execve succeeded.
	Started bool `json:",omitempty"`
	// Error (init to monitor) is why the process could not be started,
	// with its exit code (126, 127 or 128, as Docker's).
	Error    string `json:",omitempty"`
	ExitCode int    `json:",omitempty"`
	// Exited (init to monitor): exec ExecID ended with ExitCode.
	Exited bool `json:",omitempty"`
	// Exec (monitor to init) starts a process in the container; without a
	// tty the message carries its stdin, stdout and stderr (SCM_RIGHTS).
	Exec *ExecRequest `json:",omitempty"`
	// Kill (monitor to init): SIGKILL exec ExecID and its process group,
	// whose client went away.
	Kill bool `json:",omitempty"`
	// Place (init to monitor): put process Place, which the init just
	// started for exec ExecID, into the container's cgroup (the init lives
	// outside it); Placed (monitor to init) says it is done.
	Place  int  `json:",omitempty"`
	Placed bool `json:",omitempty"`
	// Leave (init to monitor): move the init out of the container's cgroup
	// into its own, before the workload runs; Left (monitor to init) says it
	// is done. The workload stays where it was born.
	Leave bool `json:",omitempty"`
	Left  bool `json:",omitempty"`
}

// ExecRequest is one process to start in a running container (docker
// exec), resolved by the caller: the init adds the container's security
// settings (capabilities, seccomp, no_new_privs, rlimits).
type ExecRequest struct {
	Args []string
	Env  []string
	// Cwd is absolute; "" means "/".
	Cwd  string
	User process.User
	// Privileged gives the process every capability (exec --privileged).
	Privileged bool `json:",omitempty"`
	// Tty allocates a pty in the container; its master goes back to the
	// monitor in a Pty message.
	Tty         bool      `json:",omitempty"`
	ConsoleSize [2]uint16 `json:",omitzero"`
}

// workloadSpec is what the init hands to ExecWorkload on ConfigFD: the part
// of Config that describes the workload process.
type workloadSpec struct {
	Args            []string
	Env             []string
	Cwd             string
	User            process.User
	Capabilities    []string
	NoNewPrivileges bool
	Seccomp         []seccomp.SockFilter
	Rlimits         []process.Rlimit
	Umask           uint32
	PidsLimit       int64 `json:",omitempty"`
}

func (c *Config) workload() workloadSpec {
	umask := uint32(DefaultUmask)
	if c.Umask != nil {
		umask = *c.Umask
	}
	cwd := c.Cwd
	if cwd == "" {
		cwd = "/"
	}
	return workloadSpec{
		Args: c.Args, Env: c.Env, Cwd: cwd, User: c.User,
		Capabilities: c.Capabilities, NoNewPrivileges: c.NoNewPrivileges,
		Seccomp: c.Seccomp, Rlimits: c.Rlimits, Umask: umask,
	}
}

// ReadConfig decodes a Config written by the caller. Unknown fields are
// refused: a caller and an init from different berth builds must not
// silently disagree about what the container gets.
func ReadConfig(r io.Reader) (Config, error) {
	var c Config
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("pid1: read config: %w", err)
	}
	return c, nil
}
