package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// ErrWaitTimeout is returned when the deployed objects were not all ready in time.
var ErrWaitTimeout = errors.New("timed out waiting for the deployment")

// The resources deploy reads while it waits; berth never writes them.
var (
	podsGVR           = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	eventsGVR         = schema.GroupVersionResource{Version: "v1", Resource: "events"}
	endpointSlicesGVR = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	claimsGVR         = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
)

// pollInterval is how often wait looks at the objects it waits for.
const pollInterval = 500 * time.Millisecond

// status is where one waited-for object stands.
type status struct {
	done   bool
	failed string // set when it can never become ready without a change (a Job out of retries)
	what   string // done: "Rolled out", "Bound", ...; else how far it got: "1/3 ready"
}

// waiter is one object deploy waits for.
type waiter struct {
	a       applied
	st      status
	printed bool // "Waiting" was printed
	// selector picks its pods (workloads) or its endpoint slices (Services).
	selector string
	// backends are, for a Service, the waited-for workloads whose pods it selects.
	backends []*waiter
}

// waitables are the applied objects that become ready later, in apply order: workloads, claims,
// and the Services that select pods of a workload with replicas.
func waitables(objs []applied) []*waiter {
	var out []*waiter
	type runner struct {
		w      *waiter
		labels map[string]string // pod template labels
	}
	var runners []runner // workloads that run pods
	for _, a := range objs {
		switch a.kind() {
		case "Deployment", "StatefulSet", "DaemonSet", "Job":
			sel, _, _ := unstructured.NestedMap(a.obj.Object, "spec", "selector")
			w := &waiter{a: a, selector: selectorString(sel)}
			out = append(out, w)
			if r, ok, _ := unstructured.NestedInt64(a.obj.Object, "spec", "replicas"); a.kind() == "Job" || ok && r == 0 {
				continue // a Job's pods end; no replicas, no endpoints
			}
			l, _, _ := unstructured.NestedStringMap(a.obj.Object, "spec", "template", "metadata", "labels")
			runners = append(runners, runner{w, l})
		case "Pod":
			w := &waiter{a: a}
			out = append(out, w)
			runners = append(runners, runner{w, a.obj.GetLabels()})
		case "PersistentVolumeClaim":
			out = append(out, &waiter{a: a})
		}
	}
	var services []*waiter
	for _, a := range objs {
		if a.kind() != "Service" {
			continue
		}
		sel, _, _ := unstructured.NestedStringMap(a.obj.Object, "spec", "selector")
		if len(sel) == 0 {
			continue // endpoints of a Service without a selector are not berth's to wait for
		}
		w := &waiter{a: a, selector: discoveryv1.LabelServiceName + "=" + a.name()}
		s := labels.SelectorFromSet(sel)
		for _, r := range runners {
			if s.Matches(labels.Set(r.labels)) {
				w.backends = append(w.backends, r.w)
			}
		}
		if len(w.backends) > 0 {
			services = append(services, w)
		}
	}
	// Services are shown before the workloads, in apply order.
	var ordered []*waiter
	for _, a := range objs {
		for _, w := range slices.Concat(out, services) {
			if w.a.obj == a.obj {
				ordered = append(ordered, w)
			}
		}
	}
	return ordered
}

// selectorString renders a workload's spec.selector as a label selector string.
func selectorString(sel map[string]any) string {
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(sel, &ls); err != nil {
		return ""
	}
	s, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return ""
	}
	return s.String()
}

// wait polls the applied objects until every one is ready, one has failed, or timeout passes;
// then it names what is stuck and why.
func wait(ctx context.Context, dyn dynamic.Interface, objs []applied, timeout time.Duration, p *progress) error {
	ws := waitables(objs)
	// The timeout is a timer, not a deadline on the requests: a request near the deadline would
	// fail with a rate limiter's or transport's error instead of the wait saying what is stuck.
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		pending := 0
		for _, w := range ws {
			if w.st.done || w.st.failed != "" {
				continue
			}
			st, err := check(ctx, dyn, w)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
			w.st = st
			switch {
			case st.done:
				p.line("✔", w.a.kind(), w.a.name(), st.what)
			case st.failed != "":
				p.line("✘", w.a.kind(), w.a.name(), "Failed: "+st.failed)
			default:
				pending++
				if !w.printed {
					p.line("", w.a.kind(), w.a.name(), "Waiting")
					w.printed = true
				}
			}
		}
		// As `compose up --wait`, the first failure ends the wait: it will not heal by itself.
		var failed []string
		for _, w := range ws {
			if w.st.failed != "" {
				failed = append(failed, fmt.Sprintf("%s %s: %s", w.a.kind(), w.a.name(), w.st.failed))
			}
		}
		if len(failed) > 0 {
			return errors.New(strings.Join(failed, "; "))
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return stuck(ctx, dyn, ws, timeout, p)
		case <-tick.C:
		}
	}
}

