package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/graph"
	"github.com/berth-sh/berth/network"
	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/runtime/image"
	"github.com/berth-sh/berth/volumes"
)

// Compose's other labels (docker/compose pkg/api/labels.go).
const (
	LabelService    = "com.docker.compose.service"
	LabelNumber     = "com.docker.compose.container-number"
	LabelOneoff     = "com.docker.compose.oneoff"
	LabelConfigHash = "com.docker.compose.config-hash"
	LabelNetwork    = "com.docker.compose.network"
)

// Engine converges compose projects on one berth state root.
type Engine struct {
	Root, RunRoot string
	Images        *image.Local
	// Out gets the progress lines, as docker compose prints them without a terminal
	// (" Container todo-db-1  Started").
	Out io.Writer
	// EnsureImage makes ref present as policy says: "missing" pulls it when it is not in the
	// store, "always" pulls it anyway, "never" does nothing (the CLI's pull, with its
	// progress).
	EnsureImage func(ctx context.Context, ref, policy string) error
	// Build builds service s's image (its build section) and tags it ref. Nil: berth
	// cannot build, and a service that needs a build fails saying so.
	Build func(ctx context.Context, p *types.Project, s types.ServiceConfig, ref string) error
	// Compatibility names containers with "_" as docker-compose v1 did.
	Compatibility bool

	mu sync.Mutex // serialises Out
}

func (e *Engine) progress(kind, name, what string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.Out, " %s %s  %s\n", kind, name, what)
}

// lockProject serialises the commands that change one project (two `up`, or `up` and `down`).
func (e *Engine) lockProject(name string) (func(), error) {
	dir := filepath.Join(e.Root, "projects")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock project %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}

