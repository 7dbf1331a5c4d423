package cgroup

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	mountRoot = "/sys/fs/cgroup"
	// pollInterval paces the loops that wait for the kernel (processes leaving, freezer
	// state): short enough to keep `down` quick, long enough not to spin.
	pollInterval = 10 * time.Millisecond
	// unlimitedAbove: v1 reports "no limit" as a huge page-aligned number
	// (9223372036854771712) and containerd's v2 reader turns "max" into MaxUint64.
	unlimitedAbove = 1 << 62
	// freezeTimeout bounds Freeze on v2, where a task in uninterruptible sleep can hold the
	// cgroup in "freezing" for as long as it sleeps.
	freezeTimeout = 30 * time.Second
)

// host is where the cgroup file systems are. Tests build one by hand to run the v2 code on the
// unified mount of a hybrid host.
type host struct {
	mode Mode
	// unified is the cgroup2 mount point: the root of everything on Unified, the tracking
	// hierarchy on Hybrid, empty on Legacy.
	unified string
}

// Detect reports how cgroups are mounted on this host.
func Detect() Mode {
	return detectHost().mode
}

func detectHost() host {
	switch cgroups.Mode() {
	case cgroups.Unified:
		return host{mode: Unified, unified: mountRoot}
	case cgroups.Hybrid:
		return host{mode: Hybrid, unified: filepath.Join(mountRoot, "unified")}
	case cgroups.Legacy:
		return host{mode: Legacy}
	default:
		return host{mode: Unavailable}
	}
}

// Cgroup is one container's cgroup in every hierarchy of the host. Its methods may be called
// from several goroutines.
type Cgroup struct {
	name  string
	group string // "/<parent>/<name>", relative to the root of each hierarchy
	mode  Mode

	// v1 holds the limits on Legacy and Hybrid hosts; v1Paths is the cgroup's directory in each
	// v1 hierarchy it lives in.
	v1      cgroup1.Cgroup
	v1Paths map[cgroup1.Name]string

	// v2 holds the limits on Unified hosts and only tracks processes on Hybrid ones.
	v2      *cgroup2.Manager
	v2Path  string
	unified string // the cgroup2 mount point, empty on Legacy hosts
}

// pathOf is the method of containerd's v1 subsystems that gives a cgroup's directory; the
// interface it belongs to is unexported there.
type pathOf interface {
	Path(group string) string
}

// Create makes the cgroup for container name under the berth parent of every hierarchy and
// writes r into it. It fails, creating nothing, when a value is out of range, when a needed
// controller is missing, or when the cgroup already exists.
func Create(ctx context.Context, name string, r Resources) (*Cgroup, error) {
	return create(ctx, detectHost(), DefaultParent, name, r)
}

// Load returns the existing cgroup of container name, for a command that did not create it.
// The error matches fs.ErrNotExist when there is no such cgroup.
func Load(name string) (*Cgroup, error) {
	return load(detectHost(), DefaultParent, name)
}

func create(ctx context.Context, h host, parent, name string, r Resources) (*Cgroup, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", name, err)
	}
	if err := validName("name", name); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", name, err)
	}
	if err := validName("parent", parent); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", name, err)
	}
	if h.mode == Unavailable {
		return nil, fmt.Errorf("cgroup %s: no cgroup file system at %s: %w", name, mountRoot, ErrNotSupported)
	}
	if err := r.check(h.info(), false); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", name, err)
	}
	r.CPUShares = clampShares(r.CPUShares)
	if r.Memory > 0 && r.MemorySwap == 0 {
		// Docker's adaptContainerSettings: "By default, MemorySwap is set to twice the size
		// of Memory".
		r.MemorySwap = 2 * r.Memory
	}
	c := &Cgroup{name: name, group: "/" + parent + "/" + name, mode: h.mode, unified: h.unified}
	var err error
	if h.mode == Unified {
		err = c.createV2(h, r)
	} else {
		err = c.createV1(h, r)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cgroup) createV1(h host, r Resources) error {
	subsystems, err := cgroup1.Default()
	if err != nil {
		return fmt.Errorf("cgroup %s: finding the v1 hierarchies: %w", c.name, err)
	}
	c.v1Paths = map[cgroup1.Name]string{}
	for _, s := range subsystems {
		if p, ok := s.(pathOf); ok {
			c.v1Paths[s.Name()] = p.Path(c.group)
		}
	}
	if h.mode == Hybrid {
		c.v2Path = filepath.Join(h.unified, c.group)
	}
	for _, need := range neededV1(r) {
		if _, ok := c.v1Paths[need.controller]; !ok {
			return fmt.Errorf("cgroup %s: %s: the %s controller is not mounted: %w", c.name, need.field, need.controller, ErrNotSupported)
		}
	}
	if err := c.refuseExisting(); err != nil {
		return err
	}
	if !c.v1SwapAccounting() {
		r.MemorySwap = 0
	}
	hierarchy := func() ([]cgroup1.Subsystem, error) { return subsystems, nil }
	cg, err := cgroup1.New(cgroup1.StaticPath(c.group), v1Spec(r, false), cgroup1.WithHierarchy(hierarchy))
	if err != nil {
		c.removeDirs()
		return fmt.Errorf("cgroup %s: create: %w", c.name, err)
	}
	c.v1 = cg
	if h.mode == Hybrid {
		// No resources: the unified hierarchy of a hybrid host only tracks processes.
		m, err := cgroup2.NewManager(h.unified, c.group, &cgroup2.Resources{})
		if err != nil {
			c.removeDirs()
			return fmt.Errorf("cgroup %s: create in %s: %w", c.name, h.unified, err)
		}
		c.v2 = m
	}
	return nil
}

