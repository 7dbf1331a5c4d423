package kube

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/utils/ptr"
)

func TestDeploymentStatus(t *testing.T) {
	base := func(mut func(*appsv1.Deployment)) *appsv1.Deployment {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: 2},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)},
			Status: appsv1.DeploymentStatus{
				ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3, ReadyReplicas: 3,
			},
		}
		mut(d)
		return d
	}
	tests := []struct {
		name string
		d    *appsv1.Deployment
		want status
	}{
		{"rolled out", base(func(*appsv1.Deployment) {}), status{done: true, what: "Rolled out"}},
		{"old generation", base(func(d *appsv1.Deployment) { d.Status.ObservedGeneration = 1 }), status{what: "waiting for the controller"}},
		{"updating", base(func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 1 }), status{what: "1/3 updated"}},
		{"old replicas left", base(func(d *appsv1.Deployment) { d.Status.Replicas = 4 }), status{what: "1 old replicas terminating"}},
		{"not available", base(func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 2 }), status{what: "2/3 ready"}},
		{"replicas unset means 1", base(func(d *appsv1.Deployment) {
			d.Spec.Replicas = nil
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1}
		}), status{what: "0/1 ready"}},
		{"deadline", base(func(d *appsv1.Deployment) {
			d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
				Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-1" has timed out progressing.`}}
		}), status{failed: `progress deadline exceeded: ReplicaSet "web-1" has timed out progressing.`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := deploymentStatus(tt.d); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestStatefulSetDaemonSetJobClaimStatus(t *testing.T) {
	sts := func(ready, updated int32, cur, upd string) *appsv1.StatefulSet {
		return &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Generation: 1},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2),
				UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, ReadyReplicas: ready, UpdatedReplicas: updated,
				CurrentRevision: cur, UpdateRevision: upd},
		}
	}
	ds := func(desired, updated, avail int32) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: desired, UpdatedNumberScheduled: updated, NumberAvailable: avail}}
	}
	job := func(conds ...batchv1.JobCondition) *batchv1.Job {
		return &batchv1.Job{Status: batchv1.JobStatus{Active: 1, Conditions: conds}}
	}
	tests := []struct {
		name string
		got  status
		want status
	}{
		{"sts rolled out", statefulSetStatus(sts(2, 2, "r1", "r1")), status{done: true, what: "Rolled out"}},
		{"sts not ready", statefulSetStatus(sts(1, 2, "r1", "r1")), status{what: "1/2 ready"}},
		{"sts not updated", statefulSetStatus(sts(2, 1, "r1", "r2")), status{what: "1/2 updated"}},
		{"sts revision", statefulSetStatus(sts(2, 2, "r1", "r2")), status{what: "rolling update in progress"}},
		{"ds rolled out", daemonSetStatus(ds(3, 3, 3)), status{done: true, what: "Rolled out"}},
		{"ds updating", daemonSetStatus(ds(3, 2, 3)), status{what: "2/3 updated"}},
		{"ds not available", daemonSetStatus(ds(3, 3, 1)), status{what: "1/3 ready"}},
		{"job running", jobStatus(job()), status{what: "1 active, 0 succeeded, 0 failed"}},
		{"job complete", jobStatus(job(batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue})), status{done: true, what: "Completed"}},
		{"job failed", jobStatus(job(batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue,
			Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"})),
			status{failed: "BackoffLimitExceeded: Job has reached the specified backoff limit"}},
		{"claim bound", claimStatus(&corev1.PersistentVolumeClaim{Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}), status{done: true, what: "Bound"}},
		{"claim pending", claimStatus(&corev1.PersistentVolumeClaim{Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}), status{what: "Pending"}},
		{"service none", serviceStatus(nil), status{what: "no endpoints"}},
		{"service not ready", serviceStatus([]discoveryv1.EndpointSlice{{Endpoints: []discoveryv1.Endpoint{
			{Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}}}}}), status{what: "1 endpoints, none ready"}},
		{"service ready (unknown counts)", serviceStatus([]discoveryv1.EndpointSlice{{Endpoints: []discoveryv1.Endpoint{
			{Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}}, {}}}}), status{done: true, what: "Ready"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %+v, want %+v", tt.got, tt.want)
			}
		})
	}
}

