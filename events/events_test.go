package events

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// helperEnv makes the test binary an appender process (TestMain).
const helperEnv = "BERTH_EVENTS_TEST_APPEND"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		// dir:writer:count:maxsize
		parts := strings.Split(spec, ":")
		n, _ := strconv.Atoi(parts[2])
		max, _ := strconv.ParseInt(parts[3], 10, 64)
		if err := appendMany(Journal{Dir: parts[0], MaxSize: max}, parts[1], n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// padding makes lines of about 3 KiB: big enough that a torn or interleaved
// write would show.
var padding = strings.Repeat("x", 3000)

func seqEvent(writer string, i int) Event {
	return Event{Type: TypeContainer, Action: "start", Actor: Actor{ID: writer, Attributes: map[string]string{
		"name": writer, "seq": strconv.Itoa(i), "pad": padding,
	}}}
}

func appendMany(j Journal, writer string, n int) error {
	for i := range n {
		if err := j.Append(seqEvent(writer, i)); err != nil {
			return err
		}
	}
	return nil
}

func readAll(t *testing.T, root string, o Options) []Event {
	t.Helper()
	var out []Event
	if err := Read(root, o, func(e Event) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkSequences checks that each writer's events are whole and in order,
// and returns how many each wrote.
func checkSequences(t *testing.T, evs []Event) map[string]int {
	t.Helper()
	next := map[string]int{}
	for _, e := range evs {
		w := e.Actor.ID
		if e.Actor.Attributes["pad"] != padding || e.Actor.Attributes["name"] != w {
			t.Fatalf("damaged event %+v", e)
		}
		seq, _ := strconv.Atoi(e.Actor.Attributes["seq"])
		if seq != next[w] {
			t.Fatalf("writer %s: event %d after %d", w, seq, next[w]-1)
		}
		next[w]++
	}
	return next
}

// TestConcurrentAppenders: goroutines here and appenders in other processes
// write at once; every line is whole and each writer's lines are in order.
func TestConcurrentAppenders(t *testing.T) {
	root := t.TempDir()
	j := Journal{Dir: Dir(root), MaxSize: 1 << 30}
	const goroutines, processes, each = 16, 3, 150
	var procs []*exec.Cmd
	for p := range processes {
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), fmt.Sprintf("%s=%s:proc%d:%d:%d", helperEnv, j.Dir, p, each, j.MaxSize))
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() { errs <- appendMany(j, fmt.Sprintf("g%d", g), each) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range procs {
		if err := c.Wait(); err != nil {
			t.Fatalf("appender process: %v", err)
		}
	}
	counts := checkSequences(t, readAll(t, root, Options{}))
	if len(counts) != goroutines+processes {
		t.Fatalf("writers seen: %v", counts)
	}
	for w, n := range counts {
		if n != each {
			t.Errorf("writer %s: %d events, want %d", w, n, each)
		}
	}
}

// TestRotationKeepsNewest: the journal stays bounded and what is kept is
// the newest events, without a gap.
func TestRotationKeepsNewest(t *testing.T) {
	root := t.TempDir()
	j := Journal{Dir: Dir(root), MaxSize: 32 << 10}
	const n = 200
	if err := appendMany(j, "w", n); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{j.path(), j.oldPath()} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > j.MaxSize+MaxLine {
			t.Errorf("%s is %d bytes, limit %d", filepath.Base(p), st.Size(), j.MaxSize)
		}
	}
	evs := readAll(t, root, Options{})
	if len(evs) == 0 || len(evs) >= n {
		t.Fatalf("%d events kept of %d", len(evs), n)
	}
	for i, e := range evs {
		if want := strconv.Itoa(n - len(evs) + i); e.Actor.Attributes["seq"] != want {
			t.Fatalf("event %d: seq %s, want %s (not the newest, or a gap)", i, e.Actor.Attributes["seq"], want)
		}
	}
}

// follow runs Follow in the background, sending what it delivers.
func follow(t *testing.T, root string, o Options) (<-chan Event, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan Event, 4096)
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, root, o, func(e Event) error { ch <- e; return nil }) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return ch, stop
}

func receive(t *testing.T, ch <-chan Event, n int) []Event {
	t.Helper()
	var out []Event
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case e := <-ch:
			out = append(out, e)
		case <-timeout:
			t.Fatalf("got %d events of %d", len(out), n)
		}
	}
	return out
}