func (c *Cgroup) createV2(h host, r Resources) error {
	c.v2Path = filepath.Join(h.unified, c.group)
	avail, err := controllers(h.unified)
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", c.name, err)
	}
	if err := c.requireV2(h.unified, avail, r); err != nil {
		return err
	}
	if err := c.refuseExisting(); err != nil {
		return err
	}
	// Enable every controller berth may use later, not only those r sets now, so that Update
	// can add a limit without touching the parents' subtree_control again.
	res := v2Resources(r)
	if res.CPU == nil && avail["cpu"] {
		res.CPU = &cgroup2.CPU{}
	}
	if res.Memory == nil && avail["memory"] {
		res.Memory = &cgroup2.Memory{}
	}
	if res.Pids == nil && avail["pids"] {
		res.Pids = &cgroup2.Pids{}
	}
	m, err := cgroup2.NewManager(h.unified, c.group, res)
	if err != nil {
		c.removeDirs()
		return fmt.Errorf("cgroup %s: create: %w", c.name, err)
	}
	c.v2 = m
	// containerd reports only the last subtree_control error, so check what the new cgroup got.
	got, err := controllers(c.v2Path)
	if err == nil {
		for _, want := range res.EnabledControllers() {
			if !got[want] {
				err = fmt.Errorf("the %s controller could not be enabled in %s", want, filepath.Dir(c.v2Path))
				break
			}
		}
	}
	if err == nil {
		err = c.writeSwapV2(r)
	}
	if err != nil {
		c.removeDirs()
		return fmt.Errorf("cgroup %s: create: %w", c.name, err)
	}
	return nil
}

func load(h host, parent, name string) (*Cgroup, error) {
	if err := validName("name", name); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", name, err)
	}
	if err := validName("parent", parent); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", name, err)
	}
	c := &Cgroup{name: name, group: "/" + parent + "/" + name, mode: h.mode, unified: h.unified}
	switch h.mode {
	case Unavailable:
		return nil, fmt.Errorf("cgroup %s: no cgroup file system at %s: %w", name, mountRoot, ErrNotSupported)
	case Unified:
		c.v2Path = filepath.Join(h.unified, c.group)
		if _, err := os.Stat(c.v2Path); err != nil {
			return nil, fmt.Errorf("cgroup %s: load: %w", name, err)
		}
		m, err := cgroup2.Load(c.group, cgroup2.WithMountpoint(h.unified))
		if err != nil {
			return nil, fmt.Errorf("cgroup %s: load: %w", name, err)
		}
		c.v2 = m
		return c, nil
	}
	cg, err := cgroup1.Load(cgroup1.StaticPath(c.group))
	if errors.Is(err, cgroup1.ErrCgroupDeleted) {
		// On a hybrid host a delete that was cut short (a process still exiting kept the
		// unified dir busy) can leave the unified dir alone: load that, so that it can be
		// deleted too.
		p := filepath.Join(h.unified, c.group)
		if _, serr := os.Stat(p); h.mode == Hybrid && serr == nil {
			c.v2Path = p
			if c.v2, err = cgroup2.Load(c.group, cgroup2.WithMountpoint(h.unified)); err != nil {
				return nil, fmt.Errorf("cgroup %s: load: %w", name, err)
			}
			return c, nil
		}
		return nil, fmt.Errorf("cgroup %s: load: %w", name, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: load: %w", name, err)
	}
	c.v1 = cg
	c.v1Paths = map[cgroup1.Name]string{}
	for _, s := range cg.Subsystems() {
		if p, ok := s.(pathOf); ok {
			c.v1Paths[s.Name()] = p.Path(c.group)
		}
	}
	if h.mode == Hybrid {
		p := filepath.Join(h.unified, c.group)
		if _, err := os.Stat(p); err == nil {
			c.v2Path = p
			if c.v2, err = cgroup2.Load(c.group, cgroup2.WithMountpoint(h.unified)); err != nil {
				return nil, fmt.Errorf("cgroup %s: load: %w", name, err)
			}
		}
	}
	return c, nil
}

// Name returns the name the cgroup was created with.
func (c *Cgroup) Name() string { return c.name }

