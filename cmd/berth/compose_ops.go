package main

// docker compose's commands on a project's existing containers: logs, exec, start, stop, restart,
// kill, rm, pause, unpause, top and port. They find the containers by the compose labels `up`
// writes and drive them through the same runtime calls as the `container` commands; none of them
// creates anything.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/engine"
	"github.com/berth-sh/berth/graph"
	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/runtime/monitor"
)

// composeOpsCommands are the project commands that act on the containers `up` made.
func composeOpsCommands(g *globalOptions, s streams) []*cobra.Command {
	return []*cobra.Command{
		newComposeLogsCommand(g, s),
		newComposeExecCommand(g, s),
		newComposeStartCommand(g, s),
		newComposeStopCommand(g, s),
		newComposeRestartCommand(g, s),
		newComposeKillCommand(g, s),
		newComposeRemoveCommand(g, s),
		newComposePauseCommand(g, s),
		newComposeUnpauseCommand(g, s),
		newComposeTopCommand(g, s),
		newComposePortCommand(g, s),
		newComposeCopyCommand(g, s),
	}
}

// projectScope is the project a command works on and the containers it has.
type projectScope struct {
	name string
	// project is the loaded file; nil when -p alone names the project, which docker compose
	// then knows from its containers only.
	project    *compose.Project
	engine     *engine.Engine
	containers []*container.Container // sorted by name
	progress   *containerProgress
}

// openProject finds the project as docker compose's projectOrName does (the file is read unless
// -p without -f names the project) and its containers, and checks that every service named is
// one of it: the file's (enabled or not), else one its containers run.
func openProject(ctx context.Context, g *globalOptions, s streams, services []string) (*projectScope, error) {
	sc := &projectScope{name: g.projectName, progress: &containerProgress{w: s.err}}
	if g.projectName == "" || len(g.files) > 0 {
		p, err := loadProject(ctx, g, nil)
		if err != nil {
			return nil, err
		}
		sc.project, sc.name = p, p.Name
	}
	e, err := newEngine(g, s)
	if err != nil {
		return nil, err
	}
	sc.engine = e
	if sc.containers, err = e.Containers(ctx, sc.name); err != nil {
		return nil, err
	}
	for _, svc := range services {
		if !sc.hasService(svc) {
			return nil, fmt.Errorf("no such service: %s", svc) // docker compose's words
		}
	}
	return sc, nil
}

func (sc *projectScope) hasService(name string) bool {
	if sc.project != nil {
		_, enabled := sc.project.Services[name]
		_, disabled := sc.project.DisabledServices[name]
		return enabled || disabled
	}
	return slices.ContainsFunc(sc.containers, func(c *container.Container) bool { return serviceOf(c) == name })
}

func serviceOf(c *container.Container) string { return c.Options.Labels[engine.LabelService] }

func numberOf(c *container.Container) int {
	n, _ := strconv.Atoi(c.Options.Labels[engine.LabelNumber])
	return n
}

func isOneOff(c *container.Container) bool { return c.Options.Labels[engine.LabelOneoff] == "True" }

// isUp is a container that runs, frozen or not, or waits to run again.
func isUp(st monitor.State) bool {
	return st.Status == container.StatusRunning || st.Status == container.StatusPaused || st.Status == container.StatusRestarting
}

// selection says which of the project's containers a command acts on.
type selection struct {
	services []string
	// oneOff includes the containers of `run`; orphans those of services the file no longer
	// has (without the file, every service is the project's).
	oneOff, orphans bool
	// state keeps the containers in a state it accepts (nil: all).
	state func(monitor.State) bool
}