// stuck explains every object that is not ready once the wait has timed out.
func stuck(ctx context.Context, dyn dynamic.Interface, ws []*waiter, timeout time.Duration, p *progress) error {
	// The explanation gets its own short deadline: the wait's has passed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	// Claims deploy waits for itself are explained once, on their own line.
	skipClaims := map[string]bool{}
	for _, w := range ws {
		if w.a.kind() == "PersistentVolumeClaim" && !w.st.done {
			skipClaims[w.a.name()] = true
		}
	}
	var reasons []string
	for _, w := range ws {
		if w.st.done || w.st.failed != "" {
			continue
		}
		// A Service whose workload is stuck is explained by that workload.
		if slices.ContainsFunc(w.backends, func(b *waiter) bool { return !b.st.done }) {
			continue
		}
		why, err := explain(ctx, dyn, w, skipClaims)
		if err != nil {
			why = w.st.what + " (" + err.Error() + ")"
		}
		p.line("✘", w.a.kind(), w.a.name(), why)
		reasons = append(reasons, fmt.Sprintf("%s %s: %s", w.a.kind(), w.a.name(), why))
	}
	return fmt.Errorf("%w after %s: %s", ErrWaitTimeout, timeout, strings.Join(reasons, "; "))
}

// get fetches the current state of w's object into a typed struct.
func get(ctx context.Context, dyn dynamic.Interface, a applied, into any) error {
	u, err := a.client(dyn).Get(ctx, a.name(), metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%s %s was deleted while deploy waited for it", a.kind(), a.name())
		}
		return objectError(a, err)
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into)
}

// check reads where w's object stands now.
func check(ctx context.Context, dyn dynamic.Interface, w *waiter) (status, error) {
	switch w.a.kind() {
	case "Deployment":
		var d appsv1.Deployment
		if err := get(ctx, dyn, w.a, &d); err != nil {
			return status{}, err
		}
		return deploymentStatus(&d), nil
	case "StatefulSet":
		var s appsv1.StatefulSet
		if err := get(ctx, dyn, w.a, &s); err != nil {
			return status{}, err
		}
		return statefulSetStatus(&s), nil
	case "DaemonSet":
		var d appsv1.DaemonSet
		if err := get(ctx, dyn, w.a, &d); err != nil {
			return status{}, err
		}
		return daemonSetStatus(&d), nil
	case "Job":
		var j batchv1.Job
		if err := get(ctx, dyn, w.a, &j); err != nil {
			return status{}, err
		}
		return jobStatus(&j), nil
	case "Pod":
		var pod corev1.Pod
		if err := get(ctx, dyn, w.a, &pod); err != nil {
			return status{}, err
		}
		return podStatus(&pod), nil
	case "PersistentVolumeClaim":
		var c corev1.PersistentVolumeClaim
		if err := get(ctx, dyn, w.a, &c); err != nil {
			return status{}, err
		}
		return claimStatus(&c), nil
	case "Service":
		eps, err := endpointSlices(ctx, dyn, w)
		if err != nil {
			return status{}, err
		}
		return serviceStatus(eps), nil
	}
	return status{done: true}, nil
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// deploymentStatus follows `kubectl rollout status`: the controller has seen the latest spec,
// every replica runs it, no old replica is left, and all are available.
func deploymentStatus(d *appsv1.Deployment) status {
	want := replicas(d.Spec.Replicas)
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return status{failed: "progress deadline exceeded: " + c.Message}
		}
	}
	progress := fmt.Sprintf("%d/%d ready", d.Status.AvailableReplicas, want)
	switch {
	case d.Status.ObservedGeneration < d.Generation:
		return status{what: "waiting for the controller"}
	case d.Status.UpdatedReplicas < want:
		return status{what: fmt.Sprintf("%d/%d updated", d.Status.UpdatedReplicas, want)}
	case d.Status.Replicas > d.Status.UpdatedReplicas:
		return status{what: fmt.Sprintf("%d old replicas terminating", d.Status.Replicas-d.Status.UpdatedReplicas)}
	case d.Status.AvailableReplicas < d.Status.UpdatedReplicas:
		return status{what: progress}
	}
	return status{done: true, what: "Rolled out"}
}