// Mode returns how the host's cgroups were mounted when c was created or loaded.
func (c *Cgroup) Mode() Mode { return c.mode }

// AddProc moves process pid (all its threads) into the cgroup in every hierarchy. On v1 and
// hybrid hosts the runtime must do this before the workload runs; on v2 prefer FD.
func (c *Cgroup) AddProc(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("cgroup %s: add process: %w: pid %d", c.name, ErrInvalid, pid)
	}
	if c.v1 != nil {
		if err := c.v1.AddProc(uint64(pid)); err != nil {
			return fmt.Errorf("cgroup %s: add process %d: %w", c.name, pid, err)
		}
	}
	if c.v2 != nil {
		if err := c.v2.AddProc(uint64(pid)); err != nil {
			return fmt.Errorf("cgroup %s: add process %d: %w", c.name, pid, err)
		}
	}
	return nil
}

// FD opens the v2 cgroup directory for clone3 CLONE_INTO_CGROUP (syscall.SysProcAttr
// UseCgroupFD and CgroupFD), so that the child is born in the cgroup and is never counted
// against anything else. The caller runs the returned func to close it once the child has
// started. On v1 and hybrid hosts it returns ErrNotSupported: there the runtime writes the pid
// with AddProc before the workload runs. If clone3 fails (kernel < 5.7, a seccomp filter
// returning ENOSYS), start the process again from a fresh exec.Cmd without UseCgroupFD and use
// AddProc, as runc does.
func (c *Cgroup) FD() (int, func(), error) {
	if c.mode != Unified {
		return -1, nil, fmt.Errorf("cgroup %s: cgroup fd on a %s host: %w", c.name, c.mode, ErrNotSupported)
	}
	// O_PATH is enough: the kernel looks the fd up with fdget_raw, and an O_PATH fd grants no
	// read or write access to a child that might inherit it by mistake.
	fd, err := unix.Open(c.v2Path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("cgroup %s: %w", c.name, &os.PathError{Op: "open", Path: c.v2Path, Err: err})
	}
	var once sync.Once
	return fd, func() { once.Do(func() { unix.Close(fd) }) }, nil
}

// Update changes the limits that r sets and leaves the others as they are; PidsLimit and
// MemorySwap -1 remove those limits. Checks are Docker's for `docker update`; on v1, raising
// memory above the memory+swap limit already set needs MemorySwap in the same call, as in
// Docker.
func (c *Cgroup) Update(r Resources) error {
	h := host{mode: c.mode, unified: c.unified}
	if err := r.check(h.info(), true); err != nil {
		return fmt.Errorf("cgroup %s: %w", c.name, err)
	}
	r.CPUShares = clampShares(r.CPUShares)
	if c.mode == Unified {
		return c.updateV2(h, r)
	}
	return c.updateV1(r)
}

func (c *Cgroup) updateV1(r Resources) error {
	for _, need := range neededV1(r) {
		if _, ok := c.v1Paths[need.controller]; !ok {
			return fmt.Errorf("cgroup %s: %s: the %s controller is not in use by this cgroup: %w", c.name, need.field, need.controller, ErrNotSupported)
		}
	}
	mem := c.v1Paths[cgroup1.Memory]
	if !c.v1SwapAccounting() {
		r.MemorySwap = 0
	} else if r.Memory > 0 && r.MemorySwap == 0 {
		cur, err := readInt(filepath.Join(mem, "memory.memsw.limit_in_bytes"))
		if err != nil {
			return fmt.Errorf("cgroup %s: memory: %w", c.name, err)
		}
		if cur < unlimitedAbove && r.Memory > cur {
			// Docker: "Memory limit should be smaller than already set memoryswap limit,
			// update the memoryswap at the same time".
			return fmt.Errorf("cgroup %s: %w", c.name, invalid("memory", "%s is above the memory_swap limit %s already set: update memory_swap at the same time", size(r.Memory), size(cur)))
		}
	}
	// v1 keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every step, so memsw
	// goes first when it is not below the current limit. containerd's Update means to do this
	// but swaps the wrong pair of its settings (v3.1.3), so it is written here.
	if r.MemorySwap != 0 {
		first := r.MemorySwap == -1
		if !first {
			cur, err := readInt(filepath.Join(mem, "memory.limit_in_bytes"))
			if err != nil {
				return fmt.Errorf("cgroup %s: memory_swap: %w", c.name, err)
			}
			first = r.MemorySwap >= cur
		}
		if first {
			if err := writeFile(filepath.Join(mem, "memory.memsw.limit_in_bytes"), strconv.FormatInt(r.MemorySwap, 10)); err != nil {
				return fmt.Errorf("cgroup %s: memory_swap: %w", c.name, err)
			}
			r.MemorySwap = 0
		}
	}
	if err := c.v1.Update(v1Spec(r, true)); err != nil {
		return fmt.Errorf("cgroup %s: update: %w", c.name, err)
	}
	if r.PidsLimit == -1 {
		// containerd writes pids.max only for positive limits.
		if err := writeFile(filepath.Join(c.v1Paths[cgroup1.Pids], "pids.max"), "max"); err != nil {
			return fmt.Errorf("cgroup %s: pids_limit: %w", c.name, err)
		}
	}
	return nil
}