// selected are the containers of the named services (none named: of every service of the
// file) that sel keeps.
func (sc *projectScope) selected(sel selection) ([]*container.Container, error) {
	var out []*container.Container
	for _, c := range sc.containers {
		svc := serviceOf(c)
		switch {
		case isOneOff(c) && !sel.oneOff:
			continue
		case len(sel.services) > 0 && !slices.Contains(sel.services, svc):
			continue
		case len(sel.services) == 0 && !sel.orphans && sc.project != nil:
			if _, ok := sc.project.Services[svc]; !ok {
				continue
			}
		}
		if sel.state != nil {
			st, err := c.Status()
			if err != nil {
				return nil, err
			}
			if !sel.state(st) {
				continue
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// graph is the dependency graph of the file's services; nil without the file.
func (sc *projectScope) graph() (*graph.Graph, error) {
	if sc.project == nil {
		return nil, nil
	}
	return graph.FromProject(sc.project.Project)
}

// order is the file's services in start order, or (reverse) in stop order; nil without the file.
func (sc *projectScope) order(reverse bool) ([]string, error) {
	gr, err := sc.graph()
	if gr == nil || err != nil {
		return nil, err
	}
	if reverse {
		return gr.ReverseOrder(), nil
	}
	return gr.Order(), nil
}

// containerNumber is service's container number n (one-off ones last), among those up unless all.
func (sc *projectScope) containerNumber(service string, n int, all bool) (*container.Container, error) {
	cs, err := sc.selected(selection{services: []string{service}, oneOff: true, state: func(st monitor.State) bool { return all || isUp(st) }})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(cs, func(a, b *container.Container) int {
		if isOneOff(a) != isOneOff(b) {
			if isOneOff(a) {
				return 1
			}
			return -1
		}
		return 0
	})
	for _, c := range cs {
		if numberOf(c) == n {
			return c, nil
		}
	}
	return nil, nil
}

// containerProgress prints docker compose's progress lines on stderr, one line per event, as the
// engine does (" Container shop-web-1  Stopped").
type containerProgress struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *containerProgress) event(c *container.Container, what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, " Container %s  %s\n", c.Name, what)
}

// eachInOrder runs f on the containers service by service in order, the containers of one
// service at once; the services order leaves out go last, together. It stops after the first
// service with a failure and returns the failures.
func eachInOrder(cs []*container.Container, order []string, f func(*container.Container) error) error {
	rank := map[string]int{}
	for i, svc := range order {
		rank[svc] = i
	}
	groups := make([][]*container.Container, len(order)+1)
	for _, c := range cs {
		i, ok := rank[serviceOf(c)]
		if !ok {
			i = len(order)
		}
		groups[i] = append(groups[i], c)
	}
	for _, group := range groups {
		errs := make([]error, len(group))
		var wg sync.WaitGroup
		for i, c := range group {
			wg.Go(func() { errs[i] = f(c) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

type composeLogsOptions struct {
	follow     bool
	index      int
	tail       string
	timestamps bool
	since      string
	until      string
	noColor    bool
	noPrefix   bool
}

func newComposeLogsCommand(g *globalOptions, s streams) *cobra.Command {
	o := &composeLogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] [SERVICE...]",
		Short: "View output from containers",
		Example: `  berth logs -f
  berth logs --tail 20 web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.index > 0 && len(args) != 1 {
				return errors.New("--index requires one service to be selected")
			}
			return composeError(runComposeLogs(cmd.Context(), g, s, o, args))
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "Follow log output")
	f.IntVar(&o.index, "index", 0, "index of the container if service has multiple replicas")
	f.StringVar(&o.since, "since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	f.StringVar(&o.until, "until", "", "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	f.BoolVar(&o.noColor, "no-color", false, "Produce monochrome output")
	f.BoolVar(&o.noPrefix, "no-log-prefix", false, "Don't print prefix in logs")
	f.BoolVarP(&o.timestamps, "timestamps", "t", false, "Show timestamps")
	f.StringVarP(&o.tail, "tail", "n", "all", "Number of lines to show from the end of the logs for each container")
	return cmd
}

func runComposeLogs(ctx context.Context, g *globalOptions, s streams, o *composeLogsOptions, services []string) error {
	lo, err := logOptions(o.follow, o.timestamps, o.tail, o.since, o.until)
	if err != nil {
		return err
	}
	sc, err := openProject(ctx, g, s, services)
	if err != nil {
		return err
	}
	if sc.project != nil && len(services) == 0 {
		// As docker compose: the services that say attach: false only when named.
		for name, svc := range sc.project.Services {
			if svc.Attach == nil || *svc.Attach {
				services = append(services, name)
			}
		}
	}
	cs, err := sc.selected(selection{services: services})
	if err != nil {
		return err
	}
	if o.index > 0 {
		c, err := sc.containerNumber(services[0], o.index, true)
		if err != nil {
			return err
		}
		if c == nil || isOneOff(c) {
			return fmt.Errorf("service %q is not running container #%d", services[0], o.index)
		}
		cs = []*container.Container{c}
	}
	if !o.follow || o.index > 0 {
		return streamLogs(ctx, s, cs, lo, !o.noPrefix, !o.noColor && isTerminal(s.out))
	}
	// Following, containers that appear later (scale, recreate, a restarted project) are
	// followed too, as docker compose does; logs -f ends when none it follows runs.
	more := func() ([]*container.Container, error) {
		all, err := sc.engine.Containers(ctx, sc.name)
		if err != nil {
			return nil, err
		}
		sc.containers = all
		return sc.selected(selection{services: services})
	}
	return followLogs(ctx, s, cs, lo, !o.noPrefix, !o.noColor && isTerminal(s.out), more)
}

// followLogs is streamLogs for logs -f that also follows the containers more finds later.
func followLogs(ctx context.Context, s streams, cs []*container.Container, lo container.LogOptions, prefix, color bool, more func() ([]*container.Container, error)) error {
	width := 0
	for _, c := range cs {
		width = max(width, len(logName(c)))
	}
	var mu sync.Mutex // one line at a time, stdout and stderr alike
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var errs []error
	var active atomic.Int32
	seen := map[string]bool{}
	follow := func(i int, c *container.Container, lo container.LogOptions) {
		seen[c.ID] = true
		p := ""
		if prefix {
			p = fmt.Sprintf("%-*s | ", max(width, len(logName(c)))+1, logName(c))
			if color {
				p = logColor(i, p)
			}
		}
		out := &prefixedLines{mu: &mu, w: s.out, prefix: p}
		errOut := &prefixedLines{mu: &mu, w: s.err, prefix: p}
		active.Add(1)
		wg.Go(func() {
			defer active.Add(-1)
			err := errors.Join(c.Logs(ctx, lo, out, errOut), out.flush(), errOut.flush())
			if err != nil {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
			}
		})
	}
	for i, c := range cs {
		follow(i, c, lo)
	}
	// A new container's log is shown from its start.
	fresh := lo
	fresh.Tail, fresh.Since = -1, time.Time{}
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for n := len(cs); ; {
		select {
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		case <-tick.C:
		}
		// Read before listing: a follower that ends after the list was read is seen next time.
		idle := active.Load() == 0
		found, err := more()
		if err != nil {
			wg.Wait()
			return err
		}
		added := false
		for _, c := range found {
			if !seen[c.ID] {
				follow(n, c, fresh)
				n++
				added = true
			}
		}
		if idle && !added {
			wg.Wait()
			return errors.Join(errs...)
		}
	}
}

// streamLogs writes the containers' logs at once, each line whole and, with prefix, after
// docker compose's "web-1  | ", padded to the longest name and coloured per container on a
// terminal. Following, it returns once every container has exited.
func streamLogs(ctx context.Context, s streams, cs []*container.Container, lo container.LogOptions, prefix, color bool) error {
	width := 0
	for _, c := range cs {
		width = max(width, len(logName(c)))
	}
	var mu sync.Mutex // one line at a time, stdout and stderr alike
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		p := ""
		if prefix {
			p = fmt.Sprintf("%-*s | ", width+1, logName(c))
			if color {
				p = logColor(i, p)
			}
		}
		out := &prefixedLines{mu: &mu, w: s.out, prefix: p}
		errOut := &prefixedLines{mu: &mu, w: s.err, prefix: p}
		wg.Go(func() {
			errs[i] = c.Logs(ctx, lo, out, errOut)
			errs[i] = errors.Join(errs[i], out.flush(), errOut.flush())
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// logName is docker compose's name of a container in its logs: its name without the project
// ("web-1"), or a container_name as it is.
func logName(c *container.Container) string {
	project := c.Options.Labels[engine.LabelProject]
	for _, sep := range []string{compose.Separator(false), compose.Separator(true)} {
		if c.Name == project+sep+serviceOf(c)+sep+c.Options.Labels[engine.LabelNumber] {
			return c.Name[len(project)+len(sep):]
		}
	}
	return c.Name
}

// logColors are docker compose's colours for log prefixes, taken in turn: cyan, yellow, green,
// magenta, blue, then the same in bold.
var logColors = []string{"36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1"}

func logColor(i int, s string) string {
	return "\033[" + logColors[i%len(logColors)] + "m" + s + "\033[0m"
}

// prefixedLines writes whole lines to w, each after prefix, holding mu for each write; a last
// line without its newline waits for flush.
type prefixedLines struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixedLines) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	end := bytes.LastIndexByte(p.buf, '\n')
	if end < 0 {
		return len(b), nil
	}
	var out []byte
	for line := range bytes.Lines(p.buf[:end+1]) {
		out = append(append(out, p.prefix...), line...)
	}
	p.buf = append(p.buf[:0], p.buf[end+1:]...)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (p *prefixedLines) flush() error {
	if len(p.buf) == 0 {
		return nil
	}
	_, err := p.Write([]byte("\n"))
	return err
}

type composeExecOptions struct {
	execOptions
	noTTY bool
	index int
}

func newComposeExecCommand(g *globalOptions, s streams) *cobra.Command {
	o := &composeExecOptions{}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] SERVICE COMMAND [ARGS...]",
		Short: "Execute a command in a running container",
		Example: `  berth exec web sh
  berth exec -T --index 2 web ls /app`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError{cmd: cmd, err: fmt.Errorf("%q requires at least 2 arguments", cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return execError(runComposeExec(cmd.Context(), g, s, o, args))
		},
	}
	// As docker compose: a tty unless -T, by default only when both ends are terminals.
	_, inTerm := terminalFd(s.in)
	_, outTerm := terminalFd(s.out)
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "no-TTY" { // docker compose's older spelling
			name = "no-tty"
		}
		return pflag.NormalizedName(name)
	})
	f.BoolVarP(&o.detach, "detach", "d", false, "Detached mode: Run command in the background")
	f.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	f.IntVar(&o.index, "index", 1, "Index of the container if service has multiple replicas")
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to the process")
	f.StringVarP(&o.user, "user", "u", "", "Run the command as this user")
	f.BoolVarP(&o.noTTY, "no-tty", "T", !(inTerm && outTerm), "Disable pseudo-TTY allocation. By default 'berth exec' allocates a TTY.")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Path to workdir directory for this command")
	// docker compose's no-ops, kept for scripts written for docker exec.
	f.BoolVarP(&o.interactive, "interactive", "i", true, "Keep STDIN open even if not attached")
	f.BoolP("tty", "t", true, "Allocate a pseudo-TTY")
	_ = f.MarkHidden("interactive")
	_ = f.MarkHidden("tty")
	return cmd
}

func runComposeExec(ctx context.Context, g *globalOptions, s streams, o *composeExecOptions, args []string) error {
	service := args[0]
	sc, err := openProject(ctx, g, s, []string{service})
	if err != nil {
		return err
	}
	c, err := sc.containerNumber(service, o.index, false)
	if err != nil {
		return err
	}
	if c == nil {
		return fmt.Errorf("service %q is not running container #%d", service, o.index)
	}
	o.tty = !o.noTTY
	return execInContainer(ctx, g, s, &o.execOptions, append([]string{c.ID}, args[1:]...))
}

// execError passes on the command's own exit code, and exec's 126 and 127, as docker compose
// exec does; every other failure is compose's.
func execError(err error) error {
	var status exitStatus
	var coded codedError
	if errors.As(err, &status) || errors.As(err, &coded) {
		return err
	}
	return composeError(err)
}

func newComposeStartCommand(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:     "start [SERVICE...]",
		Short:   "Start services",
		Example: `  berth start web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return composeError(runComposeStart(cmd.Context(), g, s, args))
		},
	}
}

func runComposeStart(ctx context.Context, g *globalOptions, s streams, services []string) error {
	sc, err := openProject(ctx, g, s, services)
	if err != nil {
		return err
	}
	cs, err := sc.selected(selection{services: services})
	if err != nil {
		return err
	}
	if sc.project != nil {
		// docker compose's words for a service that was never created.
		for _, svc := range sc.project.Services {
			if len(services) > 0 && !slices.Contains(services, svc.Name) || svc.GetScale() == 0 {
				continue
			}
			if !slices.ContainsFunc(cs, func(c *container.Container) bool { return serviceOf(c) == svc.Name }) {
				return fmt.Errorf("service %q has no container to start", svc.Name)
			}
		}
	}
	order, err := sc.order(false)
	if err != nil {
		return err
	}
	return eachInOrder(cs, order, func(c *container.Container) error {
		st, err := c.Status()
		if err != nil || isUp(st) {
			return err
		}
		sc.progress.event(c, "Starting")
		if err := c.Start(ctx, sc.engine.Images); err != nil {
			return err
		}
		sc.progress.event(c, "Started")
		return nil
	})
}

func newComposeStopCommand(g *globalOptions, s streams) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:     "stop [OPTIONS] [SERVICE...]",
		Short:   "Stop services",
		Example: `  berth stop -t 2 web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := openProject(cmd.Context(), g, s, args)
			if err != nil {
				return composeError(err)
			}
			return composeError(sc.stop(cmd.Context(), args, stopTimeoutFlag(cmd, timeout)))
		},
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Specify a shutdown timeout in seconds")
	return cmd
}

// stop stops the services' containers that are up, dependents first.
func (sc *projectScope) stop(ctx context.Context, services []string, timeout *time.Duration) error {
	cs, err := sc.selected(selection{services: services, state: isUp})
	if err != nil {
		return err
	}
	order, err := sc.order(true)
	if err != nil {
		return err
	}
	return eachInOrder(cs, order, func(c *container.Container) error {
		sc.progress.event(c, "Stopping")
		if err := c.Stop(ctx, timeout); err != nil {
			return err
		}
		sc.progress.event(c, "Stopped")
		return nil
	})
}

func newComposeRestartCommand(g *globalOptions, s streams) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:     "restart [OPTIONS] [SERVICE...]",
		Short:   "Restart service containers",
		Example: `  berth restart -t 2 web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return composeError(runComposeRestart(cmd.Context(), g, s, args, stopTimeoutFlag(cmd, timeout)))
		},
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Specify a shutdown timeout in seconds")
	return cmd
}

func runComposeRestart(ctx context.Context, g *globalOptions, s streams, services []string, timeout *time.Duration) error {
	sc, err := openProject(ctx, g, s, services)
	if err != nil {
		return err
	}
	gr, err := sc.graph()
	if err != nil {
		return err
	}
	if gr != nil && len(services) > 0 {
		// As docker compose: a restart takes along the services that depend on a restarted one
		// with restart: true.
		for i := 0; i < len(services); i++ {
			for _, e := range gr.Dependents(services[i]) {
				if e.Restart && !slices.Contains(services, e.From) {
					services = append(services, e.From)
				}
			}
		}
	}
	cs, err := sc.selected(selection{services: services})
	if err != nil {
		return err
	}
	var order []string
	if gr != nil {
		order = gr.Order()
	}
	return eachInOrder(cs, order, func(c *container.Container) error {
		sc.progress.event(c, "Restarting")
		if err := c.Restart(ctx, sc.engine.Images, timeout); err != nil {
			return err
		}
		sc.progress.event(c, "Started")
		return nil
	})
}

func newComposeKillCommand(g *globalOptions, s streams) *cobra.Command {
	var signal string
	var removeOrphans bool
	cmd := &cobra.Command{
		Use:     "kill [OPTIONS] [SERVICE...]",
		Short:   "Force stop service containers",
		Example: `  berth kill -s SIGHUP web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return composeError(runComposeKill(cmd.Context(), g, s, args, signal, removeOrphans))
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "SIGKILL", "SIGNAL to send to the container")
	cmd.Flags().BoolVar(&removeOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	return cmd
}

func runComposeKill(ctx context.Context, g *globalOptions, s streams, services []string, signal string, orphans bool) error {
	sig, err := container.ParseSignal(signal)
	if err != nil {
		return err
	}
	sc, err := openProject(ctx, g, s, services)
	if err != nil {
		return err
	}
	cs, err := sc.selected(selection{services: services, oneOff: true, orphans: orphans, state: func(st monitor.State) bool {
		return st.Status == container.StatusRunning || st.Status == container.StatusPaused
	}})
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		fmt.Fprintln(s.err, "no container to kill")
		return nil
	}
	return eachInOrder(cs, nil, func(c *container.Container) error {
		sc.progress.event(c, "Killing")
		if err := c.Kill(ctx, sig); err != nil {
			return err
		}
		sc.progress.event(c, "Killed")
		return nil
	})
}

type composeRemoveOptions struct {
	force, stop, volumes bool
}

func newComposeRemoveCommand(g *globalOptions, s streams) *cobra.Command {
	o := &composeRemoveOptions{}
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] [SERVICE...]",
		Short: "Removes stopped service containers",
		Long: `Removes stopped service containers

By default, anonymous volumes attached to containers will not be removed. You
can override this with -v. To list all volumes, use "berth volume ls".

Any data which is not in a volume will be lost.`,
		Example: `  berth rm -f -s web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return composeError(runComposeRemove(cmd.Context(), g, s, o, args))
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.force, "force", "f", false, "Don't ask to confirm removal")
	f.BoolVarP(&o.stop, "stop", "s", false, "Stop the containers, if required, before removing")
	f.BoolVarP(&o.volumes, "volumes", "v", false, "Remove any anonymous volumes attached to containers")
	f.BoolP("all", "a", false, "Deprecated - no effect")
	_ = f.MarkHidden("all")
	return cmd
}

func runComposeRemove(ctx context.Context, g *globalOptions, s streams, o *composeRemoveOptions, services []string) error {
	sc, err := openProject(ctx, g, s, services)
	if err != nil {
		return err
	}
	if o.stop {
		if err := sc.stop(ctx, services, nil); err != nil {
			return err
		}
	}
	cs, err := sc.selected(selection{services: services, state: func(st monitor.State) bool { return !isUp(st) }})
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		fmt.Fprintln(s.err, "No stopped containers")
		return nil
	}
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	msg := "Going to remove " + strings.Join(names, ", ")
	if o.force {
		fmt.Fprintln(s.out, msg)
	} else {
		fmt.Fprint(s.out, msg+"\nAre you sure? [yN] ")
		answer, err := bufio.NewReader(s.in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return nil
		}
	}
	return eachInOrder(cs, nil, func(c *container.Container) error {
		sc.progress.event(c, "Removing")
		if err := c.Remove(ctx, o.force, o.volumes); err != nil {
			return err
		}
		sc.progress.event(c, "Removed")
		return nil
	})
}

func newComposePauseCommand(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:     "pause [SERVICE...]",
		Short:   "Pause services",
		Example: `  berth pause web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return composeError(freezeServices(cmd.Context(), g, s, args, container.StatusRunning, "Paused", (*container.Container).Pause))
		},
	}
}

func newComposeUnpauseCommand(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:     "unpause [SERVICE...]",
		Short:   "Unpause services",
		Example: `  berth unpause web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return composeError(freezeServices(cmd.Context(), g, s, args, container.StatusPaused, "Unpaused", (*container.Container).Unpause))
		},
	}
}

