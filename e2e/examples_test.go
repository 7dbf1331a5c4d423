package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// exampleImage is the image every small example names; examples/make-busybox-image.sh makes it.
const exampleImage = "berth-examples/busybox:1"

// example is one directory of examples/ run in a test's own state root and network namespace.
type example struct {
	*containerEnv
	dir string
}

// newExample prepares examples/<name>: a containerEnv, and the example image made by the script
// the READMEs tell users to run. The project is taken down, volumes and all, when the test ends.
func newExample(t *testing.T, name string, profiles ...string) *example {
	t.Helper()
	e := newContainerEnv(t)
	x := exec.Command("sh", filepath.Join(repoRoot(), "examples", "make-busybox-image.sh"))
	x.Dir = e.dir
	x.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "BERTH=" + berthBin}, e.env...)
	var out, errOut bytes.Buffer
	x.Stdout, x.Stderr = &out, &errOut
	if err := x.Run(); err != nil {
		t.Fatalf("make-busybox-image.sh: %v\n%s%s", err, out.String(), errOut.String())
	}
	if !strings.HasPrefix(out.String(), "sha256:") {
		t.Fatalf("make-busybox-image.sh printed %q, want the image ID", out.String())
	}
	ex := &example{containerEnv: e, dir: filepath.Join(repoRoot(), "examples", name)}
	if b, err := os.ReadFile(filepath.Join(ex.dir, "compose.yaml")); err != nil || !strings.Contains(string(b), "image: "+exampleImage) {
		t.Fatalf("examples/%s/compose.yaml must use the image the script makes, %s (%v)", name, exampleImage, err)
	}
	down := []string{"down", "-v"}
	for _, p := range profiles {
		down = append([]string{"--profile", p}, down...)
	}
	t.Cleanup(func() { ex.run(down...) })
	return ex
}

// run runs berth in the example's directory, as its README does.
func (ex *example) run(args ...string) result {
	ex.t.Helper()
	checkNetNS(ex.t, ex.netns)
	return cmd{args: args, dir: ex.dir, env: ex.env}.run(ex.t)
}

func (ex *example) ok(args ...string) result {
	ex.t.Helper()
	r := ex.run(args...)
	if r.code != 0 {
		ex.t.Fatalf("berth %v in %s: exit %d\nstdout:\n%s\nstderr:\n%s", args, ex.dir, r.code, r.stdout, r.stderr)
	}
	return r
}

// logLines are the lines service logged in an attached up's output, without the prefix.
func logLines(out, service string) []string {
	var lines []string
	prefix := regexp.MustCompile(`^` + regexp.QuoteMeta(service) + `-\d+ +\| `)
	for _, l := range strings.Split(out, "\n") {
		if loc := prefix.FindStringIndex(l); loc != nil {
			lines = append(lines, l[loc[1]:])
		}
	}
	return lines
}

// wantLines fails the test unless every line of want is among got.
func wantLines(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("%s: want the line %q in\n%s", what, w, strings.Join(got, "\n"))
		}
	}
}

