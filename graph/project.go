package graph

import (
	"errors"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// FromProject builds the graph of the enabled services of p (p.Services).
//
// Edges come from depends_on and from the attributes that need another
// service's container to exist first: links ("svc" or "svc:alias"),
// volumes_from ("svc", "svc:ro"; "container:NAME" is not a service) and
// "service:NAME" in network_mode, pid, ipc, uts and cgroup. The compose-go
// loader already turns those attributes into implicit depends_on entries,
// but a project built in code may not have them, so both are read and each
// From->To pair yields one edge. An explicit depends_on entry wins, because
// only it can carry a condition, restart or required flag chosen by the
// user. The implied edges use the values compose gives them: condition
// service_started, required, restart except for volumes_from.
//
// A required dependency on a service that is not enabled is an error
// wrapping ErrUnknownService; an optional one is dropped.
func FromProject(p *types.Project) (*Graph, error) {
	if p == nil {
		return nil, errors.New("nil project")
	}
	names := make([]string, 0, len(p.Services))
	for name := range p.Services {
		names = append(names, name)
	}
	slices.Sort(names)

	var edges []Edge
	for _, name := range names {
		s := p.Services[name]
		var own []Edge
		add := func(e Edge) {
			for _, o := range own {
				if o.To == e.To {
					return
				}
			}
			own = append(own, e)
		}
		implied := func(to, kind string, restart bool) {
			add(Edge{From: name, To: to, Condition: ConditionStarted, Required: true, Restart: restart, Kind: kind})
		}

		deps := make([]string, 0, len(s.DependsOn))
		for to := range s.DependsOn {
			deps = append(deps, to)
		}
		slices.Sort(deps)
		for _, to := range deps {
			d := s.DependsOn[to]
			add(Edge{
				From:      name,
				To:        to,
				Condition: Condition(d.Condition),
				Required:  d.Required,
				Restart:   d.Restart,
				Kind:      "depends_on",
			})
		}
		for _, l := range s.Links {
			to, _, _ := strings.Cut(l, ":")
			implied(to, "links", true)
		}
		for _, v := range s.VolumesFrom {
			if strings.HasPrefix(v, types.ContainerPrefix) {
				continue
			}
			to, _, _ := strings.Cut(v, ":")
			// Only the container's volumes are shared, not a running
			// process, so compose does not restart the consumer with it.
			implied(to, "volumes_from", false)
		}
		for _, ns := range []struct{ kind, mode string }{
			{"network_mode", s.NetworkMode},
			{"pid", s.Pid},
			{"ipc", s.Ipc},
			{"uts", s.Uts},
			{"cgroup", s.Cgroup},
		} {
			if to, ok := strings.CutPrefix(ns.mode, types.ServicePrefix); ok {
				implied(to, ns.kind, true)
			}
		}

		for _, e := range own {
			if _, enabled := p.Services[e.To]; enabled || !e.Required {
				continue
			}
			// New would say "undefined"; a profile-disabled service is a
			// different mistake with a different fix.
			if _, disabled := p.DisabledServices[e.To]; disabled {
				return nil, undefinedDependency(e.From, e.To, "disabled")
			}
		}
		edges = append(edges, own...)
	}
	return New(names, edges)
}
