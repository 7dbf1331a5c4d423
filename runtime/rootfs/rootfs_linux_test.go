package rootfs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-sh/berth/internal/testutil"
	"golang.org/x/sys/unix"
)

// The root tests run Prepare in a child: this test binary re-executed in
// new mount, PID, UTS and IPC namespaces, selected by helperEnv. The child
// prepares the rootfs and execs busybox sh with the test's script inside it;
// the parent asserts on what the script prints.
const (
	helperEnv = "BERTH_ROOTFS_HELPER"
	specEnv   = "BERTH_ROOTFS_SPEC"
	scriptEnv = "BERTH_ROOTFS_SCRIPT"
)

// TestHelperProcess is the child side; it does nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process: run as a child by the Prepare tests")
	}
	var s Spec
	if err := json.Unmarshal([]byte(os.Getenv(specEnv)), &s); err != nil {
		fmt.Println("HELPER-ERROR:", err)
		os.Exit(4)
	}
	if err := Prepare(s); err != nil {
		fmt.Println("PREPARE-ERROR:", err)
		var me *MountError
		if errors.As(err, &me) {
			fmt.Printf("PREPARE-ERRNO: %d\n", errnoOf(err))
		}
		os.Exit(3)
	}
	err := syscall.Exec("/bin/busybox", []string{"sh", "-c", os.Getenv(scriptEnv)}, []string{"PATH=/bin"})
	fmt.Println("EXEC-ERROR:", err)
	os.Exit(4)
}

func errnoOf(err error) int {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return int(errno)
	}
	return -1
}

// runChild runs Prepare(s) and then script in a child, and returns its
// output and exit code. It checks that no mount under any of the watched
// directories (the rootfs's temp dir included) is left on the host.
func runChild(t *testing.T, s Spec, script string, watch ...string) (string, int) {
	t.Helper()
	testutil.RequireRoot(t)
	specJSON, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=1", specEnv+"="+string(specJSON), scriptEnv+"="+script)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		// Unshareflags CLONE_NEWNS also makes Go mark / rprivate in the
		// child before exec: a second guard for the host's mount table.
		Unshareflags: syscall.CLONE_NEWNS,
		Pdeathsig:    syscall.SIGKILL,
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("child: %v\n%s", err, out)
		}
		code = ee.ExitCode()
	}
	assertNoHostMounts(t, append(watch, filepath.Dir(s.Root))...)
	return string(out), code
}

// assertNoHostMounts fails when this (the host's) mount table has an entry
// at or under one of dirs.
func assertNoHostMounts(t *testing.T, dirs ...string) {
	t.Helper()
	for _, m := range readMountinfo(t, "/proc/self/mountinfo") {
		for _, d := range dirs {
			if m.point == d || strings.HasPrefix(m.point, d+"/") {
				t.Errorf("host mount table has %s (%s) under %s after the test", m.point, m.fstype, d)
			}
		}
	}
}

// mountEntry is one line of a mountinfo file.
type mountEntry struct {
	point, options, fstype, source, super string
}

func parseMountinfo(text string) []mountEntry {
	var out []mountEntry
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 6 || len(qf) < 3 {
			continue
		}
		out = append(out, mountEntry{point: unescapeOctal(pf[4]), options: pf[5], fstype: qf[0], source: qf[1], super: qf[2]})
	}
	return out
}

func readMountinfo(t *testing.T, p string) []mountEntry {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return parseMountinfo(string(b))
}

// unescapeOctal undoes mountinfo's \040-style escapes.
func unescapeOctal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%3o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// results splits a script's output into its key=value lines and the
// mountinfo it printed after a MOUNTINFO line.
func results(t *testing.T, out string) (map[string]string, map[string]mountEntry) {
	t.Helper()
	kv := map[string]string{}
	head, info, _ := strings.Cut(out, "MOUNTINFO\n")
	for _, line := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = v
		}
	}
	mounts := map[string]mountEntry{}
	for _, m := range parseMountinfo(info) {
		mounts[m.point] = m // the last (top) mount at a point wins
	}
	return kv, mounts
}

func hasOpt(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}