// Containers are the containers of project name, sorted by name.
func (e *Engine) Containers(ctx context.Context, name string) ([]*container.Container, error) {
	all, err := container.List(ctx, e.Root)
	if err != nil {
		return nil, err
	}
	var out []*container.Container
	for _, c := range all {
		if c.Options.Labels[LabelProject] == name {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *container.Container) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// UpOptions are `up`'s.
type UpOptions struct {
	ForceRecreate bool
	NoRecreate    bool
	NoStart       bool
	RemoveOrphans bool
	// RenewAnonVolumes gives recreated containers new anonymous volumes (-V).
	RenewAnonVolumes bool
	// Pull overrides every service's pull_policy (up --pull); empty keeps each service's.
	Pull string
	// Build builds every service that has a build section first (--build); NoBuild never
	// builds, even a missing image (--no-build).
	Build, NoBuild bool
	// Timeout is how long a container that is recreated or restarted is given to stop
	// (up -t); nil: its stop_grace_period, else 10 s.
	Timeout *time.Duration
}

// Up creates what project p needs and is missing (networks, volumes, containers), recreates
// the containers whose configuration changed, and starts them in dependency order, each service
// as soon as its dependencies' conditions hold.
func (e *Engine) Up(ctx context.Context, p *types.Project, o UpOptions) error {
	unlock, err := e.lockProject(p.Name)
	if err != nil {
		return err
	}
	defer unlock()
	g, err := graph.FromProject(p)
	if err != nil {
		return invalidf("%v", err)
	}
	if err := e.orphans(ctx, p, o.RemoveOrphans); err != nil {
		return err
	}
	if err := e.EnsureResources(p); err != nil {
		return err
	}
	// The project's containers, read once (each service's are only changed by its own
	// convergence below), not once per service: that was quadratic in the project's size.
	all, err := e.Containers(ctx, p.Name)
	if err != nil {
		return err
	}
	byService := map[string][]*container.Container{}
	for _, c := range all {
		svc := c.Options.Labels[LabelService]
		byService[svc] = append(byService[svc], c)
	}
	wait := func(ctx context.Context, edge graph.Edge) error { return e.waitCondition(ctx, p, edge) }
	// The services whose containers this up recreated: their dependents with
	// depends_on.restart are restarted.
	var recreated sync.Map
	return g.Walk(ctx, graph.WalkOptions{Wait: wait}, func(ctx context.Context, name string) error {
		s, err := p.GetService(name)
		if err != nil {
			return err
		}
		restart := false
		for _, d := range g.Dependencies(name) {
			if _, ok := recreated.Load(d.To); ok && d.Restart {
				restart = true
			}
		}
		changed, err := e.convergeService(ctx, p, s, o, restart, byService[name])
		if changed {
			recreated.Store(name, true)
		}
		return err
	})
}

// EnsureResources makes the project's networks and volumes that are missing (external ones
// must exist).
func (e *Engine) EnsureResources(p *types.Project) error {
	if err := e.ensureNetworks(p); err != nil {
		return err
	}
	vols, err := volumes.Open(e.Root)
	if err != nil {
		return err
	}
	created, err := EnsureVolumes(vols, p)
	for _, name := range created {
		e.progress("Volume", strconv.Quote(name), "Created")
	}
	return err
}

// replicas is how many containers service s runs.
func replicas(s types.ServiceConfig) int {
	if s.Scale != nil {
		return *s.Scale
	}
	if s.Deploy != nil && s.Deploy.Replicas != nil {
		return *s.Deploy.Replicas
	}
	return 1
}

// convergeService brings service s to its replicas: kept when unchanged (restarted when
// restart says a dependency was recreated), recreated when its configuration changed (or
// forced), created when missing, extra ones removed; then started. existing are the project's
// containers of s when up began. It reports whether it recreated any.
func (e *Engine) convergeService(ctx context.Context, p *types.Project, s types.ServiceConfig, o UpOptions, restart bool, existing []*container.Container) (recreated bool, err error) {
	n := replicas(s)
	byNumber := map[int]*container.Container{}
	for _, c := range existing {
		if c.Options.Labels[LabelService] != s.Name || c.Options.Labels[LabelOneoff] == "True" {
			continue
		}
		num, _ := strconv.Atoi(c.Options.Labels[LabelNumber])
		if num < 1 || num > n {
			if err := e.removeContainer(ctx, c, true, o.Timeout); err != nil {
				return false, err
			}
			continue
		}
		byNumber[num] = c
	}
	for i := 1; i <= n; i++ {
		opts, err := ContainerOptions(p, s, i, e.Compatibility)
		if err != nil {
			return recreated, err
		}
		c := byNumber[i]
		if c != nil && c.Incomplete {
			// Its creator was killed half-way: make it again.
			if err := e.removeContainer(ctx, c, false, o.Timeout); err != nil {
				return recreated, err
			}
			c = nil
		}
		opts.Labels[LabelConfigJSON] = serviceJSON(s)
		if i == 1 {
			// Before the image is compared: with --pull always (or --build) a newer image
			// recreates.
			if err := e.EnsureServiceImage(ctx, p, s, opts.Image, o); err != nil {
				return recreated, err
			}
		}
		if c != nil {
			same := e.recreateReason(c, s, opts) == ""
			if o.NoRecreate || same && !o.ForceRecreate {
				if restart && !o.NoStart {
					if err := e.restart(ctx, c, o.Timeout); err != nil {
						return recreated, err
					}
					continue
				}
				if err := e.start(ctx, c, o); err != nil {
					return recreated, err
				}
				continue
			}
			// Recreate: the anonymous volumes go to the new container, as compose does.
			if !o.RenewAnonVolumes {
				opts.Mounts = carryAnonymous(c, opts.Mounts)
			}
			e.progress("Container", c.Name, "Recreate")
			if err := e.removeContainer(ctx, c, false, o.Timeout); err != nil {
				return recreated, err
			}
			recreated = true
		}
		nc, err := container.Create(ctx, e.Images, e.Root, e.RunRoot, opts)
		if err != nil {
			return recreated, err
		}
		e.progress("Container", nc.Name, "Created")
		if err := e.start(ctx, nc, o); err != nil {
			return recreated, err
		}
	}
	return recreated, nil
}

// EnsureServiceImage makes service s's image ref present as docker compose's up does: a service
// with a build section is built with --build, with pull_policy build, or when its image is
// missing and cannot be pulled; any other is pulled as its pull policy (or --pull) says.
func (e *Engine) EnsureServiceImage(ctx context.Context, p *types.Project, s types.ServiceConfig, ref string, o UpOptions) error {
	policy, err := PullPolicy(s, o.Pull)
	if err != nil {
		return err
	}
	pull := func(policy string) error {
		if e.EnsureImage == nil {
			return nil
		}
		return e.EnsureImage(ctx, ref, policy)
	}
	if s.Build == nil {
		if policy == "build" {
			return invalidf("service %q has pull_policy build but no build section", s.Name)
		}
		return pull(policy)
	}
	if o.NoBuild {
		if policy == "always" {
			return pull(policy)
		}
		return nil
	}
	if o.Build || policy == "build" {
		return e.build(ctx, p, s, ref)
	}
	if policy == "always" && pull("always") == nil {
		return nil
	}
	if e.Images != nil {
		if _, err := e.Images.Resolve(ref); err == nil {
			return nil
		}
	}
	// A missing image that names a repository is pulled first; if that fails, it is built
	// (compose's quiet fallback for buildable services).
	if policy == "missing" && s.Image != "" && pull("missing") == nil {
		return nil
	}
	return e.build(ctx, p, s, ref)
}

// build runs the Build hook for service s, with compose's progress lines.
func (e *Engine) build(ctx context.Context, p *types.Project, s types.ServiceConfig, ref string) error {
	if e.Build == nil {
		return invalidf("service %q needs its image %s built from its build section, and berth cannot build images yet", s.Name, ref)
	}
	// An additional context "service:NAME" is that service's image: it is made first.
	for _, v := range s.Build.AdditionalContexts {
		name, ok := strings.CutPrefix(v, "service:")
		if !ok || name == s.Name {
			continue
		}
		// Not selected (up SERVICE) is fine: its image is still needed.
		dep, ok := FindService(p, name)
		if !ok {
			return invalidf("additional context %s: no such service", v)
		}
		if err := e.EnsureServiceImage(ctx, p, dep, compose.ImageName(p, dep, e.Compatibility), UpOptions{}); err != nil {
			return err
		}
	}
	if err := e.Build(ctx, p, s, ref); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	e.progress("Image", ref, "Built")
	return nil
}

// PullPolicy is service s's pull policy as berth applies it: override (up --pull) if set, else
// its pull_policy; "if_not_present" and an empty policy are "missing". Compose's refresh
// policies (daily, weekly, every_<duration>) are refused: berth does not record when an image
// was pulled.
func PullPolicy(s types.ServiceConfig, override string) (string, error) {
	policy := s.PullPolicy
	if override != "" {
		policy = override
	}
	switch policy {
	case "", "missing", "if_not_present":
		return "missing", nil
	case "always", "never", "build":
		return policy, nil
	}
	if override != "" {
		return "", invalidf("invalid --pull %q: must be one of always, missing, never or build", override)
	}
	return "", invalidf("service %q: pull_policy %q is not supported by berth (always, missing, if_not_present, never, build)", s.Name, policy)
}

// restart stops and starts c: a dependency it declares depends_on.restart on was recreated.
func (e *Engine) restart(ctx context.Context, c *container.Container, timeout *time.Duration) error {
	e.progress("Container", c.Name, "Restarting")
	if err := c.Restart(ctx, e.Images, timeout); err != nil {
		return err
	}
	e.progress("Container", c.Name, "Started")
	return nil
}

// carryAnonymous gives the new container's anonymous volumes the old one's, by target.
func carryAnonymous(old *container.Container, mounts []container.Mount) []container.Mount {
	out := slices.Clone(mounts)
	for i, m := range out {
		if m.Type != "volume" || m.Source != "" {
			continue
		}
		for _, om := range old.Options.Mounts {
			if om.Anonymous && om.Type == "volume" && filepath.Clean(om.Target) == filepath.Clean(m.Target) {
				out[i].Source, out[i].Anonymous = om.Source, true
			}
		}
	}
	return out
}

// start starts c unless it runs (or NoStart).
func (e *Engine) start(ctx context.Context, c *container.Container, o UpOptions) error {
	if o.NoStart {
		return nil
	}
	st, err := c.Status()
	if err != nil {
		return err
	}
	if st.Status == container.StatusRunning || st.Status == container.StatusRestarting || st.Status == container.StatusPaused {
		e.progress("Container", c.Name, "Running")
		return nil
	}
	if err := c.Start(ctx, e.Images); err != nil {
		return err
	}
	e.progress("Container", c.Name, "Started")
	return nil
}

// waitCondition blocks until the dependency of edge meets its condition: started (it is, once
// visited), healthy, or completed successfully.
func (e *Engine) waitCondition(ctx context.Context, p *types.Project, edge graph.Edge) error {
	if edge.Condition == graph.ConditionStarted {
		return nil
	}
	for {
		cs, err := e.Containers(ctx, p.Name)
		if err != nil {
			return err
		}
		done := true
		for _, c := range cs {
			if c.Options.Labels[LabelService] != edge.To || c.Options.Labels[LabelOneoff] == "True" {
				continue
			}
			st, err := c.Status()
			if err != nil {
				return err
			}
			switch edge.Condition {
			case graph.ConditionHealthy:
				if st.Health == nil {
					return invalidf("dependency failed to start: container %s has no healthcheck configured", c.Name)
				}
				switch st.Health.Status {
				case "healthy":
				case "unhealthy":
					last := ""
					if n := len(st.Health.Log); n > 0 {
						last = strings.TrimSpace(st.Health.Log[n-1].Output)
					}
					return fmt.Errorf("dependency failed to start: container %s is unhealthy (last probe: %q)", c.Name, last)
				default:
					done = false
				}
				if st.Status == container.StatusExited {
					return fmt.Errorf("dependency failed to start: container %s exited (%d)", c.Name, st.ExitCode)
				}
			case graph.ConditionCompleted:
				if st.Status != container.StatusExited {
					done = false
				} else if st.ExitCode != 0 {
					return fmt.Errorf("service %q didn't complete successfully: exit %d", edge.To, st.ExitCode)
				}
			}
		}
		if done {
			if edge.Condition == graph.ConditionHealthy {
				for _, c := range cs {
					if c.Options.Labels[LabelService] == edge.To && c.Options.Labels[LabelOneoff] != "True" {
						e.progress("Container", c.Name, "Healthy")
					}
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ensureNetworks makes the project's networks that are missing, with compose's labels; external
// ones must exist.
func (e *Engine) ensureNetworks(p *types.Project) error {
	store, err := network.OpenStore(e.Root)
	if err != nil {
		return err
	}
	for _, key := range slices.Sorted(maps.Keys(p.Networks)) {
		def := p.Networks[key]
		name := resourceName(p, def.Name, key)
		if _, err := store.Get(name); err == nil {
			continue
		} else if !errors.Is(err, network.ErrNotFound) {
			return err
		}
		if def.External {
			// docker compose's words.
			return invalidf("network %s declared as external, but could not be found", name)
		}
		o := network.Options{Driver: def.Driver, Internal: def.Internal, Attachable: def.Attachable,
			DriverOpts: def.DriverOpts, Labels: map[string]string{LabelProject: p.Name, LabelNetwork: key, LabelVersion: ComposeVersion}}
		maps.Copy(o.Labels, def.Labels)
		if def.EnableIPv6 != nil {
			o.EnableIPv6 = *def.EnableIPv6
		}
		for _, c := range def.Ipam.Config {
			sub, gw := &o.Subnet, &o.Gateway
			if strings.Contains(c.Subnet, ":") {
				sub, gw = &o.Subnet6, &o.Gateway6
			}
			*sub, *gw = c.Subnet, c.Gateway
		}
		if _, err := store.Create(name, o); err != nil {
			return err
		}
		e.progress("Network", name, "Created")
	}
	return nil
}

// orphans reports (or with remove, removes) the project's containers of services the file no
// longer has.
func (e *Engine) orphans(ctx context.Context, p *types.Project, remove bool) error {
	cs, err := e.Containers(ctx, p.Name)
	if err != nil {
		return err
	}
	var names []string
	for _, c := range cs {
		svc := c.Options.Labels[LabelService]
		if _, ok := p.Services[svc]; ok || c.Options.Labels[LabelOneoff] == "True" {
			continue
		}
		if _, ok := p.DisabledServices[svc]; ok {
			continue // in the file, not selected (up SERVICE, profiles)
		}
		if remove {
			if err := e.removeContainer(ctx, c, false, nil); err != nil {
				return err
			}
			continue
		}
		names = append(names, c.Name)
	}
	if len(names) > 0 {
		// docker compose's words.
		e.mu.Lock()
		fmt.Fprintf(e.Out, "WARN[0000] Found orphan containers (%v) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.\n", names)
		e.mu.Unlock()
	}
	return nil
}

// removeContainer stops (it is killed: berth's stop of a container that ignores SIGTERM
// would wait its grace period) and removes c.
func (e *Engine) removeContainer(ctx context.Context, c *container.Container, removeVolumes bool, timeout *time.Duration) error {
	if st, err := c.Status(); err == nil && (st.Status == container.StatusRunning || st.Status == container.StatusPaused || st.Status == container.StatusRestarting) {
		e.progress("Container", c.Name, "Stopping")
		if err := c.Stop(ctx, timeout); err != nil {
			return err
		}
		e.progress("Container", c.Name, "Stopped")
	}
	if err := c.Remove(ctx, true, removeVolumes); err != nil {
		return err
	}
	e.progress("Container", c.Name, "Removed")
	return nil
}

// DownOptions are `down`'s.
type DownOptions struct {
	// Volumes removes the project's named volumes and its containers' anonymous ones.
	Volumes bool
	// Timeout is the stop grace period (nil: each container's own).
	Timeout *time.Duration
	// Services limits down to these services' containers; the project's networks and volumes
	// stay while other containers of it remain.
	Services []string
	// Defined are the services of the project's file, when it was loaded: the containers of
	// other services are orphans, which stay unless RemoveOrphans. Nil (no file, `-p NAME
	// down`): every container of the project goes.
	Defined       []string
	RemoveOrphans bool
	// RemoveImages removes the images of the removed containers: "all" every one, "local"
	// those without a custom tag (the <project>-<service> name of a built image) (--rmi).
	RemoveImages string
}

// removeInReverseOrder stops and removes cs, each service's containers once the services that
// depend on it (from the depends_on label) are gone, as docker compose's down; independent
// services go in parallel, so a down is as long as its longest chain of grace periods.
func (e *Engine) removeInReverseOrder(ctx context.Context, cs []*container.Container, o DownOptions) error {
	bySvc := map[string][]*container.Container{}
	for _, c := range cs {
		svc := c.Options.Labels[LabelService]
		bySvc[svc] = append(bySvc[svc], c)
	}
	// dependents[s]: the services (present here) that declare depends_on s.
	dependents := map[string][]string{}
	for svc, list := range bySvc {
		for _, d := range strings.Split(list[0].Options.Labels[LabelDependsOn], ",") {
			dep, _, _ := strings.Cut(d, ":")
			if _, ok := bySvc[dep]; ok && dep != svc {
				dependents[dep] = append(dependents[dep], svc)
			}
		}
	}
	done := map[string]chan struct{}{}
	for svc := range bySvc {
		done[svc] = make(chan struct{})
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for svc, list := range bySvc {
		wg.Go(func() {
			defer close(done[svc])
			// A cycle cannot be in labels written from a loaded project; a hand-edited one
			// would only delay this service until ctx ends.
			for _, d := range dependents[svc] {
				select {
				case <-done[d]:
				case <-ctx.Done():
				}
			}
			var inner sync.WaitGroup
			for _, c := range list {
				inner.Go(func() {
					if err := e.removeContainer(ctx, c, o.Volumes, o.Timeout); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				})
			}
			inner.Wait()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// removeImages removes the images the containers cs of project ran, as down --rmi says.
func (e *Engine) removeImages(ctx context.Context, cs []*container.Container, project, which string) []error {
	seen := map[string]bool{}
	var errs []error
	for _, c := range cs {
		ref := c.Options.Image
		if seen[ref] {
			continue
		}
		seen[ref] = true
		svc := c.Options.Labels[LabelService]
		if which == "local" && ref != project+"-"+svc && ref != project+"_"+svc {
			continue
		}
		if e.Images == nil {
			continue
		}
		if _, err := e.Images.Remove(ctx, []string{ref}, false); err != nil {
			if errors.Is(err, image.ErrNotFound) {
				continue
			}
			errs = append(errs, err)
			continue
		}
		e.progress("Image", ref, "Removed")
	}
	return errs
}

// Down stops and removes the containers of project name, then the networks it created (never
// external ones), and with Volumes its volumes. It succeeds on a project that is already gone,
// and cleans up whatever a crash left.
func (e *Engine) Down(ctx context.Context, name string, o DownOptions) error {
	unlock, err := e.lockProject(name)
	if err != nil {
		return err
	}
	defer unlock()
	cs, err := e.Containers(ctx, name)
	if err != nil {
		return err
	}
	var keep []*container.Container
	if len(o.Services) > 0 {
		var sel []*container.Container
		for _, c := range cs {
			if slices.Contains(o.Services, c.Options.Labels[LabelService]) {
				sel = append(sel, c)
			} else {
				keep = append(keep, c)
			}
		}
		cs = sel
	}
	selected := len(keep) > 0
	if o.Defined != nil && !o.RemoveOrphans {
		// Containers of services the file no longer has stay, as docker compose leaves them,
		// with the same warning up gives.
		var rest []*container.Container
		var names []string
		for _, c := range cs {
			if svc := c.Options.Labels[LabelService]; !slices.Contains(o.Defined, svc) {
				keep = append(keep, c)
				names = append(names, c.Name)
				continue
			}
			rest = append(rest, c)
		}
		if len(names) > 0 {
			slices.Sort(names)
			fmt.Fprintf(e.Out, "WARN[0000] Found orphan containers (%v) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.\n", names)
		}
		cs = rest
	}
	if err := e.removeInReverseOrder(ctx, cs, o); err != nil {
		return err
	}
	var errs []error
	if o.RemoveImages != "" {
		errs = append(errs, e.removeImages(ctx, cs, name, o.RemoveImages)...)
	}
	if selected {
		// down SERVICE...: the project's other containers still use its networks and volumes.
		return errors.Join(errs...)
	}
	// What the containers left (orphans) use stays.
	netsInUse, volsInUse := map[string]bool{}, map[string]bool{}
	for _, c := range keep {
		for _, a := range c.Options.Networks {
			netsInUse[a.Network] = true
		}
		for _, m := range c.Options.Mounts {
			if m.Type == "volume" {
				volsInUse[m.Source] = true
			}
		}
	}
	nets, err := e.projectNetworks(name)
	if err != nil {
		return err
	}
	for _, n := range nets {
		if netsInUse[n.name] {
			fmt.Fprintf(e.Out, " Network %s  Resource is still in use\n", n.name)
			continue
		}
		if err := n.store.Remove(n.name); err != nil {
			errs = append(errs, err)
			continue
		}
		e.progress("Network", n.name, "Removed")
	}
	if o.Volumes {
		vols, store, err := e.projectVolumes(name)
		if err != nil {
			return err
		}
		for _, v := range vols {
			if volsInUse[v] {
				fmt.Fprintf(e.Out, " Volume %s  Resource is still in use\n", v)
				continue
			}
			if err := store.Remove(v, false); err != nil {
				errs = append(errs, err)
				continue
			}
			e.progress("Volume", v, "Removed")
		}
	}
	return errors.Join(errs...)
}

// Wait blocks until every container of the project's services runs, and is healthy when it has
// a healthcheck (`up --wait`). A container that exits or turns unhealthy fails it at once.
func (e *Engine) Wait(ctx context.Context, p *types.Project) error {
	reported := map[string]bool{}
	for {
		cs, err := e.Containers(ctx, p.Name)
		if err != nil {
			return err
		}
		done := true
		for _, c := range cs {
			if _, ok := p.Services[c.Options.Labels[LabelService]]; !ok || c.Options.Labels[LabelOneoff] == "True" {
				continue
			}
			st, err := c.Status()
			if err != nil {
				return err
			}
			switch {
			case st.Status == container.StatusExited:
				return fmt.Errorf("container %s exited (%d)", c.Name, st.ExitCode)
			case st.Status != container.StatusRunning:
				done = false
			case st.Health == nil:
			case st.Health.Status == "unhealthy":
				return fmt.Errorf("container %s is unhealthy", c.Name)
			case st.Health.Status != "healthy":
				done = false
			case !reported[c.Name]:
				reported[c.Name] = true
				e.progress("Container", c.Name, "Healthy")
			}
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// projectNetwork is one network project name made.
type projectNetwork struct {
	name  string
	store *network.Store
}

// projectNetworks are the networks made for project name (carrying its label; never an
// external one).
func (e *Engine) projectNetworks(name string) ([]projectNetwork, error) {
	store, err := network.OpenStore(e.Root)
	if err != nil {
		return nil, err
	}
	all, err := store.List()
	if err != nil {
		return nil, err
	}
	var out []projectNetwork
	for _, n := range all {
		if n.Labels[LabelProject] == name {
			out = append(out, projectNetwork{n.Name, store})
		}
	}
	return out, nil
}

// projectVolumes are the names of the volumes made for project name, and their store.
func (e *Engine) projectVolumes(name string) ([]string, *volumes.Store, error) {
	store, err := volumes.Open(e.Root)
	if err != nil {
		return nil, nil, err
	}
	all, err := store.List()
	if err != nil {
		return nil, nil, err
	}
	var out []string
	for _, v := range all {
		if v.Labels[LabelProject] == name {
			out = append(out, v.Name)
		}
	}
	return out, store, nil
}