func TestPodProblem(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	tests := []struct {
		name   string
		status corev1.PodStatus
		want   string
	}{
		{"unschedulable", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
			Message: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}}},
			"Pending: not scheduled: Unschedulable: 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."},
		{"image pull", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff",
				Message: `Back-off pulling image "registry.example/app:1"`}}}}},
			`Pending: container app: waiting: ImagePullBackOff: Back-off pulling image "registry.example/app:1"`},
		{"init container waiting", corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
			{Name: "wait-db", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}}}}},
			"Pending: init container wait-db: waiting: ErrImagePull: not found"},
		{"init container running", corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
			{Name: "a", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
			{Name: "wait-db", State: running}}},
			"Pending: init container wait-db still running"},
		{"init container failed", corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
			{Name: "wait-db", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}}},
			"Pending: init container wait-db: exited with code 1: Error"},
		{"crash loop", corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "ok", Ready: true, State: running},
			{Name: "db", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 5m0s restarting failed container"}}}}},
			"Running: container db: waiting: CrashLoopBackOff: back-off 5m0s restarting failed container"},
		{"readiness", corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "db", State: running}}},
			"Running: container db running, not ready (readiness probe failing)"},
		{"evicted", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node was low on resource: memory."},
			"Failed: Evicted: The node was low on resource: memory."},
		{"not scheduled yet", corev1.PodStatus{Phase: corev1.PodPending}, "Pending: not scheduled yet"},
		{"node has not started it", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}},
			"Pending: on node node-1, which has not started it yet"},
		{"phase unknown", corev1.PodStatus{Phase: corev1.PodUnknown}, "Unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Status: tt.status}
			if tt.name == "node has not started it" {
				pod.Spec.NodeName = "node-1"
			}
			if got := podProblem(pod); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNewestEvent(t *testing.T) {
	at := func(s int) metav1.Time { return metav1.NewTime(time.Unix(1700000000+int64(s), 0)) }
	ev := func(kind, name, typ, reason string, t metav1.Time) corev1.Event {
		return corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name}, Type: typ, Reason: reason,
			Message: reason + " message", LastTimestamp: t}
	}
	evs := []corev1.Event{
		ev("PersistentVolumeClaim", "data", corev1.EventTypeNormal, "FailedBinding", at(5)),
		ev("PersistentVolumeClaim", "data", corev1.EventTypeWarning, "ProvisioningFailed", at(3)),
		ev("PersistentVolumeClaim", "other", corev1.EventTypeWarning, "Other", at(9)),
		ev("Pod", "data", corev1.EventTypeWarning, "WrongKind", at(9)),
	}
	if got, want := newestEvent(evs, "PersistentVolumeClaim", "data", false), "FailedBinding: FailedBinding message"; got != want {
		t.Errorf("newest: got %q, want %q", got, want)
	}
	if got, want := newestEvent(evs, "PersistentVolumeClaim", "data", true), "ProvisioningFailed: ProvisioningFailed message"; got != want {
		t.Errorf("newest warning: got %q, want %q", got, want)
	}
	if got := newestEvent(evs, "Service", "data", false); got != "" {
		t.Errorf("no event: got %q", got)
	}
}

// fakeCluster is a dynamic client over objs that knows the list kinds wait reads.
func fakeCluster(t *testing.T, objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	t.Helper()
	lists := map[schema.GroupVersionResource]string{
		podsGVR: "PodList", eventsGVR: "EventList", endpointSlicesGVR: "EndpointSliceList",
	}
	for _, gvk := range teardownKinds() {
		r, _ := resourceFor(gvk)
		lists[r.gvr] = gvk.Kind + "List"
	}
	var us []runtime.Object
	for _, o := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, &unstructured.Unstructured{Object: m})
	}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, us...)
}

func appliedOf(t *testing.T, o Object) applied {
	t.Helper()
	u, res, err := toUnstructured(o, "ns")
	if err != nil {
		t.Fatal(err)
	}
	return applied{res: res, obj: u}
}

