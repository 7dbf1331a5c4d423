package cgroup

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-sh/berth/internal/testutil"
	"github.com/containerd/cgroups/v3/cgroup1"
	"golang.org/x/sys/unix"
)

// helperEnv selects what TestHelperProcess does when the test binary runs itself as a child.
const helperEnv = "BERTH_CGROUP_HELPER"

// TestHelperProcess is not a test: it is the body of the child processes the tests start (a
// memory hog, a fork loop, a counter). Each waits for one byte on stdin, sent once the parent
// has moved it into the cgroup.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process body, run by the other tests")
	}
	var go1 [1]byte
	if _, err := os.Stdin.Read(go1[:]); err != nil {
		os.Exit(3)
	}
	switch mode {
	case "hog":
		// mmap and touch every page, so that the memory is charged now and not at the
		// Go heap's leisure.
		const size = 64 * mib
		b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			fmt.Println("mmap:", err)
			os.Exit(2)
		}
		for i := 0; i < size; i += 4096 {
			b[i] = 1
		}
		fmt.Println("survived")
	case "fork":
		var started []*exec.Cmd
		for range 20 {
			cmd := exec.Command("/bin/sleep", "30")
			if err := cmd.Start(); err != nil {
				fmt.Println("error", err)
				continue
			}
			started = append(started, cmd)
		}
		fmt.Println("started", len(started))
		for _, cmd := range started {
			cmd.Process.Kill()
			cmd.Wait()
		}
	case "count":
		f, err := os.OpenFile(os.Getenv("BERTH_CGROUP_COUNTER"), os.O_WRONLY, 0)
		if err != nil {
			os.Exit(2)
		}
		for i := 1; ; i++ {
			// Fixed width at offset 0: each write replaces the whole number.
			f.WriteAt([]byte(fmt.Sprintf("%020d", i)), 0)
			time.Sleep(time.Millisecond)
		}
	}
	os.Exit(0)
}

type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bytes.Buffer
}

// startHelper starts this test binary as TestHelperProcess in mode; it waits for go().
func startHelper(t *testing.T, mode string, env ...string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+mode), env...)
	h := &helper{cmd: cmd, out: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = h.out, h.out
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return h
}

func (h *helper) go1(t *testing.T) {
	t.Helper()
	if _, err := h.stdin.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
}

// startSleep starts /bin/sleep, killed and reaped when the test ends.
func startSleep(t *testing.T, attr *syscall.SysProcAttr) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sleep", "60")
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func randomName(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "berth-test-" + hex.EncodeToString(b)
}

// v2Host is the cgroup2 hierarchy as a Unified host: the real one on a v2 host, the
// controller-less tracking hierarchy of a hybrid host otherwise, where it still exercises
// the v2 paths (FD, cgroup.freeze, cgroup.kill) without limits.
func v2Host(t *testing.T) host {
	return host{mode: Unified, unified: testutil.RequireCgroupV2(t)}
}

// parentDirs lists the directories of a test parent in every hierarchy.
func parentDirs(parent string) []string {
	var out []string
	for _, pattern := range []string{mountRoot + "/" + parent, mountRoot + "/*/" + parent} {
		m, _ := filepath.Glob(pattern)
		out = append(out, m...)
	}
	return out
}

// testParent returns a unique parent for the test's cgroups. When the test ends it kills
// whatever is left in the cgroups under it (only processes the test started can be there),
// removes them and the parent, then fails if any directory remains.
func testParent(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	if Detect() == Unavailable {
		t.Skip("needs cgroups: nothing mounted at /sys/fs/cgroup")
	}
	parent := randomName(t)
	t.Cleanup(func() {
		if left := parentDirs(parent); len(left) > 0 {
			t.Errorf("cgroup dirs left behind: %v", left)
		}
	})
	t.Cleanup(func() {
		hosts := []host{detectHost()}
		if h := detectHost(); h.mode == Hybrid {
			hosts = append(hosts, host{mode: Unified, unified: h.unified})
		}
		for _, dir := range parentDirs(parent) {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if !e.IsDir() {
					continue
				}
				for _, h := range hosts {
					c, err := load(h, parent, e.Name())
					if err != nil {
						continue
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					if err := c.KillAll(ctx); err != nil {
						t.Errorf("cleanup: %v", err)
					}
					cancel()
					if err := c.Delete(); err != nil {
						t.Errorf("cleanup: %v", err)
					}
				}
			}
			if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
				t.Errorf("cleanup: rmdir %s: %v", dir, err)
			}
		}
	})
	return parent
}

