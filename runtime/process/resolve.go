package process

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Overrides are what the user says on top of the image (compose service
// fields or docker run flags), already parsed.
type Overrides struct {
	Entrypoint    []string
	EntrypointSet bool // the field was given, even empty (see Args)
	Cmd           []string
	CmdSet        bool
	Env           []string // "KEY=VALUE", or "KEY" to unset
	WorkingDir    string   // "" = the image's
	User          string   // "" = the image's
	GroupAdd      []string
	Hostname      string // for HOSTNAME=; "" leaves it out
	Tty           bool   // adds TERM=xterm
}

// Process is what the init runs as PID 1's child.
type Process struct {
	Args []string
	Env  []string
	Cwd  string
	User User
}

// Resolve combines an image config with overrides into a Process, reading
// /etc/passwd and /etc/group from rootfs (see ResolveUser).
func Resolve(rootfs string, cfg v1.Config, o Overrides) (Process, error) {
	args, err := Args(cfg.Entrypoint, cfg.Cmd, o.Entrypoint, o.Cmd, o.EntrypointSet, o.CmdSet)
	if err != nil {
		return Process{}, err
	}
	if err := ValidateEnv(o.Env); err != nil {
		return Process{}, err
	}
	cwd, err := WorkingDir(cfg.WorkingDir, o.WorkingDir)
	if err != nil {
		return Process{}, err
	}
	spec := o.User
	if spec == "" {
		spec = cfg.User
	}
	u, err := ResolveUser(rootfs, spec, o.GroupAdd)
	if err != nil {
		return Process{}, fmt.Errorf("user %q: %w", spec, err)
	}
	env := WithHome(EnvWith(DefaultEnv(o.Hostname, o.Tty), cfg.Env, o.Env), u.Home)
	return Process{Args: args, Env: env, Cwd: cwd, User: u}, nil
}