// freezeServices runs op (pause or unpause) on the services' containers in status from.
func freezeServices(ctx context.Context, g *globalOptions, s streams, services []string, from, done string, op func(*container.Container) error) error {
	sc, err := openProject(ctx, g, s, services)
	if err != nil {
		return err
	}
	cs, err := sc.selected(selection{services: services, state: func(st monitor.State) bool { return st.Status == from }})
	if err != nil {
		return err
	}
	return eachInOrder(cs, nil, func(c *container.Container) error {
		if err := op(c); err != nil {
			return err
		}
		sc.progress.event(c, done)
		return nil
	})
}

func newComposeTopCommand(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:     "top [SERVICES...]",
		Short:   "Display the running processes",
		Example: `  berth top web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return composeError(runComposeTop(cmd.Context(), g, s, args))
		},
	}
}

// runComposeTop prints docker compose top's one table: SERVICE, # (the container number), ps's
// columns, CMD last.
func runComposeTop(ctx context.Context, g *globalOptions, s streams, services []string) error {
	sc, err := openProject(ctx, g, s, services)
	if err != nil {
		return err
	}
	cs, err := sc.selected(selection{services: services, oneOff: true, state: isUp})
	if err != nil {
		return err
	}
	titles := []string{"SERVICE", "#"}
	var rows []map[string]string
	for _, c := range cs {
		p, err := c.Top(ctx, nil)
		if err != nil {
			return err
		}
		for _, proc := range p.Processes {
			row := map[string]string{"SERVICE": serviceOf(c), "#": c.Options.Labels[engine.LabelNumber]}
			for i, t := range p.Titles {
				if !slices.Contains(titles, t) {
					titles = append(titles, t)
				}
				if i < len(proc) {
					row[t] = proc[i]
				}
			}
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if i := slices.Index(titles, "CMD"); i >= 0 {
		titles = append(slices.Delete(titles, i, i+1), "CMD")
	}
	tw := tabwriter.NewWriter(s.out, 4, 1, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(titles, "\t"))
	for _, row := range rows {
		fields := make([]string, len(titles))
		for i, t := range titles {
			if v, ok := row[t]; ok {
				fields[i] = v
			} else {
				fields[i] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(fields, "\t"))
	}
	return tw.Flush()
}

func newComposePortCommand(g *globalOptions, s streams) *cobra.Command {
	var protocol string
	var index int
	cmd := &cobra.Command{
		Use:     "port [OPTIONS] SERVICE PRIVATE_PORT",
		Short:   "Print the public port for a port binding",
		Example: `  berth port web 80`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return composeError(runComposePort(cmd.Context(), g, s, args[0], args[1], protocol, index))
		},
	}
	cmd.Flags().StringVar(&protocol, "protocol", "tcp", "tcp or udp")
	cmd.Flags().IntVar(&index, "index", 1, "Index of the container if service has multiple replicas")
	return cmd
}

func runComposePort(ctx context.Context, g *globalOptions, s streams, service, private, protocol string, index int) error {
	port, err := strconv.ParseUint(private, 10, 16)
	if err != nil {
		return fmt.Errorf("invalid private port %q", private)
	}
	sc, err := openProject(ctx, g, s, []string{service})
	if err != nil {
		return err
	}
	c, err := sc.containerNumber(service, index, false)
	if err != nil {
		return err
	}
	if c == nil {
		return fmt.Errorf("no container found for %s%s%d", service, compose.Separator(g.compatibility), index)
	}
	var published []string
	for _, p := range c.Published {
		if int(p.ContainerPort) == int(port) && p.Proto == protocol {
			fmt.Fprintln(s.out, p.HostAddrPort())
			return nil
		}
		published = append(published, fmt.Sprintf("%d/%s", p.HostPort, p.Proto))
	}
	// docker compose's words.
	return fmt.Errorf("no port %d/%s for container %s: %s", port, protocol, c.Name, strings.Join(published, ", "))
}
