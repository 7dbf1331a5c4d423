package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvert drives `berth convert` as a user: stdout, -o DIR, -o FILE, warnings on stderr,
// a local image's EXPOSE for a service with no port, and one clear line for bad input.
func TestConvert(t *testing.T) {
	root := t.TempDir()
	env := []string{"BERTH_ROOT=" + root, "BERTH_RUN_ROOT=" + filepath.Join(root, "run")}
	dir := writeTree(t, map[string]string{
		"compose.yaml": `name: conv
services:
  web:
    image: conv-web:1
    ports: ["8080:80"]
    ulimits: {nofile: 1024}
    depends_on: {cache: {condition: service_healthy}}
  cache:
    image: conv-cache:1
    healthcheck: {test: "redis-cli ping", interval: 5s}
`,
	})
	// cache declares no port: the Service takes the image's EXPOSE from the local store.
	cmd{args: []string{"image", "import", "-c", "EXPOSE 6379", busyboxRootfs(t), "conv-cache:1"}, dir: dir, env: env}.ok(t)
	if _, err := os.Stat(filepath.Join(root, "images")); err != nil {
		t.Fatalf("import made no image store: %v", err)
	}

	r := cmd{args: []string{"convert"}, dir: dir, env: env}.ok(t)
	for _, want := range []string{"kind: Deployment", "name: web-published", "type: LoadBalancer", "port: 6379", "name: wait-for-cache",
		"nc -z -w 2 cache 6379", "- /bin/sh\n            - -c\n            - redis-cli ping"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("convert output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "service web: not carried over: ulimits") {
		t.Errorf("stderr does not warn about ulimits: %s", r.stderr)
	}

	out := filepath.Join(t.TempDir(), "k8s")
	cmd{args: []string{"convert", "-o", out, "--namespace", "conv-ns"}, dir: dir, env: env}.ok(t)
	files, _ := filepath.Glob(filepath.Join(out, "*.yaml"))
	if len(files) != 6 || filepath.Base(files[0]) != "000-namespace-conv-ns.yaml" {
		t.Errorf("-o DIR wrote %v, want 6 files, the Namespace first", files)
	}
	single := filepath.Join(t.TempDir(), "all.yaml")
	cmd{args: []string{"convert", "-o", single, "web"}, dir: dir, env: env}.ok(t)
	if b, _ := os.ReadFile(single); strings.Count(string(b), "\n---\n") != 4 {
		t.Errorf("-o FILE web (with its dependency cache): %d documents:\n%s", strings.Count(string(b), "\n---\n")+1, b)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"convert", "--strict"}, "--strict: not carried over to Kubernetes: web: ulimits"},
		{[]string{"convert", "--publish-as", "ingress"}, `--publish-as "ingress": must be loadbalancer, nodeport or none`},
		{[]string{"convert", "--namespace", "Bad_NS"}, `--namespace "Bad_NS"`},
		{[]string{"convert", "--volume-size", "lots"}, `--volume-size "lots": must be a positive quantity`},
		{[]string{"convert", "nosuch"}, "nosuch"},
		{[]string{"convert", "-o", filepath.Join(dir, "compose.yaml", "x")}, "compose.yaml"},
	} {
		r := cmd{args: c.args, dir: dir, env: env}.run(t)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		last := lines[len(lines)-1]
		if r.code == 0 || !strings.Contains(last, c.want) || strings.Contains(r.stderr, "goroutine") {
			t.Errorf("berth %v: exit %d, stderr %q; want a failure naming %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "compose.yaml")); !strings.Contains(string(b), "conv-web") {
		t.Error("the compose file was changed")
	}
}

// TestConvertMakesNoState: converting a project never creates the state root.
func TestConvertMakesNoState(t *testing.T) {
	root := filepath.Join(t.TempDir(), "state")
	dir := writeTree(t, map[string]string{"compose.yaml": "services: {a: {image: a}}\n"})
	cmd{args: []string{"convert"}, dir: dir, env: []string{"BERTH_ROOT=" + root, "BERTH_RUN_ROOT=" + root + "-run"}}.ok(t)
	if _, err := os.Stat(root); err == nil {
		t.Error("convert created the state root")
	}
}
