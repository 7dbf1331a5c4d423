package container

// Docker's verbs on a running container beyond start, stop and kill: pause and unpause (the
// cgroup freezer), top (its processes as ps shows them), stats (readings of its resource use)
// and restart. The freezer is the only record of a pause: nothing else is stored, so a pause
// never outlives the cgroup and there is nothing to clean up after one.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/berth-sh/berth/runtime/cgroup"
	"github.com/berth-sh/berth/runtime/image"
	"github.com/berth-sh/berth/runtime/monitor"
)

// StatusPaused is Docker's State.Status of a running container whose processes are frozen.
const StatusPaused = "paused"

var (
	// ErrNotRunning is matched by "Container <id> is not running".
	ErrNotRunning = errors.New("container is not running")
	// ErrPaused is matched by "Container <id> is already paused".
	ErrPaused = errors.New("container is paused")
	// ErrNotPaused is matched by "Container <id> is not paused".
	ErrNotPaused = errors.New("container is not paused")
)

// dockerError is an error in Docker's words, which start with a capital: a refusal matching
// kind ("Container <id> is not running"), or a failure wrapping its cause.
type dockerError struct {
	msg   string
	kind  error // matched by errors.Is, when set
	cause error
}

func (e *dockerError) Error() string        { return e.msg }
func (e *dockerError) Is(target error) bool { return e.kind != nil && target == e.kind }
func (e *dockerError) Unwrap() error        { return e.cause }

func refusal(kind error, format string, args ...any) error {
	return &dockerError{msg: fmt.Sprintf(format, args...), kind: kind}
}

// failure is cause in Docker's words: "Cannot pause container <id>: <cause>".
func failure(cause error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if cause != nil {
		msg += ": " + cause.Error()
	}
	return &dockerError{msg: msg, cause: cause}
}

func (c *Container) notRunning() error {
	return refusal(ErrNotRunning, "Container %s is not running", c.ID)
}

// Status is State as Docker reports it: a running container whose cgroup is frozen is
// StatusPaused. Use it wherever the state is shown to the user.
func (c *Container) Status() (monitor.State, error) {
	st, err := c.State()
	if err != nil || st.Status != StatusRunning {
		return st, err
	}
	frozen, err := c.frozen()
	if err != nil {
		return st, err
	}
	if frozen {
		st.Status = StatusPaused
	}
	return st, nil
}

// frozen reports whether the container's cgroup is frozen; a cgroup that is gone (the
// container exited meanwhile) is not.
func (c *Container) frozen() (bool, error) {
	cg, err := cgroup.Load(c.ID)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	f, err := cg.Frozen()
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return f, err
}

// runningCgroup is the cgroup of a running container, or Docker's "is not running".
func (c *Container) runningCgroup() (*cgroup.Cgroup, error) {
	st, err := c.State()
	if err != nil {
		return nil, err
	}
	if st.Status != StatusRunning {
		return nil, c.notRunning()
	}
	cg, err := cgroup.Load(c.ID)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, c.notRunning()
	}
	return cg, err
}

// Pause freezes every process of the running container (docker pause).
func (c *Container) Pause() error {
	cg, err := c.runningCgroup()
	if err != nil {
		return err
	}
	frozen, err := cg.Frozen()
	if err != nil {
		return failure(err, "Cannot pause container %s", c.ID)
	}
	if frozen {
		return refusal(ErrPaused, "Container %s is already paused", c.ID)
	}
	if err := cg.Freeze(); err != nil {
		return failure(err, "Cannot pause container %s", c.ID)
	}
	c.event("pause")
	return nil
}

// Unpause thaws a paused container (docker unpause); any other is "not paused", as in Docker.
func (c *Container) Unpause() error {
	notPaused := refusal(ErrNotPaused, "Container %s is not paused", c.ID)
	cg, err := c.runningCgroup()
	if errors.Is(err, ErrNotRunning) {
		return notPaused
	}
	if err != nil {
		return err
	}
	frozen, err := cg.Frozen()
	if err != nil {
		return failure(err, "Cannot unpause container %s", c.ID)
	}
	if !frozen {
		return notPaused
	}
	if err := cg.Thaw(); err != nil {
		return failure(err, "Cannot unpause container %s", c.ID)
	}
	c.event("unpause")
	return nil
}

