package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/engine"
	"github.com/berth-sh/berth/runtime/container"
)

// newEngine is the compose engine on the state root, printing progress on stderr as docker
// compose does.
func newEngine(g *globalOptions, s streams) (*engine.Engine, error) {
	return newEngineQuiet(g, s, false)
}

// newEngineQuiet is newEngine whose pulls show no progress when quiet (--quiet-pull).
func newEngineQuiet(g *globalOptions, s streams, quiet bool) (*engine.Engine, error) {
	l, err := openImages(g)
	if err != nil {
		return nil, err
	}
	ps := s
	if quiet {
		ps.err = io.Discard
	}
	return &engine.Engine{
		Root: g.root, RunRoot: g.runRoot, Images: l, Out: s.err, Compatibility: g.compatibility,
		EnsureImage: func(ctx context.Context, ref, policy string) error { return ensureImage(ctx, l, ps, ref, policy) },
		Build: func(ctx context.Context, p *types.Project, svc types.ServiceConfig, ref string) error {
			return serviceBuild(ctx, g, s.err, composeBuildOptions{}, p, svc, ref)
		},
	}, nil
}

// composeError is err with docker compose's exit code, 1 for every failure (a container's bad
// input is 125 only for the container commands); an interrupt stays 130.
func composeError(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	return errors.New(err.Error())
}

// loadProject loads the project the run commands work on: berth refuses what it cannot run.
func loadProject(ctx context.Context, g *globalOptions, services []string) (*compose.Project, error) {
	p, err := compose.Load(ctx, g.loadOptions(services))
	if err != nil {
		return nil, err
	}
	warnFindings(p.Findings)
	return p, nil
}

