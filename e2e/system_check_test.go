//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-sh/berth/internal/testutil"
)

// checkNames are the checks of `berth system check`, in its order.
var checkNames = []string{"root", "kernel", "namespaces", "overlayfs", "cgroups", "nftables", "bridge"}

// TestSystemCheckRoot: as root on the test machine every check passes, in plain lines and in
// JSON, and nothing is left behind: no temporary overlay under the state root, no cgroup, no
// link in the test's network namespace.
func TestSystemCheckRoot(t *testing.T) {
	testutil.RequireRoot(t)
	inOwnNetNS(t)
	ns := netNSInode(t)
	env := stateEnv(t)
	root := strings.TrimPrefix(env[0], "BERTH_ROOT=")
	check := func(args ...string) result {
		t.Helper()
		checkNetNS(t, ns)
		return cmd{args: append([]string{"system", "check"}, args...), dir: t.TempDir(), env: env}.run(t)
	}

	r := check()
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 0 || len(lines) != len(checkNames) {
		t.Fatalf("system check: exit %d, want 0 and %d lines\nstdout:\n%s\nstderr: %s", r.code, len(checkNames), r.stdout, r.stderr)
	}
	for i, name := range checkNames {
		if f := strings.Fields(lines[i]); len(f) < 3 || f[0] != "ok" || f[1] != name {
			t.Errorf("line %d: %q, want ok %s and what was checked", i+1, lines[i], name)
		}
	}
	if !strings.Contains(r.stdout, "overlay under "+root) {
		t.Errorf("the overlay check does not name the state root %s:\n%s", root, r.stdout)
	}

	r = check("--format", "json")
	if r.code != 0 {
		t.Fatalf("system check --format json: exit %d: %s", r.code, r.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for i := 0; ; i++ {
		var c struct {
			Name, Detail, Fix string
			OK                bool
		}
		if err := dec.Decode(&c); err == io.EOF {
			if i != len(checkNames) {
				t.Errorf("%d JSON objects, want %d", i, len(checkNames))
			}
			break
		} else if err != nil {
			t.Fatalf("JSON output: %v\n%s", err, r.stdout)
		}
		if i >= len(checkNames) || c.Name != checkNames[i] || !c.OK || c.Detail == "" || c.Fix != "" {
			t.Errorf("JSON object %d: %+v", i, c)
		}
	}

	// Nothing of the checks is left.
	if left, _ := filepath.Glob(filepath.Join(root, ".hostcheck-*")); len(left) > 0 {
		t.Errorf("left under the state root: %v", left)
	}
	cgs, _ := filepath.Glob("/sys/fs/cgroup/*/berth/hostcheck-*")
	more, _ := filepath.Glob("/sys/fs/cgroup/berth/hostcheck-*")
	if cgs = append(cgs, more...); len(cgs) > 0 {
		t.Errorf("cgroups left: %v", cgs)
	}
	if links := berthLinks(t, 0); len(links) > 0 {
		t.Errorf("the checks made links outside their scratch namespace: %v", links)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), root) {
		t.Errorf("a mount under the state root reached the test's mount namespace")
	}

	if r := check("--format", "yaml"); r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, `unsupported format "yaml"`) {
		t.Errorf("--format yaml: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestSystemCheckNotRoot: a normal user is told that berth needs root, with what to do, and the
// exit status is 1; checks that need no privilege (the kernel's version) still pass.
func TestSystemCheckNotRoot(t *testing.T) {
	testutil.RequireRoot(t) // to become another user
	// The binary must be reachable by nobody: t.TempDir's parents are private to root.
	dir, err := os.MkdirTemp("", "berth-e2e-check-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "berth")
	b, err := os.ReadFile(berthBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir() // root's own, which nobody cannot write
	x := exec.Command(bin, "system", "check")
	x.Dir = dir
	x.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "BERTH_ROOT=" + root, "BERTH_RUN_ROOT=" + filepath.Join(root, "run")}
	x.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out, errOut bytes.Buffer
	x.Stdout, x.Stderr = &out, &errOut
	err = x.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if code != 1 || len(lines) != len(checkNames) || errOut.Len() != 0 {
		t.Fatalf("as nobody: exit %d, want 1 with %d lines and no stderr\nstdout:\n%s\nstderr: %s", code, len(checkNames), out.String(), errOut.String())
	}
	if !strings.HasPrefix(lines[0], "missing root ") || !strings.Contains(lines[0], "uid 65534") || !strings.Contains(lines[0], "run berth as root") {
		t.Errorf("the root check: %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "ok      kernel ") {
		t.Errorf("the kernel check needs no privilege: %q", lines[1])
	}
	for _, l := range lines[2:] {
		if !strings.HasPrefix(l, "missing ") || !strings.Contains(l, "→ run berth as root") {
			t.Errorf("a check that needs root: %q", l)
		}
	}
}