// statefulSetStatus: all replicas ready on the update revision.
func statefulSetStatus(s *appsv1.StatefulSet) status {
	want := replicas(s.Spec.Replicas)
	switch {
	case s.Status.ObservedGeneration < s.Generation:
		return status{what: "waiting for the controller"}
	case s.Status.ReadyReplicas < want:
		return status{what: fmt.Sprintf("%d/%d ready", s.Status.ReadyReplicas, want)}
	case s.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && s.Status.UpdatedReplicas < want:
		return status{what: fmt.Sprintf("%d/%d updated", s.Status.UpdatedReplicas, want)}
	case s.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType && s.Status.UpdateRevision != s.Status.CurrentRevision:
		return status{what: "rolling update in progress"}
	}
	return status{done: true, what: "Rolled out"}
}

// daemonSetStatus: every node that should run a pod runs an available one of the latest spec.
func daemonSetStatus(d *appsv1.DaemonSet) status {
	s := d.Status
	switch {
	case s.ObservedGeneration < d.Generation:
		return status{what: "waiting for the controller"}
	case s.UpdatedNumberScheduled < s.DesiredNumberScheduled:
		return status{what: fmt.Sprintf("%d/%d updated", s.UpdatedNumberScheduled, s.DesiredNumberScheduled)}
	case s.NumberAvailable < s.DesiredNumberScheduled:
		return status{what: fmt.Sprintf("%d/%d ready", s.NumberAvailable, s.DesiredNumberScheduled)}
	}
	return status{done: true, what: "Rolled out"}
}

func jobStatus(j *batchv1.Job) status {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return status{done: true, what: "Completed"}
		case batchv1.JobFailed:
			return status{failed: strings.TrimSpace(c.Reason + ": " + c.Message)}
		}
	}
	return status{what: fmt.Sprintf("%d active, %d succeeded, %d failed", j.Status.Active, j.Status.Succeeded, j.Status.Failed)}
}

func podStatus(pod *corev1.Pod) status {
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		return status{done: true, what: "Completed"}
	case corev1.PodFailed:
		return status{failed: podProblem(pod)}
	}
	if podReady(pod) {
		return status{done: true, what: "Ready"}
	}
	return status{what: string(pod.Status.Phase)}
}

func claimStatus(c *corev1.PersistentVolumeClaim) status {
	switch c.Status.Phase {
	case corev1.ClaimBound:
		return status{done: true, what: "Bound"}
	case corev1.ClaimLost:
		return status{failed: "Lost: its PersistentVolume " + c.Spec.VolumeName + " is gone"}
	}
	return status{what: string(c.Status.Phase)}
}

// serviceStatus: a Service is ready once one of its endpoints is (an unknown condition counts
// as ready, as the EndpointSlice API says).
func serviceStatus(eps []discoveryv1.EndpointSlice) status {
	total, ready := 0, 0
	for _, s := range eps {
		for _, e := range s.Endpoints {
			total++
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				ready++
			}
		}
	}
	if ready > 0 {
		return status{done: true, what: "Ready"}
	}
	if total == 0 {
		return status{what: "no endpoints"}
	}
	return status{what: fmt.Sprintf("%d endpoints, none ready", total)}
}

