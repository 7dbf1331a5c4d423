// Package graph owns the dependency graph of compose services: which service
// depends on which and why, the order in which services start and stop, and a
// parallel walk that visits each service as soon as the services it needs
// are done.
//
// The package is pure. It never starts, stops or inspects containers, does
// no I/O and no logging; the work done for each service and the wait for a
// depends_on condition are callbacks supplied by the caller of Walk. Keeping
// the engine out lets the scheduling rules (ordering, failure propagation,
// cancellation, concurrency) be tested on their own.
//
// A Graph is immutable once built, so it is safe for concurrent use and one
// graph can be walked any number of times.
package graph

import (
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Condition is what a dependent waits for before it is started, as in the
// compose depends_on long syntax.
type Condition string

const (
	ConditionStarted   Condition = "service_started"
	ConditionHealthy   Condition = "service_healthy"
	ConditionCompleted Condition = "service_completed_successfully"
)

// Edge records that service From depends on service To.
type Edge struct {
	From, To  string
	Condition Condition
	// Required false means To may be missing from the project and that its
	// failure does not prevent From from being visited.
	Required bool
	// Restart is compose's depends_on.restart: restarting To should restart From.
	Restart bool
	// Kind says why the edge exists: "depends_on", "links", "volumes_from",
	// "network_mode", "pid", "ipc", "uts" or "cgroup" for graphs built by
	// FromProject. It is informational; the graph never interprets it.
	Kind string
}

var (
	// ErrCycle is wrapped by errors reporting a dependency cycle.
	ErrCycle = errors.New("dependency cycle")
	// ErrUnknownService is wrapped by errors naming a service that is not in
	// the graph or project.
	ErrUnknownService = errors.New("unknown service")
	// ErrDependencyFailed is wrapped by the error of a service that Walk did
	// not visit because a service it needs failed.
	ErrDependencyFailed = errors.New("dependency failed")
)

// kindError lets a message read naturally while errors.Is still matches a
// sentinel, which fmt's %w cannot do without repeating the sentinel's text.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// Graph is an acyclic dependency graph of services. The zero value is an
// empty graph; use New or FromProject to build one.
type Graph struct {
	nodes []string       // sorted, so an index order is a name order
	index map[string]int // name -> position in nodes
	// deps[i] are the edges from nodes[i], sorted by To; dependents[i] the
	// edges to nodes[i], sorted by From. The *Idx slices hold the index of
	// the other end of each edge so walks need no map lookups.
	deps, dependents     [][]Edge
	depIdx, dependentIdx [][]int
	order                []string
}

// New builds a graph of the named services. An edge whose To is not a node
// is an error wrapping ErrUnknownService when the edge is required, and is
// dropped otherwise, because an optional dependency may legitimately be
// absent (for example disabled by a profile). An empty Condition means
// ConditionStarted. Duplicate names, duplicate From->To pairs and cycles are
// errors; a cycle error wraps ErrCycle and names one cycle as a path.
func New(nodes []string, edges []Edge) (*Graph, error) {
	sorted := slices.Clone(nodes)
	slices.Sort(sorted)
	g := &Graph{
		nodes:        sorted,
		index:        make(map[string]int, len(sorted)),
		deps:         make([][]Edge, len(sorted)),
		dependents:   make([][]Edge, len(sorted)),
		depIdx:       make([][]int, len(sorted)),
		dependentIdx: make([][]int, len(sorted)),
	}
	for i, n := range sorted {
		if n == "" {
			return nil, errors.New("empty service name")
		}
		if i > 0 && sorted[i-1] == n {
			return nil, fmt.Errorf("duplicate service %q", n)
		}
		g.index[n] = i
	}

	seen := make(map[[2]string]bool, len(edges))
	for _, e := range edges {
		from, ok := g.index[e.From]
		if !ok {
			return nil, fmt.Errorf("%w %q declares a dependency on %q", ErrUnknownService, e.From, e.To)
		}
		if _, ok := g.index[e.To]; !ok {
			if e.Required {
				return nil, undefinedDependency(e.From, e.To, "undefined")
			}
			continue
		}
		switch e.Condition {
		case "":
			e.Condition = ConditionStarted
		case ConditionStarted, ConditionHealthy, ConditionCompleted:
		default:
			// Rejected here rather than passed to Wait, so that a typo cannot
			// silently degrade into "started".
			return nil, fmt.Errorf("service %q: dependency on %q has unknown condition %q", e.From, e.To, e.Condition)
		}
		pair := [2]string{e.From, e.To}
		if seen[pair] {
			return nil, fmt.Errorf("service %q declares more than one dependency on %q", e.From, e.To)
		}
		seen[pair] = true
		to := g.index[e.To]
		g.deps[from] = append(g.deps[from], e)
		g.dependents[to] = append(g.dependents[to], e)
	}

	for i := range sorted {
		slices.SortFunc(g.deps[i], func(a, b Edge) int { return strings.Compare(a.To, b.To) })
		slices.SortFunc(g.dependents[i], func(a, b Edge) int { return strings.Compare(a.From, b.From) })
		for _, e := range g.deps[i] {
			g.depIdx[i] = append(g.depIdx[i], g.index[e.To])
		}
		for _, e := range g.dependents[i] {
			g.dependentIdx[i] = append(g.dependentIdx[i], g.index[e.From])
		}
	}

	if cycle := g.findCycle(); cycle != nil {
		return nil, fmt.Errorf("%w: %s", ErrCycle, strings.Join(cycle, " -> "))
	}
	g.order = g.topoOrder()
	return g, nil
}

func undefinedDependency(from, to, adjective string) error {
	return &kindError{
		kind: ErrUnknownService,
		msg:  fmt.Sprintf("service %q depends on %s service %q", from, adjective, to),
	}
}

// findCycle returns one cycle as a path that ends where it starts, or nil.
// Searching from nodes and edges in name order makes the reported cycle a
// function of the graph alone, not of the order the caller listed things in.
func (g *Graph) findCycle() []string {
	const (
		unvisited = iota
		onPath
		done
	)
	state := make([]uint8, len(g.nodes))
	var path []int
	var search func(i int) []string
	search = func(i int) []string {
		state[i] = onPath
		path = append(path, i)
		for _, j := range g.depIdx[i] {
			switch state[j] {
			case onPath:
				start := slices.Index(path, j)
				cycle := make([]string, 0, len(path)-start+1)
				for _, k := range path[start:] {
					cycle = append(cycle, g.nodes[k])
				}
				return append(cycle, g.nodes[j])
			case unvisited:
				if c := search(j); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[i] = done
		return nil
	}
	for i := range g.nodes {
		if state[i] == unvisited {
			if c := search(i); c != nil {
				return c
			}
		}
	}
	return nil
}

// topoOrder is Kahn's algorithm taking the smallest ready name first, so
// independent services always come out in the same, readable order.
func (g *Graph) topoOrder() []string {
	pending := make([]int, len(g.nodes))
	ready := &intHeap{}
	for i := range g.nodes {
		pending[i] = len(g.deps[i])
		if pending[i] == 0 {
			heap.Push(ready, i)
		}
	}
	order := make([]string, 0, len(g.nodes))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, g.nodes[i])
		for _, j := range g.dependentIdx[i] {
			pending[j]--
			if pending[j] == 0 {
				heap.Push(ready, j)
			}
		}
	}
	return order
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Nodes returns the service names in sorted order.
func (g *Graph) Nodes() []string { return slices.Clone(g.nodes) }

// Dependencies returns the edges from name to the services it depends on,
// sorted by To; nil if name is not in the graph.
func (g *Graph) Dependencies(name string) []Edge {
	i, ok := g.index[name]
	if !ok {
		return nil
	}
	return slices.Clone(g.deps[i])
}

// Dependents returns the edges from the services that depend on name,
// sorted by From; nil if name is not in the graph.
func (g *Graph) Dependents(name string) []Edge {
	i, ok := g.index[name]
	if !ok {
		return nil
	}
	return slices.Clone(g.dependents[i])
}

// Order returns a start order: every service after all of its dependencies,
// optional ones included. Among services whose dependencies are all placed,
// the smallest name comes first.
func (g *Graph) Order() []string { return slices.Clone(g.order) }

// ReverseOrder returns a stop order: exactly Order backwards, so that stop
// order is easy to predict from start order.
func (g *Graph) ReverseOrder() []string {
	r := slices.Clone(g.order)
	slices.Reverse(r)
	return r
}

// Select returns the subgraph of the named services, keeping the edges
// between them. With withDependencies it also pulls in, transitively, every
// required dependency; optional ones are kept only if selected some other
// way, since the service runs without them. An empty names gives an empty
// graph. A name not in the graph is an error wrapping ErrUnknownService.
func (g *Graph) Select(names []string, withDependencies bool) (*Graph, error) {
	keep := make([]bool, len(g.nodes))
	var stack []int
	for _, name := range names {
		i, ok := g.index[name]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownService, name)
		}
		if !keep[i] {
			keep[i] = true
			stack = append(stack, i)
		}
	}
	for withDependencies && len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for k, e := range g.deps[i] {
			if j := g.depIdx[i][k]; e.Required && !keep[j] {
				keep[j] = true
				stack = append(stack, j)
			}
		}
	}

	var nodes []string
	var edges []Edge
	for i, name := range g.nodes {
		if !keep[i] {
			continue
		}
		nodes = append(nodes, name)
		for k, e := range g.deps[i] {
			if keep[g.depIdx[i][k]] {
				edges = append(edges, e)
			}
		}
	}
	// Cannot fail: a subgraph of a valid graph is valid.
	return New(nodes, edges)
}