// A todo-like project: a Deployment behind a Service, and a StatefulSet whose claim never binds
// and whose pod the scheduler cannot place.
func stuckProject() (objs []Object, cluster []runtime.Object) {
	sel := func(svc string) map[string]string { return map[string]string{LabelProject: "todo", LabelService: svc} }
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "ns", Generation: 1,
			Labels: map[string]string{LabelProject: "todo", LabelManagedBy: ManagedBy}}
	}
	app := &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta("app"),
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: sel("app")},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel("app")}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1, ReadyReplicas: 1},
	}
	appSvc := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta("app"),
		Spec: corev1.ServiceSpec{Selector: sel("app")}}
	db := &appsv1.StatefulSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}, ObjectMeta: meta("db"),
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: sel("db")},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel("db")}}},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 1},
	}
	dbSvc := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta("db"),
		Spec: corev1.ServiceSpec{Selector: sel("db")}}
	claim := &corev1.PersistentVolumeClaim{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}, ObjectMeta: meta("data"),
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}
	idle := &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta("idle"),
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: sel("idle")},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel("idle")}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1},
	}
	idleSvc := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta("idle"),
		Spec: corev1.ServiceSpec{Selector: sel("idle")}}
	appSlice := &discoveryv1.EndpointSlice{TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{Name: "app-x1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "app"}},
		Endpoints:  []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}}
	dbPod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "db-0", Namespace: "ns", Labels: sel("db")},
		Spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled,
			Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."}}}}
	claimEvent := &corev1.Event{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Event"},
		ObjectMeta:     metav1.ObjectMeta{Name: "data.1", Namespace: "ns"},
		InvolvedObject: corev1.ObjectReference{Kind: "PersistentVolumeClaim", Name: "data", Namespace: "ns"},
		Type:           corev1.EventTypeNormal, Reason: "FailedBinding",
		Message:       "no persistent volumes available for this claim and no storage class is set",
		LastTimestamp: metav1.Now()}
	objs = []Object{claim, appSvc, dbSvc, idleSvc, app, db, idle}
	cluster = []runtime.Object{claim, appSvc, dbSvc, idleSvc, app, db, idle, appSlice, dbPod, claimEvent}
	return objs, cluster
}

