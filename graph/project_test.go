package graph

import (
	"errors"
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func service(name string, configure func(s *types.ServiceConfig)) types.ServiceConfig {
	s := types.ServiceConfig{Name: name}
	s.Image = "alpine"
	if configure != nil {
		configure(&s)
	}
	return s
}

func project(services ...types.ServiceConfig) *types.Project {
	p := &types.Project{Name: "test", Services: types.Services{}}
	for _, s := range services {
		p.Services[s.Name] = s
	}
	return p
}

func allEdges(g *Graph) []Edge {
	var edges []Edge
	for _, n := range g.Nodes() {
		edges = append(edges, g.Dependencies(n)...)
	}
	return edges
}

func TestFromProject(t *testing.T) {
	implied := func(from, to, kind string, restart bool) Edge {
		return Edge{From: from, To: to, Condition: ConditionStarted, Required: true, Restart: restart, Kind: kind}
	}
	tests := []struct {
		name      string
		project   *types.Project
		wantNodes []string
		wantEdges []Edge
		wantErr   string
		wantIs    error
	}{
		{
			name: "depends_on conditions, required and restart",
			project: project(
				service("db", nil),
				service("cache", nil),
				service("migrate", nil),
				service("web", func(s *types.ServiceConfig) {
					s.DependsOn = types.DependsOnConfig{
						"db":      {Condition: types.ServiceConditionHealthy, Required: true, Restart: true},
						"migrate": {Condition: types.ServiceConditionCompletedSuccessfully, Required: true},
						"cache":   {Condition: "", Required: false},
					}
				}),
			),
			wantNodes: []string{"cache", "db", "migrate", "web"},
			wantEdges: []Edge{
				{From: "web", To: "cache", Condition: ConditionStarted, Required: false, Kind: "depends_on"},
				{From: "web", To: "db", Condition: ConditionHealthy, Required: true, Restart: true, Kind: "depends_on"},
				{From: "web", To: "migrate", Condition: ConditionCompleted, Required: true, Kind: "depends_on"},
			},
		},
		{
			name: "links with and without alias",
			project: project(
				service("db", nil),
				service("cache", nil),
				service("web", func(s *types.ServiceConfig) { s.Links = []string{"db:database", "cache"} }),
			),
			wantNodes: []string{"cache", "db", "web"},
			wantEdges: []Edge{implied("web", "cache", "links", true), implied("web", "db", "links", true)},
		},
		{
			name: "volumes_from ignores containers and access modes",
			project: project(
				service("data", nil),
				service("logs", nil),
				service("web", func(s *types.ServiceConfig) {
					s.VolumesFrom = []string{"data:ro", "container:legacy", "container:other:rw", "logs"}
				}),
			),
			wantNodes: []string{"data", "logs", "web"},
			wantEdges: []Edge{implied("web", "data", "volumes_from", false), implied("web", "logs", "volumes_from", false)},
		},
		{
			name: "namespace modes sharing a service",
			project: project(
				service("net", nil),
				service("pid", nil),
				service("ipc", nil),
				service("uts", nil),
				service("cg", nil),
				service("app", func(s *types.ServiceConfig) {
					s.NetworkMode = "service:net"
					s.Pid = "service:pid"
					s.Ipc = "service:ipc"
					s.Uts = "service:uts"
					s.Cgroup = "service:cg"
				}),
				service("host", func(s *types.ServiceConfig) {
					s.NetworkMode = "container:abc"
					s.Pid = "host"
					s.Ipc = "shareable"
				}),
			),
			wantNodes: []string{"app", "cg", "host", "ipc", "net", "pid", "uts"},
			wantEdges: []Edge{
				implied("app", "cg", "cgroup", true),
				implied("app", "ipc", "ipc", true),
				implied("app", "net", "network_mode", true),
				implied("app", "pid", "pid", true),
				implied("app", "uts", "uts", true),
			},
		},
		{
			// What the compose-go loader produces: implicit depends_on
			// entries next to the attributes that imply them.
			name: "one edge per pair, depends_on wins",
			project: project(
				service("db", nil),
				service("vpn", nil),
				service("web", func(s *types.ServiceConfig) {
					s.Links = []string{"db"}
					s.VolumesFrom = []string{"db"}
					s.NetworkMode = "service:vpn"
					s.Ipc = "service:vpn"
					s.DependsOn = types.DependsOnConfig{
						"db":  {Condition: types.ServiceConditionHealthy, Required: true},
						"vpn": {Condition: types.ServiceConditionStarted, Required: true, Restart: true},
					}
				}),
			),
			wantNodes: []string{"db", "vpn", "web"},
			wantEdges: []Edge{
				{From: "web", To: "db", Condition: ConditionHealthy, Required: true, Kind: "depends_on"},
				{From: "web", To: "vpn", Condition: ConditionStarted, Required: true, Restart: true, Kind: "depends_on"},
			},
		},
		{
			name: "first implying attribute gives the kind",
			project: project(
				service("db", nil),
				service("web", func(s *types.ServiceConfig) {
					s.VolumesFrom = []string{"db"}
					s.Links = []string{"db"}
				}),
			),
			wantNodes: []string{"db", "web"},
			wantEdges: []Edge{implied("web", "db", "links", true)},
		},
		{
			name: "missing optional dependency dropped",
			project: project(
				service("web", func(s *types.ServiceConfig) {
					s.DependsOn = types.DependsOnConfig{"db": {Required: false}}
				}),
			),
			wantNodes: []string{"web"},
		},
		{
			name: "missing required dependency",
			project: project(
				service("web", func(s *types.ServiceConfig) {
					s.DependsOn = types.DependsOnConfig{"db": {Required: true}}
				}),
			),
			wantErr: `service "web" depends on undefined service "db"`,
			wantIs:  ErrUnknownService,
		},
		{
			name: "missing service in network_mode",
			project: project(
				service("web", func(s *types.ServiceConfig) { s.NetworkMode = "service:vpn" }),
			),
			wantErr: `service "web" depends on undefined service "vpn"`,
			wantIs:  ErrUnknownService,
		},
		{
			name: "required dependency disabled by a profile",
			project: func() *types.Project {
				p := project(service("web", func(s *types.ServiceConfig) {
					s.DependsOn = types.DependsOnConfig{"db": {Required: true}}
				}))
				p.DisabledServices = types.Services{"db": service("db", nil)}
				return p
			}(),
			wantErr: `service "web" depends on disabled service "db"`,
			wantIs:  ErrUnknownService,
		},
		{
			name: "disabled services are not nodes",
			project: func() *types.Project {
				p := project(service("web", nil))
				p.DisabledServices = types.Services{"debug": service("debug", nil)}
				return p
			}(),
			wantNodes: []string{"web"},
		},
		{
			name: "cycle through implied edges",
			project: project(
				service("a", func(s *types.ServiceConfig) { s.Links = []string{"b"} }),
				service("b", func(s *types.ServiceConfig) { s.NetworkMode = "service:a" }),
			),
			wantErr: "dependency cycle: a -> b -> a",
			wantIs:  ErrCycle,
		},
		{
			name:      "empty project",
			project:   project(),
			wantNodes: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := FromProject(tt.project)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("FromProject succeeded, want %q", tt.wantErr)
				}
				if err.Error() != tt.wantErr {
					t.Errorf("error = %q, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, tt.wantIs) {
					t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromProject: %v", err)
			}
			if got := g.Nodes(); !slices.Equal(got, tt.wantNodes) {
				t.Errorf("Nodes() = %v, want %v", got, tt.wantNodes)
			}
			if got := allEdges(g); !slices.Equal(got, tt.wantEdges) {
				t.Errorf("edges:\n got %+v\nwant %+v", got, tt.wantEdges)
			}
		})
	}
}

func TestFromProjectNil(t *testing.T) {
	if _, err := FromProject(nil); err == nil {
		t.Fatal("FromProject(nil) succeeded")
	}
}
