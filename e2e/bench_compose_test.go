//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-sh/berth/internal/testutil"
)

// stackCompose is ../shared/bench/gen-stack.sh's file: n services that sleep, one network.
func stackCompose(n int, image string) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  s%d:\n    image: %s\n    command: [\"busybox\", \"sleep\", \"3600\"]\n", i, image)
	}
	return b.String()
}

// BenchmarkComposeUpDown times `up -d` and `down` of 10 and 50 services whose command sleeps
// (the figures, docker compose 2 with Docker 20.10: up -d of 10 services 4.6 s, down
// 11.3 s; targets: 0.5 s each, growing no worse than linearly), beside `docker compose` where
// it runs. Each iteration is one up and one down; the metrics are their mean times.
func BenchmarkComposeUpDown(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireOverlay(b)
	rootfs := busyboxRootfs(b)
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprintf("berth-%d", n), func(b *testing.B) {
			inOwnNetNS(b)
			dir := b.TempDir()
			env := stateEnv(b)
			cmd{args: []string{"image", "import", "-c", `CMD ["/bin/sh"]`, rootfs, "bench-stack:1"}, dir: dir, env: env}.ok(b)
			if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(stackCompose(n, "bench-stack:1")), 0o644); err != nil {
				b.Fatal(err)
			}
			defer cmd{args: []string{"-p", "bench", "down"}, dir: dir, env: env}.run(b)
			var up, down time.Duration
			for b.Loop() {
				t := time.Now()
				cmd{args: []string{"-p", "bench", "up", "-d"}, dir: dir, env: env}.ok(b)
				up += time.Since(t)
				t = time.Now()
				cmd{args: []string{"-p", "bench", "down"}, dir: dir, env: env}.ok(b)
				down += time.Since(t)
			}
			b.ReportMetric(float64(up.Milliseconds())/float64(b.N), "ms-up")
			b.ReportMetric(float64(down.Milliseconds())/float64(b.N), "ms-down")
		})
		b.Run(fmt.Sprintf("docker-%d", n), func(b *testing.B) {
			if exec.Command("docker", "info").Run() != nil {
				b.Skip("needs a running Docker engine")
			}
			// docker compose v2 (the CLI plugin), else Debian's docker-compose 1.29.
			composeCmd := []string{"docker", "compose"}
			if exec.Command("docker", "compose", "version").Run() != nil {
				if exec.Command("docker-compose", "version").Run() != nil {
					b.Skip("needs the docker compose v2 plugin or docker-compose")
				}
				composeCmd = []string{"docker-compose"}
			}
			b.Logf("comparing with %s", strings.Join(composeCmd, " "))
			if out, err := exec.Command("docker", "import", "-c", `CMD ["/bin/sh"]`, rootfs, "berth-bench-stack:1").CombinedOutput(); err != nil {
				b.Fatalf("docker import: %v: %s", err, out)
			}
			defer exec.Command("docker", "rmi", "-f", "berth-bench-stack:1").Run()
			dir := b.TempDir()
			// docker-compose.yml: the name docker-compose 1.x and docker compose v2 both read.
			if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(stackCompose(n, "berth-bench-stack:1")), 0o644); err != nil {
				b.Fatal(err)
			}
			compose := func(args ...string) {
				c := exec.Command(composeCmd[0], append(append(composeCmd[1:], "-p", "berthbench"), args...)...)
				c.Dir = dir
				if out, err := c.CombinedOutput(); err != nil {
					b.Fatalf("docker compose %v: %v: %s", args, err, out)
				}
			}
			defer exec.Command(composeCmd[0], append(composeCmd[1:], "-p", "berthbench", "down")...).Run()
			var up, down time.Duration
			for b.Loop() {
				t := time.Now()
				compose("up", "-d")
				up += time.Since(t)
				t = time.Now()
				compose("down")
				down += time.Since(t)
			}
			b.ReportMetric(float64(up.Milliseconds())/float64(b.N), "ms-up")
			b.ReportMetric(float64(down.Milliseconds())/float64(b.N), "ms-down")
		})
	}
}