func endpointSlices(ctx context.Context, dyn dynamic.Interface, w *waiter) ([]discoveryv1.EndpointSlice, error) {
	list, err := dyn.Resource(endpointSlicesGVR).Namespace(w.a.namespace()).List(ctx, metav1.ListOptions{LabelSelector: w.selector})
	if err != nil {
		return nil, fmt.Errorf("endpoint slices of Service %s: %w", w.a.name(), err)
	}
	out := make([]discoveryv1.EndpointSlice, 0, len(list.Items))
	for _, u := range list.Items {
		var s discoveryv1.EndpointSlice
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// explain says why w's object is not ready: its own state, then what holds up its pods or, for a
// claim, why it does not bind.
func explain(ctx context.Context, dyn dynamic.Interface, w *waiter, skipClaims map[string]bool) (string, error) {
	parts := []string{w.st.what}
	switch w.a.kind() {
	case "Deployment", "StatefulSet", "DaemonSet", "Job":
		pods, err := listPods(ctx, dyn, w.a.namespace(), w.selector)
		if err != nil {
			return "", err
		}
		probs, err := podProblems(ctx, dyn, pods, skipClaims)
		if err != nil {
			return "", err
		}
		parts = append(parts, probs...)
		if len(pods) == 0 {
			// No pod was made: the controller says why on the object (or, for a
			// Deployment, in a ReplicaFailure condition from its ReplicaSet).
			var d appsv1.Deployment
			if w.a.kind() == "Deployment" && get(ctx, dyn, w.a, &d) == nil {
				for _, c := range d.Status.Conditions {
					if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
						parts = append(parts, c.Reason+": "+c.Message)
					}
				}
			}
			if ev, err := lastEvent(ctx, dyn, w.a.namespace(), w.a.kind(), w.a.name(), true); err == nil && ev != "" {
				parts = append(parts, ev)
			}
			if len(parts) == 1 {
				parts = append(parts, "no pods created")
			}
		}
	case "Pod":
		var pod corev1.Pod
		if err := get(ctx, dyn, w.a, &pod); err != nil {
			return "", err
		}
		probs, err := podProblems(ctx, dyn, []corev1.Pod{pod}, skipClaims)
		if err != nil {
			return "", err
		}
		parts = append(parts[:0], probs...)
	case "PersistentVolumeClaim":
		ev, err := lastEvent(ctx, dyn, w.a.namespace(), "PersistentVolumeClaim", w.a.name(), false)
		if err != nil {
			return "", err
		}
		parts = []string{join(w.st.what, ev)}
	case "Service":
		parts = append(parts, "its workloads rolled out, but no endpoint is ready")
	}
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), "; "), nil
}

func listPods(ctx context.Context, dyn dynamic.Interface, namespace, selector string) ([]corev1.Pod, error) {
	list, err := dyn.Resource(podsGVR).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	pods := make([]corev1.Pod, 0, len(list.Items))
	for _, u := range list.Items {
		var pod corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &pod); err != nil {
			return nil, err
		}
		pods = append(pods, pod)
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods, nil
}

// podProblems describes each pod that is not ready; where the pod's own status says nothing
// (Pending with no condition yet), its latest event does. A claim a pod waits for that is not
// bound is explained too: the scheduler only says that it is not.
func podProblems(ctx context.Context, dyn dynamic.Interface, pods []corev1.Pod, skipClaims map[string]bool) ([]string, error) {
	var out []string
	claims := maps.Clone(skipClaims)
	if claims == nil {
		claims = map[string]bool{}
	}
	for i := range pods {
		pod := &pods[i]
		if podReady(pod) || pod.Status.Phase == corev1.PodSucceeded {
			continue
		}
		for _, v := range pod.Spec.Volumes {
			if v.PersistentVolumeClaim == nil || claims[v.PersistentVolumeClaim.ClaimName] {
				continue
			}
			claims[v.PersistentVolumeClaim.ClaimName] = true
			why, err := claimProblem(ctx, dyn, pod.Namespace, v.PersistentVolumeClaim.ClaimName)
			if err != nil {
				return nil, err
			}
			if why != "" {
				out = append(out, why)
			}
		}
		why := podProblem(pod)
		if why == "" || why == string(pod.Status.Phase) {
			ev, err := lastEvent(ctx, dyn, pod.Namespace, "Pod", pod.Name, true)
			if err != nil {
				return nil, err
			}
			why = strings.TrimPrefix(strings.Join([]string{string(pod.Status.Phase), ev}, ": "), ": ")
			why = strings.TrimSuffix(why, ": ")
		}
		out = append(out, "pod "+pod.Name+": "+why)
	}
	return out, nil
}