func (c *Cgroup) updateV2(h host, r Resources) error {
	avail, err := controllers(h.unified)
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", c.name, err)
	}
	if err := c.requireV2(h.unified, avail, r); err != nil {
		return err
	}
	res := v2Resources(r)
	if want := res.EnabledControllers(); len(want) > 0 {
		if err := c.v2.ToggleControllers(want, cgroup2.Enable); err != nil {
			return fmt.Errorf("cgroup %s: update: %w", c.name, err)
		}
	}
	if err := c.v2.Update(res); err != nil {
		return fmt.Errorf("cgroup %s: update: %w", c.name, err)
	}
	if err := c.writeSwapV2(r); err != nil {
		return fmt.Errorf("cgroup %s: update: %w", c.name, err)
	}
	return nil
}

// Procs returns the pids of the processes in the cgroup and its descendants, in order. On
// hybrid hosts it joins the v1 and the unified lists.
func (c *Cgroup) Procs() ([]int, error) {
	var pids []int
	if c.v1 != nil {
		for _, n := range []cgroup1.Name{cgroup1.Pids, cgroup1.Freezer, cgroup1.Memory, cgroup1.Cpu, cgroup1.Cpuacct, cgroup1.Cpuset, cgroup1.Devices, cgroup1.Blkio} {
			p, ok := c.v1Paths[n]
			if !ok {
				continue
			}
			got, err := readProcs(p)
			if err != nil {
				return nil, fmt.Errorf("cgroup %s: %w", c.name, err)
			}
			pids = append(pids, got...)
			break
		}
	}
	if c.v2 != nil {
		got, err := readProcs(c.v2Path)
		if err != nil {
			return nil, fmt.Errorf("cgroup %s: %w", c.name, err)
		}
		pids = append(pids, got...)
	}
	return sortedUnique(pids), nil
}

// readProcs reads cgroup.procs of dir and of every cgroup below it. A missing dir means no
// processes, so that KillAll and Delete can run after a partial cleanup.
func readProcs(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			// Removed between the walk and the read.
			return nil
		}
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("%s: bad pid %q", filepath.Join(p, "cgroup.procs"), f)
			}
			pids = append(pids, pid)
		}
		return nil
	})
	return pids, err
}

// Freeze stops every process of the cgroup until Thaw; it returns once the kernel reports the
// cgroup frozen, or fails after freezeTimeout with the cgroup left freezing.
func (c *Cgroup) Freeze() error {
	var err error
	if c.mode == Unified {
		// containerd returns once cgroup.freeze reads 1, which is only the request: the
		// kernel reports the end of freezing in cgroup.events.
		if err = c.v2.Freeze(); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), freezeTimeout)
			err = c.waitFrozen(ctx, "")
			cancel()
		}
	} else {
		err = c.v1.Freeze()
	}
	if errors.Is(err, cgroup1.ErrFreezerNotSupported) {
		err = fmt.Errorf("%w: %w", err, ErrNotSupported)
	}
	if err != nil {
		return fmt.Errorf("cgroup %s: freeze: %w", c.name, err)
	}
	return nil
}

// Thaw lets the processes of a frozen cgroup run again.
func (c *Cgroup) Thaw() error {
	var err error
	if c.mode == Unified {
		err = c.v2.Thaw()
	} else {
		err = c.v1.Thaw()
	}
	if errors.Is(err, cgroup1.ErrFreezerNotSupported) {
		err = fmt.Errorf("%w: %w", err, ErrNotSupported)
	}
	if err != nil {
		return fmt.Errorf("cgroup %s: thaw: %w", c.name, err)
	}
	return nil
}

// Frozen reports whether the cgroup is frozen or being frozen: freezer.state FROZEN or FREEZING
// on v1 and hybrid hosts (where Freeze uses the v1 freezer), cgroup.freeze 1 or cgroup.events
// frozen 1 on v2. Both also report an ancestor's freeze, which holds the cgroup's processes as
// well. A cgroup without a freezer (no freezer hierarchy, v2 before Linux 5.2) is never frozen.
func (c *Cgroup) Frozen() (bool, error) {
	if c.mode == Unified {
		b, err := os.ReadFile(filepath.Join(c.v2Path, "cgroup.freeze"))
		if err != nil {
			return c.noFreezer(err)
		}
		if strings.TrimSpace(string(b)) == "1" {
			return true, nil
		}
		v, err := keyedValue(filepath.Join(c.v2Path, "cgroup.events"), "frozen")
		if err != nil {
			return c.noFreezer(err)
		}
		return v == 1, nil
	}
	p, ok := c.v1Paths[cgroup1.Freezer]
	if !ok {
		return false, nil
	}
	b, err := os.ReadFile(filepath.Join(p, "freezer.state"))
	if err != nil {
		return c.noFreezer(err)
	}
	return strings.TrimSpace(string(b)) != "THAWED", nil
}