// Restart stops the container, a paused one included, and starts it again, as docker restart
// does; a container that is not running is only started. timeout is Stop's. A --rm container
// is kept: the stop tells its monitor not to remove it.
func (c *Container) Restart(ctx context.Context, l *image.Local, timeout *time.Duration) error {
	st, err := c.State()
	if err != nil {
		return err
	}
	if st.Status == StatusRunning || st.Status == StatusRestarting {
		grace := c.stopTimeout()
		if timeout != nil {
			grace = *timeout
		}
		if err := monitor.StopKeeping(ctx, c.RunDir, grace); err != nil {
			return fmt.Errorf("restart %s: %w", c.Name, err)
		}
	}
	if st.Status != StatusCreated {
		// The old monitor must be gone, with its socket and cgroup, before a new one starts.
		if err := c.clearExited(ctx); err != nil {
			return fmt.Errorf("restart %s: %w", c.Name, err)
		}
	}
	if err := c.Start(ctx, l); err != nil {
		return err
	}
	c.event("restart")
	return nil
}

// Processes is what docker top shows: ps's column titles and each process's fields.
type Processes struct {
	Titles    []string
	Processes [][]string
}

// psEFTitles are the columns of `ps -ef`, which docker top runs when given no ps options.
var psEFTitles = []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}

// Top lists the running container's processes (its cgroup's, with host pids) as docker top
// does. Without psArgs it gives ps -ef's columns, read from /proc; with them it runs the
// host's ps with those options and keeps the rows whose PID column is the container's.
func (c *Container) Top(ctx context.Context, psArgs []string) (*Processes, error) {
	cg, err := c.runningCgroup()
	if err != nil {
		return nil, err
	}
	pids, err := cg.Procs()
	if err != nil {
		return nil, err
	}
	if len(psArgs) == 0 {
		return hostProc.psEF(pids, time.Now())
	}
	return runPS(ctx, psArgs, pids)
}

// procRoot is where ps -ef's columns are read from: /proc and the passwd file that names the
// uids. Tests point it at a made-up tree.
type procRoot struct {
	proc, passwd string
}

var hostProc = procRoot{proc: "/proc", passwd: "/etc/passwd"}

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat and /proc/stat: 100 on
// every architecture, whatever the kernel's own HZ.
const clockTicks = 100

// procStat is what ps -ef needs of one process.
type procStat struct {
	pid, ppid    int
	state        byte
	comm         string
	ttyNr        int64
	utime, stime uint64 // clock ticks
	start        uint64 // clock ticks after boot
	euid         int
	cmdline      []byte
}

// psEF reads pids' rows as ps -ef prints them, after docker top's parsing (fields split at
// whitespace). Processes that exited meanwhile are left out.
func (r procRoot) psEF(pids []int, now time.Time) (*Processes, error) {
	boot, uptime, err := r.clock()
	if err != nil {
		return nil, err
	}
	users := r.users()
	out := &Processes{Titles: psEFTitles, Processes: [][]string{}}
	for _, pid := range pids {
		p, err := r.stat(pid)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Processes = append(out.Processes, p.row(users, boot, uptime, now))
	}
	return out, nil
}

// clock reads the boot time (btime of /proc/stat) and the seconds since boot (/proc/uptime).
func (r procRoot) clock() (boot time.Time, uptime float64, err error) {
	b, err := os.ReadFile(filepath.Join(r.proc, "uptime"))
	if err != nil {
		return boot, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return boot, 0, fmt.Errorf("%s: empty", filepath.Join(r.proc, "uptime"))
	}
	if uptime, err = strconv.ParseFloat(f[0], 64); err != nil {
		return boot, 0, fmt.Errorf("%s: %w", filepath.Join(r.proc, "uptime"), err)
	}
	stat, err := os.ReadFile(filepath.Join(r.proc, "stat"))
	if err != nil {
		return boot, 0, err
	}
	for _, line := range strings.Split(string(stat), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return boot, 0, fmt.Errorf("%s: btime: %w", filepath.Join(r.proc, "stat"), err)
			}
			return time.Unix(sec, 0), uptime, nil
		}
	}
	return boot, 0, fmt.Errorf("%s: no btime", filepath.Join(r.proc, "stat"))
}

// users maps uids to names from the passwd file; without one, uids show as numbers.
func (r procRoot) users() map[int]string {
	m := map[int]string{}
	b, err := os.ReadFile(r.passwd)
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 || f[0] == "" || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		if _, seen := m[uid]; !seen {
			m[uid] = f[0]
		}
	}
	return m
}

