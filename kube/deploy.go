package kube

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// DefaultWaitTimeout is how long deploy waits for rollouts when no timeout is given.
const DefaultWaitTimeout = 5 * time.Minute

// ErrUnreachable is returned when the cluster's API server cannot be reached at all.
var ErrUnreachable = errors.New("cannot reach the Kubernetes API server")

// Cluster is a cluster to deploy to, as a kubeconfig describes it.
type Cluster struct {
	// Config is the client configuration of the selected context.
	Config *rest.Config
	// Namespace is the context's namespace ("default" when the context names none): namespaced
	// objects that carry no namespace go there.
	Namespace string
	// Context is the kubeconfig context in use ("" when there is none, e.g. in-cluster).
	Context string
}

// LoadCluster reads the kubeconfig as kubectl does: kubeconfig if given, else $KUBECONFIG (a
// list of files), else ~/.kube/config; context overrides the current context.
func LoadCluster(kubeconfig, context string) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		if _, err := os.Stat(kubeconfig); err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
		rules.ExplicitPath = kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, errors.New("no Kubernetes cluster configured: no kubeconfig found (pass --kubeconfig, set KUBECONFIG or write ~/.kube/config)")
		}
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	name := raw.CurrentContext
	if context != "" {
		name = context
	}
	// A deploy is a burst of requests: client-go's default 5 QPS would throttle it.
	cfg.QPS, cfg.Burst = 50, 100
	return &Cluster{Config: cfg, Namespace: ns, Context: name}, nil
}

// apiResource is where one of our kinds lives in the API.
type apiResource struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

// resourceFor maps the kinds convert makes to their API resources. A fixed table, not
// discovery: berth only ever applies these kinds, and each is GA in every supported release.
func resourceFor(gvk schema.GroupVersionKind) (apiResource, bool) {
	v1 := func(group, version, res string, namespaced bool) (apiResource, bool) {
		if gvk.Group != group || gvk.Version != version {
			return apiResource{}, false
		}
		return apiResource{schema.GroupVersionResource{Group: group, Version: version, Resource: res}, namespaced}, true
	}
	switch gvk.Kind {
	case "Namespace":
		return v1("", "v1", "namespaces", false)
	case "ConfigMap":
		return v1("", "v1", "configmaps", true)
	case "Secret":
		return v1("", "v1", "secrets", true)
	case "PersistentVolumeClaim":
		return v1("", "v1", "persistentvolumeclaims", true)
	case "Service":
		return v1("", "v1", "services", true)
	case "ServiceAccount":
		return v1("", "v1", "serviceaccounts", true)
	case "Pod":
		return v1("", "v1", "pods", true)
	case "Deployment":
		return v1("apps", "v1", "deployments", true)
	case "StatefulSet":
		return v1("apps", "v1", "statefulsets", true)
	case "DaemonSet":
		return v1("apps", "v1", "daemonsets", true)
	case "Job":
		return v1("batch", "v1", "jobs", true)
	case "NetworkPolicy":
		return v1("networking.k8s.io", "v1", "networkpolicies", true)
	case "Role":
		return v1("rbac.authorization.k8s.io", "v1", "roles", true)
	case "RoleBinding":
		return v1("rbac.authorization.k8s.io", "v1", "rolebindings", true)
	}
	return apiResource{}, false
}

// teardownKinds are the kinds deploy --down looks for, in the order it deletes them: what runs
// first, so that nothing is restarted from a ConfigMap or claim that is already gone.
func teardownKinds() []schema.GroupVersionKind {
	return []schema.GroupVersionKind{
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Group: "apps", Version: "v1", Kind: "StatefulSet"},
		{Group: "apps", Version: "v1", Kind: "DaemonSet"},
		{Group: "batch", Version: "v1", Kind: "Job"},
		{Version: "v1", Kind: "Pod"},
		{Version: "v1", Kind: "Service"},
		{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
		{Version: "v1", Kind: "ServiceAccount"},
		{Version: "v1", Kind: "ConfigMap"},
		{Version: "v1", Kind: "Secret"},
		{Version: "v1", Kind: "PersistentVolumeClaim"},
		{Version: "v1", Kind: "Namespace"},
	}
}