func newUpCommand(g *globalOptions, s streams) *cobra.Command {
	var o engine.UpOptions
	var detach, wait, noDeps, quietPull bool
	var ao attachOptions
	var waitTimeout, timeout int
	var scale []string
	cmd := &cobra.Command{
		Use:   "up [OPTIONS] [SERVICE...]",
		Short: "Create and start containers",
		Example: `  berth up -d
  berth -f compose.yaml -f compose.dev.yaml up -d web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ao.exitCodeFrom != "" {
				ao.abortOnExit = true
			}
			if (detach || wait) && ao.abortOnExit {
				return errors.New("--abort-on-container-exit and --exit-code-from cannot be combined with --detach or --wait")
			}
			if o.ForceRecreate && o.NoRecreate {
				return errors.New("--force-recreate and --no-recreate are incompatible")
			}
			lo := g.loadOptions(args)
			lo.NoDeps = noDeps
			p, err := compose.Load(cmd.Context(), lo)
			if err != nil {
				return err
			}
			warnFindings(p.Findings)
			for _, sc := range scale {
				name, num, ok := strings.Cut(sc, "=")
				n, err := strconv.Atoi(num)
				if !ok || err != nil || n < 0 {
					return fmt.Errorf("invalid --scale %q: SERVICE=NUM", sc)
				}
				svc, ok := p.Services[name]
				if !ok {
					return fmt.Errorf("no such service: %s", name)
				}
				svc.Scale = &n
				p.Services[name] = svc
			}
			if err := checkPullFlag(&o); err != nil {
				return err
			}
			if cmd.Flags().Changed("timeout") {
				t := time.Duration(timeout) * time.Second
				o.Timeout, ao.timeout = &t, &t
			}
			for _, svc := range append(slices.Clone(ao.attach), ao.noAttach...) {
				if _, ok := p.Services[svc]; !ok {
					return fmt.Errorf("no such service: %s", svc)
				}
			}
			e, err := newEngineQuiet(g, s, quietPull)
			if err != nil {
				return err
			}
			if g.dryRun {
				plan, err := e.Plan(cmd.Context(), p.Project, o)
				if err != nil {
					return composeError(err)
				}
				for _, a := range plan {
					fmt.Fprintf(s.err, "DRY-RUN MODE -  %s\n", a)
				}
				return nil
			}
			if ao.exitCodeFrom != "" {
				if _, ok := p.Services[ao.exitCodeFrom]; !ok {
					return fmt.Errorf("no such service: %s", ao.exitCodeFrom)
				}
			}
			started := time.Now()
			if err := e.Up(cmd.Context(), p.Project, o); err != nil {
				return composeError(err)
			}
			if !detach && !wait {
				return attachedUp(cmd.Context(), e, s, p.Name, args, ao, started)
			}
			if !wait {
				return nil
			}
			ctx := cmd.Context()
			if waitTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Duration(waitTimeout)*time.Second)
				defer cancel()
			}
			if err := e.Wait(ctx, p.Project); err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					return fmt.Errorf("timeout waiting for the project's services after %ds", waitTimeout)
				}
				return composeError(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&detach, "detach", "d", false, "Detached mode: Run containers in the background")
	f.BoolVar(&o.ForceRecreate, "force-recreate", false, "Recreate containers even if their configuration hasn't changed")
	f.BoolVar(&o.NoRecreate, "no-recreate", false, "If containers already exist, don't recreate them")
	f.BoolVar(&o.NoStart, "no-start", false, "Don't start the services after creating them")
	f.BoolVar(&o.RemoveOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	f.BoolVar(&wait, "wait", false, "Wait for services to be running|healthy. Implies detached mode.")
	f.IntVar(&waitTimeout, "wait-timeout", 0, "Maximum duration in seconds to wait for the project to be running|healthy")
	f.BoolVar(&noDeps, "no-deps", false, "Don't start linked services")
	f.StringArrayVar(&scale, "scale", nil, "Scale SERVICE to NUM instances. Overrides the scale setting in the Compose file if present.")
	imageFlags(f, &o, &quietPull)
	f.IntVarP(&timeout, "timeout", "t", 10, "Use this timeout in seconds for container shutdown when attached or when containers are already running")
	f.StringArrayVar(&ao.attach, "attach", nil, "Restrict attaching to the specified services. Incompatible with --attach-dependencies.")
	f.StringArrayVar(&ao.noAttach, "no-attach", nil, "Do not attach (stream logs) to the specified services")
	f.BoolVarP(&o.RenewAnonVolumes, "renew-anon-volumes", "V", false, "Recreate anonymous volumes instead of retrieving data from the previous containers")
	f.BoolVar(&ao.abortOnExit, "abort-on-container-exit", false, "Stops all containers if any container was stopped. Incompatible with -d")
	f.BoolVar(&ao.abortOnFailure, "abort-on-container-failure", false, "Stops all containers if any container exited with failure. Incompatible with -d")
	f.StringVar(&ao.exitCodeFrom, "exit-code-from", "", "Return the exit code of the selected service container. Implies --abort-on-container-exit")
	f.BoolVar(&ao.noColor, "no-color", false, "Produce monochrome output")
	f.BoolVar(&ao.noPrefix, "no-log-prefix", false, "Don't print prefix in logs")
	f.BoolVar(&ao.timestamps, "timestamps", false, "Show timestamps")
	return cmd
}

// projectName is the project a command that may run without the file works on: -p, else the
// loaded file's.
func projectName(ctx context.Context, g *globalOptions) (string, error) {
	if g.projectName != "" {
		return g.projectName, nil
	}
	p, err := loadProject(ctx, g, nil)
	if err != nil {
		return "", err
	}
	return p.Name, nil
}

func newDownCommand(g *globalOptions, s streams) *cobra.Command {
	var o engine.DownOptions
	var timeout int
	cmd := &cobra.Command{
		Use:     "down [OPTIONS] [SERVICES]",
		Short:   "Stop and remove containers, networks",
		Example: `  berth down -v`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch o.RemoveImages {
			case "", "local", "all":
			default:
				return fmt.Errorf("invalid --rmi %q: must be local or all", o.RemoveImages)
			}
			// The file, loaded once: it names the project unless -p does, and with it the
			// containers of services it no longer has are orphans. With -p it may be missing.
			p, err := compose.Load(cmd.Context(), g.loadOptions(nil))
			name := g.projectName
			if name == "" {
				if err != nil {
					return err
				}
				warnFindings(p.Findings)
				name = p.Name
			}
			if err == nil && p.Name == name {
				o.Defined = slices.Concat(slices.Collect(maps.Keys(p.Services)), slices.Collect(maps.Keys(p.DisabledServices)))
			}
			o.Services = args
			if cmd.Flags().Changed("timeout") {
				t := time.Duration(timeout) * time.Second
				o.Timeout = &t
			}
			e, err := newEngine(g, s)
			if err != nil {
				return err
			}
			if g.dryRun {
				plan, err := e.DownPlan(cmd.Context(), name, o)
				if err != nil {
					return composeError(err)
				}
				for _, a := range plan {
					fmt.Fprintf(s.err, "DRY-RUN MODE -  %s\n", a)
				}
				return nil
			}
			return composeError(e.Down(cmd.Context(), name, o))
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Volumes, "volumes", "v", false, "Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous volumes attached to containers")
	f.IntVarP(&timeout, "timeout", "t", 10, "Specify a shutdown timeout in seconds")
	f.StringVar(&o.RemoveImages, "rmi", "", `Remove images used by services. "local" remove only images that don't have a custom tag ("local"|"all")`)
	f.BoolVar(&o.RemoveOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	return cmd
}

// psRow is one line of `ps`, with docker compose's JSON field names.
type psRow struct {
	ID, Name, Names, Image, Command, Project, Service, State, Health, Status, Ports, CreatedAt string
	RunningFor, Labels, Mounts, Networks, LocalVolumes, Size                                   string
	ExitCode                                                                                   int
	Publishers                                                                                 []publisher
}

// publisher is one published port in ps's JSON, as docker compose's.
type publisher struct {
	URL           string
	TargetPort    int
	PublishedPort int
	Protocol      string
}

func newPsCommand(g *globalOptions, s streams) *cobra.Command {
	var all, quiet, services bool
	var format string
	var status, filters []string
	cmd := &cobra.Command{
		Use:     "ps [OPTIONS] [SERVICE...]",
		Short:   "List containers",
		Example: `  berth ps -a`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// docker compose ps --filter takes status= only.
			for _, f := range filters {
				k, v, ok := strings.Cut(f, "=")
				if !ok || k != "status" {
					return fmt.Errorf("invalid filter %q: berth ps filters on status=STATUS", f)
				}
				status = append(status, v)
			}
			for _, st := range status {
				switch st {
				case "paused", "restarting", "removing", "running", "dead", "created", "exited":
				default:
					return fmt.Errorf("invalid status %q: must be one of paused, restarting, removing, running, dead, created, exited", st)
				}
			}
			name, err := projectName(cmd.Context(), g)
			if err != nil {
				return err
			}
			e, err := newEngine(g, s)
			if err != nil {
				return err
			}
			cs, err := e.Containers(cmd.Context(), name)
			if err != nil {
				return err
			}
			var rows []psRow
			var created []time.Time
			seen := map[string]bool{}
			for _, c := range cs {
				svc := c.Options.Labels[engine.LabelService]
				if len(args) > 0 && !slices.Contains(args, svc) {
					continue
				}
				st, err := c.Status()
				if err != nil {
					return err
				}
				if !all && st.Status != container.StatusRunning && st.Status != container.StatusRestarting && st.Status != container.StatusPaused && len(status) == 0 {
					continue
				}
				if len(status) > 0 && !slices.Contains(status, st.Status) {
					continue
				}
				health := ""
				if st.Health != nil {
					health = st.Health.Status
				}
				pubs := []publisher{}
				for _, p := range c.Published {
					pubs = append(pubs, publisher{URL: p.HostAddrPort().Addr().String(), TargetPort: int(p.ContainerPort), PublishedPort: int(p.HostPort), Protocol: p.Proto})
				}
				var nets, mounts []string
				for _, n := range c.Options.Networks {
					nets = append(nets, n.Network)
				}
				local := 0
				for _, m := range c.Options.Mounts {
					if m.Type == "volume" {
						local++
					}
					mounts = append(mounts, m.Source)
				}
				rows = append(rows, psRow{ID: c.ID, Name: c.Name, Names: c.Name, Image: c.Options.Image, Command: strconv.Quote(c.Command()),
					Project: name, Service: svc, State: st.Status, Health: health, Status: statusText(st),
					Ports: portsColumn(c, st), CreatedAt: c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"), ExitCode: st.ExitCode,
					RunningFor: units.HumanDuration(time.Since(c.Created)) + " ago", Labels: joinLabels(c.Options.Labels),
					Mounts: strings.Join(mounts, ","), Networks: strings.Join(nets, ","), LocalVolumes: strconv.Itoa(local), Size: "0B",
					Publishers: pubs})
				created = append(created, c.Created)
				seen[svc] = true
			}
			switch {
			case quiet:
				for _, r := range rows {
					fmt.Fprintln(s.out, r.ID)
				}
				return nil
			case services:
				var names []string
				for svc := range seen {
					names = append(names, svc)
				}
				sort.Strings(names)
				for _, n := range names {
					fmt.Fprintln(s.out, n)
				}
				return nil
			}
			return printListing(s.out, format, rows, func(tw io.Writer) {
				fmt.Fprintln(tw, "NAME\tIMAGE\tCOMMAND\tSERVICE\tCREATED\tSTATUS\tPORTS")
				for i, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Image, r.Command, r.Service,
						units.HumanDuration(time.Since(created[i]))+" ago", r.Status, r.Ports)
				}
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "Show all stopped containers (including those created by the run command)")
	f.BoolVarP(&quiet, "quiet", "q", false, "Only display IDs")
	f.BoolVar(&services, "services", false, "Display services")
	f.StringVar(&format, "format", "", "Format output: table or json")
	f.StringArrayVar(&status, "status", nil, "Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]")
	f.StringArrayVar(&filters, "filter", nil, "Filter services by a property (supported filters: status)")
	return cmd
}

// attachOptions are attached up's.
type attachOptions struct {
	abortOnExit, abortOnFailure bool
	exitCodeFrom                string
	noColor, noPrefix           bool
	timestamps                  bool
	// attach and noAttach choose the services whose logs are shown and whose exits are
	// watched (default: those named on the command line, else all).
	attach, noAttach []string
	// timeout is the stop grace period on Ctrl-C and abort (nil: each container's own).
	timeout *time.Duration
}

// attachedUp streams the services' logs as docker compose's attached up does, until every
// container has exited; the first Ctrl-C stops the project gracefully, a second kills it. With
// --abort-on-container-exit (or -failure) the first container to exit (with a failure) stops the
// others, and up exits with its code, or with --exit-code-from's service's.
func attachedUp(ctx context.Context, e *engine.Engine, s streams, project string, services []string, o attachOptions, since time.Time) error {
	all, err := e.Containers(context.WithoutCancel(ctx), project)
	if err != nil {
		return err
	}
	var cs, inProject []*container.Container
	if len(o.attach) > 0 {
		services = o.attach
	}
	for _, c := range all {
		svc := c.Options.Labels[engine.LabelService]
		if c.Options.Labels[engine.LabelOneoff] == "True" {
			continue
		}
		inProject = append(inProject, c)
		if (len(services) == 0 || slices.Contains(services, svc)) && !slices.Contains(o.noAttach, svc) {
			cs = append(cs, c)
		}
	}
	work := context.WithoutCancel(ctx)
	logsDone := make(chan error, 1)
	go func() {
		// What the containers wrote since this up began, as docker compose attaches before it
		// starts them.
		logsDone <- streamLogs(work, s, cs, container.LogOptions{Follow: true, Tail: -1, Since: since, Timestamps: o.timestamps}, !o.noPrefix, !o.noColor && isTerminal(s.out))
	}()
	// Each container's exits, as docker compose prints them.
	type exit struct {
		c    *container.Container
		code int
	}
	exits := make(chan exit, len(cs))
	for _, c := range cs {
		go func() {
			st, err := c.Wait(work)
			if err == nil {
				exits <- exit{c, st.ExitCode}
			}
		}()
	}
	// Ctrl-C and an abort stop the whole project, the containers not attached too.
	stopAll := func(kill bool) {
		var wg sync.WaitGroup
		for _, c := range inProject {
			wg.Go(func() {
				if kill {
					_ = c.Kill(work, syscall.SIGKILL)
					return
				}
				_ = c.Stop(work, o.timeout)
			})
		}
		wg.Wait()
	}
	code, exited := 0, 0 // the first exit's code, up's own with --abort-on-container-exit
	for {
		select {
		case <-logsDone:
			// Every container has exited on its own: up is done, and fine, once their exits
			// are told.
			for ; exited < len(cs); exited++ {
				select {
				case x := <-exits:
					fmt.Fprintf(s.out, "%s exited with code %d\n", x.c.Name, x.code)
				case <-time.After(5 * time.Second):
					return nil
				}
			}
			return nil
		case x := <-exits:
			exited++
			fmt.Fprintf(s.out, "%s exited with code %d\n", x.c.Name, x.code)
			if exited == 1 {
				code = x.code
			}
			if o.abortOnExit || o.abortOnFailure && x.code != 0 {
				fmt.Fprintln(s.out, "Aborting on container exit...")
				stopAll(false)
				<-logsDone
				if o.exitCodeFrom != "" {
					code = exitCodeOf(cs, o.exitCodeFrom)
				}
				return exitWith(code)
			}
		case <-ctx.Done():
			fmt.Fprintln(s.err, "Gracefully stopping... (press Ctrl+C again to force)")
			second := make(chan os.Signal, 1)
			signal.Notify(second, os.Interrupt, syscall.SIGTERM)
			stopped := make(chan struct{})
			go func() { stopAll(false); close(stopped) }()
			select {
			case <-stopped:
			case <-second:
				stopAll(true)
			}
			signal.Stop(second)
			<-logsDone
			return context.Canceled
		}
	}
}

// exitCodeOf is the exit code of service's first container.
func exitCodeOf(cs []*container.Container, service string) int {
	for _, c := range cs {
		if c.Options.Labels[engine.LabelService] == service {
			if st, err := c.Status(); err == nil {
				return st.ExitCode
			}
		}
	}
	return 0
}

// exitWith is up's result for a container exit code: nil for 0.
func exitWith(code int) error {
	if code == 0 {
		return nil
	}
	return exitStatus(code)
}
