package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-sh/berth/network"
	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/runtime/image"
)

// exitStatus is a container's own exit code, which berth exits with (run,
// wait): it is not a failure of berth's, so execute prints nothing for it.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func newContainerCommand(g *globalOptions, s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container COMMAND",
		Short: "Manage containers",
		Example: `  berth container run --rm busybox echo hello
  berth container run -d --name web app:latest
  berth container ls -a`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newContainerRunCommand(g, s),
		newContainerCreateCommand(g, s),
		newContainerStartCommand(g, s),
		newContainerListCommand(g, s),
		newContainerStopCommand(g, s),
		newContainerKillCommand(g, s),
		newContainerRemoveCommand(g, s),
		newContainerLogsCommand(g, s),
		newContainerInspectCommand(g, s),
		newContainerWaitCommand(g, s),
		newContainerPauseCommand(g, s),
		newContainerUnpauseCommand(g, s),
		newContainerTopCommand(g, s),
		newContainerStatsCommand(g, s),
		newContainerRestartCommand(g, s),
		newContainerExecCommand(g, s),
		newContainerAttachCommand(g, s),
		newContainerPortCommand(g, s),
		newContainerCopyCommand(g, s),
	)
	return cmd
}

// createOptions are docker create's flags that berth implements; run adds
// its own.
type createOptions struct {
	rm          bool
	env         []string
	envFiles    []string
	name        string
	entrypoint  string
	workdir     string
	user        string
	hostname    string
	memory      string
	cpus        string
	pidsLimit   int64
	capAdd      []string
	capDrop     []string
	privileged  bool
	readOnly    bool
	ulimits     []string
	securityOpt []string
	stopSignal  string
	stopTimeout int
	labels      []string
	interactive bool
	tty         bool
	tmpfs       []string
	volumes     []string
	mounts      []string
	volumesFrom []string
	logDriver   string
	logOpts     []string
	pull        string
	stdinOnce   bool // set by run, not a flag
	detachKeys  string
	restart     string
	health      container.HealthOptions
	healthCmd   string
	networks    []string
	aliases     []string
	ip          string
	ip6         string
	links       []string
	sysctls     []string
	domainname  string
	expose      []string
	mac         string
	dns         []string
	dnsSearch   []string
	dnsOptions  []string
	publish     []string
	publishAll  bool
	addHosts    []string
}

