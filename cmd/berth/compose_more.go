package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/engine"
	"github.com/berth-sh/berth/network"
	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/runtime/image"
)

// composeMoreCommands are the project commands beside up, down, ps and the container ones:
// create, pull, ls, wait.
func composeMoreCommands(g *globalOptions, s streams) []*cobra.Command {
	return []*cobra.Command{
		newComposeCreateCommand(g, s),
		newComposePullCommand(g, s),
		newComposeLsCommand(g, s),
		newComposeWaitCommand(g, s),
		newComposeRunCommand(g, s),
		newComposeImagesCommand(g, s),
		newComposeEventsCommand(g, s),
		newComposePushCommand(g, s),
		newComposeBuildCommand(g, s),
		newConvertCommand(g, s),
		newDeployCommand(g, s),
	}
}

func newComposePushCommand(g *globalOptions, s streams) *cobra.Command {
	var ignoreFailures, quiet, includeDeps bool
	cmd := &cobra.Command{
		Use:     "push [OPTIONS] [SERVICE...]",
		Short:   "Push service images",
		Example: `  berth push web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			lo := g.loadOptions(args)
			lo.NoDeps = !includeDeps
			p, err := compose.Load(cmd.Context(), lo)
			if err != nil {
				return err
			}
			warnFindings(p.Findings)
			l, err := openImages(g)
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range slices.Sorted(maps.Keys(p.Services)) {
				svc := p.Services[name]
				// As docker compose: only the images a service builds and names are pushed.
				if svc.Build == nil || svc.Image == "" {
					fmt.Fprintf(s.err, " %s Skipped\n", name)
					continue
				}
				ref, err := image.ParseReference(svc.Image)
				if err != nil {
					errs = append(errs, fmt.Errorf("service %q: %w", name, err))
					continue
				}
				if err := pushServiceImage(cmd.Context(), l, s, name, ref, quiet); err != nil {
					if ignoreFailures {
						fmt.Fprintf(s.err, " %s Warning %v\n", name, err)
						continue
					}
					errs = append(errs, fmt.Errorf("service %q: %w", name, err))
				}
			}
			return composeError(errors.Join(errs...))
		},
	}
	cmd.Flags().BoolVar(&ignoreFailures, "ignore-push-failures", false, "Push what it can and ignores images with push failures")
	cmd.Flags().BoolVar(&includeDeps, "include-deps", false, "Also push images of services declared as dependencies")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Push without printing progress information")
	return cmd
}

// pushServiceImage pushes a service's image with docker compose's progress lines (push, and
// deploy --push).
func pushServiceImage(ctx context.Context, l *image.Local, s streams, service string, ref image.Reference, quiet bool) error {
	fmt.Fprintf(s.err, " %s Pushing\n", service)
	if _, err := l.Push(ctx, ref, image.RemoteOptions{Progress: progressFor(s.err, quiet), UserAgent: "berth/" + version}); err != nil {
		return err
	}
	fmt.Fprintf(s.err, " %s Pushed\n", service)
	return nil
}

func newComposeCreateCommand(g *globalOptions, s streams) *cobra.Command {
	o := engine.UpOptions{NoStart: true}
	var quietPull bool
	cmd := &cobra.Command{
		Use:     "create [OPTIONS] [SERVICE...]",
		Short:   "Creates containers for a service",
		Example: `  berth create web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.ForceRecreate && o.NoRecreate {
				return errors.New("--force-recreate and --no-recreate are incompatible")
			}
			p, err := loadProject(cmd.Context(), g, args)
			if err != nil {
				return err
			}
			if err := checkPullFlag(&o); err != nil {
				return err
			}
			e, err := newEngineQuiet(g, s, quietPull)
			if err != nil {
				return err
			}
			return composeError(e.Up(cmd.Context(), p.Project, o))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.ForceRecreate, "force-recreate", false, "Recreate containers even if their configuration hasn't changed")
	f.BoolVar(&o.NoRecreate, "no-recreate", false, "If containers already exist, don't recreate them")
	f.BoolVar(&o.RemoveOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	imageFlags(f, &o, &quietPull)
	return cmd
}

// imageFlags are up's and create's flags on how images are got: --pull, --build, --no-build,
// --quiet-pull.
func imageFlags(f *pflag.FlagSet, o *engine.UpOptions, quietPull *bool) {
	f.StringVar(&o.Pull, "pull", "policy", `Pull image before running ("always"|"missing"|"never"|"build")`)
	f.BoolVar(&o.Build, "build", false, "Build images before starting containers")
	f.BoolVar(&o.NoBuild, "no-build", false, "Don't build an image, even if it's policy")
	f.BoolVar(quietPull, "quiet-pull", false, "Pull without printing progress information")
}

// checkPullFlag checks --pull and --build/--no-build; "policy" (the default) leaves each
// service's pull_policy.
func checkPullFlag(o *engine.UpOptions) error {
	if o.Build && o.NoBuild {
		return errors.New("--build and --no-build are incompatible")
	}
	if o.Pull == "policy" {
		o.Pull = ""
	}
	if o.Pull != "" {
		if _, err := engine.PullPolicy(types.ServiceConfig{}, o.Pull); err != nil {
			return err
		}
	}
	return nil
}

func newComposePullCommand(g *globalOptions, s streams) *cobra.Command {
	var ignoreFailures, quiet bool
	cmd := &cobra.Command{
		Use:     "pull [OPTIONS] [SERVICE...]",
		Short:   "Pull service images",
		Example: `  berth pull`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject(cmd.Context(), g, args)
			if err != nil {
				return err
			}
			l, err := openImages(g)
			if err != nil {
				return err
			}
			quietStreams := s
			if quiet {
				quietStreams.err = io.Discard
			}
			var errs []error
			for _, name := range slices.Sorted(maps.Keys(p.Services)) {
				svc := p.Services[name]
				if svc.Image == "" {
					fmt.Fprintf(s.err, " %s Skipped - No image to be pulled\n", name)
					continue
				}
				ref := compose.ImageName(p.Project, svc, g.compatibility)
				fmt.Fprintf(s.err, " %s Pulling\n", name)
				if err := ensureImage(cmd.Context(), l, quietStreams, ref, "always"); err != nil {
					if ignoreFailures {
						fmt.Fprintf(s.err, " %s Warning %v\n", name, err)
						continue
					}
					errs = append(errs, fmt.Errorf("service %q: %w", name, err))
					continue
				}
				fmt.Fprintf(s.err, " %s Pulled\n", name)
			}
			return composeError(errors.Join(errs...))
		},
	}
	cmd.Flags().BoolVar(&ignoreFailures, "ignore-pull-failures", false, "Pull what it can and ignores images with pull failures")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Pull without printing progress information")
	return cmd
}

