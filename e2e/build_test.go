package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const buildDockerfile = `FROM bb:1 AS builder
ARG V=3
WORKDIR /work
RUN echo "v=$V" > v.txt
COPY a.txt b.txt ./
RUN busybox mkdir made && echo gone > made/tmp && busybox rm made/tmp && echo kept > made/f

FROM bb:1
ENV A=1 B="two words"
COPY --from=builder /work /app
RUN busybox rm /etc/motd
COPY . /ctx/
EXPOSE 8080
CMD ["cat", "/app/v.txt"]
`

// buildSteps maps each numbered step of a build's plain progress to "CACHED", "DONE" or
// "ERROR", by its instruction text.
func buildSteps(out string) map[string]string {
	steps := map[string]string{}
	names := map[string]string{}
	head := regexp.MustCompile(`^#(\d+) \[(?:[a-z0-9_.-]+ )?\d+/\d+\] (.*)$`)
	end := regexp.MustCompile(`^#(\d+) (CACHED|DONE|ERROR)`)
	for _, line := range strings.Split(out, "\n") {
		if m := head.FindStringSubmatch(line); m != nil {
			names[m[1]] = m[2]
		} else if m := end.FindStringSubmatch(line); m != nil && names[m[1]] != "" {
			steps[names[m[1]]] = m[2]
		}
	}
	return steps
}

func TestBuildImage(t *testing.T) {
	e := newContainerEnv(t)
	ctx := writeTree(t, map[string]string{
		"Dockerfile":          buildDockerfile,
		"a.txt":               "alpha\n",
		"b.txt":               "beta\n",
		"drop.log":            "ignored\n",
		"keep.log":            "excepted\n",
		"node_modules/x/y.js": "ignored dir\n",
		".dockerignore":       "*.log\n!keep.log\nnode_modules\n",
	})
	build := func(args ...string) (string, map[string]string) {
		t.Helper()
		r := e.ok(append(append([]string{"image", "build"}, args...), ctx)...)
		return r.stdout, buildSteps(r.stdout)
	}
	var firstID string
	step(t, "first build runs every step", func(t *testing.T) {
		out, steps := build("-t", "bt-app:1")
		for _, s := range []string{"WORKDIR /work", `RUN echo "v=$V" > v.txt`, "COPY a.txt b.txt ./", "COPY --from=builder /work /app", "RUN busybox rm /etc/motd"} {
			if steps[s] != "DONE" {
				t.Errorf("step %q: %q, want DONE\n%s", s, steps[s], out)
			}
		}
		if !strings.Contains(out, "[builder 3/5] RUN") || !strings.Contains(out, "naming to docker.io/library/bt-app:1 done") {
			t.Errorf("progress lacks stage steps or naming:\n%s", out)
		}
		firstID = strings.TrimSpace(e.ok("image", "inspect", "-f", "{{.Id}}", "bt-app:1").stdout)
	})
	step(t, "the image runs with its CMD, files from both stages, deletions applied", func(t *testing.T) {
		if r := e.ok("container", "run", "--rm", "bt-app:1"); r.stdout != "v=3\n" {
			t.Errorf("CMD output %q, want v=3", r.stdout)
		}
		r := e.ok("container", "run", "--rm", "bt-app:1", "sh", "-c",
			`cat /app/a.txt /app/b.txt /app/made/f; ls /app/made; ls /ctx; echo "$A|$B"; test -e /etc/motd && echo motd-present; true`)
		want := "alpha\nbeta\nkept\nf\nDockerfile\na.txt\nb.txt\nkeep.log\n1|two words\n"
		if r.stdout != want {
			t.Errorf("container sees:\n%s\nwant:\n%s", r.stdout, want)
		}
	})
	step(t, "a rebuild is all cached and gives the same image", func(t *testing.T) {
		out, steps := build("-t", "bt-app:1")
		for s, st := range steps {
			if !strings.HasPrefix(s, "FROM ") && st != "CACHED" {
				t.Errorf("step %q: %s, want CACHED\n%s", s, st, out)
			}
		}
		if len(steps) < 7 {
			t.Errorf("only %d steps seen:\n%s", len(steps), out)
		}
		id := strings.TrimSpace(e.ok("image", "build", "-q", ctx).stdout)
		if id != firstID {
			t.Errorf("rebuild -q printed %q, want %q", id, firstID)
		}
	})
	step(t, "an mtime-only change hits the cache", func(t *testing.T) {
		old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := os.Chtimes(filepath.Join(ctx, "a.txt"), old, old); err != nil {
			t.Fatal(err)
		}
		out, steps := build()
		if steps["COPY a.txt b.txt ./"] != "CACHED" || steps["COPY . /ctx/"] != "CACHED" {
			t.Errorf("touch missed the cache:\n%s", out)
		}
	})
	step(t, "a content change misses from the COPY that includes it", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(ctx, "b.txt"), []byte("beta 2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, steps := build("-t", "bt-app:2")
		for s, want := range map[string]string{
			"WORKDIR /work": "CACHED", `RUN echo "v=$V" > v.txt`: "CACHED",
			"COPY a.txt b.txt ./": "DONE", "COPY --from=builder /work /app": "DONE", "COPY . /ctx/": "DONE",
		} {
			if steps[s] != want {
				t.Errorf("step %q: %s, want %s\n%s", s, steps[s], want, out)
			}
		}
		if !strings.Contains(steps["RUN busybox mkdir made && echo gone > made/tmp && busybox rm made/tmp && echo kept > made/f"], "DONE") {
			t.Errorf("the RUN after the changed COPY did not run again:\n%s", out)
		}
		if r := e.ok("container", "run", "--rm", "bt-app:2", "cat", "/app/b.txt"); r.stdout != "beta 2\n" {
			t.Errorf("b.txt = %q", r.stdout)
		}
	})
	step(t, "a mode change misses", func(t *testing.T) {
		if err := os.Chmod(filepath.Join(ctx, "a.txt"), 0o600); err != nil {
			t.Fatal(err)
		}
		out, steps := build()
		if steps["COPY a.txt b.txt ./"] != "DONE" {
			t.Errorf("chmod hit the cache:\n%s", out)
		}
	})
	step(t, "a build arg misses from the RUN that sees it", func(t *testing.T) {
		out, steps := build("--build-arg", "V=4", "-t", "bt-app:3")
		if steps["WORKDIR /work"] != "CACHED" || steps[`RUN echo "v=$V" > v.txt`] != "DONE" {
			t.Errorf("--build-arg V=4:\n%s", out)
		}
		if r := e.ok("container", "run", "--rm", "bt-app:3"); r.stdout != "v=4\n" {
			t.Errorf("CMD output %q, want v=4", r.stdout)
		}
	})
	step(t, "history reads like docker's classic builder", func(t *testing.T) {
		e.ok("image", "build", "--target", "builder", "-t", "bt-builder", ctx)
		h := e.ok("image", "history", "--no-trunc", "bt-builder").stdout
		for _, want := range []string{
			`|1 V=3 /bin/sh -c echo "v=$V" > v.txt`,
			"/bin/sh -c #(nop)  ARG V=3",
			"/bin/sh -c #(nop) WORKDIR /work",
			"/bin/sh -c #(nop) COPY multi:",
		} {
			if !strings.Contains(h, want) {
				t.Errorf("history lacks %q:\n%s", want, h)
			}
		}
		h = e.ok("image", "history", "--no-trunc", "bt-app:1").stdout
		for _, want := range []string{
			`/bin/sh -c #(nop)  CMD ["cat" "/app/v.txt"]`,
			"/bin/sh -c #(nop)  EXPOSE 8080",
			"/bin/sh -c #(nop)  ENV A=1 B=two words",
			"/bin/sh -c #(nop) COPY dir:",
			"/bin/sh -c busybox rm /etc/motd",
		} {
			if !strings.Contains(h, want) {
				t.Errorf("history lacks %q:\n%s", want, h)
			}
		}
		if r := e.run("container", "run", "--rm", "bt-builder", "cat", "/work/v.txt"); r.stdout != "v=3\n" {
			t.Errorf("--target builder image: %q %s", r.stdout, r.stderr)
		}
	})
	step(t, "no build container or mount is left", func(t *testing.T) {
		if ids := strings.TrimSpace(e.ok("container", "ls", "-aq").stdout); ids != "" {
			t.Errorf("containers left: %s", ids)
		}
		if entries, _ := os.ReadDir(filepath.Join(e.root, "build", "tmp")); len(entries) > 0 {
			t.Errorf("build temp dirs left: %d", len(entries))
		}
	})
}

