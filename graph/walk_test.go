package graph

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// timeout bounds how long a test waits for something that must happen; it
// only turns a hang into a failure and is never a claim about speed.
const timeout = 5 * time.Second

// recorder logs visits from concurrent goroutines.
type recorder struct {
	mu      sync.Mutex
	seq     int
	start   map[string]int
	end     map[string]int
	visited []string
}

func newRecorder() *recorder {
	return &recorder{start: map[string]int{}, end: map[string]int{}}
}

func (r *recorder) begin(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.start[name] = r.seq
	r.visited = append(r.visited, name)
}

func (r *recorder) finish(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.end[name] = r.seq
}

func (r *recorder) finished(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.end[name]
	return ok
}

func (r *recorder) visitedSorted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := slices.Clone(r.visited)
	slices.Sort(v)
	return v
}

func (r *recorder) has(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.start[name]
	return ok
}

// visitFunc records each visit and fails the services in fail.
func (r *recorder) visitFunc(fail map[string]error) func(context.Context, string) error {
	return func(_ context.Context, name string) error {
		r.begin(name)
		defer r.finish(name)
		return fail[name]
	}
}

// waitGoroutines fails t unless the goroutine count drops back to base.
// Polling is needed because a goroutine that has sent its last value is
// still counted until the scheduler retires it.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Errorf("goroutines: %d, want <= %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWalkOrder(t *testing.T) {
	nodes := []string{"proxy", "web", "api", "cache", "db", "worker", "lonely"}
	edges := []Edge{
		dep("proxy", "web"), dep("web", "api"), dep("web", "cache"),
		dep("api", "db"), dep("cache", "db"), optional("worker", "db"),
	}
	g := mustNew(t, nodes, edges)
	for _, tt := range []struct {
		name        string
		direction   Direction
		concurrency int
	}{
		{name: "forward", direction: Forward},
		{name: "forward serial", direction: Forward, concurrency: 1},
		{name: "reverse", direction: Reverse},
		{name: "reverse limited", direction: Reverse, concurrency: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			err := g.Walk(context.Background(), WalkOptions{Direction: tt.direction, Concurrency: tt.concurrency}, rec.visitFunc(nil))
			if err != nil {
				t.Fatalf("Walk: %v", err)
			}
			if got, want := rec.visitedSorted(), g.Nodes(); !slices.Equal(got, want) {
				t.Fatalf("visited %v, want each of %v once", got, want)
			}
			for _, e := range edges {
				first, then := e.To, e.From
				if tt.direction == Reverse {
					first, then = then, first
				}
				if rec.end[first] > rec.start[then] {
					t.Errorf("%s started before %s finished", then, first)
				}
			}
		})
	}
}

func TestWalkWaitBlocksDependent(t *testing.T) {
	g := mustNew(t, []string{"web", "db", "cache"}, []Edge{
		{From: "web", To: "db", Condition: ConditionHealthy, Required: true},
		{From: "web", To: "cache", Condition: ConditionStarted, Required: true},
	})
	rec := newRecorder()
	waiting := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	var waits []Edge
	wait := func(ctx context.Context, e Edge) error {
		if !rec.finished(e.To) {
			return fmt.Errorf("wait for %s before it finished", e.To)
		}
		mu.Lock()
		waits = append(waits, e)
		mu.Unlock()
		if e.To == "db" {
			close(waiting)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}

	done := make(chan error, 1)
	go func() {
		done <- g.Walk(context.Background(), WalkOptions{Wait: wait}, rec.visitFunc(nil))
	}()
	select {
	case <-waiting:
	case <-time.After(timeout):
		t.Fatal("Wait never called for web -> db")
	}
	if rec.has("web") {
		t.Fatal("web visited while its Wait for db was blocked")
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Walk: %v", err)
		}
	case <-time.After(timeout):
		t.Fatal("Walk did not return after Wait returned")
	}
	if !rec.has("web") {
		t.Error("web not visited after its Wait returned")
	}
	want := []Edge{
		{From: "web", To: "cache", Condition: ConditionStarted, Required: true},
		{From: "web", To: "db", Condition: ConditionHealthy, Required: true},
	}
	if !slices.Equal(waits, want) {
		t.Errorf("Wait calls = %v, want %v", waits, want)
	}
}

