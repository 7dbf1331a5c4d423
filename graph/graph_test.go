package graph

import (
	"errors"
	"slices"
	"testing"
)

// dep is a required service_started edge, the common case in tests.
func dep(from, to string) Edge {
	return Edge{From: from, To: to, Condition: ConditionStarted, Required: true, Kind: "depends_on"}
}

func optional(from, to string) Edge {
	e := dep(from, to)
	e.Required = false
	return e
}

func mustNew(t *testing.T, nodes []string, edges []Edge) *Graph {
	t.Helper()
	g, err := New(nodes, edges)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return g
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name        string
		nodes       []string
		edges       []Edge
		wantOrder   []string
		wantReverse []string
	}{
		{
			name:        "empty",
			wantOrder:   []string{},
			wantReverse: []string{},
		},
		{
			name:        "chain",
			nodes:       []string{"web", "api", "db"},
			edges:       []Edge{dep("web", "api"), dep("api", "db")},
			wantOrder:   []string{"db", "api", "web"},
			wantReverse: []string{"web", "api", "db"},
		},
		{
			name:  "diamond",
			nodes: []string{"web", "api", "cache", "db"},
			edges: []Edge{
				dep("web", "api"), dep("web", "cache"),
				dep("api", "db"), dep("cache", "db"),
			},
			wantOrder:   []string{"db", "api", "cache", "web"},
			wantReverse: []string{"web", "cache", "api", "db"},
		},
		{
			name:        "independent nodes sorted by name",
			nodes:       []string{"c", "a", "b"},
			wantOrder:   []string{"a", "b", "c"},
			wantReverse: []string{"c", "b", "a"},
		},
		{
			// "a" is ready only after "z"; the smallest ready name is taken
			// at each step, not the smallest name overall.
			name:        "ties broken by name among ready nodes",
			nodes:       []string{"a", "m", "z", "b"},
			edges:       []Edge{dep("a", "z")},
			wantOrder:   []string{"b", "m", "z", "a"},
			wantReverse: []string{"a", "z", "m", "b"},
		},
		{
			name:        "optional edges still order",
			nodes:       []string{"a", "b"},
			edges:       []Edge{optional("a", "b")},
			wantOrder:   []string{"b", "a"},
			wantReverse: []string{"a", "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustNew(t, tt.nodes, tt.edges)
			if got := g.Order(); !slices.Equal(got, tt.wantOrder) {
				t.Errorf("Order() = %v, want %v", got, tt.wantOrder)
			}
			if got := g.ReverseOrder(); !slices.Equal(got, tt.wantReverse) {
				t.Errorf("ReverseOrder() = %v, want %v", got, tt.wantReverse)
			}
			// Same graph, edges and nodes listed in another order.
			nodes := slices.Clone(tt.nodes)
			slices.Reverse(nodes)
			edges := slices.Clone(tt.edges)
			slices.Reverse(edges)
			if got := mustNew(t, nodes, edges).Order(); !slices.Equal(got, tt.wantOrder) {
				t.Errorf("Order() with input reversed = %v, want %v", got, tt.wantOrder)
			}
		})
	}
}

