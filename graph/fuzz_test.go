package graph

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func nodeName(i int) string { return fmt.Sprintf("s%02d", i) }

// randomDAG reads a graph from data: edges only go from a higher to a lower
// index, so it is acyclic, and names sort like indexes.
func randomDAG(n int, data []byte) ([]string, []Edge) {
	nodes := make([]string, n)
	for i := range nodes {
		nodes[i] = nodeName(i)
	}
	seen := map[[2]int]bool{}
	var edges []Edge
	for k := 0; k+1 < len(data); k += 2 {
		a, b := int(data[k])%n, int(data[k+1])%n
		if a == b {
			continue
		}
		from, to := max(a, b), min(a, b)
		if seen[[2]int{from, to}] {
			continue
		}
		seen[[2]int{from, to}] = true
		e := dep(nodeName(from), nodeName(to))
		e.Required = data[k]&0x80 == 0
		edges = append(edges, e)
	}
	return nodes, edges
}

// FuzzWalk checks, on random DAGs with random failures, directions and
// limits, that Walk visits exactly the services it should, each once and
// only after everything before it finished, within the concurrency limit,
// and reports exactly the failed services.
//
// data: n, concurrency, flags (reverse, keep going, wait), failure mask (2
// bytes), then edges as byte pairs.
func FuzzWalk(f *testing.F) {
	f.Add([]byte{4, 0, 0, 0, 0, 1, 0, 2, 1, 3, 2})                   // chain
	f.Add([]byte{4, 2, 4, 0, 0, 1, 0, 2, 0, 3, 1, 3, 2})             // diamond, limit, waits
	f.Add([]byte{6, 1, 0, 2, 0, 1, 0, 2, 1, 4, 3, 5, 4})             // failure, serial
	f.Add([]byte{6, 0, 1, 8, 0, 1, 0, 2, 1, 4, 3, 5, 4})             // reverse with failure
	f.Add([]byte{6, 3, 3, 5, 0, 1, 0, 2, 1, 4, 3, 5, 4})             // reverse keep going
	f.Add([]byte{8, 0, 6, 3, 0, 0x81, 0, 2, 1, 4, 0x83, 5, 4, 7, 6}) // optional edges, keep going, waits
	f.Add([]byte{12, 0, 4, 0x41, 0x02, 11, 0, 10, 1, 9, 2, 8, 3, 7, 4, 6, 5, 5, 0})
	f.Add([]byte{1, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 5 {
			return
		}
		n := 1 + int(data[0])%12
		concurrency := int(data[1]) % 4
		reverse := data[2]&1 != 0
		keepGoing := data[2]&2 != 0
		withWait := data[2]&4 != 0
		failMask := uint16(data[3]) | uint16(data[4])<<8
		nodes, edges := randomDAG(n, data[5:])

		g, err := New(nodes, edges)
		if err != nil {
			t.Fatalf("New on a DAG: %v", err)
		}
		checkOrder(t, g, edges)

		// Expected outcome, computed in walk order: a service is visited
		// unless a required predecessor failed; it fails if its visit fails
		// or it is not visited.
		before := func(i int) []Edge { // edges to predecessors of i
			var out []Edge
			for _, e := range edges {
				if (!reverse && e.From == nodeName(i)) || (reverse && e.To == nodeName(i)) {
					out = append(out, e)
				}
			}
			return out
		}
		pred := func(e Edge) string {
			if reverse {
				return e.From
			}
			return e.To
		}
		index := func(name string) int { return slices.Index(nodes, name) }
		wantVisited := make([]bool, n)
		wantFailed := make([]bool, n)
		order := make([]int, n)
		for i := range order {
			order[i] = i
			if reverse {
				order[i] = n - 1 - i
			}
		}
		for _, i := range order {
			wantVisited[i] = true
			for _, e := range before(i) {
				if e.Required && !keepGoing && wantFailed[index(pred(e))] {
					wantVisited[i] = false
				}
			}
			wantFailed[i] = !wantVisited[i] || failMask&(1<<i) != 0
		}

		errBoom := errors.New("boom")
		var seq, inFlight, maxInFlight atomic.Int64
		start := make([]atomic.Int64, n)
		end := make([]atomic.Int64, n)
		visits := make([]atomic.Int32, n)
		var mu sync.Mutex
		waits := map[string]int{}
		opts := WalkOptions{Concurrency: concurrency, KeepGoing: keepGoing}
		if reverse {
			opts.Direction = Reverse
		}
		if withWait {
			opts.Wait = func(_ context.Context, e Edge) error {
				if end[index(e.To)].Load() == 0 {
					return fmt.Errorf("Wait(%s -> %s) before %s finished", e.From, e.To, e.To)
				}
				if start[index(e.From)].Load() != 0 {
					return fmt.Errorf("Wait(%s -> %s) after %s started", e.From, e.To, e.From)
				}
				mu.Lock()
				waits[e.From+"->"+e.To]++
				mu.Unlock()
				runtime.Gosched()
				return nil
			}
		}
		visit := func(_ context.Context, name string) error {
			i := index(name)
			visits[i].Add(1)
			start[i].Store(seq.Add(1))
			cur := inFlight.Add(1)
			for {
				m := maxInFlight.Load()
				if cur <= m || maxInFlight.CompareAndSwap(m, cur) {
					break
				}
			}
			runtime.Gosched()
			inFlight.Add(-1)
			end[i].Store(seq.Add(1))
			if failMask&(1<<i) != 0 {
				return errBoom
			}
			return nil
		}

		err = g.Walk(context.Background(), opts, visit)

		if concurrency > 0 && maxInFlight.Load() > int64(concurrency) {
			t.Errorf("%d visits in flight, limit %d", maxInFlight.Load(), concurrency)
		}
		var wantErrs []string
		for i := range n {
			if got := visits[i].Load(); got != 0 && got != 1 || (got == 1) != wantVisited[i] {
				t.Errorf("%s visited %d times, want visited=%v", nodes[i], got, wantVisited[i])
			}
			if wantFailed[i] {
				wantErrs = append(wantErrs, nodes[i])
			}
			if !wantVisited[i] {
				continue
			}
			for _, e := range before(i) {
				p := index(pred(e))
				if wantVisited[p] && end[p].Load() > start[i].Load() {
					t.Errorf("%s started before %s finished", nodes[i], nodes[p])
				}
				if withWait && !reverse {
					want := 0
					if !wantFailed[p] {
						want = 1
					}
					if got := waits[e.From+"->"+e.To]; got != want {
						t.Errorf("Wait(%s -> %s) called %d times, want %d", e.From, e.To, got, want)
					}
				}
			}
		}
		if !withWait || reverse {
			if len(waits) != 0 {
				t.Errorf("unexpected Wait calls: %v", waits)
			}
		}

		if len(wantErrs) == 0 {
			if err != nil {
				t.Fatalf("Walk: %v", err)
			}
			return
		}
		joined, ok := err.(interface{ Unwrap() []error })
		if !ok {
			t.Fatalf("Walk error %v is not a join of per-service errors", err)
		}
		got := joined.Unwrap()
		if len(got) != len(wantErrs) {
			t.Fatalf("Walk error:\n%v\nwant one error for each of %v", err, wantErrs)
		}
		for k, name := range wantErrs {
			i := index(name)
			if !strings.HasPrefix(got[k].Error(), fmt.Sprintf("service %q: ", name)) {
				t.Errorf("error %d = %q, want it about %s", k, got[k], name)
			}
			if blocked := !wantVisited[i]; errors.Is(got[k], ErrDependencyFailed) != blocked {
				t.Errorf("error %q: wraps ErrDependencyFailed = %v, want %v", got[k], !blocked, blocked)
			}
			if errors.Is(got[k], errBoom) != (wantVisited[i] && failMask&(1<<i) != 0) {
				t.Errorf("error %q: wrong cause", got[k])
			}
		}
	})
}