// ApplyOptions control Apply.
type ApplyOptions struct {
	// Namespace receives namespaced objects that name none (required: the context's namespace).
	Namespace string
	// Out receives progress lines in docker compose's style; nil discards them.
	Out io.Writer
	// Marks puts ✔/✘ before finished lines, as docker compose does on a terminal.
	Marks bool
	// NoWait returns once everything is applied, without waiting for rollouts.
	NoWait bool
	// WaitTimeout bounds the wait for rollouts; 0 means DefaultWaitTimeout.
	WaitTimeout time.Duration
}

// progress prints docker compose's progress lines: " ✔ Deployment web  Rolled out".
type progress struct {
	mu    sync.Mutex
	out   io.Writer
	marks bool
}

func newProgress(out io.Writer, marks bool) *progress {
	if out == nil {
		out = io.Discard
	}
	return &progress{out: out, marks: marks}
}

// line prints one event; mark is "✔", "✘" or "" for one still in progress.
func (p *progress) line(mark, kind, name, what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.marks && mark != "" {
		fmt.Fprintf(p.out, " %s %s %s  %s\n", mark, kind, name, what)
		return
	}
	fmt.Fprintf(p.out, " %s %s  %s\n", kind, name, what)
}

// Apply applies objs to the cluster with server-side apply (field manager "berth", taking over
// fields other managers own, as `kubectl apply --server-side --force-conflicts`), in the order
// given, then waits until what they describe has rolled out.
func Apply(ctx context.Context, cfg *rest.Config, objs []Object, o ApplyOptions) error {
	dyn, err := newDynamic(cfg, o.Out)
	if err != nil {
		return err
	}
	p := newProgress(o.Out, o.Marks)
	applied, err := applyAll(ctx, dyn, objs, o.Namespace, p)
	if err != nil {
		return reachable(cfg, err)
	}
	if o.NoWait {
		return nil
	}
	timeout := o.WaitTimeout
	if timeout == 0 {
		timeout = DefaultWaitTimeout
	}
	return reachable(cfg, wait(ctx, dyn, applied, timeout, p))
}

func newDynamic(cfg *rest.Config, out io.Writer) (dynamic.Interface, error) {
	c := rest.CopyConfig(cfg)
	if c.Timeout == 0 {
		// No request of deploy's is long: one that hangs must not hang deploy.
		c.Timeout = 30 * time.Second
	}
	if out != nil {
		// Deprecation warnings from the server reach the user once each, as kubectl prints them.
		c.WarningHandler = rest.NewWarningWriter(out, rest.WarningWriterOptions{Deduplicate: true})
	}
	return dynamic.NewForConfig(c)
}

// applied is one object as the server stored it after apply.
type applied struct {
	res apiResource
	obj *unstructured.Unstructured
}

func (a applied) kind() string      { return a.obj.GetKind() }
func (a applied) name() string      { return a.obj.GetName() }
func (a applied) namespace() string { return a.obj.GetNamespace() }

func (a applied) client(dyn dynamic.Interface) dynamic.ResourceInterface {
	if a.res.namespaced {
		return dyn.Resource(a.res.gvr).Namespace(a.namespace())
	}
	return dyn.Resource(a.res.gvr)
}