const checkScript = `
echo "pid=$$"
echo "hostname=$(hostname)"
echo "null=$(echo hi >/dev/null && cat /dev/null | wc -c)"
echo "zero=$(head -c 8 /dev/zero | od -An -tx1 | tr -d ' \n')"
for d in null zero full random urandom tty; do echo "dev_$d=$(stat -c '%F %t:%T %a' /dev/$d)"; done
echo "ptmx=$(readlink /dev/ptmx)"
echo "fd=$(readlink /dev/fd) $(readlink /dev/stdin) $(readlink /dev/stdout) $(readlink /dev/stderr)"
echo "fdlist=$(ls /dev/fd/ >/dev/null 2>&1 && echo ok)"
echo "pts=$(test -c /dev/pts/ptmx && echo ok)"
echo "kcore=$(cat /proc/kcore 2>/dev/null | wc -c)"
echo "keys=$(cat /proc/keys 2>/dev/null | wc -c)"
echo "timer_list=$(cat /proc/timer_list 2>/dev/null | wc -c)"
echo "firmware=$(ls -A /sys/firmware 2>/dev/null | wc -l)"
echo "sysrq_w=$(test -w /proc/sysrq-trigger && echo yes || echo no)"
echo "procsys_w=$( (echo x >/proc/sys/kernel/hostname) 2>&1 | grep -c 'Read-only')"
echo "shm_w=$(touch /dev/shm/x && echo ok)"
echo "shm_mode=$(stat -c %a /dev/shm)"
echo "mqueue=$(ls -d /dev/mqueue >/dev/null && echo ok)"
echo "root=$(ls -A / | tr '\n' ' ')"
echo "proc1=$(cat /proc/1/comm)"
echo "MOUNTINFO"
cat /proc/self/mountinfo
`

func TestPrepareDefaults(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.BusyboxRootfs(t)
	s := Spec{Root: root, ShmSize: 8 << 20, Hostname: "berth-rootfs-test"}
	script := fmt.Sprintf("echo \"host_bin=$(test -e %s && echo visible || echo gone)\"\n", os.Args[0]) + checkScript
	out, code := runChild(t, s, script)
	if code != 0 {
		t.Fatalf("child exit %d:\n%s", code, out)
	}
	kv, mounts := results(t, out)
	want := map[string]string{
		"pid":         "1",
		"hostname":    "berth-rootfs-test",
		"null":        "0",
		"zero":        "0000000000000000",
		"dev_null":    "character special file 1:3 666",
		"dev_zero":    "character special file 1:5 666",
		"dev_full":    "character special file 1:7 666",
		"dev_random":  "character special file 1:8 666",
		"dev_urandom": "character special file 1:9 666",
		"dev_tty":     "character special file 5:0 666",
		"ptmx":        "pts/ptmx",
		"fd":          "/proc/self/fd /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2",
		"fdlist":      "ok",
		"pts":         "ok",
		"kcore":       "0",
		"keys":        "0",
		"timer_list":  "0",
		"firmware":    "0",
		"sysrq_w":     "no",
		"procsys_w":   "1",
		"shm_w":       "ok",
		"mqueue":      "ok",
		// pivot_root left nothing of the old root: no put_old dir, and
		// only the image's entries plus the created mount points.
		"root":     "bin dev etc proc root sys tmp ",
		"proc1":    "busybox",
		"host_bin": "gone",
	}
	for k, v := range want {
		if kv[k] != v {
			t.Errorf("%s = %q, want %q", k, kv[k], v)
		}
	}

	type mountWant struct {
		fstype string
		opts   []string
		super  []string
	}
	wantMounts := map[string]mountWant{
		"/":                   {"", []string{"rw"}, nil},
		"/proc":               {"proc", []string{"rw", "nosuid", "nodev", "noexec"}, nil},
		"/sys":                {"sysfs", []string{"ro", "nosuid", "nodev", "noexec"}, nil},
		"/dev":                {"tmpfs", []string{"rw", "nosuid"}, []string{"size=65536k", "mode=755"}},
		"/dev/pts":            {"devpts", []string{"rw", "nosuid", "noexec"}, []string{"gid=5", "mode=620", "ptmxmode=666"}},
		"/dev/shm":            {"tmpfs", []string{"rw", "nosuid", "nodev", "noexec"}, []string{"size=8192k"}},
		"/dev/mqueue":         {"mqueue", []string{"rw", "nosuid", "nodev", "noexec"}, nil},
		"/proc/kcore":         {"", nil, nil},
		"/proc/keys":          {"", nil, nil},
		"/sys/firmware":       {"tmpfs", []string{"ro"}, nil},
		"/proc/sys":           {"proc", []string{"ro", "nosuid", "nodev", "noexec"}, nil},
		"/proc/sysrq-trigger": {"proc", []string{"ro"}, nil},
		"/sys/fs/cgroup":      {"", []string{"ro", "nosuid", "nodev", "noexec"}, nil},
	}
	for point, w := range wantMounts {
		m, ok := mounts[point]
		if _, err := os.Stat(point); err != nil && strings.HasPrefix(point, "/proc/") {
			continue // this kernel has no such file (no CONFIG_PROC_KCORE, no sysrq): nothing to mask
		}
		if !ok {
			t.Errorf("no mount at %s in the container", point)
			continue
		}
		if w.fstype != "" && m.fstype != w.fstype {
			t.Errorf("%s: type %s, want %s", point, m.fstype, w.fstype)
		}
		for _, o := range w.opts {
			if !hasOpt(m.options, o) {
				t.Errorf("%s: options %s, want %s", point, m.options, o)
			}
		}
		for _, o := range w.super {
			if !hasOpt(m.super, o) {
				t.Errorf("%s: super options %s, want %s", point, m.super, o)
			}
		}
	}
	for point := range mounts {
		if point != "/" && !strings.HasPrefix(point, "/proc") && !strings.HasPrefix(point, "/sys") && !strings.HasPrefix(point, "/dev") {
			t.Errorf("unexpected mount %s in the container (old root not detached?)", point)
		}
	}
	if t.Failed() {
		t.Logf("child output:\n%s", out)
	}
}