// readmeLines are the log lines an example's README promises ("    client-1  | text" in its
// indented blocks), as service and text, leaving out lines with addresses, which depend on the
// subnet berth picks.
func readmeLines(t *testing.T, dir string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^    ([a-z]+)-1 +\| (.+)$`)
	addr := regexp.MustCompile(`\d+\.\d+\.\d+\.\d+`)
	out := map[string][]string{}
	for _, m := range line.FindAllStringSubmatch(string(b), -1) {
		if !addr.MatchString(m[2]) {
			out[m[1]] = append(out[m[1]], m[2])
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s/README.md promises no log lines", dir)
	}
	return out
}

// wantReadme fails the test unless the attached up's output has every line the README promises.
func (ex *example) wantReadme(out string) {
	ex.t.Helper()
	for service, lines := range readmeLines(ex.t, ex.dir) {
		wantLines(ex.t, "the README's "+service, logLines(out, service), lines...)
	}
}

// downClean takes the project down as the README says and checks that nothing is left.
func (ex *example) downClean(args ...string) {
	ex.t.Helper()
	ex.ok(append(args, "down", "-v")...)
	if ids := strings.Fields(ex.ok("container", "ls", "-aq").stdout); len(ids) > 0 {
		ex.t.Errorf("containers left after down -v: %v", ids)
	}
	if nets := strings.Fields(ex.ok("network", "ls", "-q", "--filter", "label=com.docker.compose.project").stdout); len(nets) > 0 {
		ex.t.Errorf("networks left after down -v: %v", nets)
	}
}

func TestExampleDNS(t *testing.T) {
	ex := newExample(t, "dns")
	step(t, "up", func(t *testing.T) {
		r := ex.ok("up", "--exit-code-from", "client")
		wantLines(t, "the client", logLines(r.stdout, "client"),
			"web -> hello from web",
			"www.example.test -> hello from web")
		ex.wantReadme(r.stdout)
	})
	step(t, "down", func(t *testing.T) { ex.downClean() })
}

func TestExampleScale(t *testing.T) {
	ex := newExample(t, "scale")
	step(t, "up", func(t *testing.T) {
		r := ex.ok("up", "--exit-code-from", "client")
		got := logLines(r.stdout, "client")
		wantLines(t, "the client", got, "api has 3 addresses:")
		var addrs, answers []string
		for _, l := range got {
			if a, ok := strings.CutPrefix(l, "Address: "); ok {
				addrs = append(addrs, a)
			}
			if a, ok := strings.CutPrefix(l, "replica at "); ok {
				answers = append(answers, a)
			}
		}
		if len(addrs) != 3 || len(answers) != 12 {
			t.Fatalf("%d addresses (want 3) and %d answers (want 12):\n%s", len(addrs), len(answers), strings.Join(got, "\n"))
		}
		distinct := map[string]bool{}
		for _, a := range answers {
			distinct[a] = true
			if !strings.Contains(strings.Join(addrs, " "), a) {
				t.Errorf("answer from %s, which is not among api's addresses %v", a, addrs)
			}
		}
		// Shuffled answers: all twelve from one replica has a chance of 3/3^12.
		if len(distinct) < 2 {
			t.Errorf("every request went to %v", answers[0])
		}
		wantLines(t, "the client", got, fmt.Sprintf("%d replicas answered 12 requests", len(distinct)))
		if len(distinct) == 3 {
			ex.wantReadme(r.stdout)
		}
	})
	step(t, "down", func(t *testing.T) { ex.downClean() })
}

func TestExampleInternalNetwork(t *testing.T) {
	ex := newExample(t, "internal-network")
	step(t, "up", func(t *testing.T) {
		r := ex.ok("up", "--exit-code-from", "frontend")
		backend := logLines(r.stdout, "backend")
		wantLines(t, "the backend", backend, "backend routes:", "backend has no route to 192.0.2.1")
		for _, l := range backend {
			if strings.HasPrefix(l, "default") {
				t.Errorf("the backend on an internal network has a default route: %q", l)
			}
		}
		if !regexp.MustCompile(`(?m)^\d+\.\d+\.\d+\.\d+/\d+ dev eth0 `).MatchString(strings.Join(backend, "\n")) {
			t.Errorf("the backend's routes do not show its own subnet:\n%s", strings.Join(backend, "\n"))
		}
		wantLines(t, "the frontend", logLines(r.stdout, "frontend"), "frontend got: hello from the backend")
		ex.wantReadme(r.stdout)
	})
	step(t, "down", func(t *testing.T) { ex.downClean() })
}

func TestExampleSecrets(t *testing.T) {
	ex := newExample(t, "secrets")
	step(t, "up", func(t *testing.T) {
		r := ex.ok("up", "--exit-code-from", "app")
		wantLines(t, "the app", logLines(r.stdout, "app"),
			"api-token", "db_password",
			"db password: correct-horse-battery-staple",
			"api token: token-from-the-environment")
		ex.wantReadme(r.stdout)
	})
	step(t, "down", func(t *testing.T) { ex.downClean() })
	step(t, "the shell's API_TOKEN wins over .env", func(t *testing.T) {
		r := cmd{args: []string{"up", "--exit-code-from", "app"}, dir: ex.dir, env: append(slices.Clip(ex.env), "API_TOKEN=from-my-shell")}.run(t)
		if r.code != 0 {
			t.Fatalf("up with API_TOKEN set: exit %d: %s", r.code, r.stderr)
		}
		wantLines(t, "the app", logLines(r.stdout, "app"), "api token: from-my-shell")
	})
	step(t, "down", func(t *testing.T) { ex.downClean() })
}

func TestExampleProfiles(t *testing.T) {
	ex := newExample(t, "profiles", "debug")
	step(t, "config", func(t *testing.T) {
		if got := ex.ok("config", "--services").stdout; got != "web\n" {
			t.Errorf("config --services without a profile: %q, want web", got)
		}
		if got := strings.Fields(ex.ok("--profile", "debug", "config", "--services").stdout); len(got) != 2 || !strings.Contains(strings.Join(got, " "), "debug") {
			t.Errorf("config --services with --profile debug: %q, want web and debug", got)
		}
	})
	step(t, "up without the profile", func(t *testing.T) {
		ex.ok("up", "-d", "--wait")
		if names := strings.Fields(ex.ok("ps", "--format", "{{.Name}}").stdout); len(names) != 1 || names[0] != "example-profiles-web-1" {
			t.Errorf("ps after up -d --wait: %v, want only example-profiles-web-1", names)
		}
	})
	step(t, "up with the profile", func(t *testing.T) {
		r := ex.ok("--profile", "debug", "up", "--exit-code-from", "debug")
		wantLines(t, "debug", logLines(r.stdout, "debug"), "debug sees web: hello from web")
		ex.wantReadme(r.stdout)
	})
	step(t, "down", func(t *testing.T) { ex.downClean("--profile", "debug") })
}