func TestWaitables(t *testing.T) {
	objs, _ := stuckProject()
	var as []applied
	for _, o := range objs {
		as = append(as, appliedOf(t, o))
	}
	var got []string
	for _, w := range waitables(as) {
		got = append(got, w.a.kind()+"/"+w.a.name()+" "+w.selector)
	}
	// The Service of a workload scaled to 0 has no endpoints to wait for.
	want := []string{
		"PersistentVolumeClaim/data ",
		"Service/app kubernetes.io/service-name=app",
		"Service/db kubernetes.io/service-name=db",
		"Deployment/app berth.sh/project=todo,berth.sh/service=app",
		"StatefulSet/db berth.sh/project=todo,berth.sh/service=db",
		"Deployment/idle berth.sh/project=todo,berth.sh/service=idle",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWaitNamesWhatIsStuck(t *testing.T) {
	objs, cluster := stuckProject()
	dyn := fakeCluster(t, cluster...)
	var as []applied
	for _, o := range objs {
		as = append(as, appliedOf(t, o))
	}
	var out bytes.Buffer
	err := wait(context.Background(), dyn, as, 1200*time.Millisecond, newProgress(&out, true))
	if !errors.Is(err, ErrWaitTimeout) {
		t.Fatalf("wait: got %v, want a timeout", err)
	}
	for _, want := range []string{
		"PersistentVolumeClaim data: Pending: FailedBinding: no persistent volumes available for this claim and no storage class is set; ",
		"StatefulSet db: 0/1 ready; pod db-0: Pending: not scheduled: Unschedulable: 0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// Ready objects are not named; db's Service is explained by db, its claim once.
	for _, bad := range []string{"Deployment app", "Service app", "Service db", "idle"} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("error names %s: %v", bad, err)
		}
	}
	if n := strings.Count(err.Error(), "FailedBinding"); n != 1 {
		t.Errorf("the claim is explained %d times: %v", n, err)
	}
	for _, want := range []string{
		" ✔ Deployment app  Rolled out\n", " ✔ Service app  Ready\n", " StatefulSet db  Waiting\n",
		" ✘ PersistentVolumeClaim data  Pending: FailedBinding",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}
}

func TestWaitDoneAndFailed(t *testing.T) {
	objs, cluster := stuckProject()
	// Make the stuck part ready: the claim binds, db rolls out, its Service gets an endpoint.
	for _, o := range cluster {
		switch o := o.(type) {
		case *corev1.PersistentVolumeClaim:
			o.Status.Phase = corev1.ClaimBound
		case *appsv1.StatefulSet:
			o.Status = appsv1.StatefulSetStatus{ObservedGeneration: 1, ReadyReplicas: 1, UpdatedReplicas: 1, CurrentRevision: "r", UpdateRevision: "r"}
		}
	}
	dbSlice := &discoveryv1.EndpointSlice{TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{Name: "db-x1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
		Endpoints:  []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.6"}}}}
	var as []applied
	for _, o := range objs {
		as = append(as, appliedOf(t, o))
	}
	var out bytes.Buffer
	start := time.Now()
	if err := wait(context.Background(), fakeCluster(t, append(cluster, dbSlice)...), as, time.Minute, newProgress(&out, false)); err != nil {
		t.Fatalf("wait: %v\n%s", err, out.String())
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("wait took %s for objects that were ready", time.Since(start))
	}
	if want := " StatefulSet db  Rolled out\n"; !strings.Contains(out.String(), want) {
		t.Errorf("progress lacks %q:\n%s", want, out.String())
	}

	// A failed Job ends the wait at once, with its reason.
	job := &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: "migrate", Namespace: "ns"},
		Status: batchv1.JobStatus{Failed: 7, Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue,
			Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}}}}
	start = time.Now()
	err := wait(context.Background(), fakeCluster(t, job), []applied{appliedOf(t, job)}, time.Minute, newProgress(&out, false))
	if err == nil || err.Error() != "Job migrate: BackoffLimitExceeded: Job has reached the specified backoff limit" {
		t.Errorf("failed job: got %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("a failed job was waited for %s", time.Since(start))
	}
}

func TestWaitNoPodsNamesControllerEvent(t *testing.T) {
	sel := map[string]string{LabelService: "web"}
	d := &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel}}}}
	ev := &corev1.Event{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Event"},
		ObjectMeta:     metav1.ObjectMeta{Name: "web.1", Namespace: "ns"},
		InvolvedObject: corev1.ObjectReference{Kind: "StatefulSet", Name: "web"}, Type: corev1.EventTypeWarning,
		Reason: "FailedCreate", Message: `create Pod web-0 in StatefulSet web failed error: pods "web-0" is forbidden: exceeded quota`}
	err := wait(context.Background(), fakeCluster(t, d, ev), []applied{appliedOf(t, d)}, 600*time.Millisecond, newProgress(nil, false))
	want := `StatefulSet web: 0/1 ready; FailedCreate: create Pod web-0 in StatefulSet web failed error: pods "web-0" is forbidden: exceeded quota`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant it to contain %q", err, want)
	}
}

// A Service is named when its workloads rolled out and still no endpoint is ready.
func TestWaitServiceWithoutEndpoints(t *testing.T) {
	objs, _ := stuckProject()
	var app, svc Object
	for _, o := range objs {
		switch {
		case o.GetName() == "app" && kindOfObject(o) == "Deployment":
			app = o
		case o.GetName() == "app" && kindOfObject(o) == "Service":
			svc = o
		}
	}
	err := wait(context.Background(), fakeCluster(t, app, svc), []applied{appliedOf(t, svc), appliedOf(t, app)}, 600*time.Millisecond, newProgress(nil, false))
	want := "timed out waiting for the deployment after 600ms: Service app: no endpoints; its workloads rolled out, but no endpoint is ready"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func kindOfObject(o Object) string { return o.GetObjectKind().GroupVersionKind().Kind }
