package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-sh/berth/network"
	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/volumes"
)

// Action is one step of a plan: what `up` would do to one object, and why.
type Action struct {
	Kind   string // "Network", "Volume", "Container"
	Name   string
	What   string // Create, Recreate, Start, Keep, Remove
	Reason string // for a recreation: what changed
}

func (a Action) String() string {
	s := fmt.Sprintf("%s %s  %s", a.Kind, a.Name, a.What)
	if a.Reason != "" {
		s += " (" + a.Reason + ")"
	}
	return s
}

// Plan is what Up would do to project p, in dependency order, changing nothing: which
// networks and volumes it would make, and which containers it would create, recreate (with
// the reason: the attributes of the service that changed, or the image behind its tag),
// start, keep or remove.
func (e *Engine) Plan(ctx context.Context, p *types.Project, o UpOptions) ([]Action, error) {
	var plan []Action
	nets, err := network.OpenStore(e.Root)
	if err != nil {
		return nil, err
	}
	for _, key := range slices.Sorted(maps.Keys(p.Networks)) {
		def, name := p.Networks[key], resourceName(p, p.Networks[key].Name, key)
		if _, err := nets.Get(name); errors.Is(err, network.ErrNotFound) {
			if def.External {
				return nil, invalidf("network %s declared as external, but could not be found", name)
			}
			plan = append(plan, Action{Kind: "Network", Name: name, What: "Create"})
		} else if err != nil {
			return nil, err
		}
	}
	vols, err := volumes.Open(e.Root)
	if err != nil {
		return nil, err
	}
	for _, key := range slices.Sorted(maps.Keys(p.Volumes)) {
		def, name := p.Volumes[key], resourceName(p, p.Volumes[key].Name, key)
		if _, err := vols.Get(name); errors.Is(err, volumes.ErrNotFound) {
			if def.External {
				return nil, invalidf("external volume %q not found", name)
			}
			plan = append(plan, Action{Kind: "Volume", Name: strconv.Quote(name), What: "Create"})
		} else if err != nil {
			return nil, err
		}
	}
	existing, err := e.Containers(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	order, err := serviceOrder(p)
	if err != nil {
		return nil, err
	}
	for _, name := range order {
		s := p.Services[name]
		n := replicas(s)
		for _, c := range existing {
			num, _ := strconv.Atoi(c.Options.Labels[LabelNumber])
			if c.Options.Labels[LabelService] == name && c.Options.Labels[LabelOneoff] != "True" && (num < 1 || num > n) {
				plan = append(plan, Action{Kind: "Container", Name: c.Name, What: "Remove", Reason: "scaled down"})
			}
		}
		for i := 1; i <= n; i++ {
			opts, err := ContainerOptions(p, s, i, e.Compatibility)
			if err != nil {
				return nil, err
			}
			a := Action{Kind: "Container", Name: opts.Name}
			idx := slices.IndexFunc(existing, func(c *container.Container) bool { return c.Name == opts.Name })
			switch {
			case idx < 0:
				a.What = "Create"
			default:
				c := existing[idx]
				reason := e.recreateReason(c, s, opts)
				switch {
				case c.Incomplete:
					a.What, a.Reason = "Recreate", "its creation was interrupted"
				case o.NoRecreate || reason == "" && !o.ForceRecreate:
					a.What = "Keep"
					if st, err := c.Status(); err == nil && st.Status != container.StatusRunning && st.Status != container.StatusPaused && st.Status != container.StatusRestarting && !o.NoStart {
						a.What = "Start"
					}
				default:
					a.What, a.Reason = "Recreate", reason
					if reason == "" {
						a.Reason = "--force-recreate"
					}
				}
			}
			plan = append(plan, a)
		}
	}
	return plan, nil
}

// resourceName is a project network's or volume's name: its own, else <project>_<key>.
func resourceName(p *types.Project, name, key string) string {
	if name == "" {
		return p.Name + "_" + key
	}
	return name
}

// serviceOrder is the project's services with dependencies first.
func serviceOrder(p *types.Project) ([]string, error) {
	var order []string
	err := p.ForEachService(nil, func(name string, _ *types.ServiceConfig) error {
		order = append(order, name)
		return nil
	})
	return order, err
}

// recreateReason says why container c no longer matches service s ("" when it does): the
// service attributes that changed since c was made, or the image its tag names now.
func (e *Engine) recreateReason(c *container.Container, s types.ServiceConfig, opts container.Options) string {
	if c.Options.Labels[LabelConfigHash] != opts.Labels[LabelConfigHash] {
		if paths := configChanges(c.Options.Labels[LabelConfigJSON], serviceJSON(s)); len(paths) > 0 {
			return strings.Join(paths, ", ") + " changed"
		}
		return "configuration changed"
	}
	if e.Images != nil {
		if si, err := e.Images.Resolve(opts.Image); err == nil && si.ID.String() != c.ImageID {
			return "image digest changed"
		}
	}
	return ""
}

// LabelConfigJSON is berth's own label with the service configuration a container was made
// from (as hashed for com.docker.compose.config-hash), so that a plan can name what changed.
const LabelConfigJSON = "berth.compose.config"

// serviceJSON is the service as compose.ServiceHash hashes it.
func serviceJSON(s types.ServiceConfig) string {
	s.Build, s.PullPolicy, s.Scale, s.DependsOn, s.Profiles = nil, "", nil, nil, nil
	if s.Deploy != nil {
		d := *s.Deploy
		d.Replicas = nil
		s.Deploy = &d
	}
	b, err := json.Marshal(s)
	if err != nil {
		return ""
	}
	return string(b)
}

// configChanges lists the dotted paths where two JSON documents differ (environment.LEVEL,
// image), at most five; nil when either cannot be read.
func configChanges(old, cur string) []string {
	var a, b any
	if old == "" || json.Unmarshal([]byte(old), &a) != nil || json.Unmarshal([]byte(cur), &b) != nil {
		return nil
	}
	var out []string
	diffJSON("", a, b, &out)
	slices.Sort(out)
	if len(out) > 5 {
		out = append(out[:5], "...")
	}
	return out
}

func diffJSON(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diffJSON(p, am[k], bm[k], out)
		}
		return
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		*out = append(*out, path)
	}
}

// DownPlan is what Down would remove, changing nothing.
func (e *Engine) DownPlan(ctx context.Context, name string, o DownOptions) ([]Action, error) {
	var plan []Action
	cs, err := e.Containers(ctx, name)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		plan = append(plan, Action{Kind: "Container", Name: c.Name, What: "Remove"})
	}
	nets, err := e.projectNetworks(name)
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		plan = append(plan, Action{Kind: "Network", Name: n.name, What: "Remove"})
	}
	if o.Volumes {
		vols, _, err := e.projectVolumes(name)
		if err != nil {
			return nil, err
		}
		for _, v := range vols {
			plan = append(plan, Action{Kind: "Volume", Name: v, What: "Remove"})
		}
	}
	return plan, nil
}