// lsRow is one project of `ls`, with docker compose's JSON field names.
type lsRow struct {
	Name, Status, ConfigFiles string
}

func newComposeLsCommand(g *globalOptions, s streams) *cobra.Command {
	var all, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Short:   "List running compose projects",
		Example: `  berth ls -a`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := container.List(cmd.Context(), g.root)
			if err != nil {
				return err
			}
			type counts struct {
				states map[string]int
				files  string
			}
			projects := map[string]*counts{}
			for _, c := range cs {
				name := c.Options.Labels[engine.LabelProject]
				if name == "" {
					continue
				}
				st, err := c.Status()
				if err != nil {
					return err
				}
				p := projects[name]
				if p == nil {
					p = &counts{states: map[string]int{}, files: c.Options.Labels["com.docker.compose.project.config_files"]}
					projects[name] = p
				}
				p.states[st.Status]++
			}
			var rows []lsRow
			for _, name := range slices.Sorted(maps.Keys(projects)) {
				p := projects[name]
				if !all && p.states[container.StatusRunning] == 0 {
					continue
				}
				// docker compose's form: running(2), exited(1)
				var status []string
				for _, st := range slices.Sorted(maps.Keys(p.states)) {
					status = append(status, fmt.Sprintf("%s(%d)", st, p.states[st]))
				}
				rows = append(rows, lsRow{Name: name, Status: strings.Join(status, ", "), ConfigFiles: p.files})
			}
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(s.out, r.Name)
				}
				return nil
			}
			return printListing(s.out, format, rows, func(tw io.Writer) {
				fmt.Fprintln(tw, "NAME\tSTATUS\tCONFIG FILES")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Status, r.ConfigFiles)
				}
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Show all stopped Compose projects")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display project names")
	cmd.Flags().StringVar(&format, "format", "", "Format the output. Values: [table | json]")
	return cmd
}

