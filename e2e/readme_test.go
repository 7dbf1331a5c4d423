//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-sh/berth/internal/testutil"
)

const (
	workshopHeading = "## The workshop, with berth"
	notRunMark      = "# not run by the test"
	blockMark       = "readme-block-done"
)

// TestReadmeWorkshop plays the README's workshop section: its ```sh blocks, in order, as one
// `bash -e` script (lines ending in "# not run by the test" left out), in a copy of the repo's
// examples/ and demo/, with `berth` on PATH being the binary under test, berth's state and the
// network the test's own. The last block of the section is its clean-up: it runs after the rest,
// must succeed and leave nothing; on a failure the test removes the containers and runs it anyway.
// The base images' root filesystems are made (or found cached in BERTH_DEMO_CACHE) in the host's
// network namespace first, so that the README's own make-images.sh only imports them.
func TestReadmeWorkshop(t *testing.T) {
	begin := time.Now()
	testutil.RequireRoot(t)
	for _, c := range []struct{ cmd, pkg string }{{"bash", "bash"}, {"curl", "curl"}, {"docker-registry", "docker-registry"}} {
		if _, err := exec.LookPath(c.cmd); err != nil {
			t.Skipf("the README's workshop needs %s (apt-get install %s)", c.cmd, c.pkg)
		}
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := workshopBlocks(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	// Between the blocks, a line the test reads the time each block took from.
	var play strings.Builder
	for i, b := range blocks[:len(blocks)-1] {
		fmt.Fprintf(&play, "%s{ set +x; } 2>/dev/null; echo \"%s %d $SECONDS\"; set -x\n", b, blockMark, i+1)
	}
	cleanup := blocks[len(blocks)-1]
	if !strings.Contains(cleanup, "down -v") || !strings.Contains(cleanup, "registry/pid") {
		t.Fatalf("the workshop's last block is not its clean-up (down -v, the registry's pid):\n%s", cleanup)
	}

	mirror := envOr("BERTH_DEMO_MIRROR", "http://deb.debian.org/debian")
	cache := envOr("BERTH_DEMO_CACHE", "/var/cache/berth-demo")
	script := filepath.Join(repoRoot(), "demo", "images", "make-images.sh")
	step(t, "build the base images' root filesystems", func(t *testing.T) {
		if !cached(cache, "debian", "golang", "mariadb-base") {
			if _, err := exec.LookPath("mmdebstrap"); err != nil {
				t.Skip("needs mmdebstrap (apt-get install mmdebstrap) to make the base images, and none are cached in " + cache)
			}
			if err := mirrorReachable(mirror); err != nil {
				t.Skipf("Debian mirror %s unreachable and no base images cached in %s: %v", mirror, cache, err)
			}
		}
		env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "BERTH_DEMO_CACHE=" + cache, "BERTH_DEMO_MIRROR=" + mirror}
		started := time.Now()
		runScript(t, script, env, "--no-import", "base")
		t.Logf("make-images.sh --no-import base took %s", time.Since(started).Round(time.Second))
	})

	e := newContainerEnv(t)
	// The user's checkout: what the workshop uses of it, with the files' modes (scripts stay
	// executable). The README's edits of the app's source land in this copy.
	work := filepath.Join(e.dir, "berth")
	for _, dir := range []string{"examples", "demo"} {
		copyTree(t, filepath.Join(repoRoot(), dir), filepath.Join(work, dir))
		copyModes(t, filepath.Join(repoRoot(), dir), filepath.Join(work, dir))
	}
	bin := filepath.Join(e.dir, "bin")
	wrapper := filepath.Join(bin, "berth")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+strconv.Quote(berthBin)+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(e.dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	env := append([]string{
		"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + home, "PWD=" + work, "TMPDIR=" + t.TempDir(),
		"BERTH_BIN=" + wrapper, "BERTH_DEMO_CACHE=" + cache, "BERTH_DEMO_MIRROR=" + mirror, "LC_ALL=C.UTF-8",
	}, e.env...)
	bash := func(name, body string, opts ...string) (string, error) {
		t.Helper()
		checkNetNS(t, e.netns)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		x := exec.CommandContext(ctx, "bash", append(opts, "-c", body, name)...)
		x.Dir, x.Env = work, env
		var out bytes.Buffer
		x.Stdout, x.Stderr = &out, &out
		// A background process that kept the output pipe (the registry, if the README stops
		// redirecting it) must not hang the test.
		x.WaitDelay = 10 * time.Second
		err := x.Run()
		return out.String(), err
	}
	registryPid := func() int {
		b, err := os.ReadFile(filepath.Join(home, "registry", "pid"))
		if err != nil {
			return 0
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return pid
	}

	cleaned := false
	t.Cleanup(func() {
		if cleaned {
			return
		}
		// The play failed part-way: its containers go first (rm -f), then the README's clean-up,
		// then the registry by the pid the README recorded, if it still runs.
		pid := registryPid()
		if ids := strings.Fields(e.run("container", "ls", "-aq").stdout); len(ids) > 0 {
			e.run(append([]string{"container", "rm", "-f", "-v"}, ids...)...)
		}
		out, err := bash("readme-cleanup", cleanup, "-x")
		t.Logf("the README's clean-up after a failure (%v):\n%s", err, out)
		if pid > 0 && isRegistry(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	step(t, "play the workshop", func(t *testing.T) {
		started := time.Now()
		out, err := bash("readme-workshop", play.String(), "-e", "-x")
		t.Logf("the workshop's %d blocks took %s (seconds at the end of each: %s)", len(blocks)-1,
			time.Since(started).Round(time.Second), blockTimes(out))
		if err != nil {
			t.Fatalf("the README's workshop failed: %v\n%s", err, out)
		}
		// What the README says happens beyond its commands succeeding (its greps check the
		// rest: the update shown, the items kept in the volumes, the item in MariaDB). Not
		// strings of the commands themselves, which bash -x prints too.
		for _, want := range []string{
			"CACHED", // the rebuilds reuse the dependency layer
			"Using mysql database todos at mysql as root", // part 7: the app on the aliased database
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the workshop's output lacks %q", want)
			}
		}
		if t.Failed() {
			t.Logf("the workshop's output:\n%s", out)
		}
		if pid := registryPid(); pid == 0 || !isRegistry(pid) {
			t.Errorf("the registry the README started is not running (pid %d)", pid)
		}
	})

	step(t, "clean up as the README says", func(t *testing.T) {
		pid := registryPid()
		out, err := bash("readme-cleanup", cleanup, "-e", "-x")
		cleaned = err == nil
		if err != nil {
			t.Fatalf("the README's clean-up failed: %v\n%s", err, out)
		}
		for deadline := time.Now().Add(5 * time.Second); pid > 0 && isRegistry(pid) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if pid > 0 && isRegistry(pid) {
			t.Errorf("the registry (pid %d) still runs after the clean-up", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if ls := e.ok("container", "ls", "-aq").stdout; ls != "" {
			t.Errorf("containers after the clean-up: %q", ls)
		}
		if vols := e.volumeNames(); len(vols) != 0 {
			t.Errorf("volumes after the clean-up: %v", vols)
		}
		if nets := e.ok("network", "ls", "--format", "{{.Name}}").stdout; strings.Contains(nets, "todo") {
			t.Errorf("networks after the clean-up:\n%s", nets)
		}
	})
	t.Logf("TestReadmeWorkshop took %s", time.Since(begin).Round(time.Second))
}

// workshopBlocks returns the ```sh blocks of the README's workshop section, without the lines
// marked as not run by the test; blocks left empty by that are dropped. There must be at least
// two: the workshop and its clean-up (the last).
func workshopBlocks(readme string) ([]string, error) {
	start := strings.Index(readme, "\n"+workshopHeading+"\n")
	if start < 0 {
		return nil, fmt.Errorf("README.md has no section %q", workshopHeading)
	}
	section := readme[start+1:]
	if end := strings.Index(section[len(workshopHeading):], "\n## "); end >= 0 {
		section = section[:len(workshopHeading)+end]
	}
	var blocks []string
	var cur []string
	in := false
	for _, line := range strings.Split(section, "\n") {
		switch {
		case !in && line == "```sh":
			in, cur = true, nil
		case in && line == "```":
			in = false
			if len(cur) > 0 {
				blocks = append(blocks, strings.Join(cur, "\n")+"\n")
			}
		case in && strings.HasSuffix(strings.TrimSpace(line), notRunMark):
		case in:
			cur = append(cur, line)
		}
	}
	if in {
		return nil, fmt.Errorf("README.md: a ```sh block of %q is not closed", workshopHeading)
	}
	if len(blocks) < 2 {
		return nil, fmt.Errorf("README.md: %q has %d runnable ```sh blocks, want the workshop and its clean-up", workshopHeading, len(blocks))
	}
	return blocks, nil
}

// isRegistry says whether pid is a running docker-registry (not a pid reused by another process).
func isRegistry(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	if stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); err == nil {
		// A zombie (exited, not yet reaped by its new parent) runs no more.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			return false
		}
	}
	return strings.Contains(string(b), "docker-registry")
}

// copyModes gives the files copyTree copied from src to dst their modes in src.
func copyModes(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if _, err := os.Stat(target); err != nil {
			return nil // left out by copyTree
		}
		return os.Chmod(target, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// blockTimes lists the seconds at which each block of the workshop ended, from its marker lines.
func blockTimes(out string) string {
	var times []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == blockMark {
			times = append(times, f[1]+":"+f[2])
		}
	}
	return strings.Join(times, " ")
}
