package pid1

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/internal/testutil"
	"github.com/berth-sh/berth/runtime/process"
)

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		want         int
	}{
		{"exit0", "exit 0", 0},
		{"exit1", "exit 1", 1},
		{"exit42", "exit 42", 42},
		{"sigkill", "kill -KILL $$", 137},
		{"sigterm", "kill -TERM $$", 143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runInit(t, shConfig(t, tc.script))
			if code != tc.want {
				t.Errorf("exit code %d, want %d (stdout %q, stderr %q)", code, tc.want, out, errOut)
			}
		})
	}
	t.Run("not-executable", func(t *testing.T) {
		t.Parallel()
		cfg := shConfig(t, "")
		if err := os.WriteFile(filepath.Join(cfg.Rootfs.Root, "tmp", "script"), []byte("#!/bin/sh\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg.Args = []string{"/tmp/script"}
		_, errOut, code := runInit(t, cfg)
		// runc's exec.LookPath refuses it before execve, so Docker says
		// `exec: "/tmp/script": permission denied`.
		if code != 126 || !strings.Contains(errOut, `exec: "/tmp/script": permission denied`) {
			t.Errorf("got %d %q, want 126 and Docker's message", code, errOut)
		}
	})
	t.Run("not-found", func(t *testing.T) {
		t.Parallel()
		cfg := shConfig(t, "")
		cfg.Args = []string{"no-such-command"}
		_, errOut, code := runInit(t, cfg)
		if code != 127 || !strings.Contains(errOut, `exec: "no-such-command": executable file not found in $PATH`) {
			t.Errorf("got %d %q, want 127 and Docker's message", code, errOut)
		}
	})
	t.Run("relative-path", func(t *testing.T) {
		t.Parallel()
		cfg := shConfig(t, "")
		cfg.Cwd = "/bin"
		cfg.Args = []string{"./sh", "-c", "exit 7"}
		if _, errOut, code := runInit(t, cfg); code != 7 {
			t.Errorf("got %d %q, want 7", code, errOut)
		}
	})
}

func TestSignalForwarding(t *testing.T) {
	t.Run("term-kills-workload", func(t *testing.T) {
		t.Parallel()
		cfg := shConfig(t, "")
		cfg.Args = []string{"sleep", "1000"}
		c := start(t, cfg)
		c.waitFor("sleep")
		// Seen from the host: the workload holds only stdio, and its cwd
		// is the rootfs (CVE-2024-21626).
		pid := c.processes("sleep")[0]
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, fd := range fds {
			names = append(names, fd.Name())
		}
		if strings.Join(names, " ") != "0 1 2" {
			t.Errorf("workload fds %v, want only 0 1 2", names)
		}
		// The host cannot name a path of another mount namespace
		// (readlink says "/"), so compare the directories themselves.
		cwd, err1 := os.Stat(fmt.Sprintf("/proc/%d/cwd", pid))
		root, err2 := os.Stat(cfg.Rootfs.Root)
		if err1 != nil || err2 != nil || !os.SameFile(cwd, root) {
			t.Errorf("workload cwd is not the rootfs %s (%v, %v)", cfg.Rootfs.Root, err1, err2)
		}
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if out, errOut, code := c.wait(); code != 143 {
			t.Errorf("exit code %d, want 143 (%q %q)", code, out, errOut)
		}
	})
	t.Run("ignored-term", func(t *testing.T) {
		t.Parallel()
		c := start(t, shConfig(t, `trap "" TERM; sleep 1000 & wait`))
		c.waitFor("sleep")
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if !c.running() || len(c.processes("sleep")) == 0 {
			t.Fatal("workload ignoring SIGTERM did not keep running")
		}
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		c.wait()
		ws := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("init status %v, want killed by SIGKILL", ws)
		}
		// The cleanup checks that nothing of the namespace survived.
	})
	t.Run("hup-forwarded", func(t *testing.T) {
		t.Parallel()
		c := start(t, shConfig(t, `trap "echo got=HUP; exit 3" HUP; sleep 1000 & wait`))
		c.waitFor("sleep")
		if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := c.wait()
		if code != 3 || results(out)["got"] != "HUP" {
			t.Errorf("got %d %q %q, want 3 and the trap's output", code, out, errOut)
		}
	})
}