func TestPrepareReadOnly(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.BusyboxRootfs(t)
	script := `
echo "root_w=$(touch /newfile 2>&1)"
echo "tmp_w=$(touch /tmp/newfile 2>&1)"
echo "shm_w=$(touch /dev/shm/x && echo ok)"
echo "dev_w=$(touch /dev/x && echo ok)"
echo "MOUNTINFO"
cat /proc/self/mountinfo
`
	out, code := runChild(t, Spec{Root: root, ReadOnly: true}, script)
	if code != 0 {
		t.Fatalf("child exit %d:\n%s", code, out)
	}
	kv, mounts := results(t, out)
	for _, k := range []string{"root_w", "tmp_w"} {
		if !strings.Contains(kv[k], "Read-only file system") {
			t.Errorf("%s = %q, want EROFS", k, kv[k])
		}
	}
	for _, k := range []string{"shm_w", "dev_w"} {
		if kv[k] != "ok" {
			t.Errorf("%s = %q, want ok", k, kv[k])
		}
	}
	if !hasOpt(mounts["/"].options, "ro") {
		t.Errorf("/ options %q, want ro", mounts["/"].options)
	}
	if _, err := os.Stat(filepath.Join(root, "newfile")); err == nil {
		t.Error("a file written in the read-only container reached the rootfs")
	}
}

func TestPreparePrivileged(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.BusyboxRootfs(t)
	out, code := runChild(t, Spec{Root: root, Privileged: true}, "echo MOUNTINFO; cat /proc/self/mountinfo")
	if code != 0 {
		t.Fatalf("child exit %d:\n%s", code, out)
	}
	_, mounts := results(t, out)
	if !hasOpt(mounts["/sys"].options, "rw") {
		t.Errorf("/sys options %q, want rw when privileged", mounts["/sys"].options)
	}
	if !hasOpt(mounts["/sys/fs/cgroup"].options, "rw") {
		t.Errorf("/sys/fs/cgroup options %q, want rw when privileged", mounts["/sys/fs/cgroup"].options)
	}
	for _, p := range []string{"/proc/kcore", "/proc/sys", "/sys/firmware"} {
		if _, ok := mounts[p]; ok {
			t.Errorf("privileged container has a mask or ro bind at %s", p)
		}
	}
}