func TestWalkFailures(t *testing.T) {
	errBoom := errors.New("boom")
	errUnhealthy := errors.New("unhealthy")
	tests := []struct {
		name        string
		nodes       []string
		edges       []Edge
		opts        WalkOptions
		fail        map[string]error
		waitFail    map[[2]string]error // From, To
		wantVisited []string
		wantWaits   []string // "From->To", in any order
		wantErr     string
		wantIs      []error
	}{
		{
			name:        "failure skips dependents transitively, unrelated branch completes",
			nodes:       []string{"db", "api", "web", "cache", "worker"},
			edges:       []Edge{dep("api", "db"), dep("web", "api"), dep("worker", "cache")},
			fail:        map[string]error{"db": errBoom},
			wantVisited: []string{"cache", "db", "worker"},
			wantErr: `service "api": dependency "db" failed` + "\n" +
				`service "db": boom` + "\n" +
				`service "web": dependency "api" failed`,
			wantIs: []error{errBoom, ErrDependencyFailed},
		},
		{
			name:        "first failed dependency by name is reported",
			nodes:       []string{"a", "b", "web"},
			edges:       []Edge{dep("web", "b"), dep("web", "a")},
			fail:        map[string]error{"a": errBoom, "b": errBoom},
			wantVisited: []string{"a", "b"},
			wantErr: `service "a": boom` + "\n" +
				`service "b": boom` + "\n" +
				`service "web": dependency "a" failed`,
			wantIs: []error{errBoom, ErrDependencyFailed},
		},
		{
			name:        "optional edge does not block and is not waited for",
			nodes:       []string{"db", "web"},
			edges:       []Edge{optional("web", "db")},
			opts:        WalkOptions{Wait: func(context.Context, Edge) error { return nil }},
			fail:        map[string]error{"db": errBoom},
			wantVisited: []string{"db", "web"},
			wantErr:     `service "db": boom`,
			wantIs:      []error{errBoom},
		},
		{
			name:        "optional edge to a healthy dependency is waited for",
			nodes:       []string{"db", "web"},
			edges:       []Edge{optional("web", "db")},
			opts:        WalkOptions{Wait: func(context.Context, Edge) error { return nil }},
			wantVisited: []string{"db", "web"},
			wantWaits:   []string{"web->db"},
		},
		{
			name:        "wait error fails the dependent, not its siblings",
			nodes:       []string{"db", "web", "worker", "proxy"},
			edges:       []Edge{dep("web", "db"), dep("worker", "db"), dep("proxy", "web")},
			opts:        WalkOptions{Wait: func(context.Context, Edge) error { return nil }},
			waitFail:    map[[2]string]error{{"web", "db"}: errUnhealthy},
			wantVisited: []string{"db", "worker"},
			wantWaits:   []string{"web->db", "worker->db"},
			wantErr: `service "proxy": dependency "web" failed` + "\n" +
				`service "web": waiting for "db" (service_started): unhealthy`,
			wantIs: []error{errUnhealthy, ErrDependencyFailed},
		},
		{
			name:        "keep going forward visits past failed visits and waits",
			nodes:       []string{"db", "cache", "web"},
			edges:       []Edge{dep("web", "db"), dep("web", "cache")},
			opts:        WalkOptions{KeepGoing: true, Wait: func(context.Context, Edge) error { return nil }},
			fail:        map[string]error{"db": errBoom},
			waitFail:    map[[2]string]error{{"web", "cache"}: errUnhealthy},
			wantVisited: []string{"cache", "db", "web"},
			wantWaits:   []string{"web->cache"},
			wantErr: `service "db": boom` + "\n" +
				`service "web": waiting for "cache" (service_started): unhealthy`,
			wantIs: []error{errBoom, errUnhealthy},
		},
		{
			name:        "reverse failure keeps dependencies running",
			nodes:       []string{"db", "api", "web", "cache"},
			edges:       []Edge{dep("web", "api"), dep("api", "db"), dep("web", "cache")},
			opts:        WalkOptions{Direction: Reverse},
			fail:        map[string]error{"api": errBoom},
			wantVisited: []string{"api", "cache", "web"},
			wantErr: `service "api": boom` + "\n" +
				`service "db": dependent "api" failed`,
			wantIs: []error{errBoom, ErrDependencyFailed},
		},
		{
			name:        "reverse keep going stops everything it can",
			nodes:       []string{"db", "api", "web"},
			edges:       []Edge{dep("web", "api"), dep("api", "db")},
			opts:        WalkOptions{Direction: Reverse, KeepGoing: true},
			fail:        map[string]error{"web": errBoom},
			wantVisited: []string{"api", "db", "web"},
			wantErr:     `service "web": boom`,
			wantIs:      []error{errBoom},
		},
		{
			name:        "reverse never waits",
			nodes:       []string{"db", "web"},
			edges:       []Edge{dep("web", "db")},
			opts:        WalkOptions{Direction: Reverse, Wait: func(context.Context, Edge) error { return nil }},
			wantVisited: []string{"db", "web"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustNew(t, tt.nodes, tt.edges)
			rec := newRecorder()
			var mu sync.Mutex
			var waits []string
			if tt.opts.Wait != nil {
				tt.opts.Wait = func(_ context.Context, e Edge) error {
					mu.Lock()
					waits = append(waits, e.From+"->"+e.To)
					mu.Unlock()
					return tt.waitFail[[2]string{e.From, e.To}]
				}
			}
			err := g.Walk(context.Background(), tt.opts, rec.visitFunc(tt.fail))
			if got := rec.visitedSorted(); !slices.Equal(got, tt.wantVisited) {
				t.Errorf("visited %v, want %v", got, tt.wantVisited)
			}
			slices.Sort(waits)
			if !slices.Equal(waits, tt.wantWaits) {
				t.Errorf("waits %v, want %v", waits, tt.wantWaits)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Walk: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Walk succeeded, want %q", tt.wantErr)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("error:\n%s\nwant:\n%s", err, tt.wantErr)
			}
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(err, %v) = false", target)
				}
			}
			if !slices.Contains(tt.wantIs, ErrDependencyFailed) && errors.Is(err, ErrDependencyFailed) {
				t.Error("error unexpectedly wraps ErrDependencyFailed")
			}
		})
	}
}

