package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-sh/berth/runtime/container"
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
}

// options turns the flags and arguments (IMAGE [COMMAND] [ARG...]) into
// container.Options; bad values match container.ErrInvalid.
func (o *createOptions) options(f *pflag.FlagSet, args []string) (container.Options, error) {
	c := container.Options{
		Name: o.name, Image: args[0], Cmd: args[1:], WorkingDir: o.workdir, User: o.user,
		Hostname: o.hostname, PidsLimit: o.pidsLimit, CapAdd: o.capAdd, CapDrop: o.capDrop,
		Privileged: o.privileged, ReadOnly: o.readOnly, Ulimits: o.ulimits,
		SecurityOpt: o.securityOpt, StopSignal: o.stopSignal, AutoRemove: o.rm,
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

// create makes the container the flags describe.
func createContainer(ctx context.Context, g *globalOptions, o *createOptions, f *pflag.FlagSet, args []string) (*container.Container, error) {
	opts, err := o.options(f, args)
	if err != nil {
		return nil, err
	}
	l, err := openImages(g)
	if err != nil {
		return nil, err
	}
	return container.Create(ctx, l, g.root, g.runRoot, opts)
}

func newContainerCreateCommand(g *globalOptions, s streams) *cobra.Command {
	o := &createOptions{}
	cmd := &cobra.Command{
		Use:     "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short:   "Create a new container",
		Example: `  berth container create --name web -m 256m app:latest`,
		Args:    containerImageArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := createContainer(cmd.Context(), g, o, cmd.Flags(), args)
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

func newContainerRunCommand(g *globalOptions, s streams) *cobra.Command {
	o := &createOptions{}
	var detach bool
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Example: `  berth container run --rm busybox echo hello
  berth container run -d --name web -m 256m --cpus 0.5 app:latest`,
		Args: containerImageArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := createContainer(ctx, g, o, cmd.Flags(), args)
			if err != nil {
				return err
			}
			l, err := openImages(g)
			if err == nil {
				err = c.Start(ctx, l)
			}
			if err != nil {
				if o.rm {
					_ = c.Remove(context.Background(), true)
				}
				return err
			}
			if detach {
				fmt.Fprintln(s.out, c.ID)
				return nil
			}
			return runForeground(ctx, c, s, o.rm)
		},
	}
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "Run container in background and print container ID")
	o.addFlags(cmd.Flags())
	return cmd
}

// runForeground streams the log of a started container until it exits and
// returns its exit status. A signal to the CLI (ctx) stops the container,
// and the output is still streamed to its end.
func runForeground(ctx context.Context, c *container.Container, s streams, rm bool) error {
	// The log is read with a context of its own: it must outlive ctx, which
	// ends with the CLI's signal.
	logsDone := make(chan error, 1)
	go func() {
		logsDone <- c.Logs(context.Background(), container.LogOptions{Follow: true, Tail: -1}, s.out, s.err)
	}()
	var logErr error
	select {
	case logErr = <-logsDone:
	case <-ctx.Done():
		if err := c.Stop(context.Background(), nil); err != nil {
			return err
		}
		logErr = <-logsDone
	}
	st, err := c.Wait(context.Background())
	if err != nil {
		return err
	}
	if rm {
		if err := c.Remove(context.Background(), true); err != nil {
			return err
		}
	}
	if logErr != nil {
		return logErr
	}
	if st.ExitCode != 0 {
		return exitStatus(st.ExitCode)
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

func newContainerStopCommand(g *globalOptions, s streams) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:     "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short:   "Stop one or more running containers",
		Example: `  berth container stop -t 2 web`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t *time.Duration
			if cmd.Flags().Changed("timeout") {
				d := time.Duration(timeout) * time.Second
				if timeout < 0 {
					d = -1
				}
				t = &d
			}
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
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more containers",
		Example: `  berth container rm -f web`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(g, args, func(c *container.Container, arg string) error {
				if err := c.Remove(cmd.Context(), force); err != nil {
					return err
				}
				fmt.Fprintln(s.out, arg)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
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
	return &cobra.Command{
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
			b, jerr := json.MarshalIndent(out, "", "    ")
			if jerr != nil {
				return jerr
			}
			// Docker prints what it found, then fails for the rest.
			fmt.Fprintln(s.out, string(b))
			return err
		},
	}
}