// checkOrder checks Order and ReverseOrder against the edges.
func checkOrder(t *testing.T, g *Graph, edges []Edge) {
	t.Helper()
	order := g.Order()
	if got, want := slices.Sorted(slices.Values(order)), g.Nodes(); !slices.Equal(got, want) {
		t.Fatalf("Order() = %v is not a permutation of %v", order, want)
	}
	for _, e := range edges {
		if slices.Index(order, e.To) > slices.Index(order, e.From) {
			t.Errorf("Order() = %v puts %s before its dependency %s", order, e.From, e.To)
		}
	}
	rev := g.ReverseOrder()
	slices.Reverse(rev)
	if !slices.Equal(rev, order) {
		t.Errorf("ReverseOrder() is not Order() reversed")
	}
}

// FuzzCycle adds a back edge to a random DAG so that it has a cycle, and
// checks that New reports a path that is a real cycle of the graph, and the
// same path whatever order nodes and edges are listed in.
//
// data: n, back edge ends (2 bytes), then DAG edges as byte pairs.
func FuzzCycle(f *testing.F) {
	f.Add([]byte{3, 0, 2, 1, 0, 2, 1})
	f.Add([]byte{5, 1, 1, 1, 0, 2, 1, 3, 2})
	f.Add([]byte{8, 0, 7, 0x81, 0, 2, 1, 7, 2, 4, 3, 6, 5})
	f.Add([]byte{10, 3, 9, 9, 0, 8, 1, 7, 2, 6, 3, 5, 4, 9, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		n := 2 + int(data[0])%10
		nodes, edges := randomDAG(n, data[3:])
		a, b := int(data[1])%n, int(data[2])%n
		lo, hi := min(a, b), max(a, b)
		edges = append(edges, dep(nodeName(lo), nodeName(hi)))
		if lo != hi && !slices.ContainsFunc(edges, func(e Edge) bool { return e.From == nodeName(hi) && e.To == nodeName(lo) }) {
			// Close the cycle if the DAG does not already lead back.
			edges = append(edges, dep(nodeName(hi), nodeName(lo)))
		}

		_, err := New(nodes, edges)
		if !errors.Is(err, ErrCycle) {
			t.Fatalf("New = %v, want ErrCycle", err)
		}
		msg := err.Error()
		path, ok := strings.CutPrefix(msg, "dependency cycle: ")
		if !ok {
			t.Fatalf("error %q does not start with the cycle prefix", msg)
		}
		hops := strings.Split(path, " -> ")
		if len(hops) < 2 || hops[0] != hops[len(hops)-1] {
			t.Fatalf("cycle %q does not return to its start", path)
		}
		inner := slices.Clone(hops[:len(hops)-1])
		slices.Sort(inner)
		if len(slices.Compact(inner)) != len(hops)-1 {
			t.Errorf("cycle %q repeats a service", path)
		}
		for k := 0; k+1 < len(hops); k++ {
			if !slices.ContainsFunc(edges, func(e Edge) bool { return e.From == hops[k] && e.To == hops[k+1] }) {
				t.Errorf("cycle %q: %s does not depend on %s", path, hops[k], hops[k+1])
			}
		}

		for shift := 1; shift < 4; shift++ {
			nodes2 := slices.Clone(nodes)
			slices.Reverse(nodes2)
			edges2 := append(slices.Clone(edges[shift%len(edges):]), edges[:shift%len(edges)]...)
			slices.Reverse(edges2)
			if _, err2 := New(nodes2, edges2); err2 == nil || err2.Error() != msg {
				t.Errorf("same graph listed differently: %v, want %q", err2, msg)
			}
		}
	})
}