// claimProblem says why a claim is not bound ("" when it is).
func claimProblem(ctx context.Context, dyn dynamic.Interface, namespace, name string) (string, error) {
	u, err := dyn.Resource(claimsGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "PersistentVolumeClaim " + name + ": does not exist", nil
	}
	if err != nil {
		return "", fmt.Errorf("PersistentVolumeClaim %s: %w", name, err)
	}
	var c corev1.PersistentVolumeClaim
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &c); err != nil {
		return "", err
	}
	if c.Status.Phase == corev1.ClaimBound {
		return "", nil
	}
	ev, err := lastEvent(ctx, dyn, namespace, "PersistentVolumeClaim", name, false)
	if err != nil {
		return "", err
	}
	return "PersistentVolumeClaim " + name + ": " + join(string(c.Status.Phase), ev), nil
}

// podProblem says why one pod is not ready, from its status alone: not scheduled (with the
// scheduler's reason), an init container not done, a container waiting (image pull, crash loop)
// or not passing its readiness probe.
func podProblem(pod *corev1.Pod) string {
	if pod.DeletionTimestamp != nil {
		return "terminating"
	}
	phase := string(pod.Status.Phase)
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return join(phase, "not scheduled", c.Reason, c.Message)
		}
	}
	if pod.Status.Phase == corev1.PodFailed {
		return join(phase, pod.Status.Reason, pod.Status.Message)
	}
	for _, cs := range pod.Status.InitContainerStatuses {
		if cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0 {
			continue
		}
		if why := containerProblem("init container", cs); why != "" {
			return join(phase, why)
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Ready {
			continue
		}
		if why := containerProblem("container", cs); why != "" {
			return join(phase, why)
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse && c.Message != "" {
			return join(phase, c.Reason, c.Message)
		}
	}
	if pod.Status.Phase == corev1.PodPending {
		if pod.Spec.NodeName == "" {
			return join(phase, "not scheduled yet")
		}
		return join(phase, "on node "+pod.Spec.NodeName+", which has not started it yet")
	}
	return phase
}

func containerProblem(what string, cs corev1.ContainerStatus) string {
	name := what + " " + cs.Name
	switch st := cs.State; {
	case st.Waiting != nil:
		if st.Waiting.Reason == "PodInitializing" || st.Waiting.Reason == "ContainerCreating" {
			return join(name, "waiting: "+st.Waiting.Reason)
		}
		return join(name, "waiting: "+st.Waiting.Reason, st.Waiting.Message)
	case st.Terminated != nil:
		return join(name, fmt.Sprintf("exited with code %d", st.Terminated.ExitCode), st.Terminated.Reason, st.Terminated.Message)
	case st.Running != nil:
		if what == "init container" {
			return name + " still running"
		}
		return name + " running, not ready (readiness probe failing)"
	}
	return ""
}

// join puts the non-empty parts together with ": ".
func join(parts ...string) string {
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return strings.TrimSpace(s) == "" }), ": ")
}

// lastEvent is the newest event about an object, as "Reason: message" (only warnings if
// warningsOnly); "" when there is none.
func lastEvent(ctx context.Context, dyn dynamic.Interface, namespace, kind, name string, warningsOnly bool) (string, error) {
	list, err := dyn.Resource(eventsGVR).Namespace(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name,
	})
	if err != nil {
		return "", fmt.Errorf("list events: %w", err)
	}
	evs := make([]corev1.Event, 0, len(list.Items))
	for _, u := range list.Items {
		var ev corev1.Event
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ev); err != nil {
			return "", err
		}
		evs = append(evs, ev)
	}
	return newestEvent(evs, kind, name, warningsOnly), nil
}

// newestEvent picks the latest matching event (the field selector is repeated here, as not
// every server or fake applies it).
func newestEvent(evs []corev1.Event, kind, name string, warningsOnly bool) string {
	var best *corev1.Event
	var bestAt time.Time
	for i := range evs {
		ev := &evs[i]
		if ev.InvolvedObject.Kind != kind || ev.InvolvedObject.Name != name || warningsOnly && ev.Type != corev1.EventTypeWarning {
			continue
		}
		at := eventTime(ev)
		if best == nil || at.After(bestAt) {
			best, bestAt = ev, at
		}
	}
	if best == nil {
		return ""
	}
	return join(best.Reason, strings.TrimSpace(best.Message))
}

func eventTime(ev *corev1.Event) time.Time {
	switch {
	case !ev.EventTime.IsZero():
		if ev.Series != nil && !ev.Series.LastObservedTime.IsZero() {
			return ev.Series.LastObservedTime.Time
		}
		return ev.EventTime.Time
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.Time
	}
	return ev.CreationTimestamp.Time
}
