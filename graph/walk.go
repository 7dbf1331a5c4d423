package graph

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Direction is the order in which Walk visits services.
type Direction int

const (
	// Forward visits dependencies before their dependents, for starting.
	Forward Direction = iota
	// Reverse visits dependents before their dependencies, for stopping.
	Reverse
)

// WalkOptions tunes Walk. The zero value walks Forward with unlimited
// concurrency, no waiting, and stops at failures.
type WalkOptions struct {
	Direction Direction
	// Concurrency is the maximum number of visits running at once; <= 0
	// means unlimited. Wait calls do not count: a slow healthcheck should
	// not hold a slot that an unrelated service could use.
	Concurrency int
	// Wait, if not nil, is called in Forward direction before a service is
	// visited, once per edge to a dependency that was visited successfully,
	// in order of the dependency's name. It blocks until the edge's condition
	// holds or returns an error, which fails the dependent. Wait is also
	// called for optional edges whose dependency succeeded; it sees
	// e.Required and may choose to tolerate a failure by returning nil,
	// since only the caller can report it. Wait is never called in Reverse.
	Wait func(ctx context.Context, e Edge) error
	// KeepGoing visits a service even when a service it needs failed, and
	// in Forward direction even when a Wait failed. `down` uses it to stop
	// and remove everything it can.
	KeepGoing bool
}

// Walk calls visit once for each service of g, concurrently, each as soon
// as the services before it in opts.Direction have finished.
//
// When a visit or Wait fails, the services that need the failed one through
// required edges, transitively, are not visited and fail with an error
// wrapping ErrDependencyFailed; other branches carry on. Optional edges
// order the walk but never block it, and KeepGoing blocks nothing.
//
// Once ctx is done no visit or Wait starts; services not visited fail with
// an error wrapping ctx.Err(). Running visits and waits receive ctx and
// Walk waits for them: when it returns, every goroutine it started has
// returned.
//
// Walk returns nil if every service succeeded, otherwise errors.Join of one
// error per failed service, `service "name": cause`, sorted by name.
func (g *Graph) Walk(ctx context.Context, opts WalkOptions, visit func(ctx context.Context, name string) error) error {
	if visit == nil {
		return errors.New("walk: nil visit function")
	}
	w := &walker{
		g:       g,
		opts:    opts,
		visit:   visit,
		pending: make([]int, len(g.nodes)),
		errs:    make([]error, len(g.nodes)),
		// Buffered for every node so a finishing goroutine never blocks on
		// the coordinator, whatever the coordinator is doing.
		results: make(chan result, len(g.nodes)),
	}
	switch opts.Direction {
	case Forward:
		w.before, w.beforeIdx, w.afterIdx = g.deps, g.depIdx, g.dependentIdx
		w.relation = "dependency"
	case Reverse:
		w.before, w.beforeIdx, w.afterIdx = g.dependents, g.dependentIdx, g.depIdx
		w.relation = "dependent"
	default:
		return fmt.Errorf("walk: unknown direction %d", opts.Direction)
	}
	if opts.Concurrency > 0 {
		w.sem = make(chan struct{}, opts.Concurrency)
	}
	return w.run(ctx)
}

// walker is the state of one Walk. Only the goroutine running Walk (the
// coordinator) touches pending and errs; visits report back through
// results, so no lock is needed.
type walker struct {
	g     *Graph
	opts  WalkOptions
	visit func(ctx context.Context, name string) error

	// before[i] are the edges to the services visited before i, beforeIdx
	// their indexes; afterIdx[i] the services visited after i.
	before              [][]Edge
	beforeIdx, afterIdx [][]int
	relation            string // how a predecessor is named in errors

	pending []int   // predecessors not yet finished
	errs    []error // nil for a service that succeeded

	results chan result
	sem     chan struct{}
	running int
	wg      sync.WaitGroup
}

type result struct {
	i   int
	err error
}

func (w *walker) run(ctx context.Context) error {
	for i := range w.g.nodes {
		w.pending[i] = len(w.before[i])
	}
	for i := range w.g.nodes {
		if w.pending[i] == 0 {
			w.ready(ctx, i)
		}
	}
	for w.running > 0 {
		r := <-w.results
		w.running--
		w.finish(ctx, r.i, r.err)
	}
	w.wg.Wait()

	var errs []error
	for i, err := range w.errs {
		if err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", w.g.nodes[i], err))
		}
	}
	return errors.Join(errs...)
}

// ready is called once all predecessors of i have finished. It either
// starts i's visit or settles i at once, without a goroutine, when i must
// not be visited.
func (w *walker) ready(ctx context.Context, i int) {
	if err := ctx.Err(); err != nil {
		w.finish(ctx, i, fmt.Errorf("not visited: %w", err))
		return
	}
	if !w.opts.KeepGoing {
		for k, e := range w.before[i] {
			if p := w.beforeIdx[i][k]; e.Required && w.errs[p] != nil {
				w.finish(ctx, i, &kindError{
					kind: ErrDependencyFailed,
					msg:  fmt.Sprintf("%s %q failed", w.relation, w.g.nodes[p]),
				})
				return
			}
		}
	}

	var waits []Edge
	if w.opts.Direction == Forward && w.opts.Wait != nil {
		for k, e := range w.before[i] {
			// A failed dependency cannot meet any condition; that it failed
			// is already reported under its own name.
			if w.errs[w.beforeIdx[i][k]] == nil {
				waits = append(waits, e)
			}
		}
	}
	w.running++
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.results <- result{i, w.visitOne(ctx, w.g.nodes[i], waits)}
	}()
}

// finish records the outcome of i and readies the services that were only
// waiting for it. Through ready, a service settled without a visit settles
// its successors in turn; the recursion is as deep as the longest path.
func (w *walker) finish(ctx context.Context, i int, err error) {
	w.errs[i] = err
	for _, j := range w.afterIdx[i] {
		w.pending[j]--
		if w.pending[j] == 0 {
			w.ready(ctx, j)
		}
	}
}

// visitOne runs in its own goroutine: the waits for i's edges, then, once a
// concurrency slot is free, the visit itself.
func (w *walker) visitOne(ctx context.Context, name string, waits []Edge) error {
	var errs []error
	for _, e := range waits {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("not visited: %w", err))...)
		}
		if err := w.opts.Wait(ctx, e); err != nil {
			err = fmt.Errorf("waiting for %q (%s): %w", e.To, e.Condition, err)
			if !w.opts.KeepGoing {
				return err
			}
			errs = append(errs, err)
		}
	}
	if w.sem != nil {
		select {
		case w.sem <- struct{}{}:
			defer func() { <-w.sem }()
		case <-ctx.Done():
		}
	}
	// Checked again after the slot: select picks at random when both the
	// slot and ctx.Done are ready.
	if err := ctx.Err(); err != nil {
		return errors.Join(append(errs, fmt.Errorf("not visited: %w", err))...)
	}
	if err := w.visit(ctx, name); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
