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

// BenchmarkBuild times two rebuilds of a multi-stage Go app (goApp: the toolchain stage compiles
// a static binary that a scratch stage ships): "cached", a rebuild with nothing changed, and
// "one-file", a rebuild after editing one source file, which misses from that file's COPY and
// compiles again. It runs berth and, where a Docker engine answers, `docker build` with the
// classic builder (DOCKER_BUILDKIT=0) and with the default one (BuildKit) on the same context
// and toolchain image. The target: berth at most half of Docker's time for both.
func BenchmarkBuild(b *testing.B) {
	testutil.RequireRoot(b)
	dir := b.TempDir()
	app := goApp(b, "0")
	tool := goToolchainTar(b, app)
	// The toolchain image's name comes in as a build arg, so that Docker's can differ.
	df := strings.Replace(goAppDockerfile, "FROM gotool:1 AS build", "ARG TOOL=gotool:1\nFROM ${TOOL} AS build", 1)
	if err := os.WriteFile(filepath.Join(app, "Dockerfile"), []byte(df), 0o644); err != nil {
		b.Fatal(err)
	}
	edit := func(b *testing.B, n int) {
		src := fmt.Sprintf("package main\n\nconst version = \"%d\"\n", n)
		if err := os.WriteFile(filepath.Join(app, "version.go"), []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("berth", func(b *testing.B) {
		inOwnNetNS(b)
		env := stateEnv(b)
		berth := func(b *testing.B, args ...string) {
			b.Helper()
			cmd{args: args, dir: dir, env: env}.ok(b)
		}
		berth(b, "image", "import", "-c", "ENV PATH=/usr/local/go/bin:/bin", tool, "gotool:1")
		edit(b, 0)
		berth(b, "image", "build", "-q", "-t", "bench-app", app)
		// Both rebuilds in this goroutine: it is the one in the test's network namespace (a
		// sub-benchmark's would start in the host's).
		measureRebuilds(b, edit, func(b *testing.B) { berth(b, "image", "build", "-q", "-t", "bench-app", app) })
	})
	for _, builder := range []struct{ name, env string }{{"docker-classic", "DOCKER_BUILDKIT=0"}, {"docker-buildkit", ""}} {
		b.Run(builder.name, func(b *testing.B) {
			if exec.Command("docker", "info").Run() != nil {
				b.Skip("needs a running Docker engine (docker info failed)")
			}
			docker := func(b *testing.B, args ...string) {
				b.Helper()
				c := exec.Command("docker", args...)
				c.Env = os.Environ()
				if builder.env != "" {
					c.Env = append(c.Env, builder.env)
				}
				if out, err := c.CombinedOutput(); err != nil {
					b.Fatalf("docker %v: %v: %s", args, err, out)
				}
			}
			docker(b, "import", "-c", "ENV PATH=/usr/local/go/bin:/bin", tool, "berth-bench-gotool:1")
			defer exec.Command("docker", "rmi", "-f", "berth-bench-gotool:1", "berth-bench-app").Run()
			build := []string{"build", "-q", "--build-arg", "TOOL=berth-bench-gotool:1", "-t", "berth-bench-app", app}
			edit(b, 0)
			docker(b, build...)
			measureRebuilds(b, edit, func(b *testing.B) { docker(b, build...) })
		})
	}
}

// measureRebuilds times, in each iteration, a rebuild with nothing changed and one after
// editing a source file, and reports both in milliseconds per build.
func measureRebuilds(b *testing.B, edit func(*testing.B, int), build func(*testing.B)) {
	var cached, oneFile time.Duration
	n := 0
	for b.Loop() {
		t := time.Now()
		build(b)
		cached += time.Since(t)
		n++
		edit(b, n)
		t = time.Now()
		build(b)
		oneFile += time.Since(t)
	}
	b.ReportMetric(float64(cached.Microseconds())/1000/float64(b.N), "ms-cached")
	b.ReportMetric(float64(oneFile.Microseconds())/1000/float64(b.N), "ms-one-file")
}