// toUnstructured turns a typed object into the body of an apply request: the same fields the
// YAML of convert shows (Unstructured), so that berth's field manager does not claim what the
// server owns (creationTimestamp: null, an empty status).
func toUnstructured(obj Object, namespace string) (*unstructured.Unstructured, apiResource, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	res, ok := resourceFor(gvk)
	if !ok {
		return nil, apiResource{}, fmt.Errorf("%s %s: berth cannot deploy objects of kind %s in %s", gvk.Kind, obj.GetName(), gvk.Kind, gvk.GroupVersion())
	}
	m, err := Unstructured(obj)
	if err != nil {
		return nil, apiResource{}, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk) // kept even if a converter drops an empty TypeMeta
	if res.namespaced {
		if u.GetNamespace() == "" {
			u.SetNamespace(namespace)
		}
	} else {
		u.SetNamespace("")
	}
	return u, res, nil
}

// applyAll applies each object, printing whether it was created, changed or left as it was.
func applyAll(ctx context.Context, dyn dynamic.Interface, objs []Object, namespace string, p *progress) ([]applied, error) {
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	bodies := make([]applied, 0, len(objs))
	for _, obj := range objs { // every object is checked before the first is sent
		u, res, err := toUnstructured(obj, namespace)
		if err != nil {
			return nil, err
		}
		bodies = append(bodies, applied{res: res, obj: u})
	}
	// A dry run of every object first (the server's own admission and validation, including
	// what cannot change in place), so that a refused object leaves the cluster as it was.
	before := make([]string, len(bodies))
	creating := map[string]bool{} // namespaces this deploy makes
	for i, b := range bodies {
		cur, err := b.client(dyn).Get(ctx, b.name(), metav1.GetOptions{})
		switch {
		case err == nil:
			before[i] = cur.GetResourceVersion()
		case !apierrors.IsNotFound(err):
			return nil, objectError(b, err)
		}
		if b.kind() == "Namespace" && before[i] == "" {
			creating[b.name()] = true
		}
		_, err = b.client(dyn).Apply(ctx, b.name(), b.obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
		if err != nil && !(apierrors.IsNotFound(err) && creating[b.namespace()]) {
			return nil, applyError(b, before[i] != "", err)
		}
	}
	out := make([]applied, 0, len(bodies))
	for i, b := range bodies {
		got, err := b.client(dyn).Apply(ctx, b.name(), b.obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		if err != nil {
			return out, applyError(b, before[i] != "", err)
		}
		what := "Created"
		switch {
		case before[i] == got.GetResourceVersion():
			what = "Unchanged"
		case before[i] != "":
			what = "Configured"
		}
		p.line("✔", b.kind(), b.name(), what)
		out = append(out, applied{res: b.res, obj: got})
	}
	return out, nil
}

// applyError is objectError, with what to do when an existing object cannot take the change
// (a StatefulSet's claim templates, a Job's pod template).
func applyError(a applied, exists bool, err error) error {
	e := objectError(a, err)
	msg := err.Error()
	if exists && apierrors.IsInvalid(err) && (strings.Contains(msg, "immutable") || strings.Contains(msg, "Forbidden: updates to")) {
		return fmt.Errorf("%w (it cannot be changed in place: deploy --down removes it, keeping volume claims, then deploy again)", e)
	}
	return e
}

// objectError names the object a request failed for, keeping the server's own reason.
func objectError(a applied, err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		if msg := status.Status().Message; msg != "" {
			return fmt.Errorf("%s %s: %s", a.kind(), a.name(), msg)
		}
	}
	return fmt.Errorf("%s %s: %w", a.kind(), a.name(), err)
}

// reachable turns a transport failure into one line naming the server berth tried to reach.
func reachable(cfg *rest.Config, err error) error {
	if err == nil {
		return nil
	}
	var uerr *url.Error
	var operr *net.OpError
	var x509err x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &uerr) || errors.As(err, &operr) || errors.As(err, &x509err) || errors.As(err, &hostErr) {
		cause := err
		if uerr != nil {
			cause = uerr.Err
		}
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, cfg.Host, cause)
	}
	return err
}