func TestReapsZombies(t *testing.T) {
	// Orphans are reparented to the init, which must reap them when they
	// exit; the workload itself never waits for them.
	script := `
for i in 1 2 3 4 5; do (sh -c 'sleep 0.3; exit 0' &); done
sleep 0.1
echo orphans=$(grep -l 'PPid:[[:space:]]*1$' /proc/[0-9]*/status 2>/dev/null | wc -l)
sleep 1
echo zombies=$(cat /proc/[0-9]*/status 2>/dev/null | grep -c '^State:[[:space:]]*Z')
`
	out, errOut, code := runInit(t, shConfig(t, script))
	r := results(out)
	if code != 0 || r["zombies"] != "0" {
		t.Errorf("got %d, zombies=%q (stdout %q, stderr %q)", code, r["zombies"], out, errOut)
	}
	// The workload's own sh is PID 1's child too.
	if r["orphans"] != "6" {
		t.Errorf("children of PID 1: %q, want the workload and 5 orphans", r["orphans"])
	}
}

func TestProcessSettings(t *testing.T) {
	script := `
echo "foo=$FOO"
echo "leak=${` + initEnv + `:-none}"
echo "pwd=$(pwd)"
echo "cwd=$(readlink /proc/self/cwd)"
echo "id=$(id)"
echo "hostname=$(hostname)"
echo "umask=$(umask)"
echo "nofile=$(ulimit -n):$(ulimit -Hn)"
echo "shmmax=$(cat /proc/sys/kernel/shmmax)"
echo "dirmode=$(stat -c %a:%u .)"
`
	cfg := shConfig(t, script)
	cfg.Env = append(cfg.Env, "FOO=bar baz")
	cfg.Cwd = "/work/dir"
	cfg.User = process.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 2000, 5}}
	cfg.Hostname = "berth-test"
	nofile, err := process.ParseUlimit("nofile=1000:2000")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rlimits = []process.Rlimit{nofile}
	cfg.Sysctls = map[string]string{"kernel.shmmax": "123456789"}
	hostShmmax, _ := os.ReadFile("/proc/sys/kernel/shmmax")
	out, errOut, code := runInit(t, cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	r := results(out)
	for k, want := range map[string]string{
		"foo": "bar baz", "leak": "none", "pwd": "/work/dir", "cwd": "/work/dir",
		"id":       "uid=1000 gid=1000 groups=5(tty),1000,2000",
		"hostname": "berth-test", "umask": "0022", "nofile": "1000:2000",
		"shmmax": "123456789", "dirmode": "755:0",
	} {
		if r[k] != want {
			t.Errorf("%s = %q, want %q (stdout %q, stderr %q)", k, r[k], want, out, errOut)
		}
	}
	if after, _ := os.ReadFile("/proc/sys/kernel/shmmax"); string(after) != string(hostShmmax) {
		t.Errorf("host kernel.shmmax changed: %q -> %q", hostShmmax, after)
	}
}

func TestRefusesHostNetworkSysctl(t *testing.T) {
	// The test's init shares the host's network namespace.
	// Asking for the current value, so that a failed check changes nothing.
	cur, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Skip(err)
	}
	for key, msg := range map[string]string{
		"net.ipv4.ip_forward": "hosts network namespace",
		"vm.swappiness":       "not in a separate kernel namespace",
	} {
		cfg := shConfig(t, "exit 0")
		cfg.Sysctls = map[string]string{key: strings.TrimSpace(string(cur))}
		_, errOut, code := runInit(t, cfg)
		if code != process.ExitStartFailed || !strings.Contains(errOut, msg) {
			t.Errorf("%s: got %d %q, want it refused", key, code, errOut)
		}
	}
}

func TestRunRefusesNonPID1(t *testing.T) {
	testutil.RequireRoot(t)
	if code := Run(Config{}); code != process.ExitStartFailed {
		t.Errorf("Run outside a new PID namespace returned %d", code)
	}
}

// capMask computes a capability mask from capability numbers, independently
// of the package's table.
func capMask(caps ...uint) string {
	var m uint64
	for _, c := range caps {
		m |= 1 << c
	}
	return fmt.Sprintf("%016x", m)
}

func dockerDefaultCaps() []uint {
	return []uint{unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FSETID, unix.CAP_FOWNER, unix.CAP_MKNOD,
		unix.CAP_NET_RAW, unix.CAP_SETGID, unix.CAP_SETUID, unix.CAP_SETFCAP, unix.CAP_SETPCAP,
		unix.CAP_NET_BIND_SERVICE, unix.CAP_SYS_CHROOT, unix.CAP_KILL, unix.CAP_AUDIT_WRITE}
}

