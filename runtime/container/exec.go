package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"

	"github.com/berth-sh/berth/runtime/monitor"
	"github.com/berth-sh/berth/runtime/pid1"
	"github.com/berth-sh/berth/runtime/process"
)

// ExecOptions are docker exec's.
type ExecOptions struct {
	Cmd []string
	// Env is added to the container's environment ("KEY=VALUE").
	Env []string
	// User and WorkingDir default to the container's.
	User       string
	WorkingDir string
	Privileged bool
	Tty        bool
	// ConsoleSize is the tty's initial [height, width].
	ConsoleSize [2]uint16
	// Detach leaves the process running when the session is closed.
	Detach bool
}

// Exec starts a process in the running container through its init (so it
// has the container's namespaces, cgroup, root, capabilities and seccomp
// filter) and returns once it runs. Without Tty, stdio are its stdin,
// stdout and stderr. Bad options match ErrInvalid; a command that cannot be
// run is a *monitor.StartError (126, 127).
func (c *Container) Exec(ctx context.Context, o ExecOptions, stdio []*os.File) (*monitor.ExecSession, error) {
	if len(o.Cmd) == 0 {
		return nil, invalidf("exec needs a command")
	}
	if o.WorkingDir != "" && !path.IsAbs(o.WorkingDir) {
		return nil, invalidf("the working directory '%s' is invalid, it needs to be an absolute path", o.WorkingDir)
	}
	if err := process.ValidateEnv(o.Env); err != nil {
		return nil, invalid(err)
	}
	st, err := c.Status()
	if err != nil {
		return nil, err
	}
	switch st.Status {
	case StatusRunning:
	case StatusPaused:
		return nil, refusal(ErrPaused, "Container %s is paused, unpause the container before exec", c.ID)
	default:
		return nil, c.notRunning()
	}
	user := c.Process.User
	if o.User != "" {
		u, err := process.ResolveUser(c.rootfsPath(), o.User, nil)
		if err != nil {
			return nil, invalid(fmt.Errorf("user %q: %w", o.User, err))
		}
		user = u
	}
	defaults := []string{}
	if o.Tty {
		defaults = append(defaults, "TERM=xterm")
	}
	req := pid1.ExecRequest{
		Args:        o.Cmd,
		Env:         process.EnvWith(defaults, c.Process.Env, o.Env),
		Cwd:         c.Process.Cwd,
		User:        user,
		Privileged:  o.Privileged,
		Tty:         o.Tty,
		ConsoleSize: o.ConsoleSize,
	}
	if o.WorkingDir != "" {
		req.Cwd = o.WorkingDir
	}
	s, err := monitor.Exec(ctx, c.RunDir, req, stdio, o.Detach)
	if errors.Is(err, monitor.ErrNotRunning) {
		return nil, c.notRunning()
	}
	if err != nil {
		var se *monitor.StartError
		if errors.As(err, &se) {
			return nil, err
		}
		return nil, fmt.Errorf("exec in %s: %w", c.Name, err)
	}
	c.execEvents(o.Cmd)
	return s, nil
}
