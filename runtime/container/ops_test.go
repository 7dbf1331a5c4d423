package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-sh/berth/runtime/cgroup"
)

func TestStateErrors(t *testing.T) {
	c := &Container{ID: strings.Repeat("ab", 32)}
	err := c.notRunning()
	if err.Error() != "Container "+c.ID+" is not running" || !errors.Is(err, ErrNotRunning) || errors.Is(err, ErrPaused) {
		t.Errorf("notRunning = %q (is ErrNotRunning %v)", err, errors.Is(err, ErrNotRunning))
	}
	if errors.Is(err, ErrInvalid) {
		t.Error("a state error matches ErrInvalid: the CLI would exit 125 instead of Docker's 1")
	}
}

func TestParsePS(t *testing.T) {
	const out = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 06:03 ?        00:00:30 /sbin/init splash
root         100       1  0 06:03 ?        00:00:00 sleep   300
nobody       200     100  3 Jan05 pts/1    1-02:03:04 sh -c echo  hi
root         300       1  0 06:03 ?        00:00:00 other
`
	threads := `  PID TID CMD
  100   - sleep
    - 100 -
    1   - init
    -   1 -
`
	for _, tc := range []struct {
		name   string
		out    string
		pids   []int
		titles []string
		rows   [][]string
		err    string
	}{
		{
			name:   "ps -ef",
			out:    out,
			pids:   []int{100, 200},
			titles: psEFTitles,
			rows: [][]string{
				{"root", "100", "1", "0", "06:03", "?", "00:00:00", "sleep 300"},
				{"nobody", "200", "100", "3", "Jan05", "pts/1", "1-02:03:04", "sh -c echo hi"},
			},
		},
		{
			name:   "thread lines follow their process",
			out:    threads,
			pids:   []int{100},
			titles: []string{"PID", "TID", "CMD"},
			rows:   [][]string{{"100", "-", "sleep"}, {"-", "100", "-"}},
		},
		{name: "no PID column", out: "COMMAND\nsleep\n", pids: []int{1}, err: "Couldn't find PID field in ps output"},
		{name: "bad pid", out: "PID CMD\nx y\n", pids: []int{1}, err: "Unexpected pid 'x'"},
		{name: "no process of the container", out: out, pids: []int{7}, titles: psEFTitles, rows: [][]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePS([]byte(tc.out), tc.pids)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("parsePS = %v, want error %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Titles, tc.titles) {
				t.Errorf("titles %q, want %q", got.Titles, tc.titles)
			}
			if !slices.EqualFunc(got.Processes, tc.rows, slices.Equal) {
				t.Errorf("rows %q, want %q", got.Processes, tc.rows)
			}
		})
	}
}

func TestCheckPSArgs(t *testing.T) {
	for args, want := range map[string]string{
		"-ef":                 "",
		"-o pid,args":         "",
		"-o pid=PID,args":     "",
		"-o user=PID":         `specifying "user=PID" is not allowed`,
		"aux -o comm=PIDNAME": `specifying "comm=PIDNAME" is not allowed`,
	} {
		err := checkPSArgs(args)
		if (want == "" && err != nil) || (want != "" && (err == nil || err.Error() != want)) {
			t.Errorf("checkPSArgs(%q) = %v, want %q", args, err, want)
		}
	}
}

func TestPSColumns(t *testing.T) {
	now := time.Date(2026, 3, 15, 14, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, got, want string
	}{
		{"stime today", stime(now.Add(-2*time.Hour), now), "12:30"},
		{"stime this year", stime(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), now), "Jan05"},
		{"stime last year", stime(time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC), now), "2025"},
		{"time", cpuTime(3*3600 + 4*60 + 5), "03:04:05"},
		{"time with days", cpuTime(2*86400 + 5), "2-00:00:05"},
		{"no tty", ttyName(0), "?"},
		{"pts", ttyName(136<<8 | 3), "pts/3"},
		{"pts above 255", ttyName(137<<8 | 4), "pts/260"},
		{"console tty", ttyName(4<<8 | 2), "tty2"},
		{"serial tty", ttyName(4<<8 | 65), "ttyS1"},
		{"user", userName(map[int]string{0: "root"}, 0), "root"},
		{"user of 8", userName(map[int]string{5: "abcdefgh"}, 5), "abcdefgh"},
		{"long user", userName(map[int]string{998: "systemd-network"}, 998), "systemd+"},
		{"uid without a name", userName(map[int]string{}, 12345), "12345"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// fakeProc writes a /proc tree: uptime, stat (btime and the CPU lines), meminfo, and one
// directory per process from its stat line, uid and cmdline.
type fakeProc struct {
	t    *testing.T
	root procRoot
}

func newFakeProc(t *testing.T, uptime float64, btime int64) *fakeProc {
	dir := t.TempDir()
	f := &fakeProc{t: t, root: procRoot{proc: filepath.Join(dir, "proc"), passwd: filepath.Join(dir, "passwd")}}
	f.write("uptime", fmt.Sprintf("%.2f 1000.00\n", uptime))
	f.write("stat", fmt.Sprintf("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0 0 0\nintr 1\nbtime %d\n", btime))
	f.write("meminfo", "MemTotal:        1048576 kB\nMemFree:          524288 kB\n")
	if err := os.WriteFile(f.root.passwd, []byte("root:x:0:0:root:/root:/bin/sh\n# comment\nsystemd-network:x:998:998::/:/usr/sbin/nologin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeProc) write(name, content string) {
	p := filepath.Join(f.root.proc, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeProc) process(pid, ppid int, comm string, state byte, tty int, utime, stime, start uint64, euid int, cmdline string) {
	d := fmt.Sprint(pid)
	f.write(d+"/stat", fmt.Sprintf("%d (%s) %c %d %d %d %d -1 4194560 100 0 0 0 %d %d 0 0 20 0 1 0 %d 1000 100\n",
		pid, comm, state, ppid, pid, pid, tty, utime, stime, start))
	f.write(d+"/status", fmt.Sprintf("Name:\t%s\nUid:\t%d\t%d\t%d\t%d\nGid:\t0\t0\t0\t0\n", comm, euid+1, euid, euid, euid))
	f.write(d+"/cmdline", cmdline)
}

func TestPSEF(t *testing.T) {
	// Booted 1000 s before now, which is 10:00 UTC.
	now := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	f := newFakeProc(t, 1000, now.Unix()-1000)
	// Started 100 s after boot (09:45), 45 s of CPU over its 900 s: 5%.
	f.process(10, 1, "sleep", 'S', 0, 3000, 1500, 100*clockTicks, 0, "busybox\x00sleep\x00\x00300\x00")
	// A comm with spaces and parentheses, a long user name, a terminal, a day of CPU time.
	f.process(11, 10, "a (b) c", 'R', 136<<8|2, 86400*clockTicks, 3661*clockTicks, 999*clockTicks, 998, "sh\x00-c\x00echo\thi\x00")
	f.process(12, 10, "gone", 'Z', 0, 0, 0, 500*clockTicks, 12345, "")
	got, err := f.root.psEF([]int{10, 11, 12, 13}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"root", "10", "1", "5", "09:45", "?", "00:00:45", "busybox sleep 300"},
		{"systemd+", "11", "10", "99", "09:59", "pts/2", "1-01:01:01", "sh -c echo?hi"},
		{"12345", "12", "10", "0", "09:51", "?", "00:00:00", "[gone] <defunct>"},
	}
	if !slices.Equal(got.Titles, psEFTitles) {
		t.Errorf("titles %q", got.Titles)
	}
	if !slices.EqualFunc(got.Processes, want, slices.Equal) {
		t.Errorf("rows\n%q\nwant\n%q", got.Processes, want)
	}
}

// fakeCgroup is a cgroup reading.
type fakeCgroup struct {
	s   cgroup.Stats
	err error
}

func (f fakeCgroup) Stats() (cgroup.Stats, error) { return f.s, f.err }

func TestUsage(t *testing.T) {
	f := newFakeProc(t, 1000, 0)
	f.write("42/net/dev", `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  5000      10    0    0    0     0          0         0     5000      10    0    0    0     0       0          0
  eth0:  1200       3    0    0    0     0          0         0      800       2    0    0    0     0       0          0
  eth1:    34       1    0    0    0     0          0         0       16       1    0    0    0     0       0          0
`)
	hostMem := uint64(1 << 30)
	for _, tc := range []struct {
		name    string
		s       cgroup.Stats
		pid     int
		want    Usage
		percent float64
	}{
		{
			name: "limit, cache left out",
			s:    cgroup.Stats{MemoryUsage: 3 << 20, MemoryInactiveFile: 1 << 20, MemoryLimit: 64 << 20, CPUUsageNs: 5e9, PidsCurrent: 3, IOReadBytes: 4096, IOWriteBytes: 8192},
			pid:  42,
			want: Usage{CPU: 5e9, System: 1e10, OnlineCPUs: 2, Memory: 2 << 20, MemoryLimit: 64 << 20, NetRx: 1234, NetTx: 816, BlockRead: 4096, BlockWrite: 8192, Pids: 3},
			// 2 MiB of 64 MiB.
			percent: 3.125,
		},
		{
			name: "no limit: the host's memory",
			s:    cgroup.Stats{MemoryUsage: 1 << 20},
			pid:  43, // no net/dev: the init is gone
			want: Usage{System: 1e10, OnlineCPUs: 2, Memory: 1 << 20, MemoryLimit: hostMem},
		},
		{
			name: "a limit above the host's memory",
			s:    cgroup.Stats{MemoryUsage: 1 << 20, MemoryInactiveFile: 2 << 20, MemoryLimit: 1 << 40},
			want: Usage{System: 1e10, OnlineCPUs: 2, Memory: 1 << 20, MemoryLimit: hostMem},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.root.usage(fakeCgroup{s: tc.s}, tc.pid)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("usage\n%+v\nwant\n%+v", got, tc.want)
			}
			if tc.percent != 0 && got.MemoryPercent() != tc.percent {
				t.Errorf("MemoryPercent = %v, want %v", got.MemoryPercent(), tc.percent)
			}
		})
	}
	if _, err := f.root.usage(fakeCgroup{err: errors.New("boom")}, 42); err == nil {
		t.Error("a cgroup that cannot be read gave no error")
	}
}

func TestCPUPercent(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prev, cur Usage
		want      float64
	}{
		{"one of two CPUs busy", Usage{CPU: 1e9, System: 10e9}, Usage{CPU: 2e9, System: 12e9, OnlineCPUs: 2}, 100},
		{"idle", Usage{CPU: 1e9, System: 10e9}, Usage{CPU: 1e9, System: 12e9, OnlineCPUs: 2}, 0},
		{"a quarter of one of four", Usage{CPU: 0, System: 0}, Usage{CPU: 1e9, System: 16e9, OnlineCPUs: 4}, 25},
		{"no time passed", Usage{CPU: 1, System: 5}, Usage{CPU: 2, System: 5, OnlineCPUs: 1}, 0},
		{"not running before", Usage{}, Usage{}, 0},
	} {
		if got := CPUPercent(tc.prev, tc.cur); got != tc.want {
			t.Errorf("%s: CPUPercent = %v, want %v", tc.name, got, tc.want)
		}
	}
}
