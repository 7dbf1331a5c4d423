package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestClusterSmoke starts a cluster, rolls out a 2-replica Deployment behind
// a Service, binds a PVC to a helper-made PV, stops the cluster and checks
// that none of its processes or files are left.
func TestClusterSmoke(t *testing.T) {
	begin := time.Now()
	c := Start(t)
	up := time.Since(begin)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if n := c.ReadyNodes(ctx); n != 3 {
		t.Fatalf("%d Ready nodes, want 3", n)
	}

	// The kubeconfig works on its own and its context namespace is "default".
	kc, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if ns := kc.Contexts[kc.CurrentContext].Namespace; ns != "default" {
		t.Errorf("kubeconfig namespace %q, want default", ns)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kcClient, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := kcClient.Discovery().ServerVersion(); err != nil || v.GitVersion != KubernetesVersion {
		t.Errorf("server version %v, %v; want %s", v, err, KubernetesVersion)
	}

	labels := map[string]string{"app": "smoke"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke"},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "nginx:1.27",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke"},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	rollout := time.Now()
	if _, err := c.Client.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "Deployment smoke rolled out", func() (bool, string) {
		d, err := c.Client.AppsV1().Deployments("default").Get(ctx, "smoke", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == 2 && s.ReadyReplicas == 2 && s.AvailableReplicas == 2,
			"status " + strconv.Itoa(int(s.ReadyReplicas)) + " ready"
	})
	t.Logf("rollout took %s", time.Since(rollout).Round(time.Millisecond))

	pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=smoke"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			t.Errorf("pod %s: node %q phase %s ip %q", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.PodIP)
		}
	}
	waitFor(ctx, t, "EndpointSlice of Service smoke with 2 ready endpoints", func() (bool, string) {
		slices, err := c.Client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=smoke"})
		if err != nil {
			return false, err.Error()
		}
		ready := 0
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					ready++
				}
			}
		}
		return ready == 2, strconv.Itoa(ready) + " ready endpoints"
	})

	// A class-less PVC binds to a PV made by the helper.
	pvs := c.CreateHostPathPVs(t, 2, "1Gi")
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke-data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("500Mi")}},
		},
	}
	if _, err := c.Client.CoreV1().PersistentVolumeClaims("default").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "PVC smoke-data Bound", func() (bool, string) {
		p, err := c.Client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "smoke-data", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return p.Status.Phase == corev1.ClaimBound && strings.HasPrefix(p.Spec.VolumeName, "berth-test-pv-"),
			string(p.Status.Phase) + " " + p.Spec.VolumeName
	})
	if len(pvs) != 2 || pvs[0] == pvs[1] {
		t.Errorf("PV names %v", pvs)
	}

	pids := c.Pids()
	if len(pids) != 5 {
		t.Errorf("%d processes, want 5 (etcd, apiserver, controller-manager, scheduler, kwok)", len(pids))
	}
	stop := time.Now()
	c.Stop()
	t.Logf("start %s, stop %s", up.Round(time.Millisecond), time.Since(stop).Round(time.Millisecond))
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after Stop (kill 0: %v)", pid, err)
		}
		if left := groupMembers(pid); len(left) > 0 {
			t.Errorf("process group %d still has %v", pid, left)
		}
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists after Stop: %v", c.Dir, err)
	}
}

// TestStartSkipsWithoutTools: without tools and with building disabled, Start
// skips naming why (and fails under BERTH_K8S_REQUIRE=1).
func TestStartSkipsWithoutTools(t *testing.T) {
	t.Setenv("BERTH_K8S_TOOLS", "")
	t.Setenv("BERTH_K8S_CACHE", t.TempDir())
	t.Setenv("BERTH_K8S_NO_BUILD", "1")
	t.Setenv("BERTH_K8S_REQUIRE", "")
	buildOnce.Lock()
	saved := buildOnce.dir
	buildOnce.dir = ""
	buildOnce.Unlock()
	defer func() {
		buildOnce.Lock()
		buildOnce.dir = saved
		buildOnce.Unlock()
	}()

	var rec recorder
	done := make(chan struct{})
	go func() {
		defer close(done)
		rec.TB = t
		ToolsDir(&rec)
	}()
	<-done
	if !rec.skipped || !strings.Contains(rec.msg, "BERTH_K8S_NO_BUILD=1") || !strings.Contains(rec.msg, "kube-apiserver") {
		t.Errorf("skipped=%v msg=%q", rec.skipped, rec.msg)
	}
}

// recorder captures Skip/Fatal from code under test.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Logf(string, ...any) {}

func waitFor(ctx context.Context, t *testing.T, what string, f func() (bool, string)) {
	t.Helper()
	last := ""
	for {
		ok, state := f()
		if ok {
			return
		}
		last = state
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s (last: %s)", what, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// groupMembers lists the pids of live processes in process group pgid.
func groupMembers(pgid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the ")" that ends the command name: state ppid pgrp ...
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}