func TestNodesAndEdges(t *testing.T) {
	g := mustNew(t, []string{"web", "db", "cache", "worker"}, []Edge{
		dep("web", "db"), dep("web", "cache"), dep("worker", "db"),
	})
	if got, want := g.Nodes(), []string{"cache", "db", "web", "worker"}; !slices.Equal(got, want) {
		t.Errorf("Nodes() = %v, want %v", got, want)
	}
	if got, want := g.Dependencies("web"), []Edge{dep("web", "cache"), dep("web", "db")}; !slices.Equal(got, want) {
		t.Errorf("Dependencies(web) = %v, want %v", got, want)
	}
	if got, want := g.Dependents("db"), []Edge{dep("web", "db"), dep("worker", "db")}; !slices.Equal(got, want) {
		t.Errorf("Dependents(db) = %v, want %v", got, want)
	}
	if got := g.Dependencies("nope"); got != nil {
		t.Errorf("Dependencies(nope) = %v, want nil", got)
	}
	// Results are copies: changing them must not change the graph.
	g.Nodes()[0] = "x"
	g.Dependencies("web")[0].To = "x"
	if got := g.Dependencies("web")[0].To; got != "cache" {
		t.Errorf("graph changed through a returned slice: %q", got)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name      string
		nodes     []string
		edges     []Edge
		wantIs    error  // nil: any error
		wantMsg   string // exact message; "" means success
		wantEdges []Edge // checked on success
	}{
		{
			name:    "two-node cycle",
			nodes:   []string{"a", "b"},
			edges:   []Edge{dep("a", "b"), dep("b", "a")},
			wantIs:  ErrCycle,
			wantMsg: "dependency cycle: a -> b -> a",
		},
		{
			// "admin" sorts first and leads the search into the cycle at web.
			name:    "three-node cycle",
			nodes:   []string{"admin", "web", "api", "db"},
			edges:   []Edge{dep("admin", "web"), dep("web", "api"), dep("api", "db"), dep("db", "web")},
			wantIs:  ErrCycle,
			wantMsg: "dependency cycle: web -> api -> db -> web",
		},
		{
			name:    "self cycle",
			nodes:   []string{"web"},
			edges:   []Edge{dep("web", "web")},
			wantIs:  ErrCycle,
			wantMsg: "dependency cycle: web -> web",
		},
		{
			name:    "optional edges can form cycles too",
			nodes:   []string{"a", "b"},
			edges:   []Edge{optional("a", "b"), optional("b", "a")},
			wantIs:  ErrCycle,
			wantMsg: "dependency cycle: a -> b -> a",
		},
		{
			name:    "unknown required dependency",
			nodes:   []string{"web"},
			edges:   []Edge{dep("web", "db")},
			wantIs:  ErrUnknownService,
			wantMsg: `service "web" depends on undefined service "db"`,
		},
		{
			name:      "unknown optional dependency dropped",
			nodes:     []string{"web"},
			edges:     []Edge{optional("web", "db")},
			wantEdges: nil,
		},
		{
			name:    "edge from unknown service",
			nodes:   []string{"db"},
			edges:   []Edge{dep("web", "db")},
			wantIs:  ErrUnknownService,
			wantMsg: `unknown service "web" declares a dependency on "db"`,
		},
		{
			name:    "duplicate node",
			nodes:   []string{"db", "db"},
			wantMsg: `duplicate service "db"`,
		},
		{
			name:    "empty node name",
			nodes:   []string{""},
			wantMsg: `empty service name`,
		},
		{
			name:    "duplicate edge",
			nodes:   []string{"web", "db"},
			edges:   []Edge{dep("web", "db"), optional("web", "db")},
			wantMsg: `service "web" declares more than one dependency on "db"`,
		},
		{
			name:    "unknown condition",
			nodes:   []string{"web", "db"},
			edges:   []Edge{{From: "web", To: "db", Condition: "service_ready", Required: true}},
			wantMsg: `service "web": dependency on "db" has unknown condition "service_ready"`,
		},
		{
			name:      "empty condition means started",
			nodes:     []string{"web", "db"},
			edges:     []Edge{{From: "web", To: "db", Required: true}},
			wantEdges: []Edge{{From: "web", To: "db", Condition: ConditionStarted, Required: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := New(tt.nodes, tt.edges)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				var edges []Edge
				for _, n := range g.Nodes() {
					edges = append(edges, g.Dependencies(n)...)
				}
				if !slices.Equal(edges, tt.wantEdges) {
					t.Errorf("edges = %v, want %v", edges, tt.wantEdges)
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded, want error %q", tt.wantMsg)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("error = %q, want %q", err, tt.wantMsg)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
			for _, sentinel := range []error{ErrCycle, ErrUnknownService, ErrDependencyFailed} {
				if sentinel != tt.wantIs && errors.Is(err, sentinel) {
					t.Errorf("error %q unexpectedly matches %v", err, sentinel)
				}
			}
		})
	}
}

func TestCycleIsDeterministic(t *testing.T) {
	// Two disjoint cycles: whichever order the input lists them in, the one
	// reached first from the smallest name is reported.
	nodes := []string{"x", "y", "b", "a"}
	edges := []Edge{dep("y", "x"), dep("x", "y"), dep("b", "a"), dep("a", "b")}
	const want = "dependency cycle: a -> b -> a"
	for range 5 {
		_, err := New(nodes, edges)
		if err == nil || err.Error() != want {
			t.Fatalf("New error = %v, want %q", err, want)
		}
		slices.Reverse(nodes)
		edges = append(edges[1:], edges[0])
	}
}

func TestSelect(t *testing.T) {
	// proxy -> web -> api -> db, web -> cache (optional), worker -> db
	full := mustNew(t,
		[]string{"proxy", "web", "api", "db", "cache", "worker"},
		[]Edge{
			dep("proxy", "web"), dep("web", "api"), dep("api", "db"),
			optional("web", "cache"), dep("worker", "db"),
		})
	tests := []struct {
		name      string
		names     []string
		withDeps  bool
		wantNodes []string
		wantEdges []Edge
		wantErr   string
	}{
		{
			name:      "without dependencies keeps only the named and the edges between them",
			names:     []string{"web", "api"},
			wantNodes: []string{"api", "web"},
			wantEdges: []Edge{dep("web", "api")},
		},
		{
			name:      "without dependencies drops edges to unselected",
			names:     []string{"web"},
			wantNodes: []string{"web"},
		},
		{
			name:      "with dependencies pulls in transitive required ones",
			names:     []string{"web"},
			withDeps:  true,
			wantNodes: []string{"api", "db", "web"},
			wantEdges: []Edge{dep("api", "db"), dep("web", "api")},
		},
		{
			name:      "optional dependency kept when selected",
			names:     []string{"web", "cache"},
			withDeps:  true,
			wantNodes: []string{"api", "cache", "db", "web"},
			wantEdges: []Edge{dep("api", "db"), dep("web", "api"), optional("web", "cache")},
		},
		{
			name:      "duplicates and dependents not pulled in",
			names:     []string{"db", "db"},
			withDeps:  true,
			wantNodes: []string{"db"},
		},
		{
			name:      "empty selection",
			names:     nil,
			withDeps:  true,
			wantNodes: []string{},
		},
		{
			name:    "unknown name",
			names:   []string{"web", "nope"},
			wantErr: `unknown service "nope"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := full.Select(tt.names, tt.withDeps)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrUnknownService) {
					t.Fatalf("Select error = %v, want %q wrapping ErrUnknownService", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if got := g.Nodes(); !slices.Equal(got, tt.wantNodes) {
				t.Errorf("Nodes() = %v, want %v", got, tt.wantNodes)
			}
			var edges []Edge
			for _, n := range g.Nodes() {
				edges = append(edges, g.Dependencies(n)...)
			}
			if !slices.Equal(edges, tt.wantEdges) {
				t.Errorf("edges = %v, want %v", edges, tt.wantEdges)
			}
		})
	}
}

func TestZeroGraph(t *testing.T) {
	var g Graph
	if n := g.Nodes(); len(n) != 0 {
		t.Errorf("Nodes() = %v", n)
	}
	if o := g.Order(); len(o) != 0 {
		t.Errorf("Order() = %v", o)
	}
	if _, err := g.Select([]string{"x"}, false); !errors.Is(err, ErrUnknownService) {
		t.Errorf("Select error = %v, want ErrUnknownService", err)
	}
}
