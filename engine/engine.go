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
	// EnsureImage pulls ref when it is missing (the CLI's pull, with its progress).
	EnsureImage func(ctx context.Context, ref string) error
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
		changed, err := e.convergeService(ctx, p, s, o, restart)
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
// forced), created when missing, extra ones removed; then started. It reports whether it
// recreated any.
func (e *Engine) convergeService(ctx context.Context, p *types.Project, s types.ServiceConfig, o UpOptions, restart bool) (recreated bool, err error) {
	n := replicas(s)
	existing, err := e.Containers(ctx, p.Name)
	if err != nil {
		return false, err
	}
	byNumber := map[int]*container.Container{}
	for _, c := range existing {
		if c.Options.Labels[LabelService] != s.Name || c.Options.Labels[LabelOneoff] == "True" {
			continue
		}
		num, _ := strconv.Atoi(c.Options.Labels[LabelNumber])
		if num < 1 || num > n {
			if err := e.removeContainer(ctx, c, true); err != nil {
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
			if err := e.removeContainer(ctx, c, false); err != nil {
				return recreated, err
			}
			c = nil
		}
		opts.Labels[LabelConfigJSON] = serviceJSON(s)
		if i == 1 && e.EnsureImage != nil {
			// Before the image is compared: with --pull always a newer image recreates.
			if err := e.EnsureImage(ctx, opts.Image); err != nil {
				return recreated, err
			}
		}
		if c != nil {
			same := e.recreateReason(c, s, opts) == ""
			if o.NoRecreate || same && !o.ForceRecreate {
				if restart && !o.NoStart {
					if err := e.restart(ctx, c); err != nil {
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
			if err := e.removeContainer(ctx, c, false); err != nil {
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

// restart stops and starts c: a dependency it declares depends_on.restart on was recreated.
func (e *Engine) restart(ctx context.Context, c *container.Container) error {
	e.progress("Container", c.Name, "Restarting")
	if err := c.Restart(ctx, e.Images, nil); err != nil {
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
			if err := e.removeContainer(ctx, c, false); err != nil {
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
func (e *Engine) removeContainer(ctx context.Context, c *container.Container, removeVolumes bool) error {
	if st, err := c.Status(); err == nil && (st.Status == container.StatusRunning || st.Status == container.StatusPaused || st.Status == container.StatusRestarting) {
		e.progress("Container", c.Name, "Stopping")
		if err := c.Stop(ctx, nil); err != nil {
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
	// Every container at once: a stop is the container's own grace period, not a sum of them.
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, err := c.Status(); err == nil && (st.Status == container.StatusRunning || st.Status == container.StatusPaused || st.Status == container.StatusRestarting) {
				e.progress("Container", c.Name, "Stopping")
				if err := c.Stop(ctx, o.Timeout); err != nil {
					errs[i] = err
					return
				}
				e.progress("Container", c.Name, "Stopped")
			}
			if err := c.Remove(ctx, true, o.Volumes); err != nil {
				errs[i] = err
				return
			}
			e.progress("Container", c.Name, "Removed")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	nets, err := e.projectNetworks(name)
	if err != nil {
		return err
	}
	for _, n := range nets {
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