func TestWalkConcurrencyLimit(t *testing.T) {
	for _, tt := range []struct {
		name  string
		limit int
		nodes int
		want  int // in flight that must be reached, and never exceeded
	}{
		{name: "serial", limit: 1, nodes: 5, want: 1},
		{name: "two", limit: 2, nodes: 6, want: 2},
		{name: "three", limit: 3, nodes: 9, want: 3},
		{name: "limit above size", limit: 10, nodes: 4, want: 4},
		{name: "unlimited", limit: 0, nodes: 8, want: 8},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var nodes []string
			for i := range tt.nodes {
				nodes = append(nodes, fmt.Sprintf("s%d", i))
			}
			g := mustNew(t, nodes, nil)
			var inFlight, maxInFlight, visits atomic.Int32
			entered := make(chan struct{}, tt.nodes)
			release := make(chan struct{})
			visit := func(context.Context, string) error {
				n := inFlight.Add(1)
				for {
					m := maxInFlight.Load()
					if n <= m || maxInFlight.CompareAndSwap(m, n) {
						break
					}
				}
				visits.Add(1)
				entered <- struct{}{}
				<-release
				inFlight.Add(-1)
				return nil
			}
			done := make(chan error, 1)
			go func() {
				done <- g.Walk(context.Background(), WalkOptions{Concurrency: tt.limit}, visit)
			}()
			// Hold the first visits until the limit is reached, which proves
			// it can be reached; the max below proves it is never exceeded.
			for range tt.want {
				select {
				case <-entered:
				case <-time.After(timeout):
					t.Fatalf("only %d visits ran at once, want %d", inFlight.Load(), tt.want)
				}
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatalf("Walk: %v", err)
			}
			if got := maxInFlight.Load(); got != int32(tt.want) {
				t.Errorf("max in flight = %d, want %d", got, tt.want)
			}
			if got := visits.Load(); got != int32(tt.nodes) {
				t.Errorf("visits = %d, want %d", got, tt.nodes)
			}
		})
	}
}

