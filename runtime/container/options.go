package container

import (
	"encoding/json"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	mobyseccomp "github.com/moby/profiles/seccomp"
	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/runtime/cgroup"
	"github.com/berth-sh/berth/runtime/jsonlog"
	"github.com/berth-sh/berth/runtime/monitor"
	"github.com/berth-sh/berth/runtime/pid1"
	"github.com/berth-sh/berth/runtime/process"
	"github.com/berth-sh/berth/runtime/rootfs"
	"github.com/berth-sh/berth/runtime/seccomp"
)

// minMemory is Docker's minimum --memory (linuxMinMemory).
const minMemory = 6 * 1024 * 1024

// checkOptions validates what does not need the image and resolves the
// security settings: capabilities, rlimits, no_new_privs, the seccomp
// profile and the stop signal.
func checkOptions(o Options) (resolved, error) {
	var r resolved
	if err := process.CheckSysctlsIn(o.Sysctls, process.Namespaces{HostNetwork: o.NetworkMode == "host"}); err != nil {
		return r, invalid(err)
	}
	if o.Domainname != "" && o.NetworkMode == "host" {
		return r, invalidf("conflicting options: domainname and the network mode host")
	}
	if o.Memory < 0 {
		return r, invalidf("invalid memory limit %d: must be positive", o.Memory)
	}
	if o.Memory > 0 && o.Memory < minMemory {
		return r, invalidf("Minimum memory limit allowed is 6MB")
	}
	if n := goruntime.NumCPU(); o.CPUs < 0 || o.CPUs > 0 && o.CPUs < 0.01 || o.CPUs > float64(n) {
		return r, invalidf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n)
	}
	restart, err := ParseRestartPolicy(o.Restart)
	if err != nil {
		return r, err
	}
	if o.AutoRemove && restart.Name != "" && restart.Name != monitor.RestartNo {
		return r, invalidf("Conflicting options: --restart and --rm")
	}
	if err := checkHealth(o.Health); err != nil {
		return r, err
	}
	if o.LogDriver != "" && o.LogDriver != "json-file" {
		return r, invalidf("logging driver %q is not supported by berth: it writes json-file logs", o.LogDriver)
	}
	if _, err := jsonlog.ParseOptions(o.LogOpts); err != nil {
		return r, invalid(err)
	}
	for t, opts := range o.Tmpfs {
		if _, err := tmpfsMount(t, opts); err != nil {
			return r, err
		}
	}
	if o.PidsLimit < -1 {
		return r, invalidf("invalid pids limit %d: use -1 for unlimited", o.PidsLimit)
	}
	caps, err := process.Capabilities(o.CapAdd, o.CapDrop, o.Privileged)
	if err != nil {
		return r, invalid(err)
	}
	r.Capabilities = caps
	for _, u := range o.Ulimits {
		rl, err := process.ParseUlimit(u)
		if err != nil {
			return r, invalid(err)
		}
		r.Rlimits = append(r.Rlimits, rl)
	}
	profile := "default"
	if o.Privileged {
		// Docker runs privileged containers unconfined.
		profile = "unconfined"
	}
	for _, opt := range o.SecurityOpt {
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			k, v, ok = strings.Cut(opt, ":")
		}
		switch {
		case k == "no-new-privileges" && !ok:
			r.NoNewPrivs = true
		case k == "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return r, invalidf("invalid --security-opt 2: %q", opt)
			}
			r.NoNewPrivs = b
		case k == "seccomp" && ok && v != "":
			if !o.Privileged {
				profile = v
			}
		default:
			return r, invalidf("invalid --security-opt: %q", opt)
		}
	}
	switch profile {
	case "unconfined":
	case "default":
		b, err := json.Marshal(seccomp.Default())
		if err != nil {
			return r, err
		}
		r.Seccomp = b
	default:
		p, err := seccomp.LoadProfile(profile)
		if err != nil {
			return r, invalidf("opening seccomp profile (%s) failed: %v", profile, err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			return r, err
		}
		r.Seccomp = b
	}
	if o.StopSignal != "" {
		sig, err := ParseSignal(o.StopSignal)
		if err != nil {
			return r, err
		}
		r.StopSignal = int(sig)
	}
	return r, nil
}

// ParseSignal reads a signal as Docker does: "SIGTERM", "TERM", "term" or "15".
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return 0, invalidf("Invalid signal: %s", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, invalidf("Invalid signal: %s", s)
}

// seccompFilter compiles the stored profile against the container's
// capabilities; nil is unconfined.
func (c *Container) seccompFilter() ([]seccomp.SockFilter, error) {
	if len(c.Process.Seccomp) == 0 {
		return nil, nil
	}
	var p mobyseccomp.Seccomp
	if err := json.Unmarshal(c.Process.Seccomp, &p); err != nil {
		return nil, invalidf("seccomp profile: %v", err)
	}
	prog, err := seccomp.Compile(&p, seccomp.Options{Capabilities: c.Process.Capabilities})
	if err != nil {
		return nil, invalidf("seccomp profile: %v", err)
	}
	f, err := seccomp.Assemble(prog)
	if err != nil {
		return nil, invalidf("seccomp profile: %v", err)
	}
	return f, nil
}

