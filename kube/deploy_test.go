package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// Every kind convert writes into a golden file must be one deploy knows how to apply and tear down.
func TestResourceForCoversGoldenKinds(t *testing.T) {
	kinds := map[schema.GroupVersionKind][]string{}
	err := filepath.WalkDir("testdata/golden", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if tm.Kind == "" {
				continue
			}
			gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
			kinds[gvk] = append(kinds[gvk], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(kinds) == 0 {
		t.Fatal("no objects found under testdata/golden")
	}
	torn := teardownKinds()
	for gvk, files := range kinds {
		if _, ok := resourceFor(gvk); !ok {
			t.Errorf("%s (in %s) has no API resource in resourceFor", gvk, files[0])
		}
		if !slices.Contains(torn, gvk) {
			t.Errorf("%s (in %s) is not removed by deploy --down", gvk, files[0])
		}
	}
	t.Logf("%d kinds in the golden files", len(kinds))
}

func TestResourceFor(t *testing.T) {
	for _, gvk := range teardownKinds() {
		r, ok := resourceFor(gvk)
		if !ok {
			t.Errorf("%s: not in the table", gvk)
			continue
		}
		if r.gvr.Group != gvk.Group || r.gvr.Version != gvk.Version || r.gvr.Resource != strings.ToLower(gvk.Kind)+"s" &&
			!(gvk.Kind == "NetworkPolicy" && r.gvr.Resource == "networkpolicies") {
			t.Errorf("%s: resource %s", gvk, r.gvr)
		}
		if want := gvk.Kind != "Namespace"; r.namespaced != want {
			t.Errorf("%s: namespaced %v, want %v", gvk, r.namespaced, want)
		}
	}
	// Known kinds in a group or version berth does not make are refused, not guessed.
	for _, gvk := range []schema.GroupVersionKind{
		{Group: "apps", Version: "v1beta1", Kind: "Deployment"},
		{Group: "extensions", Version: "v1beta1", Kind: "Deployment"},
		{Group: "batch", Version: "v1", Kind: "CronJob"},
	} {
		if _, ok := resourceFor(gvk); ok {
			t.Errorf("%s: accepted", gvk)
		}
	}
}

func TestToUnstructured(t *testing.T) {
	labels := map[string]string{LabelProject: "todo", LabelManagedBy: ManagedBy}
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
			},
		},
	}
	u, res, err := toUnstructured(d, "team")
	if err != nil {
		t.Fatal(err)
	}
	if res.gvr.Resource != "deployments" || !res.namespaced {
		t.Errorf("resource %+v", res)
	}
	if u.GetAPIVersion() != "apps/v1" || u.GetKind() != "Deployment" || u.GetNamespace() != "team" || u.GetName() != "app" {
		t.Errorf("identity: %s %s %s/%s", u.GetAPIVersion(), u.GetKind(), u.GetNamespace(), u.GetName())
	}
	for _, path := range [][]string{{"status"}, {"metadata", "creationTimestamp"}, {"spec", "template", "metadata", "creationTimestamp"}} {
		if _, found, _ := unstructured.NestedFieldNoCopy(u.Object, path...); found {
			t.Errorf("%s is sent: the server owns it", strings.Join(path, "."))
		}
	}
	if img, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers"); len(img) != 1 ||
		img[0].(map[string]any)["image"] != "registry.example/app:1" {
		t.Errorf("containers: %v", img)
	}
	if r, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas"); r != 2 {
		t.Errorf("replicas %d", r)
	}
	// Round trip: what is sent decodes to the object convert made.
	var back appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &back); err != nil {
		t.Fatal(err)
	}
	back.Namespace = ""
	if !equalJSON(t, &back, d) {
		t.Errorf("round trip changed the object")
	}

	// A namespace set by convert (--namespace) wins over the context's.
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "mine"}}
	if u, _, _ := toUnstructured(cm, "team"); u.GetNamespace() != "mine" {
		t.Errorf("ConfigMap namespace %q, want mine", u.GetNamespace())
	}
	// Cluster-scoped objects never carry one.
	ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "mine"}}
	if u, res, _ := toUnstructured(ns, "team"); u.GetNamespace() != "" || res.namespaced {
		t.Errorf("Namespace got namespace %q", u.GetNamespace())
	}
	// StatefulSet claim templates lose their server-owned fields too.
	sts := &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}, ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}}}
	u, _, err = toUnstructured(sts, "team")
	if err != nil {
		t.Fatal(err)
	}
	vcts, _, _ := unstructured.NestedSlice(u.Object, "spec", "volumeClaimTemplates")
	if len(vcts) != 1 {
		t.Fatalf("claim templates: %v", vcts)
	}
	vct := vcts[0].(map[string]any)
	if _, ok := vct["status"]; ok {
		t.Errorf("claim template status is sent")
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(vct, "metadata", "creationTimestamp"); found {
		t.Errorf("claim template creationTimestamp is sent")
	}

	// A kind berth does not deploy is named.
	cron := &batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}, ObjectMeta: metav1.ObjectMeta{Name: "nightly"}}
	if _, _, err := toUnstructured(cron, "team"); err == nil || !strings.Contains(err.Error(), "CronJob nightly") {
		t.Errorf("CronJob: got %v", err)
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := yaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := yaml.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ja, jb) {
		t.Logf("got:\n%s\nwant:\n%s", ja, jb)
		return false
	}
	return true
}

