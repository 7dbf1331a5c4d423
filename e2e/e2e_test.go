// Package e2e drives the built berth binary as a user does: compose files in, output and exit
// codes out. The binary is built once per run (or taken from BERTH_BIN).
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/berth-sh/berth/internal/testutil"
)

var berthBin string

func TestMain(m *testing.M) {
	// Every test keeps berth's bridges, veths and rules in network namespaces of its own: the
	// host's links are the same after the run as before, or the run fails.
	before := hostBerthLinks()
	code := run(m)
	if after := hostBerthLinks(); len(after) > len(before) {
		fmt.Fprintf(os.Stderr, "FAIL: the tests left berth links in the host's network namespace: %v (before: %v)\n", after, before)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) int {
	if bin := os.Getenv("BERTH_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		berthBin = abs
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "berth-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	berthBin = filepath.Join(dir, "berth")
	// berth-runtime beside berth, as installed: without it berth re-executes itself as the
	// monitor and init, which works but is bigger and slower to start than what users run.
	for _, target := range []struct{ out, pkg string }{{berthBin, "./cmd/berth"}, {filepath.Join(dir, "berth-runtime"), "./cmd/berth-runtime"}} {
		build := exec.Command("go", "build", "-o", target.out, target.pkg)
		build.Dir = repoRoot()
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", target.pkg, err, out)
			return 1
		}
	}
	// Containers started by the tests create berth's cgroup parent; `make test` removes it after
	// every test binary is done (see the Makefile).
	return m.Run()
}

// repoRoot is the checkout this test file belongs to.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// result is what one berth invocation did.
type result struct {
	stdout, stderr string
	code           int
}

// cmd describes one berth invocation: arguments, directory, environment and standard input.
type cmd struct {
	args  []string
	dir   string
	env   []string // added to a minimal environment (PATH, HOME)
	stdin string
}

func (c cmd) run(t testing.TB) result {
	t.Helper()
	x := exec.Command(berthBin, c.args...)
	x.Dir = c.dir
	// A minimal, fixed environment: the tests must not depend on the caller's COMPOSE_* variables.
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "PWD=" + c.dir}, c.env...)
	x.Stdin = strings.NewReader(c.stdin)
	var out, errOut bytes.Buffer
	x.Stdout, x.Stderr = &out, &errOut
	err := x.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running berth %v: %v", c.args, err)
	}
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// ok runs berth and fails the test unless it exits 0.
func (c cmd) ok(t testing.TB) result {
	t.Helper()
	r := c.run(t)
	if r.code != 0 {
		t.Fatalf("berth %v: exit %d\nstderr: %s", c.args, r.code, r.stderr)
	}
	return r
}

// writeTree is testutil.WriteTree, short for the many tables below.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	return testutil.WriteTree(t, files)
}