// stat reads /proc/<pid>/stat, status (the effective uid) and cmdline.
func (r procRoot) stat(pid int) (procStat, error) {
	dir := filepath.Join(r.proc, strconv.Itoa(pid))
	p := procStat{pid: pid}
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return p, err
	}
	// comm is in parentheses and may hold spaces and parentheses itself.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return p, fmt.Errorf("%s: bad format", filepath.Join(dir, "stat"))
	}
	p.comm = string(b[open+1 : end])
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return p, fmt.Errorf("%s: bad format", filepath.Join(dir, "stat"))
	}
	p.state = f[0][0]
	nums := map[int]*uint64{11: &p.utime, 12: &p.stime, 19: &p.start}
	for i, dst := range nums {
		if *dst, err = strconv.ParseUint(f[i], 10, 64); err != nil {
			return p, fmt.Errorf("%s: field %d: %w", filepath.Join(dir, "stat"), i+3, err)
		}
	}
	if p.ppid, err = strconv.Atoi(f[1]); err != nil {
		return p, fmt.Errorf("%s: ppid: %w", filepath.Join(dir, "stat"), err)
	}
	if p.ttyNr, err = strconv.ParseInt(f[4], 10, 64); err != nil {
		return p, fmt.Errorf("%s: tty_nr: %w", filepath.Join(dir, "stat"), err)
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return p, err
	}
	p.euid = -1
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			if ids := strings.Fields(v); len(ids) >= 2 {
				p.euid, _ = strconv.Atoi(ids[1])
			}
			break
		}
	}
	if p.cmdline, err = os.ReadFile(filepath.Join(dir, "cmdline")); err != nil {
		return p, err
	}
	return p, nil
}

// row formats p as ps -ef (procps) prints it.
func (p procStat) row(users map[int]string, boot time.Time, uptime float64, now time.Time) []string {
	cpu := p.utime + p.stime
	// C: CPU time over the process's lifetime (whole ticks), in percent, at most 99.
	c := uint64(0)
	if life := (uptime - float64(p.start)/clockTicks) * clockTicks; life >= 1 {
		c = min(cpu*100/uint64(life), 99)
	}
	started := boot.Add(time.Duration(p.start) * time.Second / clockTicks).In(now.Location())
	return []string{
		userName(users, p.euid),
		strconv.Itoa(p.pid),
		strconv.Itoa(p.ppid),
		strconv.FormatUint(c, 10),
		stime(started, now),
		ttyName(p.ttyNr),
		cpuTime(cpu / clockTicks),
		p.command(),
	}
}

// userName is ps's UID column: the name, cut to 7 characters and a "+" when longer than 8,
// or the number when the uid has no name.
func userName(users map[int]string, uid int) string {
	name, ok := users[uid]
	if !ok {
		return strconv.Itoa(uid)
	}
	if utf8.RuneCountInString(name) > 8 {
		return string([]rune(name)[:7]) + "+"
	}
	return name
}

// stime is ps's STIME: the time of day for a process started today, the month and day for
// one started this year, else the year.
func stime(started, now time.Time) string {
	switch {
	case started.Year() != now.Year():
		return started.Format("2006")
	case started.YearDay() != now.YearDay():
		return started.Format("Jan02")
	}
	return started.Format("15:04")
}

// cpuTime is ps's TIME: [DD-]HH:MM:SS of CPU time.
func cpuTime(sec uint64) string {
	s := fmt.Sprintf("%02d:%02d:%02d", sec/3600%24, sec/60%60, sec%60)
	if d := sec / 86400; d > 0 {
		return fmt.Sprintf("%d-%s", d, s)
	}
	return s
}

// ttyName is ps's TTY: the controlling terminal without /dev/, "?" for none.
func ttyName(nr int64) string {
	if nr == 0 {
		return "?"
	}
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	switch {
	case major >= 136 && major <= 143:
		return fmt.Sprintf("pts/%d", (major-136)*256+minor)
	case major == 4 && minor < 64:
		return fmt.Sprintf("tty%d", minor)
	case major == 4:
		return fmt.Sprintf("ttyS%d", minor-64)
	}
	return "?"
}

// command is ps's CMD: the arguments, or [comm] for a process without any (kernel threads,
// zombies), as docker top shows it: control characters as "?", runs of spaces as one.
func (p procStat) command() string {
	args := strings.TrimRight(string(p.cmdline), "\x00")
	if args == "" {
		s := "[" + p.comm + "]"
		if p.state == 'Z' {
			s += " <defunct>"
		}
		return s
	}
	args = strings.Map(func(r rune) rune {
		switch {
		case r == 0:
			return ' '
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			return '?'
		}
		return r
	}, args)
	return strings.Join(fieldsASCII(args), " ")
}