// without returns caps minus drop.
func without(caps []uint, drop ...uint) []uint {
	var out []uint
	for _, c := range caps {
		if !slices.Contains(drop, c) {
			out = append(out, c)
		}
	}
	return out
}

const securityScript = `
echo fds:
ls /proc/$$/fd
echo :fds
status() { grep "^$1:" /proc/self/status | cut -f2; }
echo "CapInh=$(status CapInh)"
echo "CapPrm=$(status CapPrm)"
echo "CapEff=$(status CapEff)"
echo "CapBnd=$(status CapBnd)"
echo "CapAmb=$(status CapAmb)"
echo "NoNewPrivs=$(status NoNewPrivs)"
echo "Seccomp=$(status Seccomp)"
unshare -U true 2>/tmp/err; echo "unshare=$? $(cat /tmp/err)"
mount -t tmpfs t /mnt 2>/tmp/err; echo "mount=$? $(cat /tmp/err)"
(echo x >> /proc/1/exe) 2>/dev/null; echo "exe_write=$?"
echo "cwd=$(readlink /proc/$$/cwd)"
/bin/probe syscall-probe
`

func TestSecurity(t *testing.T) {
	def := dockerDefaultCaps()
	zero := capMask()
	for _, tc := range []struct {
		name      string
		add, drop []string
		uid       uint32
		nnp       bool
		bnd, eff  string
	}{
		{name: "default", bnd: capMask(def...), eff: capMask(def...)},
		{name: "cap_add", add: []string{"NET_ADMIN"}, bnd: capMask(append(def, unix.CAP_NET_ADMIN)...), eff: capMask(append(def, unix.CAP_NET_ADMIN)...)},
		{name: "cap_drop", drop: []string{"CHOWN", "NET_RAW"}, bnd: capMask(without(def, unix.CAP_CHOWN, unix.CAP_NET_RAW)...), eff: capMask(without(def, unix.CAP_CHOWN, unix.CAP_NET_RAW)...)},
		{name: "cap_drop_all", drop: []string{"ALL"}, bnd: zero, eff: zero},
		{name: "user", uid: 1000, bnd: capMask(def...), eff: zero},
		{name: "no_new_privs", nnp: true, bnd: capMask(def...), eff: capMask(def...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			caps, err := process.Capabilities(tc.add, tc.drop, false)
			if err != nil {
				t.Fatal(err)
			}
			cfg := shConfig(t, securityScript)
			copyFile(t, os.Args[0], filepath.Join(cfg.Rootfs.Root, "bin", "probe"))
			cfg.Capabilities = caps
			cfg.Seccomp = defaultSeccomp(t, caps)
			cfg.NoNewPrivileges = tc.nnp
			cfg.User = process.User{UID: tc.uid, GID: tc.uid, AdditionalGids: []uint32{tc.uid}}
			out, errOut, code := runInit(t, cfg)
			if code != 0 {
				t.Fatalf("exit %d: %s %s", code, out, errOut)
			}
			r := results(out)
			// Listed before the script's first redirection: busybox sh
			// keeps a saved copy of a redirected fd (10) meanwhile.
			if _, rest, ok := strings.Cut(out, "fds:\n"); ok {
				fds, _, _ := strings.Cut(rest, ":fds")
				r["fds"] = strings.Join(strings.Fields(fds), " ")
			}
			nnp := "0"
			if tc.nnp {
				nnp = "1"
			}
			for k, want := range map[string]string{
				"CapInh": zero, "CapAmb": zero, "CapBnd": tc.bnd, "CapEff": tc.eff, "CapPrm": tc.eff,
				"NoNewPrivs": nnp, "Seccomp": "2", "fds": "0 1 2", "cwd": "/",
			} {
				if r[k] != want {
					t.Errorf("%s = %q, want %q", k, r[k], want)
				}
			}
			for _, k := range []string{"keyctl", "add_key"} {
				if r[k] != "operation not permitted" {
					t.Errorf("%s: %q, want EPERM from the seccomp filter", k, r[k])
				}
			}
			for _, k := range []string{"unshare", "mount"} {
				if !strings.HasPrefix(r[k], "1 ") || !strings.Contains(strings.ToLower(r[k]), "not permitted") && !strings.Contains(r[k], "permission denied") {
					t.Errorf("%s: %q, want a failure with EPERM", k, r[k])
				}
			}
			if r["exe_write"] == "0" {
				t.Error("the workload could open /proc/1/exe for writing")
			}
			if t.Failed() {
				t.Logf("stdout %q, stderr %q", out, errOut)
			}
		})
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