// TeardownOptions control Teardown.
type TeardownOptions struct {
	// Volumes also removes the project's PersistentVolumeClaims and a Namespace berth created,
	// as `compose down -v` removes volumes; without it their data is kept.
	Volumes bool
	// Out receives progress lines; nil discards them.
	Out   io.Writer
	Marks bool
	// Timeout bounds the wait for deleted objects to be gone; 0 means DefaultWaitTimeout.
	Timeout time.Duration
}

// Selector is the label selector of everything berth deployed for the compose project named
// project.
func Selector(project string) string {
	return LabelProject + "=" + ProjectLabel(project) + "," + LabelManagedBy + "=" + ManagedBy
}

// Teardown deletes every object of project that berth deployed in namespace (foreground
// propagation, so pods go before their owners) and waits until they are gone. Claims and a
// Namespace berth created are kept unless o.Volumes.
func Teardown(ctx context.Context, cfg *rest.Config, project, namespace string, o TeardownOptions) error {
	dyn, err := newDynamic(cfg, o.Out)
	if err != nil {
		return err
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = DefaultWaitTimeout
	}
	return reachable(cfg, teardown(ctx, dyn, project, namespace, o.Volumes, timeout, newProgress(o.Out, o.Marks)))
}

func teardown(ctx context.Context, dyn dynamic.Interface, project, namespace string, volumes bool, timeout time.Duration, p *progress) error {
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	var found []applied
	kept := 0
	for _, gvk := range teardownKinds() {
		res, _ := resourceFor(gvk)
		var c dynamic.ResourceInterface = dyn.Resource(res.gvr)
		if res.namespaced {
			c = dyn.Resource(res.gvr).Namespace(namespace)
		}
		list, err := c.List(ctx, metav1.ListOptions{LabelSelector: Selector(project)})
		if err != nil {
			return fmt.Errorf("list %s: %w", res.gvr.Resource, err)
		}
		for i := range list.Items {
			u := &list.Items[i]
			u.SetGroupVersionKind(gvk)
			if gvk.Kind == "Pod" && len(u.GetOwnerReferences()) > 0 {
				continue // a workload's pod goes with it
			}
			if !volumes && (gvk.Kind == "PersistentVolumeClaim" || gvk.Kind == "Namespace") {
				kept++
				continue
			}
			found = append(found, applied{res: res, obj: u})
		}
	}
	// A Namespace berth created takes everything in it along; delete it last, after its
	// contents have been shown going.
	foreground := metav1.DeletePropagationForeground
	for _, a := range found {
		err := a.client(dyn).Delete(ctx, a.name(), metav1.DeleteOptions{PropagationPolicy: &foreground})
		if err != nil && !apierrors.IsNotFound(err) {
			return objectError(a, err)
		}
		p.line("", a.kind(), a.name(), "Removing")
	}
	deadline := time.Now().Add(timeout)
	var errs []error
	for _, a := range found {
		if err := waitGone(ctx, dyn, a, deadline); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			p.line("✘", a.kind(), a.name(), "Error")
			errs = append(errs, err)
			continue
		}
		p.line("✔", a.kind(), a.name(), "Removed")
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(found) == 0 && kept == 0 {
		p.line("", "Project", project, fmt.Sprintf("Nothing deployed in namespace %s", namespace))
	}
	return nil
}

// waitGone polls until a is deleted (with foreground deletion the owner goes after its pods)
// or deadline passes.
func waitGone(ctx context.Context, dyn dynamic.Interface, a applied, deadline time.Time) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		cur, err := a.client(dyn).Get(ctx, a.name(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return objectError(a, err)
		case cur.GetUID() != a.obj.GetUID():
			return nil // deleted, and already made again by someone else
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			why := "still there"
			if f := cur.GetFinalizers(); len(f) > 0 {
				why += ", waiting for finalizers " + strings.Join(f, ", ")
			}
			return fmt.Errorf("%s %s: not removed in time: %s", a.kind(), a.name(), why)
		case <-tick.C:
		}
	}
}