func newComposeWaitCommand(g *globalOptions, s streams) *cobra.Command {
	var downProject bool
	cmd := &cobra.Command{
		Use:     "wait SERVICE [SERVICE...] [OPTIONS]",
		Short:   "Block until containers of all (or specified) services stop.",
		Example: `  berth wait migrate`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := openProject(cmd.Context(), g, s, args)
			if err != nil {
				return err
			}
			var cs []*container.Container
			for _, c := range sc.containers {
				if slices.Contains(args, serviceOf(c)) && !isOneOff(c) {
					cs = append(cs, c)
				}
			}
			type exit struct {
				c    *container.Container
				code int
				err  error
			}
			exits := make(chan exit, len(cs))
			for _, c := range cs {
				go func() {
					st, err := c.Wait(cmd.Context())
					exits <- exit{c, st.ExitCode, err}
				}()
			}
			code := -1
			for range cs {
				x := <-exits
				if x.err != nil {
					return x.err
				}
				fmt.Fprintf(s.out, "%s exited with code %d\n", x.c.Name, x.code)
				if code < 0 {
					code = x.code // docker compose exits with the first container's code
				}
				if downProject {
					// The first container to stop drops the project.
					if err := sc.engine.Down(cmd.Context(), sc.name, engine.DownOptions{}); err != nil {
						return composeError(err)
					}
					break
				}
			}
			if code > 0 {
				return exitStatus(code)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&downProject, "down-project", false, "Drops project when the first container stops")
	return cmd
}

// composeRunOptions are `run`'s.
type composeRunOptions struct {
	detach, rm, noDeps, servicePorts, useAliases, noTTY, interactive bool
	env, publish, volumes                                            []string
	entrypoint, name, workdir, user                                  string
	entrypointSet                                                    bool
	build, quietPull                                                 bool
	pull                                                             string
}

func newComposeRunCommand(g *globalOptions, s streams) *cobra.Command {
	o := &composeRunOptions{}
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] SERVICE [COMMAND] [ARGS...]",
		Short: "Run a one-off command on a service",
		Example: `  berth run --rm web npm test
  berth run --rm -e DEBUG=1 --no-deps db sh`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.entrypointSet = cmd.Flags().Changed("entrypoint")
			return runOneOff(cmd, g, s, o, args)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // what follows SERVICE is the command
	f.BoolVarP(&o.detach, "detach", "d", false, "Run container in background and print container ID")
	f.BoolVar(&o.rm, "rm", false, "Automatically remove the container when it exits")
	f.BoolVar(&o.noDeps, "no-deps", false, "Don't start linked services")
	f.BoolVarP(&o.servicePorts, "service-ports", "P", false, "Run command with all service's ports enabled and mapped to the host")
	f.BoolVar(&o.useAliases, "use-aliases", false, "Use the service's network aliases in the network(s) the container connects to")
	f.BoolVarP(&o.noTTY, "no-TTY", "T", false, "Disable pseudo-TTY allocation (default: auto-detected)")
	f.BoolVarP(&o.interactive, "interactive", "i", true, "Keep STDIN open even if not attached")
	f.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	f.StringArrayVarP(&o.publish, "publish", "p", nil, "Publish a container's port(s) to the host")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "Bind mount a volume")
	f.StringVar(&o.entrypoint, "entrypoint", "", "Override the entrypoint of the image")
	f.StringVar(&o.name, "name", "", "Assign a name to the container")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	f.StringVarP(&o.user, "user", "u", "", "Run as specified username or uid")
	f.BoolVar(&o.build, "build", false, "Build image before starting container")
	f.StringVar(&o.pull, "pull", "policy", `Pull image before running ("always"|"missing"|"never")`)
	f.BoolVar(&o.quietPull, "quiet-pull", false, "Pull without printing progress information")
	return cmd
}

