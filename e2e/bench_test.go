package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-sh/berth/internal/testutil"
)

// BenchmarkContainerRunRm times `berth container run --rm IMG true` from the CLI's start to its
// exit, and beside it `docker run --rm` of the same root filesystem where a Docker engine answers.
// The figures: Docker 430 ms, bare runc 60-120 ms; berth's target is 100 ms.
func BenchmarkContainerRunRm(b *testing.B) {
	testutil.RequireRoot(b)
	rootfs := busyboxRootfs(b)
	dir := b.TempDir()
	env := stateEnv(b)
	cmd{args: []string{"image", "import", rootfs, "bench-true:1"}, dir: dir, env: env}.ok(b)

	b.Run("berth", func(b *testing.B) {
		inOwnNetNS(b) // on this goroutine: the default bridge goes in a namespace of the benchmark's own
		for b.Loop() {
			cmd{args: []string{"container", "run", "--rm", "bench-true:1", "/bin/busybox", "true"}, dir: dir, env: env}.ok(b)
		}
	})
	b.Run("docker", func(b *testing.B) {
		if exec.Command("docker", "info").Run() != nil {
			b.Skip("needs a running Docker engine (docker info failed)")
		}
		if out, err := exec.Command("docker", "import", rootfs, "berth-bench-true:1").CombinedOutput(); err != nil {
			b.Fatalf("docker import: %v: %s", err, out)
		}
		defer exec.Command("docker", "rmi", "-f", "berth-bench-true:1").Run()
		for b.Loop() {
			if out, err := exec.Command("docker", "run", "--rm", "berth-bench-true:1", "/bin/busybox", "true").CombinedOutput(); err != nil {
				b.Fatalf("docker run: %v: %s", err, out)
			}
		}
	})
}

// BenchmarkContainerExec times `berth container exec C true` in a running container, and beside
// it `docker exec` where a Docker engine answers. The target is at most 50 ms.
func BenchmarkContainerExec(b *testing.B) {
	testutil.RequireRoot(b)
	rootfs := busyboxRootfs(b)
	dir := b.TempDir()
	env := stateEnv(b)
	cmd{args: []string{"image", "import", rootfs, "bench-exec:1"}, dir: dir, env: env}.ok(b)

	b.Run("berth", func(b *testing.B) {
		inOwnNetNS(b)
		id := strings.TrimSpace(cmd{args: []string{"container", "run", "-d", "bench-exec:1", "/bin/busybox", "sleep", "600"}, dir: dir, env: env}.ok(b).stdout)
		defer cmd{args: []string{"container", "rm", "-f", id}, dir: dir, env: env}.run(b)
		for b.Loop() {
			cmd{args: []string{"container", "exec", id, "/bin/busybox", "true"}, dir: dir, env: env}.ok(b)
		}
	})
	b.Run("docker", func(b *testing.B) {
		if exec.Command("docker", "info").Run() != nil {
			b.Skip("needs a running Docker engine (docker info failed)")
		}
		if out, err := exec.Command("docker", "import", rootfs, "berth-bench-exec:1").CombinedOutput(); err != nil {
			b.Fatalf("docker import: %v: %s", err, out)
		}
		defer exec.Command("docker", "rmi", "-f", "berth-bench-exec:1").Run()
		out, err := exec.Command("docker", "run", "-d", "berth-bench-exec:1", "/bin/busybox", "sleep", "600").Output()
		if err != nil {
			b.Fatalf("docker run: %v", err)
		}
		id := strings.TrimSpace(string(out))
		defer exec.Command("docker", "rm", "-f", id).Run()
		for b.Loop() {
			if out, err := exec.Command("docker", "exec", id, "/bin/busybox", "true").CombinedOutput(); err != nil {
				b.Fatalf("docker exec: %v: %s", err, out)
			}
		}
	})
}

// BenchmarkMonitorRSS reports the resident memory of the monitor of one running container
// (target: at most 8 MB; Docker's shim alone is 13-14 MB): its RSS, the anonymous part of it
// (the rest is berth-runtime's text, shared by every monitor), and the RSS of the container's
// init, berth's other process per container.
func BenchmarkMonitorRSS(b *testing.B) {
	testutil.RequireRoot(b)
	rootfs := busyboxRootfs(b)
	dir := b.TempDir()
	env := stateEnv(b)
	inOwnNetNS(b)
	cmd{args: []string{"image", "import", rootfs, "bench-sleep:1"}, dir: dir, env: env}.ok(b)
	var rss, anon, initRSS float64
	for b.Loop() {
		b.StopTimer()
		id := strings.TrimSpace(cmd{args: []string{"container", "run", "-d", "bench-sleep:1", "/bin/busybox", "sleep", "30"}, dir: dir, env: env}.ok(b).stdout)
		time.Sleep(2500 * time.Millisecond) // let the monitor and the init settle and trim (memtrim.Delay)
		root := strings.TrimPrefix(env[0], "BERTH_ROOT=")
		raw, err := os.ReadFile(filepath.Join(root, "containers", id, "state.json"))
		if err != nil {
			b.Fatal(err)
		}
		var st struct {
			MonitorPid int `json:"monitor_pid"`
			Pid        int `json:"pid"`
		}
		if err := json.Unmarshal(raw, &st); err != nil || st.MonitorPid == 0 {
			b.Fatalf("state.json: %v %s", err, raw)
		}
		rss = memoryMB(b, st.MonitorPid, "status", "VmRSS:")
		anon = memoryMB(b, st.MonitorPid, "smaps_rollup", "Anonymous:")
		initRSS = memoryMB(b, st.Pid, "status", "VmRSS:")
		cmd{args: []string{"container", "rm", "-f", id}, dir: dir, env: env}.ok(b)
		b.StartTimer()
	}
	b.ReportMetric(rss, "MB-rss")
	b.ReportMetric(anon, "MB-anon")
	b.ReportMetric(initRSS, "MB-init-rss")
}

// memoryMB reads one kB field of /proc/<pid>/<file> in MB.
func memoryMB(b *testing.B, pid int, file, field string) float64 {
	b.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/%s", field, pid, file)
	return 0
}