func TestBuildFaults(t *testing.T) {
	e := newContainerEnv(t)
	for _, c := range []struct {
		name, dockerfile, want string
	}{
		{"unknown instruction", "FROM bb:1\nFOO bar\n", "dockerfile parse error on line 2: unknown instruction: FOO"},
		{"missing COPY source", "FROM bb:1\nCOPY nope.txt /\n", "COPY failed: file not found in build context or excluded by .dockerignore: stat nope.txt: file does not exist"},
		{"unknown stage", "FROM bb:1\nCOPY --from=nostage /x /\n", "COPY --from=nostage: no stage or image of that name"},
		{"failing RUN", "FROM bb:1\nRUN echo partial > /p\nRUN false\n", "The command '/bin/sh -c false' returned a non-zero code: 1"},
		{"unknown target", "FROM bb:1\n", "failed to reach build target nosuch in Dockerfile"},
	} {
		step(t, c.name, func(t *testing.T) {
			ctx := writeTree(t, map[string]string{"Dockerfile": c.dockerfile})
			args := []string{"image", "build", "-t", "bt-fault", ctx}
			if c.name == "unknown target" {
				args = []string{"image", "build", "--target", "nosuch", "-t", "bt-fault", ctx}
			}
			r := e.run(args...)
			if r.code == 0 {
				t.Fatalf("build succeeded:\n%s", r.stdout)
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr %q, want one line with %q", r.stderr, c.want)
			}
			if r := e.run("image", "inspect", "bt-fault"); r.code == 0 {
				t.Errorf("a failed build tagged its image")
			}
			if ids := strings.TrimSpace(e.ok("container", "ls", "-aq").stdout); ids != "" {
				t.Errorf("containers left: %s", ids)
			}
		})
	}
	step(t, "the failing RUN's output is shown", func(t *testing.T) {
		ctx := writeTree(t, map[string]string{"Dockerfile": "FROM bb:1\nRUN echo before-failing; exit 3\n"})
		r := e.run("image", "build", ctx)
		if r.code == 0 || !regexp.MustCompile(`#\d+ \d+\.\d+ before-failing`).MatchString(r.stdout) ||
			!strings.Contains(r.stderr, "returned a non-zero code: 3") {
			t.Errorf("code %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
}