func (o *createOptions) addFlags(f *pflag.FlagSet) {
	// Flags after the image belong to the container's command.
	f.SetInterspersed(false)
	// -h is --hostname, as in Docker, so help is --help only; cobra would
	// otherwise claim -h for it.
	f.Bool("help", false, "Print usage")
	f.BoolVar(&o.rm, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	f.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	f.StringArrayVar(&o.envFiles, "env-file", nil, "Read in a file of environment variables")
	f.StringVar(&o.name, "name", "", "Assign a name to the container")
	f.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	f.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	f.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	f.StringVarP(&o.memory, "memory", "m", "", "Memory limit")
	f.StringVar(&o.cpus, "cpus", "", "Number of CPUs")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	f.StringArrayVar(&o.capAdd, "cap-add", nil, "Add Linux capabilities")
	f.StringArrayVar(&o.capDrop, "cap-drop", nil, "Drop Linux capabilities")
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to this container")
	f.BoolVar(&o.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	f.StringArrayVar(&o.ulimits, "ulimit", nil, "Ulimit options")
	f.StringArrayVar(&o.securityOpt, "security-opt", nil, "Security Options")
	f.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	f.IntVar(&o.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	f.StringArrayVarP(&o.labels, "label", "l", nil, "Set meta data on a container")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.StringArrayVar(&o.tmpfs, "tmpfs", nil, "Mount a tmpfs directory")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "Bind mount a volume")
	f.StringArrayVar(&o.mounts, "mount", nil, "Attach a filesystem mount to the container")
	f.StringArrayVar(&o.volumesFrom, "volumes-from", nil, "Mount volumes from the specified container(s)")
	f.StringVar(&o.logDriver, "log-driver", "", "Logging driver for the container (json-file)")
	f.StringArrayVar(&o.logOpts, "log-opt", nil, "Log driver options")
	f.StringVar(&o.pull, "pull", "missing", `Pull image before creating ("always", "missing", "never")`)
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	f.StringVar(&o.restart, "restart", "no", "Restart policy to apply when a container exits")
	f.StringVar(&o.healthCmd, "health-cmd", "", "Command to run to check health")
	f.DurationVar(&o.health.Interval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	f.DurationVar(&o.health.Timeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	f.IntVar(&o.health.Retries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	f.DurationVar(&o.health.StartPeriod, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	f.DurationVar(&o.health.StartInterval, "health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	f.BoolVar(&o.health.Disable, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
	f.StringArrayVar(&o.networks, "network", nil, "Connect a container to a network")
	f.StringArrayVar(&o.networks, "net", nil, "Connect a container to a network")
	_ = f.MarkHidden("net")
	f.StringArrayVar(&o.aliases, "network-alias", nil, "Add network-scoped alias for the container")
	f.StringVar(&o.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	f.StringVar(&o.ip6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	f.StringVar(&o.mac, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	f.StringArrayVar(&o.dns, "dns", nil, "Set custom DNS servers")
	f.StringArrayVar(&o.dnsSearch, "dns-search", nil, "Set custom DNS search domains")
	f.StringArrayVar(&o.dnsOptions, "dns-option", nil, "Set DNS options")
	f.StringArrayVarP(&o.publish, "publish", "p", nil, "Publish a container's port(s) to the host")
	f.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	f.StringArrayVar(&o.addHosts, "add-host", nil, "Add a custom host-to-IP mapping (host:ip)")
	f.StringArrayVar(&o.links, "link", nil, "Add link to another container (name[:alias])")
	f.StringArrayVar(&o.expose, "expose", nil, "Expose a port or a range of ports")
	f.StringArrayVar(&o.sysctls, "sysctl", nil, "Sysctl options (KEY=VALUE)")
	f.StringVar(&o.domainname, "domainname", "", "Container NIS domain name")
}

// options turns the flags and arguments (IMAGE [COMMAND] [ARG...]) into
// container.Options; bad values match container.ErrInvalid.
func (o *createOptions) options(f *pflag.FlagSet, args []string) (container.Options, error) {
	c := container.Options{
		Name: o.name, Image: args[0], Cmd: args[1:], WorkingDir: o.workdir, User: o.user,
		Hostname: o.hostname, PidsLimit: o.pidsLimit, CapAdd: o.capAdd, CapDrop: o.capDrop,
		Privileged: o.privileged, ReadOnly: o.readOnly, Ulimits: o.ulimits,
		SecurityOpt: o.securityOpt, StopSignal: o.stopSignal, AutoRemove: o.rm,
		OpenStdin: o.interactive, StdinOnce: o.stdinOnce, Tty: o.tty,
	}
	if o.restart != "no" {
		c.Restart = o.restart
	}
	for _, d := range o.dns {
		if _, err := netip.ParseAddr(d); err != nil {
			return c, container.Invalid(fmt.Errorf("%s is not an ip address", d))
		}
	}
	c.DNS, c.DNSSearch, c.DNSOptions = o.dns, o.dnsSearch, o.dnsOptions
	ports, err := network.ParsePorts(o.publish)
	if err != nil {
		return c, container.Invalid(err)
	}
	c.Ports, c.PublishAll, c.ExtraHosts, c.Links, c.Expose = ports, o.publishAll, o.addHosts, o.links, o.expose
	c.Domainname = o.domainname
	for _, kv := range o.sysctls {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return c, container.Invalid(fmt.Errorf("invalid argument %q for \"--sysctl\" flag: sysctl %q is not in a key=value format", kv, kv))
		}
		if c.Sysctls == nil {
			c.Sysctls = map[string]string{}
		}
		c.Sysctls[k] = v
	}
	for i, name := range o.networks {
		if name == "host" || name == "none" || strings.HasPrefix(name, "container:") {
			if len(o.networks) > 1 {
				return c, container.Invalid(errors.New("conflicting options: cannot attach both user-defined and non-user-defined network-modes"))
			}
			c.NetworkMode = name
			break
		}
		a := network.Attachment{Network: name}
		if i == 0 {
			// As Docker: --network-alias, --ip and --mac-address are for the first network.
			a.Aliases, a.IPv4, a.IPv6, a.MAC = o.aliases, o.ip, o.ip6, o.mac
		}
		c.Networks = append(c.Networks, a)
	}
	if len(c.Networks) == 0 && c.NetworkMode == "" {
		if len(o.aliases) > 0 || o.ip != "" || o.ip6 != "" {
			return c, container.Invalid(errors.New("--network-alias, --ip and --ip6 need a user-defined network (--network)"))
		}
		// As Docker: a container without --network is on the default bridge.
		c.Networks = []network.Attachment{{Network: network.DefaultNetwork, MAC: o.mac}}
	}
	if o.healthCmd != "" {
		// docker run's --health-cmd is a shell command.
		o.health.Test = []string{"CMD-SHELL", o.healthCmd}
	}
	if h := o.health; len(h.Test) > 0 || h.Interval != 0 || h.Timeout != 0 || h.StartPeriod != 0 || h.StartInterval != 0 || h.Retries != 0 || h.Disable {
		c.Health = &h
	}
	tmpfs, err := container.ParseTmpfs(o.tmpfs)
	if err != nil {
		return c, err
	}
	c.Tmpfs = tmpfs
	cwd, err := os.Getwd()
	if err != nil {
		return c, err
	}
	for _, v := range o.volumes {
		m, err := container.ParseVolume(v, cwd)
		if err != nil {
			return c, err
		}
		c.Mounts = append(c.Mounts, m)
	}
	c.VolumesFrom = o.volumesFrom
	for _, v := range o.mounts {
		m, err := container.ParseMount(v, cwd)
		if err != nil {
			return c, err
		}
		c.Mounts = append(c.Mounts, m)
	}
	c.LogDriver = o.logDriver
	for _, kv := range o.logOpts {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return c, container.Invalid(fmt.Errorf("invalid key value pair format in logging opts: %s", kv))
		}
		if c.LogOpts == nil {
			c.LogOpts = map[string]string{}
		}
		c.LogOpts[k] = v
	}
	if f.Changed("entrypoint") {
		// --entrypoint "" clears the image's entrypoint, as in Docker.
		c.EntrypointSet, c.Entrypoint = true, []string{}
		if o.entrypoint != "" {
			c.Entrypoint = []string{o.entrypoint}
		}
	}
	if f.Changed("stop-timeout") {
		t := o.stopTimeout
		c.StopTimeout = &t
	}
	if o.memory != "" {
		m, err := units.RAMInBytes(o.memory)
		if err != nil {
			return c, container.Invalid(fmt.Errorf("invalid argument %q for \"-m, --memory\" flag: %w", o.memory, err))
		}
		c.Memory = m
	}
	if o.cpus != "" {
		n, err := strconv.ParseFloat(o.cpus, 64)
		if err != nil {
			return c, container.Invalid(fmt.Errorf("invalid argument %q for \"--cpus\" flag: failed to parse %s as a rational number", o.cpus, o.cpus))
		}
		c.CPUs = n
	}
	for _, file := range o.envFiles {
		env, err := readEnvFile(file)
		if err != nil {
			return c, container.Invalid(err)
		}
		c.Env = append(c.Env, env...)
	}
	c.Env = append(c.Env, withHostValues(o.env)...)
	if len(o.labels) > 0 {
		c.Labels = map[string]string{}
		for _, l := range o.labels {
			k, v, _ := strings.Cut(l, "=")
			if k == "" {
				return c, container.Invalid(fmt.Errorf("invalid label %q: empty name", l))
			}
			c.Labels[k] = v
		}
	}
	return c, nil
}

// withHostValues gives "KEY" without "=" the CLI's value of KEY, as docker
// run -e does; an unset KEY stays bare, which unsets it in the container.
func withHostValues(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.Contains(kv, "=") {
			if v, ok := os.LookupEnv(kv); ok {
				kv += "=" + v
			}
		}
		out = append(out, kv)
	}
	return out
}

// readEnvFile reads docker's --env-file format: KEY=VALUE or KEY lines,
// blank lines and # comments skipped, values taken literally.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return withHostValues(lines), nil
}

// createContainer makes the container the flags describe, pulling its image
// first as --pull says.
func createContainer(ctx context.Context, g *globalOptions, s streams, o *createOptions, f *pflag.FlagSet, args []string) (*container.Container, *image.Local, error) {
	opts, err := o.options(f, args)
	if err != nil {
		return nil, nil, err
	}
	l, err := openImages(g)
	if err != nil {
		return nil, nil, err
	}
	if err := ensureImage(ctx, l, s, opts.Image, o.pull); err != nil {
		return nil, nil, err
	}
	c, err := container.Create(ctx, l, g.root, g.runRoot, opts)
	return c, l, err
}

// ensureImage pulls the image as docker run's --pull policy says: always,
// when missing (saying so first, as Docker does), or never. Pull progress
// goes to stderr, which keeps stdout for the container.
func ensureImage(ctx context.Context, l *image.Local, s streams, name, policy string) error {
	switch policy {
	case "missing", "always", "never":
	default:
		return container.Invalid(fmt.Errorf("invalid pull option: '%s': must be one of \"always\", \"missing\" or \"never\"", policy))
	}
	if policy == "never" {
		return nil
	}
	if policy == "missing" {
		_, err := l.Resolve(name)
		if err == nil {
			return nil
		}
		if !errors.Is(err, image.ErrNotFound) {
			return err
		}
	}
	ref, err := image.ParseReference(name)
	if err != nil {
		// An ID prefix, say: nothing to pull, Create reports it.
		return nil
	}
	if policy == "missing" {
		fmt.Fprintf(s.err, "Unable to find image '%s' locally\n", ref.Familiar())
	}
	_, err = l.Pull(ctx, ref, image.PullOptions{
		RemoteOptions: image.RemoteOptions{Progress: progressFor(s.err, false), UserAgent: "berth/" + version},
	})
	if err != nil {
		if ctx.Err() != nil {
			// Interrupted (Ctrl-C): 130, as any interrupted command.
			return ctx.Err()
		}
		return container.Invalid(err)
	}
	return nil
}

func newContainerCreateCommand(g *globalOptions, s streams) *cobra.Command {
	o := &createOptions{}
	cmd := &cobra.Command{
		Use:     "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short:   "Create a new container",
		Example: `  berth container create --name web -m 256m app:latest`,
		Args:    containerImageArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := createContainer(cmd.Context(), g, s, o, cmd.Flags(), args)
			if err != nil {
				return err
			}
			fmt.Fprintln(s.out, c.ID)
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// containerImageArgs requires the image, with Docker's words.
func containerImageArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usageError{cmd: cmd, err: fmt.Errorf("%q requires at least 1 argument", cmd.CommandPath())}
	}
	return nil
}

func newContainerStartCommand(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:     "start CONTAINER [CONTAINER...]",
		Short:   "Start one or more stopped containers",
		Example: `  berth container start web`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := openImages(g)
			if err != nil {
				return err
			}
			return eachContainer(g, args, func(c *container.Container, arg string) error {
				if err := c.Start(cmd.Context(), l); err != nil {
					return err
				}
				fmt.Fprintln(s.out, arg)
				return nil
			})
		},
	}
}

// eachContainer runs f for every named container, going on after a
// failure as Docker does; the failures are returned together.
func eachContainer(g *globalOptions, args []string, f func(c *container.Container, arg string) error) error {
	var errs []error
	for _, a := range args {
		c, err := container.Lookup(g.root, a)
		if err == nil {
			err = f(c, a)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stopTimeoutFlag is stop's and restart's -t: nil when not given (the
// container's own timeout), negative seconds waiting for ever.
func stopTimeoutFlag(cmd *cobra.Command, seconds int) *time.Duration {
	if !cmd.Flags().Changed("timeout") {
		return nil
	}
	d := time.Duration(seconds) * time.Second
	if seconds < 0 {
		d = -1
	}
	return &d
}

func newContainerStopCommand(g *globalOptions, s streams) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:     "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short:   "Stop one or more running containers",
		Example: `  berth container stop -t 2 web`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t := stopTimeoutFlag(cmd, timeout)
			return eachContainer(g, args, func(c *container.Container, arg string) error {
				if err := c.Stop(cmd.Context(), t); err != nil {
					return err
				}
				fmt.Fprintln(s.out, arg)
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	return cmd
}

func newContainerKillCommand(g *globalOptions, s streams) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:     "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short:   "Kill one or more running containers",
		Example: `  berth container kill -s HUP web`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := container.ParseSignal(signal)
			if err != nil {
				return err
			}
			return eachContainer(g, args, func(c *container.Container, arg string) error {
				if err := c.Kill(cmd.Context(), sig); err != nil {
					return err
				}
				fmt.Fprintln(s.out, arg)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "Signal to send to the container")
	return cmd
}

func newContainerRemoveCommand(g *globalOptions, s streams) *cobra.Command {
	var force, removeVolumes bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more containers",
		Example: `  berth container rm -f web`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(g, args, func(c *container.Container, arg string) error {
				if err := c.Remove(cmd.Context(), force, removeVolumes); err != nil {
					return err
				}
				fmt.Fprintln(s.out, arg)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&removeVolumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	return cmd
}

func newContainerWaitCommand(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:     "wait CONTAINER [CONTAINER...]",
		Short:   "Block until one or more containers stop, then print their exit codes",
		Example: `  berth container wait web`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(g, args, func(c *container.Container, _ string) error {
				st, err := c.Wait(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintln(s.out, st.ExitCode)
				return nil
			})
		},
	}
}

func newContainerInspectCommand(g *globalOptions, s streams) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "inspect CONTAINER [CONTAINER...]",
		Short:   "Display detailed information on one or more containers",
		Example: `  berth container inspect web`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := []*container.Inspection{}
			err := eachContainer(g, args, func(c *container.Container, _ string) error {
				in, err := c.Inspect()
				if err == nil {
					out = append(out, in)
				}
				return err
			})
			// Docker prints what it found, then fails for the rest.
			if perr := printInspect(s.out, format, out); perr != nil {
				return perr
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}

func newContainerPortCommand(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Example: `  berth container port web
  berth container port web 80/tcp`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := container.Lookup(g.root, args[0])
			if err != nil {
				return err
			}
			found := false
			for _, p := range c.Published {
				key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
				hostPort := p.HostAddrPort() // [::]:8080 for IPv6, as Docker prints it
				switch {
				case len(args) == 1:
					fmt.Fprintf(s.out, "%s -> %s\n", key, hostPort)
				case args[1] == key || args[1] == strconv.Itoa(int(p.ContainerPort)) && p.Proto == "tcp":
					fmt.Fprintf(s.out, "%s\n", hostPort)
					found = true
				}
			}
			if len(args) == 2 && !found {
				return dockerMessage(fmt.Sprintf("Error: No public port '%s' published for %s", args[1], c.Name))
			}
			return nil
		},
	}
}
