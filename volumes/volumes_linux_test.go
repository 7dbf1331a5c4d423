package volumes

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary a helper process of the concurrency
// tests: it runs the job in the variable (JSON) and exits.
const helperEnv = "BERTH_VOLUMES_TEST_HELPER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		var j job
		err := json.Unmarshal([]byte(spec), &j)
		if err == nil {
			err = j.run()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// job is one worker of the concurrency tests, with a Store of its own: up
// uses and mounts volume Name for containers Prefix-000 to Prefix-<N-1>,
// down unmounts and releases them.
type job struct {
	Root, Name, Prefix, Phase string
	N                         int
}

func (j job) run() error {
	s, err := Open(j.Root)
	if err != nil {
		return err
	}
	for i := range j.N {
		id := fmt.Sprintf("%s-%03d", j.Prefix, i)
		switch j.Phase {
		case "up":
			if err := s.Use(j.Name, id); err != nil {
				return err
			}
			if _, err := s.Mount(j.Name, id); err != nil {
				return err
			}
		case "down":
			if err := s.Unmount(j.Name, id); err != nil {
				return err
			}
			if err := s.Release(j.Name, id); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown phase %q", j.Phase)
		}
	}
	return nil
}

// newStore opens a store in a new state root whose mounts are checked
// and detached when the test ends, before the root is deleted, whether
// the test failed or not.
func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	root := t.TempDir()
	t.Cleanup(func() { detachMounts(t, root) })
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

// detachMounts fails the test for each mount left under dir and detaches
// it, so that removing dir can never reach into what it holds.
func detachMounts(t *testing.T, dir string) {
	t.Helper()
	for _, m := range slices.Backward(mountsUnder(t, dir)) {
		t.Errorf("mount left under %s: %s", dir, m)
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", m, err)
		}
	}
}

// mountsUnder lists the mount points at or under dir, in mount order.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if p := unescapeMountinfo(f[4]); p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	return out
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (mount(2), chown, mknod)")
	}
}

func mustCreate(t *testing.T, s *Store, name string, o Options) *Volume {
	t.Helper()
	v, created, err := s.Create(name, o)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	if !created {
		t.Fatalf("Create(%q): created = false for a new volume", name)
	}
	return v
}

