package k8s

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/berth-sh/berth/test/k8s/cluster"
)

// The todo example, with image names for its built services (kwok's nodes never pull them).
var todoFiles = []string{"-f", "../../examples/todo/compose.yaml", "-f", "testdata/deploy/todo-images.yaml"}

// projectKinds are every kind that can carry a project's labels: what berth applies and what
// controllers make from it (their labels come from berth's pod templates and Services).
var projectKinds = []schema.GroupVersionResource{
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "apps", Version: "v1", Resource: "statefulsets"},
	{Group: "apps", Version: "v1", Resource: "daemonsets"},
	{Group: "apps", Version: "v1", Resource: "replicasets"},
	{Group: "apps", Version: "v1", Resource: "controllerrevisions"},
	{Group: "batch", Version: "v1", Resource: "jobs"},
	{Version: "v1", Resource: "pods"},
	{Version: "v1", Resource: "services"},
	{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
	{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
	{Version: "v1", Resource: "configmaps"},
	{Version: "v1", Resource: "secrets"},
	{Version: "v1", Resource: "persistentvolumeclaims"},
}

// TestDeploy runs berth deploy against control planes of its own (kube-apiserver, etcd,
// controller-manager, scheduler and kwok with three fake nodes, all on 127.0.0.1). Each part
// gets a fresh cluster (about 4 s): kwok reacts more and more slowly as a cluster on Debian's
// etcd 3.4 ages (see the report), and a fresh one keeps every part quick.
func TestDeploy(t *testing.T) {
	berth := berthBinary(t)
	root := t.TempDir()
	for _, part := range []struct {
		name      string
		run       func(*deployEnv, *testing.T)
		needsRoot bool // berth build mounts overlayfs
	}{
		{"todo", (*deployEnv).testTodo, false},
		{"stuck", (*deployEnv).testStuck, false},
		{"push", (*deployEnv).testPush, true},
	} {
		t.Run(part.name, func(t *testing.T) {
			if part.needsRoot && os.Geteuid() != 0 {
				if os.Getenv("BERTH_K8S_REQUIRE") == "1" {
					t.Fatal("BERTH_K8S_REQUIRE=1 but not root: deploy --push builds with berth build, which needs root")
				}
				t.Skip("needs root: deploy --push builds with berth build (overlayfs)")
			}
			start := time.Now()
			c := cluster.Start(t)
			t.Logf("TIMES cluster up in %s", time.Since(start).Round(time.Millisecond))
			env := &deployEnv{berth: berth, kubeconfig: c.Kubeconfig, cfg: c.Config, root: root, cs: c.Client}
			var err error
			if env.dyn, err = dynamic.NewForConfig(c.Config); err != nil {
				t.Fatal(err)
			}
			// No provisioner runs: claims bind to these, as on a cluster with static volumes.
			c.CreateHostPathPVs(t, 2, "5Gi")
			part.run(env, t)
		})
	}
	t.Run("unreachable", (&deployEnv{berth: berth, root: root}).testUnreachable)
}

type deployEnv struct {
	berth, kubeconfig, root string
	cfg                     *rest.Config
	dyn                     dynamic.Interface
	cs                      kubernetes.Interface
}

// result is one berth run.
type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// run runs berth against the test cluster with its own state root.
func (e *deployEnv) run(t *testing.T, extraEnv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.berth, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubeconfig,
		"BERTH_ROOT="+filepath.Join(e.root, "state"), "BERTH_RUN_ROOT="+filepath.Join(e.root, "run"))
	cmd.Env = append(cmd.Env, extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("berth %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("berth %s: exit %d in %s\n%s", strings.Join(args, " "), r.code, r.took.Round(time.Millisecond), r.stderr)
	return r
}

func (e *deployEnv) mustRun(t *testing.T, args ...string) result {
	t.Helper()
	return e.mustRunEnv(t, nil, args...)
}

func (e *deployEnv) mustRunEnv(t *testing.T, extraEnv []string, args ...string) result {
	t.Helper()
	r := e.run(t, extraEnv, args...)
	if r.code != 0 {
		t.Fatalf("berth %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// labelled lists "resource/name resourceVersion" of everything in namespace that carries the
// project's label, sorted.
func (e *deployEnv) labelled(t *testing.T, project, namespace string) []string {
	t.Helper()
	var out []string
	for _, gvr := range projectKinds {
		list, err := e.dyn.Resource(gvr).Namespace(namespace).List(context.Background(),
			metav1.ListOptions{LabelSelector: "berth.sh/project=" + project})
		if err != nil {
			t.Fatalf("list %s: %v", gvr.Resource, err)
		}
		for _, u := range list.Items {
			out = append(out, fmt.Sprintf("%s/%s %s", gvr.Resource, u.GetName(), u.GetResourceVersion()))
		}
	}
	slices.Sort(out)
	return out
}

// eventually polls f until it returns nil or 90 s pass (garbage collection is asynchronous).
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func names(entries []string) []string {
	var out []string
	for _, e := range entries {
		out = append(out, strings.Fields(e)[0])
	}
	return out
}

func (e *deployEnv) testTodo(t *testing.T) {
	ctx := context.Background()
	t.Cleanup(func() { e.run(t, nil, append(todoFiles, "deploy", "--down", "-v")...) })

	up := e.mustRun(t, append(todoFiles, "deploy", "--wait-timeout", "3m")...)
	for _, want := range []string{
		" Secret db-password  Created", " Service app  Created", " Deployment app  Created", " StatefulSet db  Created",
		" Deployment app  Rolled out", " StatefulSet db  Rolled out", " Service app  Ready", " Service db  Ready",
	} {
		if !strings.Contains(up.stderr, want+"\n") {
			t.Errorf("deploy output lacks %q", want)
		}
	}

	// What deploy waited for is really there.
	d, err := e.cs.AppsV1().Deployments("default").Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.AvailableReplicas != 1 || d.Status.UpdatedReplicas != 1 || d.Status.ObservedGeneration != d.Generation {
		t.Errorf("Deployment app not rolled out: %+v", d.Status)
	}
	if d.Spec.Template.Spec.Containers[0].Image != "127.0.0.1:5000/todo-app:1" {
		t.Errorf("app image %s", d.Spec.Template.Spec.Containers[0].Image)
	}
	if fm := d.ManagedFields; len(fm) == 0 || !slices.ContainsFunc(fm, func(f metav1.ManagedFieldsEntry) bool {
		return f.Manager == "berth" && f.Operation == metav1.ManagedFieldsOperationApply
	}) {
		t.Errorf("Deployment app was not server-side applied by berth: %+v", fm)
	}
	sts, err := e.cs.AppsV1().StatefulSets("default").Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sts.Status.ReadyReplicas != 1 || sts.Status.CurrentRevision != sts.Status.UpdateRevision {
		t.Errorf("StatefulSet db not rolled out: %+v", sts.Status)
	}
	for _, svc := range []string{"app", "db"} {
		slices, err := e.cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + svc})
		if err != nil {
			t.Fatal(err)
		}
		ready := 0
		for _, s := range slices.Items {
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					ready++
				}
			}
		}
		if ready == 0 {
			t.Errorf("Service %s has no ready endpoints: %+v", svc, slices.Items)
		}
	}
	pvcs, err := e.cs.CoreV1().PersistentVolumeClaims("default").List(ctx, metav1.ListOptions{LabelSelector: "berth.sh/project=todo"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pvcs.Items) != 1 {
		t.Fatalf("want the one claim of db, got %d", len(pvcs.Items))
	}
	claim := pvcs.Items[0].Name
	if pvcs.Items[0].Status.Phase != "Bound" {
		t.Errorf("claim %s is %s", claim, pvcs.Items[0].Status.Phase)
	}

	// Deploying again changes nothing: every object is reported unchanged, and no object of the
	// project (including what controllers made) gets a new resourceVersion.
	before := e.labelled(t, "todo", "default")
	again := e.mustRun(t, append(todoFiles, "deploy", "--wait-timeout", "1m")...)
	for _, bad := range []string{"  Created\n", "  Configured\n"} {
		if strings.Contains(again.stderr, bad) {
			t.Errorf("second deploy changed something (%q):\n%s", strings.TrimSpace(bad), again.stderr)
		}
	}
	if !strings.Contains(again.stderr, " StatefulSet db  Unchanged\n") {
		t.Errorf("second deploy: StatefulSet db not reported unchanged")
	}
	if after := e.labelled(t, "todo", "default"); !slices.Equal(before, after) {
		t.Errorf("second deploy changed objects:\nbefore %v\nafter  %v", before, after)
	}

	// --down removes everything but the claim, which keeps its data and stays bound.
	down := e.mustRun(t, append(todoFiles, "deploy", "--down")...)
	for _, want := range []string{" Deployment app  Removed", " StatefulSet db  Removed", " Service db  Removed", " Secret db-password  Removed"} {
		if !strings.Contains(down.stderr, want+"\n") {
			t.Errorf("--down output lacks %q", want)
		}
	}
	if strings.Contains(down.stderr, "PersistentVolumeClaim") {
		t.Errorf("--down touched the claim:\n%s", down.stderr)
	}
	eventually(t, "after --down only the claim is left", func() error {
		if left := names(e.labelled(t, "todo", "default")); !slices.Equal(left, []string{"persistentvolumeclaims/" + claim}) {
			return fmt.Errorf("left: %v", left)
		}
		return nil
	})
	pvc, err := e.cs.CoreV1().PersistentVolumeClaims("default").Get(ctx, claim, metav1.GetOptions{})
	if err != nil || pvc.Status.Phase != "Bound" || pvc.DeletionTimestamp != nil {
		t.Errorf("claim after --down: %v %+v", err, pvc)
	}

	// Deploying again reuses the kept claim; --down -v then removes it too.
	e.mustRun(t, append(todoFiles, "deploy", "--wait-timeout", "2m")...)
	if p2, err := e.cs.CoreV1().PersistentVolumeClaims("default").Get(ctx, claim, metav1.GetOptions{}); err != nil || p2.UID != pvc.UID {
		t.Errorf("redeploy did not reuse claim %s: %v", claim, err)
	}
	downV := e.mustRun(t, append(todoFiles, "deploy", "--down", "-v")...)
	if !strings.Contains(downV.stderr, " PersistentVolumeClaim "+claim+"  Removed\n") {
		t.Errorf("--down -v output lacks the claim")
	}
	eventually(t, "after --down -v nothing of the project is left", func() error {
		if left := e.labelled(t, "todo", "default"); len(left) > 0 {
			return fmt.Errorf("left: %v", left)
		}
		return nil
	})
	t.Logf("TIMES todo: deploy %s, second deploy %s, deploy --down %s, deploy --down -v %s",
		up.took.Round(time.Millisecond), again.took.Round(time.Millisecond), down.took.Round(time.Millisecond), downV.took.Round(time.Millisecond))
}

// A deploy that cannot finish fails after --wait-timeout and says what is stuck and why.
func (e *deployEnv) testStuck(t *testing.T) {
	files := []string{"-f", "testdata/deploy/stuck.yaml"}
	t.Cleanup(func() { e.run(t, nil, append(files, "deploy", "--down", "-v")...) })
	// 100Ti: no volume this cluster has can hold the claim, and nothing provisions one.
	r := e.run(t, nil, append(files, "deploy", "--volume-size", "100Ti", "--wait-timeout", "8s")...)
	if r.code != 1 {
		t.Fatalf("stuck deploy: exit %d, want 1", r.code)
	}
	if r.took > 40*time.Second {
		t.Errorf("stuck deploy took %s with --wait-timeout 8s", r.took)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	for _, want := range []string{
		"timed out waiting for the deployment after 8s: ",
		"StatefulSet db: 0/1 ready; PersistentVolumeClaim data-db-0: Pending: FailedBinding: no persistent volumes available for this claim and no storage class is set; pod db-0: Pending: not scheduled: Unschedulable: ",
		"Deployment picky: 0/1 ready; pod picky-",
		": Pending: not scheduled: Unschedulable: 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
	} {
		if !strings.Contains(last, want) {
			t.Errorf("error line lacks %q:\n%s", want, last)
		}
	}
	// The Services of stuck workloads are explained by their workloads, not named again.
	for _, bad := range []string{"Service db", "Service picky"} {
		if strings.Contains(last, bad) {
			t.Errorf("error line names %s: %s", bad, last)
		}
	}
	// web has no problem; once rolled out (kwok is not always quick) it is not named.
	if strings.Contains(r.stderr, " Deployment web  Rolled out\n") && strings.Contains(last, "Deployment web") {
		t.Errorf("error names web, which rolled out: %s", last)
	}

	// A change the server refuses (a StatefulSet's claim templates are fixed) is found by the
	// dry run before anything is applied: web keeps its one replica.
	webBefore, err := e.cs.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r2 := e.run(t, nil, append(files, "deploy", "--volume-size", "1Gi", "--replicas", "2", "--no-wait")...)
	lines = strings.Split(strings.TrimSpace(r2.stderr), "\n")
	last = lines[len(lines)-1]
	if r2.code != 1 || !strings.HasPrefix(last, "StatefulSet db: ") || !strings.Contains(last, "Forbidden") ||
		!strings.Contains(last, "cannot be changed in place: deploy --down removes it") {
		t.Errorf("refused change: exit %d, last line %q", r2.code, last)
	}
	if strings.Contains(r2.stderr, "Configured") {
		t.Errorf("objects were changed before the refusal:\n%s", r2.stderr)
	}
	webAfter, err := e.cs.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if webAfter.ResourceVersion != webBefore.ResourceVersion || *webAfter.Spec.Replicas != 1 {
		t.Errorf("web changed although the deploy was refused: replicas %d", *webAfter.Spec.Replicas)
	}

	down := e.mustRun(t, append(files, "deploy", "--down", "-v")...)
	t.Logf("TIMES stuck: deploy (8s timeout) %s, --down -v %s", r.took.Round(time.Millisecond), down.took.Round(time.Millisecond))
	eventually(t, "nothing of the stuck project left", func() error {
		if left := e.labelled(t, "berth-stuck", "default"); len(left) > 0 {
			return fmt.Errorf("left: %v", left)
		}
		return nil
	})
}

// deploy --push builds a service's image and pushes it to the registry its image: names (here
// one in this process, on 127.0.0.1) before applying the objects that use it.
func (e *deployEnv) testPush(t *testing.T) {
	var mu sync.Mutex
	var pushed []string
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			mu.Lock()
			pushed = append(pushed, r.URL.Path)
			mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	files := []string{"-f", "testdata/deploy/push/compose.yaml"}
	regEnv := []string{"BERTH_TEST_REGISTRY=" + host}
	t.Cleanup(func() { e.run(t, regEnv, append(files, "deploy", "--down", "-v", "-n", "berth-push")...) })

	// Without --push nothing is built, and a built service without image: is refused at once.
	bad := e.run(t, nil, "-f", "testdata/deploy/push/no-image.yaml", "deploy")
	if bad.code != 1 || !strings.Contains(bad.stderr, `service "hello" is built here (build:) but names no image`) {
		t.Errorf("build without image: exit %d\n%s", bad.code, bad.stderr)
	}

	// Into a namespace of its own, which deploy makes.
	r := e.run(t, regEnv, append(files, "deploy", "--push", "--namespace", "berth-push", "--wait-timeout", "2m")...)
	if r.code != 0 {
		t.Fatalf("deploy --push: exit %d\n%s", r.code, r.stderr)
	}
	want := "/v2/berth-push/hello/manifests/1"
	if !slices.Contains(pushed, want) {
		t.Errorf("registry got manifests %v, want %s", pushed, want)
	}
	for _, line := range []string{" hello Pushed", " Namespace berth-push  Created", " Deployment hello  Rolled out"} {
		if !strings.Contains(r.stderr, line+"\n") {
			t.Errorf("output lacks %q", line)
		}
	}
	d, err := e.cs.AppsV1().Deployments("berth-push").Get(context.Background(), "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != host+"/berth-push/hello:1" {
		t.Errorf("deployed image %s, want %s/berth-push/hello:1", img, host)
	}
	// --down keeps the namespace berth made (like the claims); -v removes it.
	down := e.mustRunEnv(t, regEnv, append(files, "deploy", "--down", "-n", "berth-push")...)
	if _, err := e.cs.CoreV1().Namespaces().Get(context.Background(), "berth-push", metav1.GetOptions{}); err != nil {
		t.Errorf("--down removed the namespace: %v", err)
	}
	downV := e.mustRunEnv(t, regEnv, append(files, "deploy", "--down", "-v", "-n", "berth-push")...)
	if !strings.Contains(downV.stderr, " Namespace berth-push  Removed\n") {
		t.Errorf("--down -v did not remove the namespace")
	}
	if _, err := e.cs.CoreV1().Namespaces().Get(context.Background(), "berth-push", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace after --down -v: %v", err)
	}
	t.Logf("TIMES push: build+push+deploy %s, --down %s, --down -v (namespace) %s",
		r.took.Round(time.Millisecond), down.took.Round(time.Millisecond), downV.took.Round(time.Millisecond))
}

// A cluster that cannot be reached is one line naming the server, and exit 1.
func (e *deployEnv) testUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: %q}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: gone, context: {cluster: gone, user: u}}]
current-context: gone
`, url)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"deploy"}, {"deploy", "--down"}} {
		r := e.run(t, nil, append(append(slices.Clone(todoFiles), args...), "--kubeconfig", kc)...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		last := lines[len(lines)-1]
		if r.code != 1 || !strings.Contains(last, "cannot reach the Kubernetes API server at "+url) || strings.Contains(r.stderr, "goroutine") {
			t.Errorf("%v: exit %d, last line %q", args, r.code, last)
		}
	}
}

// berthBinary is $BERTH_BIN, or berth and berth-runtime built from this checkout.
func berthBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("BERTH_BIN"); b != "" {
		return b
	}
	dir := t.TempDir()
	for _, cmd := range []string{"berth", "berth-runtime"} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, cmd), "./cmd/"+cmd)
		build.Dir = "../.."
		// The main module builds with its own go.mod, not this module's settings.
		build.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", cmd, err, out)
		}
	}
	return filepath.Join(dir, "berth")
}