func TestWalkConcurrencyExcludesWaits(t *testing.T) {
	// With one slot, db's dependent waiting for a condition must not stop
	// the unrelated cache from being visited.
	g := mustNew(t, []string{"db", "web", "cache"}, []Edge{
		{From: "web", To: "db", Condition: ConditionHealthy, Required: true},
	})
	rec := newRecorder()
	release := make(chan struct{})
	wait := func(ctx context.Context, e Edge) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	visit := func(ctx context.Context, name string) error {
		rec.begin(name)
		defer rec.finish(name)
		if name == "cache" {
			close(release)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := g.Walk(ctx, WalkOptions{Concurrency: 1, Wait: wait}, visit); err != nil {
		t.Fatalf("Walk: %v", err)
	}
}

func TestWalkParallel(t *testing.T) {
	for _, tt := range []struct {
		name        string
		nodes       []string
		edges       []Edge
		together    []string // must be inside visit at the same time
		concurrency int
	}{
		{name: "independent", nodes: []string{"a", "b"}, together: []string{"a", "b"}},
		{name: "independent limited", nodes: []string{"a", "b", "c"}, together: []string{"a", "c"}, concurrency: 2},
		{
			// api and cache start as soon as db is done, not level by level
			// after some unrelated slow node.
			name:     "diamond middle",
			nodes:    []string{"db", "api", "cache", "web"},
			edges:    []Edge{dep("api", "db"), dep("cache", "db"), dep("web", "api"), dep("web", "cache")},
			together: []string{"api", "cache"},
		},
		{
			name:     "branch does not wait for other level",
			nodes:    []string{"a", "a2", "slow"},
			edges:    []Edge{dep("a2", "a")},
			together: []string{"a2", "slow"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := mustNew(t, tt.nodes, tt.edges)
			var arrived atomic.Int32
			all := make(chan struct{})
			visit := func(ctx context.Context, name string) error {
				if !slices.Contains(tt.together, name) {
					return nil
				}
				if arrived.Add(1) == int32(len(tt.together)) {
					close(all)
				}
				select {
				case <-all:
					return nil
				case <-time.After(timeout):
					return fmt.Errorf("%s alone at the barrier: visits did not run in parallel", name)
				}
			}
			if err := g.Walk(context.Background(), WalkOptions{Concurrency: tt.concurrency}, visit); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestWalkCancel(t *testing.T) {
	t.Run("during visit", func(t *testing.T) {
		base := runtime.NumGoroutine()
		g := mustNew(t, []string{"a", "b", "c"}, []Edge{dep("b", "a"), dep("c", "b")})
		rec := newRecorder()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		started := make(chan struct{})
		hold := make(chan struct{})
		var aReturned atomic.Bool
		visit := func(ctx context.Context, name string) error {
			rec.begin(name)
			if name != "a" {
				return nil
			}
			close(started)
			<-ctx.Done()
			<-hold
			aReturned.Store(true)
			return ctx.Err()
		}
		done := make(chan error, 1)
		go func() { done <- g.Walk(ctx, WalkOptions{}, visit) }()
		select {
		case <-started:
		case <-time.After(timeout):
			t.Fatal("a never visited")
		}
		cancel()
		select {
		case err := <-done:
			t.Fatalf("Walk returned while visit a was still running: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		close(hold)
		var err error
		select {
		case err = <-done:
		case <-time.After(timeout):
			t.Fatal("Walk did not return after cancel")
		}
		if !aReturned.Load() {
			t.Error("Walk returned before visit a did")
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(%v, context.Canceled) = false", err)
		}
		want := `service "a": context canceled` + "\n" +
			`service "b": not visited: context canceled` + "\n" +
			`service "c": not visited: context canceled`
		if err == nil || err.Error() != want {
			t.Errorf("error:\n%v\nwant:\n%s", err, want)
		}
		if got := rec.visitedSorted(); !slices.Equal(got, []string{"a"}) {
			t.Errorf("visited %v, want [a]", got)
		}
		waitGoroutines(t, base)
	})

	t.Run("while queued for a slot", func(t *testing.T) {
		base := runtime.NumGoroutine()
		g := mustNew(t, []string{"a", "b", "c"}, nil)
		rec := newRecorder()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		visit := func(ctx context.Context, name string) error {
			rec.begin(name)
			cancel()
			<-ctx.Done()
			return nil
		}
		err := g.Walk(ctx, WalkOptions{Concurrency: 1}, visit)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(%v, context.Canceled) = false", err)
		}
		if got := rec.visitedSorted(); len(got) != 1 {
			t.Errorf("visited %v, want exactly one service", got)
		}
		waitGoroutines(t, base)
	})

	t.Run("during wait", func(t *testing.T) {
		base := runtime.NumGoroutine()
		g := mustNew(t, []string{"db", "web"}, []Edge{
			{From: "web", To: "db", Condition: ConditionHealthy, Required: true},
		})
		rec := newRecorder()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		wait := func(ctx context.Context, e Edge) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}
		err := g.Walk(ctx, WalkOptions{Wait: wait}, rec.visitFunc(nil))
		want := `service "web": waiting for "db" (service_healthy): context canceled`
		if err == nil || err.Error() != want || !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want %q wrapping context.Canceled", err, want)
		}
		if got := rec.visitedSorted(); !slices.Equal(got, []string{"db"}) {
			t.Errorf("visited %v, want [db]", got)
		}
		waitGoroutines(t, base)
	})

	t.Run("before walk", func(t *testing.T) {
		g := mustNew(t, []string{"db", "web"}, []Edge{dep("web", "db")})
		rec := newRecorder()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var waitCalled atomic.Bool
		err := g.Walk(ctx, WalkOptions{KeepGoing: true, Wait: func(context.Context, Edge) error {
			waitCalled.Store(true)
			return nil
		}}, rec.visitFunc(nil))
		want := `service "db": not visited: context canceled` + "\n" +
			`service "web": not visited: context canceled`
		if err == nil || err.Error() != want || !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want %q", err, want)
		}
		if got := rec.visitedSorted(); len(got) != 0 || waitCalled.Load() {
			t.Errorf("visited %v, wait called %v; want nothing", got, waitCalled.Load())
		}
	})
}

func TestWalkArguments(t *testing.T) {
	g := mustNew(t, []string{"a"}, nil)
	if err := g.Walk(context.Background(), WalkOptions{}, nil); err == nil {
		t.Error("Walk with nil visit succeeded")
	}
	if err := g.Walk(context.Background(), WalkOptions{Direction: Direction(7)}, func(context.Context, string) error { return nil }); err == nil {
		t.Error("Walk with unknown direction succeeded")
	}
	var empty Graph
	called := false
	if err := empty.Walk(context.Background(), WalkOptions{}, func(context.Context, string) error { called = true; return nil }); err != nil || called {
		t.Errorf("Walk of empty graph: err %v, visited %v", err, called)
	}
}