// TestPrepareMountEscape plants symlinks that point outside the rootfs,
// absolute, relative, dangling and through a file, and mounts on them: each
// mount must land inside the rootfs, and the host paths stay untouched.
func TestPrepareMountEscape(t *testing.T) {
	testutil.RequireRoot(t)
	root := testutil.BusyboxRootfs(t)
	outside := t.TempDir() // the host directory an escape would reach
	sentinel := filepath.Join(outside, "sentinel")
	if err := os.WriteFile(sentinel, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir() // a bind source
	if err := os.WriteFile(filepath.Join(src, "marker"), []byte("bound\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 berth\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"abs":            "/../../../../.." + outside + "/a",
		"rel":            strings.Repeat("../", 20) + strings.TrimPrefix(outside, "/") + "/b",
		"etc/hosts":      "/../../../.." + sentinel,
		"data":           "/../../" + outside + "/c/deeper/dangling",
		"loop":           "loop2",
		"loop2":          "loop",
		"etc/passwd-dir": "../../../../..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	s := Spec{Root: root, Mounts: []Mount{
		{Source: src, Target: "/abs", Type: "bind", Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY},
		{Source: "tmpfs", Target: "/rel", Type: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "size=1m"},
		{Source: hosts, Target: "/etc/hosts", Type: "bind", Flags: unix.MS_BIND},
		{Source: "tmpfs", Target: "/data/sub", Type: "tmpfs"},
		{Source: src, Target: "/etc/passwd-dir/x", Type: "bind", Flags: unix.MS_BIND},
	}}
	script := fmt.Sprintf(`
echo "abs=$(cat /abs/marker)"
echo "abs_in_root=$(cat %[1]s/a/marker)"
echo "abs_ro=$(touch /abs/new 2>&1 | grep -c Read-only)"
echo "rel=$(touch /rel/f && ls %[1]s/b)"
echo "hosts=$(cat /etc/hosts)"
echo "sentinel_in_root=$(cat %[2]s)"
echo "data=$(touch /data/sub/f && ls %[1]s/c/deeper/dangling/sub)"
echo "x=$(cat /x/marker)"
echo "MOUNTINFO"
cat /proc/self/mountinfo
`, outside, sentinel)
	out, code := runChild(t, s, script, outside, src, filepath.Dir(hosts))
	if code != 0 {
		t.Fatalf("child exit %d:\n%s", code, out)
	}
	kv, _ := results(t, out)
	want := map[string]string{
		"abs":              "bound",
		"abs_in_root":      "bound",
		"abs_ro":           "1",
		"rel":              "f",
		"hosts":            "127.0.0.1 berth",
		"sentinel_in_root": "127.0.0.1 berth",
		"data":             "f",
		"x":                "bound",
	}
	for k, v := range want {
		if kv[k] != v {
			t.Errorf("%s = %q, want %q", k, kv[k], v)
		}
	}
	// The host side: the sentinel dir holds only the sentinel, unchanged.
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "sentinel" {
		t.Errorf("host dir %s now holds %v, want only the sentinel", outside, entries)
	}
	if b, _ := os.ReadFile(sentinel); string(b) != "host\n" {
		t.Errorf("host sentinel changed: %q", b)
	}
	// And the mount points were made inside the rootfs.
	for _, p := range []string{outside + "/a", outside + "/b", outside + "/c/deeper/dangling/sub", "x"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			t.Errorf("mount point %s not created inside the rootfs: %v", p, err)
		}
	}
	if t.Failed() {
		t.Logf("child output:\n%s", out)
	}
}

func TestPrepareRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, root string)
		mounts []Mount
		want   string
		errno  unix.Errno
	}{
		{
			name: "proc symlink",
			setup: func(t *testing.T, root string) {
				if err := os.Symlink("/../../../../proc", filepath.Join(root, "proc")); err != nil {
					t.Fatal(err)
				}
			},
			want: "rootfs: /proc is a symlink: refusing (CVE-2019-16884 class)",
		},
		{
			name: "dev file",
			setup: func(t *testing.T, root string) {
				if err := os.WriteFile(filepath.Join(root, "dev"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "rootfs: /dev is not a directory: refusing (CVE-2019-16884 class)",
		},
		{
			name: "symlink loop",
			setup: func(t *testing.T, root string) {
				if err := os.Symlink("b", filepath.Join(root, "a")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("a", filepath.Join(root, "b")); err != nil {
					t.Fatal(err)
				}
			},
			mounts: []Mount{{Source: "tmpfs", Target: "/a/x", Type: "tmpfs"}},
			want:   "rootfs: open mount point tmpfs on /a/x",
			errno:  unix.ELOOP,
		},
		{
			name: "mount under proc",
			setup: func(t *testing.T, root string) {
				if err := os.Symlink("/proc/sys", filepath.Join(root, "sneaky")); err != nil {
					t.Fatal(err)
				}
			},
			mounts: []Mount{{Source: "tmpfs", Target: "/sneaky", Type: "tmpfs"}},
			want:   "mounts under /proc are not allowed",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.RequireRoot(t)
			root := testutil.BusyboxRootfs(t)
			tc.setup(t, root)
			out, code := runChild(t, Spec{Root: root, Mounts: tc.mounts}, "echo PREPARED")
			if code != 3 || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, output:\n%s\nwant exit 3 and %q", code, out, tc.want)
			}
			if tc.errno != 0 && !strings.Contains(out, fmt.Sprintf("PREPARE-ERRNO: %d", tc.errno)) {
				t.Errorf("output:\n%s\nwant the error to unwrap to %v", out, tc.errno)
			}
		})
	}
}

// TestPrepareRefusesHostNamespace calls Prepare in this test process, which
// is in the host's mount namespace: it must refuse before any mount.
func TestPrepareRefusesHostNamespace(t *testing.T) {
	if os.Geteuid() == 0 {
		// As root a mistaken check would rearrange this namespace, so run
		// only where the test can see for itself that it is the host's:
		// the initial namespace's fixed inode, or /proc/1's namespace.
		var self, init unix.Stat_t
		if err := unix.Stat("/proc/self/ns/mnt", &self); err != nil {
			t.Skipf("needs /proc/self/ns/mnt: %v", err)
		}
		initial := self.Ino == initNamespaceInodes()["mnt"]
		if unix.Stat("/proc/1/ns/mnt", &init) == nil && init.Ino == self.Ino && init.Dev == self.Dev {
			initial = true
		}
		if !initial {
			t.Skip("needs the test process in the host's mount namespace (initial, or /proc/1's)")
		}
	}
	root := t.TempDir()
	before := readMountinfo(t, "/proc/self/mountinfo")
	err := Prepare(Spec{Root: root})
	if err == nil || !strings.Contains(err.Error(), "mount namespace") {
		t.Fatalf("Prepare in the host namespace: %v, want a refusal", err)
	}
	if after := readMountinfo(t, "/proc/self/mountinfo"); len(after) != len(before) {
		t.Errorf("mount table changed: %d entries, then %d", len(before), len(after))
	}
}

// TestResolveInRoot exercises the resolver on a plain directory: no
// privileges are needed to show where paths land.
func TestResolveInRoot(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	mk := func(name, target string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	mk("abs", "/../../.."+outside)
	mk("rel", "../../../../../../.."+outside)
	mk("dangling", "/nope/deeper")
	mk("loop", "loop")
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rootfd)
	for _, tc := range []struct {
		path string
		kind createKind
		rel  string
		err  error
	}{
		{"/abs/x", createDir, strings.TrimPrefix(outside, "/") + "/x", nil},
		{"/rel/y", createFile, strings.TrimPrefix(outside, "/") + "/y", nil},
		{"/dangling", createDir, "nope/deeper", nil},
		{"/../../etc", createNone, "", unix.ENOENT},
		{"/loop/x", createDir, "", unix.ELOOP},
		{"/file/x", createDir, "", unix.ENOTDIR},
		{"/", createNone, "", nil},
	} {
		fd, rel, err := resolveInRoot(rootfd, tc.path, tc.kind)
		if !errors.Is(err, tc.err) || (tc.err == nil && rel != tc.rel) {
			t.Errorf("resolveInRoot(%q) = %q, %v; want %q, %v", tc.path, rel, err, tc.rel, tc.err)
		}
		if err == nil {
			unix.Close(fd)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("the resolver created %v outside the rootfs", entries)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(root, outside, "y"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Errorf("createFile did not make a file inside the rootfs: %v", err)
	}
}

func TestMountError(t *testing.T) {
	err := error(&MountError{Op: "mount", Source: "shm", FSType: "tmpfs", Target: "/dev/shm",
		Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "size=1", Err: unix.EPERM})
	const want = `rootfs: mount tmpfs "shm" on /dev/shm (flags nosuid,nodev) (data "size=1"): operation not permitted`
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	if !errors.Is(err, unix.EPERM) {
		t.Error("MountError does not unwrap to its errno")
	}
}