// requireControllers skips unless the host's limits can use every controller named.
func requireControllers(t *testing.T, names ...string) {
	t.Helper()
	if Detect() == Unified {
		testutil.RequireCgroupV2(t, names...)
		return
	}
	for _, n := range names {
		testutil.RequireCgroupV1(t, n)
	}
}

func newCgroup(t *testing.T, r Resources) *Cgroup {
	t.Helper()
	parent := testParent(t)
	c, err := create(context.Background(), detectHost(), parent, randomName(t), r)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ctl reads a control file: v1file in the v1 hierarchy of controller, or v2file on v2.
func ctl(t *testing.T, c *Cgroup, controller cgroup1.Name, v1file, v2file string) string {
	t.Helper()
	p := filepath.Join(c.v2Path, v2file)
	if c.mode != Unified {
		p = filepath.Join(c.v1Paths[controller], v1file)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func existing(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		if _, err := os.Lstat(d); err == nil {
			out = append(out, d)
		}
	}
	return out
}

func TestDetect(t *testing.T) {
	var st unix.Statfs_t
	if err := unix.Statfs(mountRoot, &st); err != nil {
		t.Skipf("needs %s: %v", mountRoot, err)
	}
	want := Legacy
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		want = Unified
	} else if unix.Statfs(mountRoot+"/unified", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		want = Hybrid
	}
	if got := Detect(); got != want {
		t.Errorf("Detect() = %v, want %v", got, want)
	}
}

func TestCreateWritesV1Limits(t *testing.T) {
	if Detect() == Unified {
		t.Skip("needs cgroup v1 controllers: this is a cgroup v2 host (TestCreateWritesV2Limits covers it)")
	}
	requireControllers(t, "memory", "cpu", "cpuset", "pids")
	c := newCgroup(t, Resources{
		Memory: 64 * mib, MemoryReservation: 32 * mib,
		CPUs: 0.5, CPUShares: 512, CpusetCpus: "0", CpusetMems: "0", PidsLimit: 42,
	})
	want := []struct {
		ctl        cgroup1.Name
		file, want string
	}{
		{cgroup1.Memory, "memory.limit_in_bytes", "67108864"},
		{cgroup1.Memory, "memory.soft_limit_in_bytes", "33554432"},
		{cgroup1.Cpu, "cpu.cfs_quota_us", "50000"},
		{cgroup1.Cpu, "cpu.cfs_period_us", "100000"},
		{cgroup1.Cpu, "cpu.shares", "512"},
		{cgroup1.Cpuset, "cpuset.cpus", "0"},
		{cgroup1.Cpuset, "cpuset.mems", "0"},
		{cgroup1.Pids, "pids.max", "42"},
	}
	if c.v1SwapAccounting() {
		// Docker's default: memory+swap is twice the memory limit.
		want = append(want, struct {
			ctl        cgroup1.Name
			file, want string
		}{cgroup1.Memory, "memory.memsw.limit_in_bytes", "134217728"})
	}
	for _, w := range want {
		if got := ctl(t, c, w.ctl, w.file, ""); got != w.want {
			t.Errorf("%s = %q, want %q", w.file, got, w.want)
		}
	}
	if c.mode == Hybrid {
		if _, err := os.Stat(c.v2Path); err != nil {
			t.Errorf("hybrid host: no tracking cgroup in the unified hierarchy: %v", err)
		}
	}
	dirs := c.dirs()
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
	if left := existing(dirs); len(left) > 0 {
		t.Errorf("Delete left %v", left)
	}
}

func TestCreateWritesV2Limits(t *testing.T) {
	if Detect() != Unified {
		t.Skipf("needs a cgroup v2 host: this one is %v, whose limits TestCreateWritesV1Limits checks", Detect())
	}
	requireControllers(t, "memory", "cpu", "cpuset", "pids")
	c := newCgroup(t, Resources{
		Memory: 64 * mib, MemoryReservation: 32 * mib,
		CPUs: 0.5, CPUShares: 512, CpusetCpus: "0", CpusetMems: "0", PidsLimit: 42,
	})
	want := map[string]string{
		"memory.max":  "67108864",
		"memory.low":  "33554432",
		"cpu.max":     "50000 100000",
		"cpu.weight":  strconv.FormatUint(SharesToWeight(512), 10),
		"cpuset.cpus": "0",
		"cpuset.mems": "0",
		"pids.max":    "42",
	}
	if _, err := os.Stat(filepath.Join(c.v2Path, "memory.swap.max")); err == nil {
		want["memory.swap.max"] = "67108864" // (2*64 MiB) - 64 MiB
	}
	for file, w := range want {
		if got := ctl(t, c, "", "", file); got != w {
			t.Errorf("%s = %q, want %q", file, got, w)
		}
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
}

func TestOOMKilled(t *testing.T) {
	requireControllers(t, "memory")
	// memory_swap = memory: no swap to hide in.
	c := newCgroup(t, Resources{Memory: 16 * mib, MemorySwap: 16 * mib})
	if oom, err := c.OOMKilled(); err != nil || oom {
		t.Fatalf("OOMKilled before = %v, %v; want false", oom, err)
	}
	h := startHelper(t, "hog")
	if err := c.AddProc(h.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	h.go1(t)
	err := h.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("hog of 64 MiB under a 16 MiB limit ended with %v, output %q; want SIGKILL", err, h.out)
	}
	oom, err := c.OOMKilled()
	if err != nil || !oom {
		t.Fatalf("OOMKilled = %v, %v; want true", oom, err)
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
}

func TestPidsLimit(t *testing.T) {
	requireControllers(t, "pids")
	c := newCgroup(t, Resources{PidsLimit: 8})
	// One P keeps the Go runtime of the helper from wanting new threads while forks fail.
	h := startHelper(t, "fork", "GOMAXPROCS=1")
	if err := c.AddProc(h.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	threads := st.PidsCurrent // pids counts tasks: the helper's threads are in already
	h.go1(t)
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("fork helper: %v, output %q", err, h.out)
	}
	started := -1
	for _, line := range strings.Split(h.out.String(), "\n") {
		if n, ok := strings.CutPrefix(line, "started "); ok {
			started, _ = strconv.Atoi(n)
		}
	}
	if started < 0 {
		t.Fatalf("fork helper output %q: no count", h.out)
	}
	t.Logf("helper had %d tasks, started %d of 20 children under pids.max 8", threads, started)
	if started >= 20 || uint64(started)+threads > 8 {
		t.Errorf("started %d children with %d tasks already in: more than the limit of 8", started, threads)
	}
	if !strings.Contains(h.out.String(), "resource temporarily unavailable") {
		t.Errorf("no fork failed with EAGAIN: %q", h.out)
	}
}

func TestProcsFreezeKillDelete(t *testing.T) {
	if Detect() != Unified {
		requireControllers(t, "freezer")
	}
	c := newCgroup(t, Resources{})
	counter := filepath.Join(t.TempDir(), "counter")
	if err := os.WriteFile(counter, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s1, s2 := startSleep(t, nil), startSleep(t, nil)
	h := startHelper(t, "count", "BERTH_CGROUP_COUNTER="+counter)
	pids := []int{s1.Process.Pid, s2.Process.Pid, h.cmd.Process.Pid}
	for _, pid := range pids {
		if err := c.AddProc(pid); err != nil {
			t.Fatal(err)
		}
	}
	h.go1(t)
	got, err := c.Procs()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pids)
	if !slices.Equal(got, pids) {
		t.Fatalf("Procs = %v, want %v", got, pids)
	}
	read := func() int {
		b, _ := os.ReadFile(counter)
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	waitAbove := func(n int) int {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if v := read(); v > n {
				return v
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("counter stuck at %d", read())
		return 0
	}
	waitAbove(0)
	if f, err := c.Frozen(); err != nil || f {
		t.Errorf("Frozen before Freeze = %v, %v", f, err)
	}
	if err := c.Freeze(); err != nil {
		t.Fatal(err)
	}
	if f, err := c.Frozen(); err != nil || !f {
		t.Errorf("Frozen after Freeze = %v, %v", f, err)
	}
	frozen := read()
	time.Sleep(300 * time.Millisecond)
	if now := read(); now != frozen {
		t.Errorf("frozen counter moved from %d to %d", frozen, now)
	}
	if err := c.Thaw(); err != nil {
		t.Fatal(err)
	}
	if f, err := c.Frozen(); err != nil || f {
		t.Errorf("Frozen after Thaw = %v, %v", f, err)
	}
	waitAbove(frozen)

	// A populated cgroup is refused, and left whole.
	dirs := c.dirs()
	if err := c.Delete(); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("Delete with processes = %v, want ErrNotEmpty", err)
	}
	if left := existing(dirs); len(left) != len(dirs) {
		t.Fatalf("failed Delete removed some dirs: %v of %v left", left, dirs)
	}

	// KillAll must also kill frozen processes.
	if err := c.Freeze(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.KillAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Procs(); err != nil || len(got) != 0 {
		t.Fatalf("Procs after KillAll = %v, %v", got, err)
	}
	if f, err := c.Frozen(); err != nil || f {
		t.Errorf("Frozen after KillAll of a frozen cgroup = %v, %v; want it left thawed", f, err)
	}
	for _, cmd := range []*exec.Cmd{s1, s2, h.cmd} {
		if err := cmd.Wait(); err == nil {
			t.Errorf("pid %d exited 0 after KillAll", cmd.Process.Pid)
		}
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
	if left := existing(dirs); len(left) > 0 {
		t.Errorf("Delete left %v", left)
	}
	if err := c.Delete(); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if _, err := load(detectHost(), filepath.Base(filepath.Dir(c.group)), c.name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load after Delete = %v, want fs.ErrNotExist", err)
	}
}

func TestLoad(t *testing.T) {
	c := newCgroup(t, Resources{})
	parent := filepath.Base(filepath.Dir(c.group))
	l, err := load(detectHost(), parent, c.name)
	if err != nil {
		t.Fatal(err)
	}
	if ld, cd := l.dirs(), c.dirs(); !slices.Equal(slices.Sorted(slices.Values(ld)), slices.Sorted(slices.Values(cd))) {
		t.Errorf("Load found %v, Create made %v", l.dirs(), c.dirs())
	}
	s := startSleep(t, nil)
	if err := l.AddProc(s.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Procs(); err != nil || !slices.Equal(got, []int{s.Process.Pid}) {
		t.Errorf("Procs = %v, %v; want [%d]", got, err, s.Process.Pid)
	}
	if err := l.KillAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := load(detectHost(), parent, "berth-test-missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing cgroup = %v, want fs.ErrNotExist", err)
	}
}

func TestUpdate(t *testing.T) {
	requireControllers(t, "memory", "cpu", "pids")
	c := newCgroup(t, Resources{Memory: 32 * mib, CPUs: 0.5, PidsLimit: 8})
	stats := func() Stats {
		t.Helper()
		s, err := c.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Raising memory above the old memory+swap (64 MiB) needs the order containerd picks.
	if err := c.Update(Resources{Memory: 128 * mib, MemorySwap: 256 * mib, CPUs: 1, CPUShares: 256, PidsLimit: 16}); err != nil {
		t.Fatal(err)
	}
	if s := stats(); s.MemoryLimit != 128*mib || s.PidsLimit != 16 {
		t.Errorf("after Update: memory limit %d, pids limit %d; want %d, 16", s.MemoryLimit, s.PidsLimit, 128*mib)
	}
	if c.mode == Unified {
		if got := ctl(t, c, "", "", "cpu.max"); got != "100000 100000" {
			t.Errorf("cpu.max = %q", got)
		}
		if got := ctl(t, c, "", "", "cpu.weight"); got != strconv.FormatUint(SharesToWeight(256), 10) {
			t.Errorf("cpu.weight = %q", got)
		}
	} else {
		if got := ctl(t, c, cgroup1.Cpu, "cpu.cfs_quota_us", ""); got != "100000" {
			t.Errorf("cpu.cfs_quota_us = %q", got)
		}
		if got := ctl(t, c, cgroup1.Cpu, "cpu.shares", ""); got != "256" {
			t.Errorf("cpu.shares = %q", got)
		}
		if c.v1SwapAccounting() {
			if got := ctl(t, c, cgroup1.Memory, "memory.memsw.limit_in_bytes", ""); got != "268435456" {
				t.Errorf("memory.memsw.limit_in_bytes = %q", got)
			}
		}
	}
	// Unset fields stay; -1 lifts a limit.
	if err := c.Update(Resources{PidsLimit: -1}); err != nil {
		t.Fatal(err)
	}
	if s := stats(); s.PidsLimit != 0 || s.MemoryLimit != 128*mib {
		t.Errorf("after lifting pids: pids limit %d, memory limit %d", s.PidsLimit, s.MemoryLimit)
	}
	if err := c.Update(Resources{MemorySwap: -1, Memory: 512 * mib}); err != nil {
		t.Fatal(err)
	}
	if s := stats(); s.MemoryLimit != 512*mib {
		t.Errorf("memory limit %d, want %d", s.MemoryLimit, 512*mib)
	}
	if c.mode != Unified && c.v1SwapAccounting() {
		if err := c.Update(Resources{Memory: 32 * mib, MemorySwap: 64 * mib}); err != nil {
			t.Fatal(err)
		}
		// Docker refuses memory above the memory+swap limit already set.
		err := c.Update(Resources{Memory: 128 * mib})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), ": memory: ") {
			t.Errorf("raising memory over memory_swap = %v, want an error naming memory", err)
		}
	}
	err := c.Update(Resources{PidsLimit: -2})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), ": pids_limit: ") {
		t.Errorf("Update pids_limit -2 = %v, want an error naming pids_limit", err)
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
}

func TestBadValues(t *testing.T) {
	parent := testParent(t)
	n := goruntime.NumCPU()
	cases := []struct {
		name  string
		r     Resources
		field string
		text  string
	}{
		{"memory", Resources{Memory: 1024}, "memory", "1KiB is below the 6MiB minimum"},
		{"swap", Resources{Memory: 64 * mib, MemorySwap: 16 * mib}, "memory_swap", "is below the memory limit"},
		{"reservation", Resources{Memory: 16 * mib, MemoryReservation: 32 * mib}, "memory_reservation", "is above the memory limit"},
		{"cpus", Resources{CPUs: float64(n) + 1}, "cpus", fmt.Sprintf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n)},
		{"cpuset", Resources{CpusetCpus: strconv.Itoa(n + 64)}, "cpuset_cpus", "requested CPUs are not available"},
		{"pids", Resources{PidsLimit: -7}, "pids_limit", "-7 is invalid"},
	}
	h := detectHost()
	for _, tc := range cases {
		name := randomName(t)
		c, err := create(context.Background(), h, parent, name, tc.r)
		want := fmt.Sprintf("cgroup %s: %s: ", name, tc.field)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: Create(%+v) = %v, want an error starting %q containing %q", tc.name, tc.r, err, want, tc.text)
		}
		if c != nil {
			c.Delete()
		}
		for _, d := range parentDirs(parent) {
			if _, err := os.Lstat(filepath.Join(d, name)); err == nil {
				t.Errorf("%s: failed Create left %s", tc.name, filepath.Join(d, name))
			}
		}
	}
	for _, bad := range []string{"a/b", "..", "a.b", ""} {
		if _, err := create(context.Background(), h, parent, bad, Resources{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), ": name: ") {
			t.Errorf("Create(name %q) = %v, want an error naming name", bad, err)
		}
	}

	// An existing cgroup is neither adopted nor removed by a failed Create.
	c := newCgroupIn(t, parent)
	if _, err := create(context.Background(), h, parent, c.name, Resources{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create of an existing cgroup = %v, want fs.ErrExist", err)
	}
	if left := existing(c.dirs()); len(left) != len(c.dirs()) {
		t.Errorf("failed Create removed the existing cgroup: %v of %v left", left, c.dirs())
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
}

func newCgroupIn(t *testing.T, parent string) *Cgroup {
	t.Helper()
	c, err := create(context.Background(), detectHost(), parent, randomName(t), Resources{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStats(t *testing.T) {
	requireControllers(t, "memory", "pids", "cpuacct")
	c := newCgroup(t, Resources{Memory: 64 * mib, PidsLimit: 16})
	start := time.Now()
	s := startSleep(t, nil)
	if err := c.AddProc(s.Process.Pid); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	if st.PidsCurrent != 1 || st.PidsLimit != 16 || st.MemoryLimit != 64*mib || st.MemoryUsage > st.MemoryLimit {
		t.Errorf("Stats = %+v: want 1 task of limit 16, memory limit %d and usage below it", st, 64*mib)
	}
	if st.MemoryInactiveFile > st.MemoryUsage {
		t.Errorf("inactive file cache %d above the usage %d", st.MemoryInactiveFile, st.MemoryUsage)
	}
	if max := uint64(time.Since(start).Nanoseconds()) * uint64(goruntime.NumCPU()); st.CPUUsageNs > max {
		t.Errorf("CPU usage %d ns in %v", st.CPUUsageNs, time.Since(start))
	}
	if err := c.KillAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
}

func TestFDOnV1Hosts(t *testing.T) {
	if Detect() == Unified {
		t.Skip("needs a v1 or hybrid host: this one is cgroup v2 (TestFDIntoCgroupV2 covers it)")
	}
	c := newCgroup(t, Resources{})
	if _, _, err := c.FD(); !errors.Is(err, ErrNotSupported) {
		t.Errorf("FD on a %v host = %v, want ErrNotSupported", c.mode, err)
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
}

// TestFDIntoCgroupV2 runs the v2 code on the cgroup2 hierarchy, whatever controllers it has:
// a child born in the cgroup through clone3 CLONE_INTO_CGROUP, cgroup.freeze, cgroup.kill.
func TestFDIntoCgroupV2(t *testing.T) {
	parent := testParent(t)
	h := v2Host(t)
	c, err := create(context.Background(), h, parent, randomName(t), Resources{})
	if err != nil {
		t.Fatal(err)
	}
	fd, closeFD, err := c.FD()
	if err != nil {
		t.Fatal(err)
	}
	s := startSleep(t, &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd})
	closeFD()
	closeFD() // harmless twice
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", s.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if want := "0::" + c.group + "\n"; !strings.Contains(string(b), want) {
		t.Errorf("/proc/%d/cgroup = %q, want a line %q", s.Process.Pid, b, want)
	}
	if got, err := c.Procs(); err != nil || !slices.Equal(got, []int{s.Process.Pid}) {
		t.Errorf("Procs = %v, %v", got, err)
	}
	if err := c.Freeze(); err != nil {
		t.Fatal(err)
	}
	if v, err := keyedValue(filepath.Join(c.v2Path, "cgroup.events"), "frozen"); err != nil || v != 1 {
		t.Errorf("cgroup.events frozen = %d, %v", v, err)
	}
	if f, err := c.Frozen(); err != nil || !f {
		t.Errorf("Frozen after Freeze = %v, %v", f, err)
	}
	if err := c.Thaw(); err != nil {
		t.Fatal(err)
	}
	if f, err := c.Frozen(); err != nil || f {
		t.Errorf("Frozen after Thaw = %v, %v", f, err)
	}
	// KillAll of a frozen cgroup: cgroup.kill reaches frozen tasks on v2, and the cgroup is
	// left thawed.
	if err := c.Freeze(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.KillAll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err == nil {
		t.Error("sleep exited 0 after KillAll")
	}
	if f, err := c.Frozen(); err != nil || f {
		t.Errorf("Frozen after KillAll = %v, %v; want it left thawed", f, err)
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.v2Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Delete left %s: %v", c.v2Path, err)
	}
}

// TestLoadUnifiedRemnant: on a hybrid host, a cgroup whose v1 dirs are gone but whose unified
// dir was left (a delete cut short) still loads, and Delete removes the remnant.
func TestLoadUnifiedRemnant(t *testing.T) {
	c := newCgroup(t, Resources{})
	if c.mode != Hybrid || c.v2Path == "" {
		t.Skip("needs a hybrid cgroup host (v1 controllers and the unified hierarchy)")
	}
	for _, p := range c.v1Paths {
		if err := unix.Rmdir(p); err != nil && !errors.Is(err, unix.ENOENT) {
			t.Fatal(err)
		}
	}
	parent := filepath.Base(filepath.Dir(c.group))
	l, err := load(detectHost(), parent, c.name)
	if err != nil {
		t.Fatalf("load of a unified remnant: %v", err)
	}
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.v2Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the unified dir is still there: %v", err)
	}
}

// TestFrozenOfARemovedCgroup: a cgroup removed while its freezer file is read (ENODEV) is gone,
// as a missing one is, so an inspect racing a restart does not fail.
func TestFrozenOfARemovedCgroup(t *testing.T) {
	c := &Cgroup{name: "gone", mode: Hybrid, v1Paths: map[cgroup1.Name]string{cgroup1.Freezer: t.TempDir()}}
	_, err := c.noFreezer(&fs.PathError{Op: "read", Path: "freezer.state", Err: unix.ENODEV})
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, unix.ENODEV) {
		t.Errorf("ENODEV: err = %v, want it to be fs.ErrNotExist (and still ENODEV)", err)
	}
	if f, err := c.noFreezer(&fs.PathError{Op: "open", Path: "freezer.state", Err: unix.ENOENT}); err != nil || f {
		t.Errorf("no freezer file in an existing cgroup = %v, %v; want never frozen", f, err)
	}
}