// fieldsASCII splits at ASCII whitespace only, as Docker parses ps's output.
func fieldsASCII(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case '\t', '\n', '\f', '\r', ' ':
			return true
		}
		return false
	})
}

// psFieldAssign finds ps columns renamed PID ("-o user=PID").
var psFieldAssign = regexp.MustCompile(`\s+(\S*)=\s*(PID\S*)`)

// checkPSArgs is Docker's check that no column but pid is renamed PID, which would fool the
// filter on the PID column (daemon/top_unix.go).
func checkPSArgs(args string) error {
	for _, g := range psFieldAssign.FindAllStringSubmatch(args, -1) {
		if g[1] != "pid" {
			return fmt.Errorf("specifying \"%s=%s\" is not allowed", g[1], g[2])
		}
	}
	return nil
}

// runPS runs the host's ps as docker top does: the options joined and split again at single
// spaces, first limited to the pids (-q), then, when ps refuses that mix, on every process;
// the rows are those whose PID column is one of pids.
func runPS(ctx context.Context, psArgs []string, pids []int) (*Processes, error) {
	joined := strings.Join(psArgs, " ")
	if err := checkPSArgs(joined); err != nil {
		return nil, err
	}
	args := strings.Split(joined, " ")
	q := make([]string, len(pids))
	for i, p := range pids {
		q[i] = strconv.Itoa(p)
	}
	out, err := exec.CommandContext(ctx, "ps", append(args, "-q"+strings.Join(q, ","))...).Output()
	if err != nil {
		out, err = exec.CommandContext(ctx, "ps", args...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if line, _, _ := strings.Cut(string(ee.Stderr), "\n"); line != "" {
					err = errors.New(line)
				}
			}
			return nil, fmt.Errorf("ps: %w", err)
		}
	}
	return parsePS(out, pids)
}

// parsePS keeps the rows of ps output whose PID is one of pids, as Docker's parsePSOutput:
// the last column takes the rest of the line, and a thread line ("-" as PID, ps -m) follows
// the process it belongs to.
func parsePS(out []byte, pids []int) (*Processes, error) {
	lines := strings.Split(string(out), "\n")
	p := &Processes{Titles: fieldsASCII(lines[0]), Processes: [][]string{}}
	pidIndex := -1
	for i, t := range p.Titles {
		if t == "PID" {
			pidIndex = i
			break
		}
	}
	if pidIndex < 0 {
		return nil, failure(nil, "Couldn't find PID field in ps output")
	}
	want := map[int]bool{}
	for _, pid := range pids {
		want[pid] = true
	}
	add := func(f []string) {
		n := len(p.Titles)
		if len(f) < n {
			f = append(f, make([]string, n-len(f))...)
		}
		row := append(append([]string{}, f[:n-1]...), strings.Join(f[n-1:], " "))
		p.Processes = append(p.Processes, row)
	}
	inContainer := false
	for _, line := range lines[1:] {
		f := fieldsASCII(line)
		if len(f) <= pidIndex {
			continue
		}
		if f[pidIndex] == "-" {
			if inContainer {
				add(f)
			}
			continue
		}
		pid, err := strconv.Atoi(f[pidIndex])
		if err != nil {
			return nil, failure(err, "Unexpected pid '%s'", f[pidIndex])
		}
		inContainer = want[pid]
		if inContainer {
			add(f)
		}
	}
	return p, nil
}

// Usage is one reading of a container's resource use, with Docker's meanings; a container
// that is not running uses nothing (the zero Usage), as Docker reports it.
type Usage struct {
	// CPU is the CPU time of the container's processes and System the host's, over every
	// CPU, in nanoseconds: CPUPercent compares two readings.
	CPU, System uint64
	OnlineCPUs  int
	// Memory is the usage without the inactive file cache, as Docker shows it. MemoryLimit is
	// the container's limit, or the host's memory when there is none or it is less.
	Memory, MemoryLimit uint64
	// NetRx and NetTx are bytes received and sent by every interface of the container's
	// network namespace but lo.
	NetRx, NetTx          uint64
	BlockRead, BlockWrite uint64
	Pids                  uint64
}