func TestTeardown(t *testing.T) {
	mine := map[string]string{LabelProject: "todo", LabelManagedBy: ManagedBy}
	meta := func(name string, l map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: l}
	}
	objs := []runtime.Object{
		&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: mine}},
		&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta("app", mine)},
		&appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}, ObjectMeta: meta("db", mine)},
		&corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta("db", mine)},
		&networkingv1.NetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"}, ObjectMeta: meta("default", mine)},
		&corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: meta("db-password", mine)},
		&corev1.PersistentVolumeClaim{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}, ObjectMeta: meta("data", mine)},
		// A pod of the StatefulSet goes with its owner; a bare one of the project goes itself.
		&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "db-0", Namespace: "ns", Labels: mine,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", UID: "u1"}}}},
		// Not berth's, or another project's: left alone.
		&corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta("other", map[string]string{LabelProject: "other", LabelManagedBy: ManagedBy})},
		&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta("hand-made", map[string]string{LabelProject: "todo"})},
	}
	dyn := fakeCluster(t, objs...)
	var out bytes.Buffer
	if err := teardown(context.Background(), dyn, "todo", "ns", false, time.Minute, newProgress(&out, true)); err != nil {
		t.Fatal(err)
	}
	want := ` Deployment app  Removing
 StatefulSet db  Removing
 Service db  Removing
 NetworkPolicy default  Removing
 Secret db-password  Removing
 ✔ Deployment app  Removed
 ✔ StatefulSet db  Removed
 ✔ Service db  Removed
 ✔ NetworkPolicy default  Removed
 ✔ Secret db-password  Removed
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	left := func() []string {
		var names []string
		for _, gvk := range teardownKinds() {
			r, _ := resourceFor(gvk)
			var list *unstructured.UnstructuredList
			var err error
			if r.namespaced {
				list, err = dyn.Resource(r.gvr).Namespace("ns").List(context.Background(), metav1.ListOptions{})
			} else {
				list, err = dyn.Resource(r.gvr).List(context.Background(), metav1.ListOptions{})
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range list.Items {
				names = append(names, gvk.Kind+"/"+u.GetName())
			}
		}
		return names
	}
	if got, want := strings.Join(left(), " "), "Pod/db-0 Service/other ConfigMap/hand-made PersistentVolumeClaim/data Namespace/ns"; got != want {
		t.Errorf("left after --down: %s, want %s", got, want)
	}
	out.Reset()
	if err := teardown(context.Background(), dyn, "todo", "ns", true, time.Minute, newProgress(&out, false)); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(left(), " "), "Pod/db-0 Service/other ConfigMap/hand-made"; got != want {
		t.Errorf("left after --down -v: %s, want %s", got, want)
	}
	if want := " PersistentVolumeClaim data  Removed\n Namespace ns  Removed\n"; !strings.HasSuffix(out.String(), want) {
		t.Errorf("got\n%s\nwant it to end with\n%s", out.String(), want)
	}
	out.Reset()
	if err := teardown(context.Background(), dyn, "todo", "ns", true, time.Minute, newProgress(&out, false)); err != nil {
		t.Fatal(err)
	}
	if want := " Project todo  Nothing deployed in namespace ns\n"; out.String() != want {
		t.Errorf("nothing left: got %q, want %q", out.String(), want)
	}
}

func TestUnreachableIsOneLine(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	cfg := &rest.Config{Host: url}
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "c"}}
	err := Apply(context.Background(), cfg, []Object{cm}, ApplyOptions{Namespace: "default"})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
	if msg := err.Error(); !strings.Contains(msg, url) || !strings.Contains(msg, "connection refused") || strings.Contains(msg, "\n") {
		t.Errorf("message %q: want one line with the server URL and the cause", msg)
	}
	err = Teardown(context.Background(), cfg, "todo", "default", TeardownOptions{})
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("teardown: got %v, want ErrUnreachable", err)
	}
}

func TestLoadCluster(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "config")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://127.0.0.1:6443"}
- name: b
  cluster: {server: "https://127.0.0.1:7443"}
users:
- name: u
  user: {token: t}
contexts:
- name: one
  context: {cluster: a, user: u}
- name: two
  context: {cluster: b, user: u, namespace: team}
current-context: one
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kc)
	c, err := LoadCluster("", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Config.Host != "https://127.0.0.1:6443" || c.Namespace != "default" || c.Context != "one" {
		t.Errorf("current context: %s %s %s", c.Config.Host, c.Namespace, c.Context)
	}
	t.Setenv("KUBECONFIG", filepath.Join(dir, "missing"))
	c, err = LoadCluster(kc, "two")
	if err != nil {
		t.Fatal(err)
	}
	if c.Config.Host != "https://127.0.0.1:7443" || c.Namespace != "team" || c.Context != "two" {
		t.Errorf("--context two: %s %s %s", c.Config.Host, c.Namespace, c.Context)
	}
	if _, err := LoadCluster(kc, "three"); err == nil || !strings.Contains(err.Error(), `"three"`) {
		t.Errorf("unknown context: got %v", err)
	}
	if _, err := LoadCluster(filepath.Join(dir, "nope"), ""); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing --kubeconfig: got %v", err)
	}
	t.Setenv("HOME", dir)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := LoadCluster("", ""); err == nil || !strings.Contains(err.Error(), "no Kubernetes cluster configured") {
		t.Errorf("no kubeconfig: got %v", err)
	}
}