// stopTimeout is the container's grace period for stop.
func (c *Container) stopTimeout() time.Duration {
	if t := c.Options.StopTimeout; t != nil {
		if *t < 0 {
			return -1
		}
		return time.Duration(*t) * time.Second
	}
	return monitor.DefaultStopTimeout
}

// spec is what the monitor runs for this container.
func (c *Container) spec() (monitor.Spec, error) {
	filter, err := c.seccompFilter()
	if err != nil {
		return monitor.Spec{}, err
	}
	o, p := c.Options, c.Process
	mounts, err := c.tmpfsMounts()
	if err != nil {
		return monitor.Spec{}, err
	}
	vm, err := c.volumeMounts()
	if err != nil {
		return monitor.Spec{}, err
	}
	mounts = append(mounts, vm...)
	fm, err := c.fileMounts()
	if err != nil {
		return monitor.Spec{}, err
	}
	mounts = append(mounts, fm...)
	logOpts, err := jsonlog.ParseOptions(o.LogOpts)
	if err != nil {
		return monitor.Spec{}, invalid(err)
	}
	restart, err := ParseRestartPolicy(o.Restart)
	if err != nil {
		return monitor.Spec{}, err
	}
	nsPath, addrs, first, err := c.plug()
	if err != nil {
		return monitor.Spec{}, err
	}
	c.first = first
	if strings.HasPrefix(c.Options.NetworkMode, "container:") {
		if nsPath, err = c.sharedNetNS(); err != nil {
			return monitor.Spec{}, err
		}
	}
	host, err := os.ReadFile(hostResolvConf)
	if err != nil && !os.IsNotExist(err) {
		return monitor.Spec{}, fmt.Errorf("read the host's resolv.conf: %w", err)
	}
	etc, err := c.writeEtcFiles(host, addrs)
	if err != nil {
		return monitor.Spec{}, err
	}
	mounts = append(etc, mounts...)
	rs := rootfs.Spec{Root: c.rootfsPath(), ReadOnly: o.ReadOnly, Privileged: o.Privileged, Mounts: mounts}
	if o.Privileged {
		// Docker gives a privileged container the host's devices.
		devs, err := rootfs.HostDevices()
		if err != nil {
			return monitor.Spec{}, err
		}
		rs.Devices = devs
	}
	return monitor.Spec{
		ID:     c.ID,
		Bundle: c.bundle,
		RunDir: c.RunDir,
		Init: pid1.Config{
			Rootfs:          rs,
			Hostname:        p.Hostname,
			Sysctls:         c.sysctls(),
			HostNetwork:     c.Options.NetworkMode == "host",
			Args:            p.Args,
			Env:             p.Env,
			Cwd:             p.Cwd,
			User:            p.User,
			Capabilities:    p.Capabilities,
			NoNewPrivileges: p.NoNewPrivs,
			Seccomp:         filter,
			Rlimits:         p.Rlimits,
			Tty:             o.Tty,
		},
		NetNS:       nsPath,
		HostNetwork: c.Options.NetworkMode == "host",
		Unpublish:   len(c.portSpecs()) > 0,
		DNS:         c.dnsConfig(host),
		Log:         logOpts,
		Restart:     restart,
		Health:      healthConfig(c.Process.ImageHealth, o.Health),
		Stdin:       o.OpenStdin,
		StdinOnce:   o.StdinOnce,
		Cgroup:      cgroup.Resources{Memory: o.Memory, CPUs: o.CPUs, PidsLimit: o.PidsLimit},
		StopSignal:  syscall.Signal(p.StopSignal),
		StopTimeout: c.stopTimeout(),

		EventsDir:       c.eventsDir(),
		EventAttributes: c.eventAttributes(),
	}, nil
}

// sysctls are what the container's init writes: Docker's defaults for a
// container with a network namespace of its own (non-root processes may
// bind ports below 1024 and ping), the domain name, then --sysctl's.
func (c *Container) sysctls() map[string]string {
	out := map[string]string{}
	if mode := c.Options.NetworkMode; mode == "" || mode == "none" {
		out["net.ipv4.ip_unprivileged_port_start"] = "0"
		out["net.ipv4.ping_group_range"] = "0 2147483647"
	}
	if c.Options.Domainname != "" {
		out["kernel.domainname"] = c.Options.Domainname
	}
	for k, v := range c.Options.Sysctls {
		for _, dflt := range []string{"net.ipv4.ip_unprivileged_port_start", "net.ipv4.ping_group_range"} {
			if strings.ReplaceAll(k, "/", ".") == dflt {
				delete(out, dflt)
			}
		}
		out[k] = v
	}
	return out
}