// Usage reads the container's resource use now.
func (c *Container) Usage() (Usage, error) {
	var u Usage
	st, err := c.State()
	if err != nil || st.Status != StatusRunning {
		return u, err
	}
	cg, err := cgroup.Load(c.ID)
	if errors.Is(err, fs.ErrNotExist) {
		return u, nil // exited meanwhile
	}
	if err != nil {
		return u, err
	}
	return hostProc.usage(cg, st.Pid)
}

// statser is the part of a cgroup a reading needs.
type statser interface {
	Stats() (cgroup.Stats, error)
}

func (r procRoot) usage(cg statser, initPid int) (Usage, error) {
	var u Usage
	s, err := cg.Stats()
	if errors.Is(err, fs.ErrNotExist) {
		return u, nil
	}
	if err != nil {
		return u, err
	}
	if u.System, u.OnlineCPUs, err = r.systemCPU(); err != nil {
		return u, err
	}
	total, err := r.memTotal()
	if err != nil {
		return u, err
	}
	u.CPU, u.Pids = s.CPUUsageNs, s.PidsCurrent
	u.Memory = s.MemoryUsage
	if s.MemoryInactiveFile < s.MemoryUsage {
		u.Memory -= s.MemoryInactiveFile
	}
	u.MemoryLimit = s.MemoryLimit
	if u.MemoryLimit == 0 || u.MemoryLimit > total {
		u.MemoryLimit = total
	}
	u.BlockRead, u.BlockWrite = s.IOReadBytes, s.IOWriteBytes
	if initPid > 0 {
		u.NetRx, u.NetTx, err = r.netDev(initPid)
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ESRCH) {
			return u, err
		}
	}
	return u, nil
}

// systemCPU is the host's CPU time in nanoseconds as Docker counts it (user to softirq of
// the "cpu" line of /proc/stat) and the number of CPUs listed there.
func (r procRoot) systemCPU() (uint64, int, error) {
	f, err := os.Open(filepath.Join(r.proc, "stat"))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var ticks uint64
	cpus := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "cpu") {
			continue
		}
		if strings.HasPrefix(line, "cpu ") {
			parts := strings.Fields(line)
			if len(parts) < 8 {
				return 0, 0, fmt.Errorf("%s: invalid number of cpu fields", f.Name())
			}
			for _, v := range parts[1:8] {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return 0, 0, fmt.Errorf("%s: %w", f.Name(), err)
				}
				ticks += n
			}
			continue
		}
		if len(line) > 3 && line[3] >= '0' && line[3] <= '9' {
			cpus++
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	return ticks * uint64(time.Second) / clockTicks, cpus, nil
}

// memTotal is the host's memory in bytes (MemTotal of /proc/meminfo).
func (r procRoot) memTotal() (uint64, error) {
	b, err := os.ReadFile(filepath.Join(r.proc, "meminfo"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: MemTotal: %w", filepath.Join(r.proc, "meminfo"), err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("%s: no MemTotal", filepath.Join(r.proc, "meminfo"))
}

// netDev sums the bytes received and sent by the interfaces of pid's network namespace, lo
// left out, from /proc/<pid>/net/dev.
func (r procRoot) netDev(pid int) (rx, tx uint64, err error) {
	b, err := os.ReadFile(filepath.Join(r.proc, strconv.Itoa(pid), "net", "dev"))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, counters, ok := strings.Cut(line, ":")
		if !ok || strings.Contains(name, "|") {
			continue // the two header lines
		}
		if strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(counters)
		if len(f) < 16 {
			return 0, 0, fmt.Errorf("/proc/%d/net/dev: bad line %q", pid, line)
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/net/dev: %w", pid, err)
		}
		rx, tx = rx+r, tx+t
	}
	return rx, tx, nil
}

// CPUPercent is Docker's CPU %: the container's share of the host's CPU time between two
// readings, times the number of CPUs.
func CPUPercent(prev, cur Usage) float64 {
	if cur.CPU <= prev.CPU || cur.System <= prev.System {
		return 0
	}
	cpuDelta := float64(cur.CPU - prev.CPU)
	systemDelta := float64(cur.System - prev.System)
	return cpuDelta / systemDelta * float64(cur.OnlineCPUs) * 100
}

// MemoryPercent is Docker's MEM %: the usage over the limit.
func (u Usage) MemoryPercent() float64 {
	if u.MemoryLimit == 0 {
		return 0
	}
	return float64(u.Memory) / float64(u.MemoryLimit) * 100
}