// TestFollowSeesNewLines: without since, only events appended after the
// start are delivered, through rotations, in order and each once.
func TestFollowSeesNewLines(t *testing.T) {
	root := t.TempDir()
	j := Journal{Dir: Dir(root), MaxSize: 32 << 10}
	if err := j.Append(seqEvent("before", 0)); err != nil {
		t.Fatal(err)
	}
	ch, stop := follow(t, root, Options{})
	time.Sleep(100 * time.Millisecond) // the follower has opened the journal
	// Paced: a follower keeps up with up to two rotations between its
	// looks (more would drop the journals in between).
	const n = 60
	for i := range n {
		if err := j.Append(seqEvent("w", i)); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if _, err := os.Stat(j.oldPath()); err != nil {
		t.Fatalf("no rotation: %v", err)
	}
	got := checkSequences(t, receive(t, ch, n))
	if got["w"] != n || got["before"] != 0 {
		t.Errorf("delivered %v", got)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Follow after cancel: %v", err)
	}
	select {
	case e := <-ch:
		t.Errorf("extra event %+v", e)
	default:
	}
}

// TestFollowSinceUntil: since replays, then follows; an until in the past
// ends Follow after the replay.
func TestFollowSinceUntil(t *testing.T) {
	root := t.TempDir()
	j := Journal{Dir: Dir(root)}
	base := time.Now().Add(-time.Hour)
	for i := range 5 {
		e := seqEvent("w", i)
		e.TimeNano = base.Add(time.Duration(i) * time.Minute).UnixNano()
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err := Follow(context.Background(), root, Options{Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)}, func(e Event) error {
		got = append(got, e.Actor.Attributes["seq"])
		return nil
	})
	if err != nil || strings.Join(got, ",") != "1,2,3" {
		t.Errorf("since..until: %v, %v", got, err)
	}
	ch, _ := follow(t, root, Options{Since: base.Add(4 * time.Minute)})
	if e := receive(t, ch, 1)[0]; e.Actor.Attributes["seq"] != "4" {
		t.Errorf("replayed %+v", e)
	}
	if err := j.Append(seqEvent("w", 5)); err != nil {
		t.Fatal(err)
	}
	if e := receive(t, ch, 1)[0]; e.Actor.Attributes["seq"] != "5" {
		t.Errorf("followed %+v", e)
	}
	// An until ahead ends Follow once it has passed.
	start := time.Now()
	err = Follow(context.Background(), root, Options{Until: time.Now().Add(300 * time.Millisecond), Filter: Filter{"event": {"nothing"}}}, func(Event) error { return nil })
	if err != nil || time.Since(start) < 300*time.Millisecond || time.Since(start) > 5*time.Second {
		t.Errorf("until ahead: %v after %v", err, time.Since(start))
	}
}

func TestEncode(t *testing.T) {
	now := time.Unix(1700000000, 123456789)
	b, err := encode(Event{Type: TypeContainer, Action: "die", Actor: Actor{ID: "abc", Attributes: map[string]string{"image": "bb:1", "name": "web", "exitCode": "3"}}}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"status":"die","id":"abc","from":"bb:1","Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"exitCode":"3","image":"bb:1","name":"web"}},"scope":"local","time":1700000000,"timeNano":1700000000123456789}` + "\n"
	if string(b) != want {
		t.Errorf("encode:\n got %s\nwant %s", b, want)
	}
	b, _ = encode(Event{Type: TypeNetwork, Action: "create", Actor: Actor{ID: "n1", Attributes: map[string]string{"name": "front", "type": "bridge"}}}, now)
	if strings.Contains(string(b), `"status"`) {
		t.Errorf("a network event has the container's legacy fields: %s", b)
	}
	if _, err := encode(Event{Action: "x"}, now); err == nil {
		t.Error("an event without a type was encoded")
	}

	// Too big: labels go, largest first; the name, image and exit code stay.
	attrs := map[string]string{"name": "web", "image": "bb:1", "exitCode": "0", "small": "s"}
	for i := range 10 {
		attrs[fmt.Sprintf("label%d", i)] = strings.Repeat("l", 600)
	}
	b, err = encode(Event{Type: TypeContainer, Action: "start", Actor: Actor{ID: "abc", Attributes: attrs}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxLine {
		t.Fatalf("line of %d bytes", len(b))
	}
	for _, keep := range []string{`"name":"web"`, `"image":"bb:1"`, `"exitCode":"0"`, `"small":"s"`} {
		if !strings.Contains(string(b), keep) {
			t.Errorf("shrunk line lost %s: %s", keep, b)
		}
	}
	// Even the kept values are cut, at a character boundary.
	b, err = encode(Event{Type: TypeContainer, Action: "exec_start: " + strings.Repeat("é", 3000), Actor: Actor{ID: "abc", Attributes: map[string]string{"name": strings.Repeat("n", 5000)}}}, now)
	if err != nil || len(b) > MaxLine || !strings.Contains(string(b), "exec_start: é") || strings.Contains(string(b), `\ufffd`) {
		t.Errorf("cut line: %v, %d bytes", err, len(b))
	}
}

func TestFilter(t *testing.T) {
	web := Event{Type: TypeContainer, Action: "start", Scope: "local", Actor: Actor{ID: "abc123", Attributes: map[string]string{
		"name": "proj-web-1", "image": "docker.io/library/busybox:1.36", "com.docker.compose.project": "proj", "tier": "front",
	}}}
	health := web
	health.Action = "health_status: healthy"
	net := Event{Type: TypeNetwork, Action: "connect", Scope: "local", Actor: Actor{ID: "n42", Attributes: map[string]string{"name": "proj_default", "type": "bridge", "container": "abc123"}}}
	img := Event{Type: TypeImage, Action: "pull", Scope: "local", Actor: Actor{ID: "busybox:latest", Attributes: map[string]string{"name": "busybox"}}}
	for _, tc := range []struct {
		name    string
		filters []string
		ev      Event
		want    bool
	}{
		{"none", nil, web, true},
		{"type", []string{"type=container"}, web, true},
		{"other type", []string{"type=network"}, web, false},
		{"either type", []string{"type=network", "type=container"}, net, true},
		{"event exact", []string{"event=start"}, web, true},
		{"event is not a prefix", []string{"event=sta"}, web, false},
		{"health_status bare", []string{"event=health_status"}, health, true},
		{"health_status exact", []string{"event=health_status: healthy"}, health, true},
		{"health_status other", []string{"event=health_status: unhealthy"}, health, false},
		{"container by name prefix", []string{"container=proj-web"}, web, true},
		{"container by id prefix", []string{"container=abc"}, web, true},
		{"container other", []string{"container=db"}, web, false},
		{"container keeps other actors out", []string{"container=proj-web"}, net, false},
		{"network by name", []string{"network=proj_default"}, net, true},
		{"network excludes containers", []string{"network=proj_default"}, web, false},
		{"label key", []string{"label=tier"}, web, true},
		{"label value", []string{"label=com.docker.compose.project=proj"}, web, true},
		{"label wrong value", []string{"label=tier=back"}, web, false},
		{"labels all", []string{"label=tier=front", "label=missing"}, web, false},
		{"image as given", []string{"image=docker.io/library/busybox:1.36"}, web, true},
		{"image familiar", []string{"image=busybox"}, web, true},
		{"image other", []string{"image=alpine"}, web, false},
		{"image event", []string{"image=busybox"}, img, true},
		{"scope", []string{"scope=swarm"}, web, false},
		{"and of keys", []string{"type=container", "event=stop"}, web, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFilter(tc.filters)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(tc.ev); got != tc.want {
				t.Errorf("%v on %s %s: %v, want %v", tc.filters, tc.ev.Type, tc.ev.Action, got, tc.want)
			}
		})
	}
	for _, bad := range []struct{ arg, msg string }{
		{"nokey", "bad format of filter (expected name=value): nokey"},
		{"colour=red", "invalid filter 'colour'"},
	} {
		if _, err := ParseFilter([]string{bad.arg}); err == nil || err.Error() != bad.msg {
			t.Errorf("ParseFilter(%q): %v, want %q", bad.arg, err, bad.msg)
		}
	}
	if f, err := ParseFilter([]string{" Type = container "}); err != nil || f["type"][0] != "container" {
		t.Errorf("spaces and case: %v %v", f, err)
	}
}

func TestFamiliar(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                          "busybox",
		"busybox:1":                        "busybox",
		"docker.io/library/busybox:latest": "busybox",
		"docker.io/me/app:2":               "me/app",
		"localhost:5000/app:tag":           "localhost:5000/app",
		"localhost:5000/app":               "localhost:5000/app",
		"app@sha256:abcd":                  "app",
	} {
		if got := familiar(in); got != want {
			t.Errorf("familiar(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFollowTwoRotations: a follower that looks again only after two
// rotations still delivers every event, from journal.1.
func TestFollowTwoRotations(t *testing.T) {
	root := t.TempDir()
	j := Journal{Dir: Dir(root), MaxSize: 8 << 10} // about three events a file
	if err := appendMany(j, "old", 4); err != nil {
		t.Fatal(err)
	}
	f := &follower{j: j}
	var err error
	if f.seen, f.cur, err = j.open(); err != nil {
		t.Fatal(err)
	}
	defer f.close()
	var got []Event
	collect := func(e Event) error { got = append(got, e); return nil }
	f.cur.off = f.cur.info.Size()
	if err := appendMany(j, "w", 5); err != nil { // the journal rotates twice
		t.Fatal(err)
	}
	if err := f.poll(Options{}, collect); err != nil {
		t.Fatal(err)
	}
	if counts := checkSequences(t, got); counts["w"] != 5 || counts["old"] != 0 {
		t.Errorf("delivered %v", counts)
	}
}