// runOneOff is docker compose run: a one-off container of the service (labelled oneoff, named
// <project>-<service>-run-<id>), its dependencies started first unless --no-deps, the service's
// ports published only with --service-ports, attached to the terminal unless -d.
func runOneOff(cmd *cobra.Command, g *globalOptions, s streams, o *composeRunOptions, args []string) error {
	ctx := cmd.Context()
	service := args[0]
	p, err := loadProject(ctx, g, []string{service})
	if err != nil {
		return err
	}
	svc, ok := p.Services[service]
	if !ok {
		return fmt.Errorf("no such service: %s", service)
	}
	e, err := newEngineQuiet(g, s, o.quietPull)
	if err != nil {
		return err
	}
	// The dependencies (as up would start them), then the project's networks and volumes.
	deps := p.WithServicesDisabled(service)
	if !o.noDeps && len(deps.Services) > 0 {
		if err := e.Up(ctx, deps, engine.UpOptions{}); err != nil {
			return composeError(err)
		}
	}
	if err := e.EnsureResources(p.Project); err != nil {
		return composeError(err)
	}
	opts, err := engine.ContainerOptions(p.Project, svc, 1, g.compatibility)
	if err != nil {
		return composeError(err)
	}
	id := make([]byte, 6)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	opts.Name = fmt.Sprintf("%s%s%s%srun%s%s", p.Name, compose.Separator(g.compatibility), service, compose.Separator(g.compatibility), compose.Separator(g.compatibility), hex.EncodeToString(id))
	if o.name != "" {
		opts.Name = o.name
	}
	opts.Labels[engine.LabelOneoff] = "True"
	opts.Restart = "" // a one-off is never restarted
	if len(args) > 1 {
		opts.Cmd = args[1:]
	}
	if o.entrypointSet {
		opts.Entrypoint, opts.EntrypointSet = nil, true
		if o.entrypoint != "" {
			opts.Entrypoint = strings.Fields(o.entrypoint)
		}
	}
	opts.Env = append(opts.Env, o.env...)
	if o.workdir != "" {
		opts.WorkingDir = o.workdir
	}
	if o.user != "" {
		opts.User = o.user
	}
	if !o.servicePorts {
		opts.Ports = nil
	}
	ports, err := network.ParsePorts(o.publish)
	if err != nil {
		return err
	}
	opts.Ports = append(opts.Ports, ports...)
	if !o.useAliases {
		for i := range opts.Networks {
			opts.Networks[i].Aliases = nil
		}
	}
	for _, v := range o.volumes {
		m, err := container.ParseVolume(v, p.WorkingDir)
		if err != nil {
			return err
		}
		opts.Mounts = append(opts.Mounts, m)
	}
	_, stdinTTY := terminalFd(s.in)
	opts.Tty = !o.noTTY && !o.detach && isTerminal(s.out) && stdinTTY
	opts.OpenStdin = o.interactive && !o.detach
	opts.StdinOnce = opts.OpenStdin
	opts.AutoRemove = o.rm
	io := engine.UpOptions{Build: o.build, Pull: o.pull}
	if err := checkPullFlag(&io); err != nil {
		return err
	}
	if err := e.EnsureServiceImage(ctx, p.Project, svc, opts.Image, io); err != nil {
		return composeError(err)
	}
	c, err := container.Create(ctx, e.Images, e.Root, e.RunRoot, opts)
	if err != nil {
		return composeError(err)
	}
	so := container.StartOptions{Attach: !o.detach}
	if opts.Tty {
		if fd, ok := terminalFd(s.out); ok {
			so.ConsoleSize = terminalSize(fd)
		}
	}
	if err := c.StartWith(ctx, e.Images, so); err != nil {
		if o.rm {
			_ = c.Remove(context.Background(), true, true)
		}
		return composeError(err)
	}
	if o.detach {
		fmt.Fprintln(s.out, c.Name)
		return nil
	}
	return runAttached(ctx, c, s, &createOptions{interactive: opts.OpenStdin, tty: opts.Tty, rm: o.rm})
}

// imagesRow is one line of `images`, with docker compose's JSON field names.
type imagesRow struct {
	ContainerName, Repository, Tag, ID, Size string
}

func newComposeImagesCommand(g *globalOptions, s streams) *cobra.Command {
	var quiet bool
	var format string
	cmd := &cobra.Command{
		Use:     "images [OPTIONS] [SERVICE...]",
		Short:   "List images used by the created containers",
		Example: `  berth images`,
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := openProject(cmd.Context(), g, s, args)
			if err != nil {
				return err
			}
			var rows []imagesRow
			for _, c := range sc.containers {
				if len(args) > 0 && !slices.Contains(args, serviceOf(c)) {
					continue
				}
				si, err := sc.engine.Images.Resolve(c.ImageID)
				if err != nil {
					continue // the image went (image rm -f): nothing to show
				}
				repo, tag := "<none>", "<none>"
				if ref, err := image.ParseReference(c.Options.Image); err == nil {
					full := ref.Familiar()
					repo, tag = full, "latest"
					if i := strings.LastIndex(full, ":"); i > strings.LastIndex(full, "/") {
						repo, tag = full[:i], full[i+1:]
					}
				}
				rows = append(rows, imagesRow{ContainerName: c.Name, Repository: repo, Tag: tag,
					ID: image.ShortID(c.ImageID), Size: units.HumanSizeWithPrecision(float64(sc.engine.Images.ImageSize(si)), 3)})
			}
			if quiet {
				seen := map[string]bool{}
				for _, r := range rows {
					if !seen[r.ID] {
						seen[r.ID] = true
						fmt.Fprintln(s.out, r.ID)
					}
				}
				return nil
			}
			return printListing(s.out, format, rows, func(tw io.Writer) {
				fmt.Fprintln(tw, "CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ContainerName, r.Repository, r.Tag, r.ID, r.Size)
				}
			})
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display IDs")
	cmd.Flags().StringVar(&format, "format", "", "Format the output. Values: [table | json]")
	return cmd
}