// noFreezer tells a kernel without the freezer file (never frozen) from a cgroup that is gone.
// A cgroup removed while its file is read gives ENODEV: gone too (fs.ErrNotExist).
func (c *Cgroup) noFreezer(err error) (bool, error) {
	if errors.Is(err, unix.ENODEV) {
		return false, fmt.Errorf("cgroup %s: frozen: removed meanwhile: %w", c.name, errors.Join(fs.ErrNotExist, err))
	}
	if errors.Is(err, fs.ErrNotExist) {
		dir := c.v2Path
		if c.mode != Unified {
			dir = c.v1Paths[cgroup1.Freezer]
		}
		if _, serr := os.Stat(dir); serr == nil {
			return false, nil
		}
	}
	return false, fmt.Errorf("cgroup %s: frozen: %w", c.name, err)
}

// KillAll sends SIGKILL to every process in the cgroup, frozen ones included, and waits until
// the cgroup is empty or ctx ends. It uses cgroup.kill where the kernel has it (v2 and the
// unified side of hybrid hosts, Linux 5.14+), which also catches processes forked meanwhile.
// Otherwise it freezes the cgroup, signals the pids it lists and thaws it again, in a loop:
// frozen processes cannot exit, so a listed pid cannot be reused by an unrelated process before
// the signal lands. The cgroup is left thawed, a paused one included: a v1 freezer holds even
// SIGKILL until the thaw (v2 delivers it to frozen tasks, and is thawed after the kill).
func (c *Cgroup) KillAll(ctx context.Context) error {
	killFile := ""
	if c.v2Path != "" {
		if _, err := os.Stat(filepath.Join(c.v2Path, "cgroup.kill")); err == nil {
			killFile = filepath.Join(c.v2Path, "cgroup.kill")
		}
	}
	for {
		pids, err := c.Procs()
		if err != nil {
			return fmt.Errorf("cgroup %s: kill: %w", c.name, err)
		}
		if len(pids) == 0 {
			return nil
		}
		if killFile != "" {
			if err := writeFile(killFile, "1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("cgroup %s: kill: %w", c.name, err)
			}
			if c.v1 == nil {
				// Signal first, then thaw, as Docker does for a paused container: a cgroup
				// left frozen would freeze whatever joined it later.
				if err := writeFile(filepath.Join(c.v2Path, "cgroup.freeze"), "0"); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("cgroup %s: kill: thaw: %w", c.name, err)
				}
			}
		}
		// On hybrid hosts a process could sit in the v1 cgroup only (moved there by something
		// other than AddProc), out of reach of the unified cgroup.kill.
		if killFile == "" || c.v1 != nil {
			if err := c.freezeAndKill(ctx); err != nil {
				return fmt.Errorf("cgroup %s: kill: %w", c.name, err)
			}
		}
		select {
		case <-ctx.Done():
			left, _ := c.Procs()
			return fmt.Errorf("cgroup %s: kill: processes %v remain: %w", c.name, left, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// freezeAndKill freezes the cgroup, SIGKILLs the processes it lists and thaws it. Without a
// freezer (v1 host without the freezer hierarchy, v2 kernel before 5.2) it signals the listed
// pids as they are.
func (c *Cgroup) freezeAndKill(ctx context.Context) error {
	var stateFile, frozen, thawed, dir string
	if c.v1 != nil {
		if p, ok := c.v1Paths[cgroup1.Freezer]; ok {
			stateFile, frozen, thawed, dir = filepath.Join(p, "freezer.state"), "FROZEN", "THAWED", p
		}
	} else {
		stateFile, frozen, thawed, dir = filepath.Join(c.v2Path, "cgroup.freeze"), "1", "0", c.v2Path
	}
	if _, err := os.Stat(stateFile); stateFile != "" && err == nil {
		if err := writeFile(stateFile, frozen); err != nil {
			return err
		}
		// Thaw even when ctx has ended: a cgroup left frozen would hold its processes forever.
		defer writeFile(stateFile, thawed)
		if err := c.waitFrozen(ctx, stateFile); err != nil {
			return err
		}
	} else {
		dir = ""
	}
	var pids []int
	var err error
	if dir != "" {
		pids, err = readProcs(dir)
	} else {
		pids, err = c.Procs()
	}
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill %d: %w", pid, err)
		}
	}
	return nil
}

func (c *Cgroup) waitFrozen(ctx context.Context, stateFile string) error {
	for {
		var frozen bool
		if c.v1 != nil {
			b, err := os.ReadFile(stateFile)
			if err != nil {
				return err
			}
			frozen = strings.TrimSpace(string(b)) == "FROZEN"
		} else {
			v, err := keyedValue(filepath.Join(c.v2Path, "cgroup.events"), "frozen")
			if err != nil {
				return err
			}
			frozen = v == 1
		}
		if frozen {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the freezer: %w", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// Stats returns the cgroup's current memory, CPU and pids usage and limits.
func (c *Cgroup) Stats() (Stats, error) {
	var s Stats
	if c.mode == Unified {
		m, err := c.v2.StatFiltered(cgroup2.StatMemory | cgroup2.StatCPU | cgroup2.StatPids | cgroup2.StatIO)
		if err != nil {
			return s, fmt.Errorf("cgroup %s: stats: %w", c.name, err)
		}
		if m.Memory != nil {
			s.MemoryUsage, s.MemoryLimit = m.Memory.Usage, m.Memory.UsageLimit
			s.MemoryInactiveFile = m.Memory.InactiveFile
		}
		if m.Io != nil {
			for _, e := range m.Io.Usage {
				s.IOReadBytes += e.Rbytes
				s.IOWriteBytes += e.Wbytes
			}
		}
		if m.CPU != nil {
			s.CPUUsageNs = m.CPU.UsageUsec * 1000
		}
		if m.Pids != nil {
			s.PidsCurrent, s.PidsLimit = m.Pids.Current, m.Pids.Limit
		}
	} else {
		m, err := c.v1.Stat(cgroup1.IgnoreNotExist)
		if err != nil {
			return s, fmt.Errorf("cgroup %s: stats: %w", c.name, err)
		}
		if m.Memory != nil && m.Memory.Usage != nil {
			s.MemoryUsage, s.MemoryLimit = m.Memory.Usage.Usage, m.Memory.Usage.Limit
			s.MemoryInactiveFile = m.Memory.TotalInactiveFile
		}
		if m.Blkio != nil {
			// Entries per device and operation (Read, Write, Sync, Async, Discard, Total):
			// only Read and Write count, as in Docker's BLOCK I/O.
			for _, e := range m.Blkio.IoServiceBytesRecursive {
				switch strings.ToLower(e.Op) {
				case "read":
					s.IOReadBytes += e.Value
				case "write":
					s.IOWriteBytes += e.Value
				}
			}
		}
		if m.CPU != nil && m.CPU.Usage != nil {
			s.CPUUsageNs = m.CPU.Usage.Total
		}
		if m.Pids != nil {
			s.PidsCurrent, s.PidsLimit = m.Pids.Current, m.Pids.Limit
		}
	}
	if s.MemoryLimit >= unlimitedAbove {
		s.MemoryLimit = 0
	}
	if s.PidsLimit >= unlimitedAbove {
		s.PidsLimit = 0
	}
	return s, nil
}

// OOMKilled reports whether the kernel's OOM killer has killed a process of the cgroup since
// it was created (oom_kill in memory.events on v2, in memory.oom_control on v1, Linux 4.13+).
func (c *Cgroup) OOMKilled() (bool, error) {
	var file string
	if c.mode == Unified {
		file = filepath.Join(c.v2Path, "memory.events")
	} else {
		p, ok := c.v1Paths[cgroup1.Memory]
		if !ok {
			return false, fmt.Errorf("cgroup %s: oom: the memory controller is not mounted: %w", c.name, ErrNotSupported)
		}
		file = filepath.Join(p, "memory.oom_control")
	}
	n, err := keyedValue(file, "oom_kill")
	if err != nil {
		return false, fmt.Errorf("cgroup %s: oom: %w", c.name, err)
	}
	return n > 0, nil
}

// Delete removes the cgroup's directory from every hierarchy. It fails with ErrNotEmpty, and
// removes nothing, while processes remain: call KillAll first. The kernel refuses to remove a
// populated cgroup anyway, and failing early keeps the dirs of all hierarchies consistent.
// Deleting a cgroup that is already gone is not an error. The berth parent stays.
func (c *Cgroup) Delete() error {
	pids, err := c.Procs()
	if err != nil {
		return fmt.Errorf("cgroup %s: delete: %w", c.name, err)
	}
	if len(pids) > 0 {
		return fmt.Errorf("cgroup %s: delete: %w: pids %v", c.name, ErrNotEmpty, pids)
	}
	var errs []error
	if c.v1 != nil {
		if err := c.v1.Delete(); err != nil && !errors.Is(err, cgroup1.ErrCgroupDeleted) {
			errs = append(errs, err)
		}
	}
	if c.v2 != nil {
		if _, err := os.Stat(c.v2Path); err == nil {
			if err := c.v2.Delete(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// containerd's v1 Delete skips hierarchies it did not load; rmdir what is left of ours.
	errs = append(errs, c.removeDirs()...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cgroup %s: delete: %w", c.name, err)
	}
	return nil
}

// dirs lists the cgroup's directory in every hierarchy, once each (comounted controllers such
// as cpu,cpuacct share one).
func (c *Cgroup) dirs() []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		// Compare hierarchy roots: the cgroup's own dir may not exist yet.
		root := strings.TrimSuffix(p, c.group)
		if r, err := filepath.EvalSymlinks(root); err == nil {
			root = r
		}
		if seen[root] {
			return
		}
		seen[root] = true
		out = append(out, p)
	}
	for _, p := range c.v1Paths {
		add(p)
	}
	add(c.v2Path)
	return out
}

// refuseExisting fails if the cgroup exists in any hierarchy, so that Create never adopts, and
// a failed Create never removes, a cgroup made by someone else.
func (c *Cgroup) refuseExisting() error {
	for _, d := range c.dirs() {
		if _, err := os.Lstat(d); err == nil {
			return fmt.Errorf("cgroup %s: create: %s: %w", c.name, d, fs.ErrExist)
		}
	}
	return nil
}

// removeDirs rmdirs the cgroup in every hierarchy; rmdir, not RemoveAll, because a cgroup dir
// is removed whole by the kernel or not at all.
func (c *Cgroup) removeDirs() []error {
	var errs []error
	for _, d := range c.dirs() {
		var err error
		for range 5 {
			// EBUSY can last a moment after the last process left.
			if err = unix.Rmdir(d); !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(pollInterval)
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, &os.PathError{Op: "rmdir", Path: d, Err: err})
		}
	}
	return errs
}

func (c *Cgroup) v1SwapAccounting() bool {
	p, ok := c.v1Paths[cgroup1.Memory]
	if !ok {
		return false
	}
	// Ask the hierarchy's root: the cgroup itself may not exist yet.
	_, err := os.Stat(filepath.Join(strings.TrimSuffix(p, c.group), "memory.memsw.limit_in_bytes"))
	return err == nil
}

// requireV2 fails, naming the field, when r needs a controller the v2 root does not offer.
func (c *Cgroup) requireV2(mount string, avail map[string]bool, r Resources) error {
	for _, need := range neededV1(r) {
		ctl := string(need.controller)
		if !avail[ctl] {
			return fmt.Errorf("cgroup %s: %s: the %s controller is not available in %s: %w", c.name, need.field, ctl, filepath.Join(mount, "cgroup.controllers"), ErrNotSupported)
		}
	}
	return nil
}

// writeSwapV2 writes memory.swap.max, which v2 keeps apart from memory.max, as
// MemorySwap-Memory; containerd's conversion cannot write "max" for -1. Without swap
// accounting (no memory.swap.max) the swap limit is dropped, as Docker drops it.
func (c *Cgroup) writeSwapV2(r Resources) error {
	if r.MemorySwap == 0 {
		return nil
	}
	file := filepath.Join(c.v2Path, "memory.swap.max")
	if _, err := os.Stat(file); err != nil {
		return nil
	}
	if r.MemorySwap == -1 {
		return writeFile(file, "max")
	}
	mem := r.Memory
	if mem == 0 {
		cur, err := readInt(filepath.Join(c.v2Path, "memory.max"))
		if err != nil {
			return err
		}
		if cur >= unlimitedAbove {
			return invalid("memory_swap", "%s needs a memory limit too (memory_swap is memory plus swap)", size(r.MemorySwap))
		}
		if r.MemorySwap < cur {
			return invalid("memory_swap", "%s is below the memory limit %s (memory_swap is memory plus swap)", size(r.MemorySwap), size(cur))
		}
		mem = cur
	}
	return writeFile(file, strconv.FormatInt(r.MemorySwap-mem, 10))
}

type need struct {
	field      string
	controller cgroup1.Name
}

// neededV1 lists the controllers r needs, with the field that needs each; v2 uses the same
// names.
func neededV1(r Resources) []need {
	var out []need
	if r.Memory != 0 {
		out = append(out, need{"memory", cgroup1.Memory})
	}
	if r.MemorySwap != 0 {
		out = append(out, need{"memory_swap", cgroup1.Memory})
	}
	if r.MemoryReservation != 0 {
		out = append(out, need{"memory_reservation", cgroup1.Memory})
	}
	if r.CPUs != 0 {
		out = append(out, need{"cpus", cgroup1.Cpu})
	}
	if r.CPUShares != 0 {
		out = append(out, need{"cpu_shares", cgroup1.Cpu})
	}
	if r.CpusetCpus != "" {
		out = append(out, need{"cpuset_cpus", cgroup1.Cpuset})
	}
	if r.CpusetMems != "" {
		out = append(out, need{"cpuset_mems", cgroup1.Cpuset})
	}
	if r.PidsLimit != 0 {
		out = append(out, need{"pids_limit", cgroup1.Pids})
	}
	return out
}

// v1Spec converts r to the OCI form containerd's v1 controllers write; unset fields stay nil
// so that an update leaves them alone.
func v1Spec(r Resources, update bool) *specs.LinuxResources {
	var spec specs.LinuxResources
	if r.Memory > 0 || r.MemorySwap > 0 || r.MemoryReservation > 0 {
		spec.Memory = &specs.LinuxMemory{}
		if r.Memory > 0 {
			spec.Memory.Limit = &r.Memory
		}
		if r.MemorySwap > 0 {
			spec.Memory.Swap = &r.MemorySwap
		}
		if r.MemoryReservation > 0 {
			spec.Memory.Reservation = &r.MemoryReservation
		}
	}
	if r.CPUs > 0 || r.CPUShares > 0 || r.CpusetCpus != "" || r.CpusetMems != "" {
		spec.CPU = &specs.LinuxCPU{Cpus: r.CpusetCpus, Mems: r.CpusetMems}
		if r.CPUs > 0 {
			q, p := cpuQuota(r.CPUs), uint64(cpuPeriod)
			spec.CPU.Quota, spec.CPU.Period = &q, &p
		}
		if r.CPUShares > 0 {
			spec.CPU.Shares = &r.CPUShares
		}
	}
	if r.PidsLimit > 0 {
		spec.Pids = &specs.LinuxPids{Limit: &r.PidsLimit}
	}
	return &spec
}

// v2Resources converts r to containerd's v2 form. Swap is left to writeSwapV2.
func v2Resources(r Resources) *cgroup2.Resources {
	var res cgroup2.Resources
	if r.Memory > 0 || r.MemoryReservation > 0 {
		res.Memory = &cgroup2.Memory{}
		if r.Memory > 0 {
			res.Memory.Max = &r.Memory
		}
		if r.MemoryReservation > 0 {
			res.Memory.Low = &r.MemoryReservation
		}
	}
	if r.CPUs > 0 || r.CPUShares > 0 || r.CpusetCpus != "" || r.CpusetMems != "" {
		res.CPU = &cgroup2.CPU{Cpus: r.CpusetCpus, Mems: r.CpusetMems}
		if r.CPUs > 0 {
			// cpu.max only gets written with an explicit period.
			q, p := cpuQuota(r.CPUs), uint64(cpuPeriod)
			res.CPU.Max = cgroup2.NewCPUMax(&q, &p)
		}
		if r.CPUShares > 0 {
			w := SharesToWeight(r.CPUShares)
			res.CPU.Weight = &w
		}
	}
	if r.PidsLimit != 0 {
		res.Pids = &cgroup2.Pids{Max: r.PidsLimit}
	}
	return &res
}

// info describes the host for the checks; the cpuset lists are read only when asked for.
func (h host) info() hostInfo {
	list := func(files ...string) func() (string, error) {
		return func() (string, error) {
			var first error
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err == nil && len(bytes.TrimSpace(b)) > 0 {
					return string(bytes.TrimSpace(b)), nil
				}
				if first == nil && err != nil {
					first = err
				}
			}
			return "", first
		}
	}
	var cpus, mems []string
	if h.mode == Unified {
		cpus = []string{filepath.Join(h.unified, "cpuset.cpus.effective")}
		mems = []string{filepath.Join(h.unified, "cpuset.mems.effective")}
	} else {
		cpus = []string{filepath.Join(mountRoot, "cpuset", "cpuset.effective_cpus"), filepath.Join(mountRoot, "cpuset", "cpuset.cpus")}
		mems = []string{filepath.Join(mountRoot, "cpuset", "cpuset.effective_mems"), filepath.Join(mountRoot, "cpuset", "cpuset.mems")}
	}
	cpus = append(cpus, "/sys/devices/system/cpu/online")
	mems = append(mems, "/sys/devices/system/node/online")
	return hostInfo{numCPU: goruntime.NumCPU(), cpus: list(cpus...), mems: list(mems...)}
}

// controllers reads cgroup.controllers of a v2 cgroup dir.
func controllers(dir string) (map[string]bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, f := range strings.Fields(string(b)) {
		out[f] = true
	}
	return out, nil
}

// keyedValue reads the value of key from a "key value" per line file such as memory.events.
// A missing key reads as 0: old kernels lack oom_kill.
func keyedValue(file, key string) (uint64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), " ")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %s: %w", file, key, err)
		}
		return n, nil
	}
	return 0, s.Err()
}

// readInt reads a number from a cgroup file; "max" reads as MaxInt64.
func readInt(file string) (int64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 1<<63 - 1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return n, nil
}

// writeFile writes one value to an existing cgroup file; never creates one.
func writeFile(file, value string) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// PidsMaxFile opens the cgroup's pids.max for writing: berth's init hands it to the workload,
// which sets the container's exact pids limit itself right before its execve, when nothing
// else of berth's counts against the limit any more.
func (c *Cgroup) PidsMaxFile() (*os.File, error) {
	dir := c.v2Path
	if c.mode != Unified {
		p, ok := c.v1Paths[cgroup1.Pids]
		if !ok {
			return nil, fmt.Errorf("cgroup %s: the pids controller is not in use by this cgroup: %w", c.name, ErrNotSupported)
		}
		dir = p
	}
	f, err := os.OpenFile(filepath.Join(dir, "pids.max"), os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", c.name, err)
	}
	return f, nil
}