func mustGet(t *testing.T, s *Store, name string) *Volume {
	t.Helper()
	v, err := s.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// entries lists $ROOT/volumes, but for the lock file.
func entries(t *testing.T, s *Store) []string {
	t.Helper()
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Name() != ".lock" {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestCreateGetList(t *testing.T) {
	s, root := newStore(t)
	v := mustCreate(t, s, "todo-mysql-data", Options{Labels: map[string]string{"com.docker.compose.project": "todo"}})
	want := filepath.Join(root, "volumes", "todo-mysql-data", "_data")
	if v.Name != "todo-mysql-data" || v.Driver != "local" || v.Scope != "local" || v.Mountpoint != want ||
		v.CreatedAt.IsZero() || v.Anonymous || v.Labels["com.docker.compose.project"] != "todo" || v.Options != nil {
		t.Errorf("Create returned %+v", v)
	}
	fi, err := os.Lstat(want)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
		t.Fatalf("_data: %v, %v; want a 0755 directory", fi, err)
	}
	got := mustGet(t, s, "todo-mysql-data")
	if got.Mountpoint != want || !got.CreatedAt.Equal(v.CreatedAt) || !maps.Equal(got.Labels, v.Labels) {
		t.Errorf("Get = %+v, want %+v", got, v)
	}
	b, err := os.ReadFile(filepath.Join(root, "volumes", "todo-mysql-data", "volume.json"))
	if err != nil || !json.Valid(b) {
		t.Fatalf("record: %v %s", err, b)
	}

	anon := mustCreate(t, s, "", Options{})
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(anon.Name) {
		t.Errorf("anonymous name %q: want 64 hex digits", anon.Name)
	}
	if _, ok := anon.Labels[LabelAnonymous]; !ok || !anon.Anonymous {
		t.Errorf("anonymous volume %+v: want Anonymous and label %s", anon, LabelAnonymous)
	}
	// An image VOLUME's volume may be named by the caller; still anonymous.
	img := mustCreate(t, s, "aa-image-volume", Options{Anonymous: true})
	if _, ok := img.Labels[LabelAnonymous]; !ok {
		t.Errorf("Anonymous option: labels %v", img.Labels)
	}

	vols, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vols {
		names = append(names, v.Name)
	}
	wantNames := []string{anon.Name, "aa-image-volume", "todo-mysql-data"}
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Errorf("List = %v, want %v", names, wantNames)
	}
	// A directory without a record (being made, or left by a crash) is no
	// volume.
	if err := os.MkdirAll(filepath.Join(root, "volumes", "half", "_data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if vols, err := s.List(); err != nil || len(vols) != 3 {
		t.Errorf("List with a directory without record: %d volumes, %v", len(vols), err)
	}
}

func TestCreateExisting(t *testing.T) {
	s, _ := newStore(t)
	opts := map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
	v := mustCreate(t, s, "cache", Options{DriverOpts: opts, Labels: map[string]string{"a": "1"}})
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"same options", Options{DriverOpts: maps.Clone(opts)}},
		{"no options", Options{}},
		{"local driver", Options{Driver: "local"}},
		{"other labels", Options{Labels: map[string]string{"b": "2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, created, err := s.Create("cache", tc.o)
			if err != nil || created || !got.CreatedAt.Equal(v.CreatedAt) || !maps.Equal(got.Labels, v.Labels) {
				t.Errorf("Create again = %+v, %v, %v; want the existing volume", got, created, err)
			}
		})
	}
	other := map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=2m"}
	_, _, err := s.Create("cache", Options{DriverOpts: other})
	if !errors.Is(err, ErrInvalid) || err.Error() != "volume cache already exists with different driver options" {
		t.Errorf("Create with other options: %v", err)
	}
	if got := mustGet(t, s, "cache"); !maps.Equal(got.Options, opts) {
		t.Errorf("options changed to %v", got.Options)
	}
}

func TestCreateErrors(t *testing.T) {
	hostDir := t.TempDir()
	hostFile := filepath.Join(hostDir, "file")
	if err := os.WriteFile(hostFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, volume string
		o            Options
		err          string
	}{
		{"plugin driver", "data", Options{Driver: "rexray/ebs"}, `volume driver "rexray/ebs" is not supported by berth: it has the local driver only`},
		{"bad name", "my data", Options{}, `"my data" includes invalid characters for a local volume name`},
		{"short name", "a", Options{}, "volume name is too short"},
		{"unknown option", "data", Options{DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "uid": "1000"}}, `volume data: driver option "uid" is not supported by berth`},
		{"quota size", "data", Options{DriverOpts: map[string]string{"size": "10G"}}, `driver option "size" is not supported`},
		{"device without type", "data", Options{DriverOpts: map[string]string{"device": "/dev/sdb1"}}, `driver option "type" is required`},
		{"o without type", "data", Options{DriverOpts: map[string]string{"o": "size=1m"}}, `driver option "type" is required`},
		{"type without device", "data", Options{DriverOpts: map[string]string{"type": "tmpfs"}}, `driver option "device" is required`},
		{"none without bind", "data", Options{DriverOpts: map[string]string{"type": "none", "device": hostDir}}, `type "none" mounts nothing without o=bind`},
		{"relative bind", "data", Options{DriverOpts: map[string]string{"type": "none", "o": "bind", "device": "./data"}}, `device "./data" of a bind mount must be an absolute path`},
		{"missing bind", "data", Options{DriverOpts: map[string]string{"type": "none", "o": "bind", "device": "/nonexistent/berth"}}, `device "/nonexistent/berth" of a bind mount must be an existing directory`},
		{"bind of a file", "data", Options{DriverOpts: map[string]string{"type": "none", "o": "bind", "device": hostFile}}, "of a bind mount must be a directory"},
		{"type bind missing", "data", Options{DriverOpts: map[string]string{"type": "bind", "device": "/nonexistent/berth"}}, "must be an existing directory"},
		{"remount", "data", Options{DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "remount,size=1m"}}, `"remount"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t)
			v, created, err := s.Create(tc.volume, tc.o)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Create = %v, %v, %v; want ErrInvalid with %q", v, created, err, tc.err)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error of more than one line: %q", err)
			}
			if left := entries(t, s); len(left) > 0 {
				t.Errorf("a failed Create left %v", left)
			}
		})
	}
}

func TestCreateLeavesNothing(t *testing.T) {
	for _, step := range []string{"dir", "data", "record"} {
		t.Run(step, func(t *testing.T) {
			s, _ := newStore(t)
			s.fault = func(at string) error {
				if at == step {
					return errors.New("injected")
				}
				return nil
			}
			_, _, err := s.Create("data", Options{Labels: map[string]string{"a": "b"}})
			if err == nil || !strings.Contains(err.Error(), "create volume data: injected") {
				t.Fatalf("Create = %v", err)
			}
			if left := entries(t, s); len(left) > 0 {
				t.Errorf("a failed Create left %v", left)
			}
			s.fault = nil
			mustCreate(t, s, "data", Options{})
		})
	}
}

// A volume directory without a record (a crash half-way, or a volume
// copied from Docker's /var/lib/docker/volumes) is taken over, keeping its
// content; a failure then removes nothing of it.
func TestCreateTakesOverLeftover(t *testing.T) {
	s, root := newStore(t)
	data := filepath.Join(root, "volumes", "kept", "_data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "ibdata1"), []byte("rows"), 0o640); err != nil {
		t.Fatal(err)
	}
	s.fault = func(at string) error {
		if at == "record" {
			return errors.New("injected")
		}
		return nil
	}
	if _, _, err := s.Create("kept", Options{}); err == nil {
		t.Fatal("Create with an injected fault succeeded")
	}
	if b, err := os.ReadFile(filepath.Join(data, "ibdata1")); err != nil || string(b) != "rows" {
		t.Fatalf("a failed Create lost a leftover's data: %q, %v", b, err)
	}
	s.fault = nil
	v := mustCreate(t, s, "kept", Options{})
	if b, err := os.ReadFile(filepath.Join(v.Mountpoint, "ibdata1")); err != nil || string(b) != "rows" {
		t.Fatalf("taken over volume: %q, %v", b, err)
	}
}

func TestUseRelease(t *testing.T) {
	s, _ := newStore(t)
	mustCreate(t, s, "data", Options{})
	for _, id := range []string{"c3", "c1", "c2", "c1"} {
		if err := s.Use("data", id); err != nil {
			t.Fatal(err)
		}
	}
	if v := mustGet(t, s, "data"); !slices.Equal(v.Users, []string{"c1", "c2", "c3"}) {
		t.Errorf("Users = %v", v.Users)
	}
	if err := s.Use("nope", "c1"); !errors.Is(err, ErrNotFound) || err.Error() != "no such volume: nope" {
		t.Errorf("Use of a missing volume: %v", err)
	}
	if err := s.Use("data", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Use without an id: %v", err)
	}
	for _, id := range []string{"c2", "c2", "c9"} {
		if err := s.Release("data", id); err != nil {
			t.Fatal(err)
		}
	}
	if v := mustGet(t, s, "data"); !slices.Equal(v.Users, []string{"c1", "c3"}) {
		t.Errorf("Users = %v", v.Users)
	}
	if err := s.Release("nope", "c1"); err != nil {
		t.Errorf("Release of a missing volume: %v", err)
	}
	// A container that is gone has nothing mounted any more.
	if _, err := s.Mount("data", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Release("data", "c1"); err != nil {
		t.Fatal(err)
	}
	if v := mustGet(t, s, "data"); !slices.Equal(v.Users, []string{"c3"}) || v.Mounts != nil {
		t.Errorf("after Release: Users %v, Mounts %v", v.Users, v.Mounts)
	}
}

func TestRemove(t *testing.T) {
	s, root := newStore(t)
	v := mustCreate(t, s, "data", Options{})
	if err := os.MkdirAll(filepath.Join(v.Mountpoint, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "a", "b", "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(v.Mountpoint, "etc")); err != nil {
		t.Fatal(err)
	}
	id1, id2 := strings.Repeat("1", 64), strings.Repeat("2", 64)
	for _, id := range []string{id2, id1} {
		if err := s.Use("data", id); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Remove("data", false)
	if want := "remove data: volume is in use - [" + id1 + ", " + id2 + "]"; !errors.Is(err, ErrInUse) || err.Error() != want {
		t.Fatalf("Remove in use = %v, want %q", err, want)
	}
	mustGet(t, s, "data")
	if err := s.Release("data", id1); err != nil {
		t.Fatal(err)
	}
	if err := s.Release("data", id2); err != nil {
		t.Fatal(err)
	}
	// A mount alone holds the volume too.
	if _, err := s.Mount("data", id1); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("data", false); !errors.Is(err, ErrInUse) {
		t.Fatalf("Remove while mounted = %v", err)
	}
	if err := s.Unmount("data", id1); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("data"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove = %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "volumes", "data")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("volume directory after Remove: %v", err)
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Errorf("a symlink's target went with the volume: %v", err)
	}
	if err := s.Remove("data", false); !errors.Is(err, ErrNotFound) || err.Error() != "no such volume: data" {
		t.Errorf("Remove of a missing volume = %v", err)
	}
	if err := s.Remove("data", true); err != nil {
		t.Errorf("Remove -f of a missing volume = %v (Docker: no error)", err)
	}

	mustCreate(t, s, "forced", Options{})
	if err := s.Use("forced", id1); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("forced", true); err != nil {
		t.Fatalf("Remove -f in use = %v", err)
	}
	if left := entries(t, s); len(left) > 0 {
		t.Errorf("left after Remove: %v", left)
	}
}

func TestPrune(t *testing.T) {
	s, _ := newStore(t)
	anonFree := mustCreate(t, s, "", Options{})
	anonUsed := mustCreate(t, s, "", Options{})
	if err := s.Use(anonUsed.Name, "c1"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "named", Options{})
	mustCreate(t, s, "named-todo", Options{Labels: map[string]string{"app": "todo", "tier": "db"}})
	mustCreate(t, s, "named-blog", Options{Labels: map[string]string{"app": "blog"}})
	mustCreate(t, s, "named-used", Options{})
	if _, err := s.Mount("named-used", "c2"); err != nil {
		t.Fatal(err)
	}

	prune := func(all bool, labels map[string]string, want ...string) {
		t.Helper()
		got, err := s.Prune(all, labels)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Prune(%v, %v) = %v, %v; want %v", all, labels, got, err, want)
		}
		for _, name := range want {
			if _, err := s.Get(name); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s after Prune: %v", name, err)
			}
		}
	}
	prune(false, nil, anonFree.Name)
	prune(false, nil)
	prune(true, map[string]string{"app": "todo", "tier": ""}, "named-todo")
	prune(true, map[string]string{"app": "nope"})
	prune(true, nil, "named", "named-blog")
	vols, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vols {
		names = append(names, v.Name)
	}
	if want := []string{anonUsed.Name, "named-used"}; !slices.Equal(names, want) {
		t.Errorf("left after Prune: %v, want %v", names, want)
	}
}

func TestMountPlain(t *testing.T) {
	s, _ := newStore(t)
	v := mustCreate(t, s, "data", Options{})
	for _, id := range []string{"c2", "c1", "c2"} {
		p, err := s.Mount("data", id)
		if err != nil || p != v.Mountpoint {
			t.Fatalf("Mount = %q, %v; want %q", p, err, v.Mountpoint)
		}
	}
	if got := mustGet(t, s, "data"); !slices.Equal(got.Mounts, []string{"c1", "c2"}) {
		t.Errorf("Mounts = %v", got.Mounts)
	}
	if _, err := s.Mount("nope", "c1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Mount of a missing volume = %v", err)
	}
	for _, id := range []string{"c1", "c1", "c2", "c9"} {
		if err := s.Unmount("data", id); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustGet(t, s, "data"); got.Mounts != nil {
		t.Errorf("Mounts = %v", got.Mounts)
	}
	if err := s.Unmount("nope", "c1"); err != nil {
		t.Errorf("Unmount of a missing volume = %v", err)
	}
	if err := os.Remove(v.Mountpoint); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mount("data", "c1"); err == nil || err.Error() != "volume data: its data directory is gone: lstat "+v.Mountpoint+": no such file or directory" {
		t.Errorf("Mount without _data = %v", err)
	}
}

func TestOpenRelativeRoot(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := Open("state")
	if err != nil {
		t.Fatal(err)
	}
	v := mustCreate(t, s, "data", Options{})
	if !filepath.IsAbs(v.Mountpoint) {
		t.Errorf("Mountpoint %q of a store opened with a relative root: want an absolute path", v.Mountpoint)
	}
}

// testConcurrent runs workers that each Use and Mount, then Unmount and
// Release, n containers of volume name at the same time, in goroutines
// with stores of their own and in processes; no user and no mount may be
// lost. during runs once everything is up.
func testConcurrent(t *testing.T, root, name string, during func(v *Volume)) {
	const goroutines, processes, n = 6, 4, 15
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run := func(phase string) {
		var wg sync.WaitGroup
		errs := make(chan error, goroutines+processes)
		for g := range goroutines {
			wg.Go(func() {
				errs <- job{Root: root, Name: name, Prefix: fmt.Sprintf("g%d", g), Phase: phase, N: n}.run()
			})
		}
		for p := range processes {
			spec, _ := json.Marshal(job{Root: root, Name: name, Prefix: fmt.Sprintf("p%d", p), Phase: phase, N: n})
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+string(spec))
			wg.Go(func() {
				if out, err := cmd.CombinedOutput(); err != nil {
					errs <- fmt.Errorf("helper process: %v: %s", err, out)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("%s: %v", phase, err)
			}
		}
	}
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	run("up")
	var want []string
	for i := range n {
		for g := range goroutines {
			want = append(want, fmt.Sprintf("g%d-%03d", g, i))
		}
		for p := range processes {
			want = append(want, fmt.Sprintf("p%d-%03d", p, i))
		}
	}
	slices.Sort(want)
	v := mustGet(t, s, name)
	if !slices.Equal(v.Users, want) || !slices.Equal(v.Mounts, want) {
		t.Fatalf("after concurrent Use and Mount: %d users, %d mounts; want %d of each", len(v.Users), len(v.Mounts), len(want))
	}
	if during != nil {
		during(v)
	}
	run("down")
	v = mustGet(t, s, name)
	if v.Users != nil || v.Mounts != nil {
		t.Fatalf("after concurrent Unmount and Release: users %v, mounts %v", v.Users, v.Mounts)
	}
	tmps, _ := filepath.Glob(filepath.Join(root, "volumes", name, "volume.json.tmp*"))
	if len(tmps) > 0 {
		t.Errorf("temporary records left: %v", tmps)
	}
}

func TestConcurrentUse(t *testing.T) {
	s, root := newStore(t)
	mustCreate(t, s, "shared", Options{})
	testConcurrent(t, root, "shared", nil)
}
