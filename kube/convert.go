package kube

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ErrNotCarried is what --strict fails with when a field cannot be carried over.
var ErrNotCarried = errors.New("not carried over to Kubernetes")

// ProjectLabel is the value of LabelProject for a compose project.
func ProjectLabel(project string) string { return dnsLabel(project) }

// converter holds one conversion's state: the names handed out and what was not carried over.
type converter struct {
	p     *types.Project
	o     Options
	names registry

	// Objects by apply phase.
	namespace, data, claims, services, workloads, policies []Object

	// serviceName is each compose service's Kubernetes name; ports its Service ports (nil for a
	// headless Service).
	serviceName map[string]string
	ports       map[string][]corev1.ServicePort
	// owner is the one service using a named volume (a StatefulSet's claim template); volumes
	// used by several services are shared PersistentVolumeClaims.
	owner   map[string]string
	shared  map[string]bool
	jobs    map[string]bool
	dropped map[string][]string
	notes   map[string][]string
	extern  map[string]bool
}

// Convert maps a loaded project to Kubernetes objects, then checks them (Check): an object the
// check refuses is an error, never output.
func Convert(p *types.Project, o Options) (*Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &converter{
		p: p, o: o,
		serviceName: map[string]string{}, ports: map[string][]corev1.ServicePort{},
		owner: map[string]string{}, shared: map[string]bool{}, jobs: map[string]bool{},
		dropped: map[string][]string{}, notes: map[string][]string{}, extern: map[string]bool{},
	}
	names := slices.Sorted(maps.Keys(p.Services))
	for _, n := range names {
		k := dnsLabel(n)
		if err := c.names.claim("Service", k, fmt.Sprintf("service %q", n)); err != nil {
			return nil, err
		}
		c.serviceName[n] = k
		if k != n {
			c.note(n, fmt.Sprintf("named %q in Kubernetes (%q is not a valid DNS name): other services must reach it by the new name", k, n))
		}
	}
	c.volumeOwners(names)
	if o.Namespace != "" {
		if msgs := dns1123Label(o.Namespace); msgs != "" {
			return nil, fmt.Errorf("--namespace %q: %s", o.Namespace, msgs)
		}
		ns := &corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: o.Namespace, Labels: c.labels()}}
		c.namespace = append(c.namespace, ns)
	}
	// Ports first: a dependent's init container waits on its dependency's Service ports.
	for _, n := range names {
		c.ports[n] = c.servicePorts(p.Services[n])
	}
	for _, n := range names {
		if err := c.service(p.Services[n]); err != nil {
			return nil, fmt.Errorf("service %q: %w", n, err)
		}
	}
	c.networkPolicies(names)

	res := &Result{External: slices.Sorted(maps.Keys(c.extern))}
	for _, group := range [][]Object{c.namespace, c.data, c.claims, c.services, c.policies, c.workloads} {
		sortObjects(group)
		res.Objects = append(res.Objects, group...)
	}
	for _, n := range append([]string{""}, names...) {
		f, nt := c.dropped[n], c.notes[n]
		if len(f) == 0 && len(nt) == 0 {
			continue
		}
		sort.Strings(f)
		res.Warnings = append(res.Warnings, Warning{Service: n, Fields: slices.Compact(f), Notes: nt})
	}
	if probs := Check(res.Objects, res.External); len(probs) > 0 {
		return nil, fmt.Errorf("convert made objects Kubernetes would refuse (a berth bug): %s", strings.Join(probs, "; "))
	}
	if o.Strict {
		var lines []string
		for _, w := range res.Warnings {
			if len(w.Fields) > 0 {
				lines = append(lines, w.Service+": "+strings.Join(w.Fields, "; "))
			}
		}
		if len(lines) > 0 {
			return nil, fmt.Errorf("--strict: %w: %s", ErrNotCarried, strings.Join(lines, " | "))
		}
	}
	return res, nil
}

func (c *converter) drop(svc string, field string) { c.dropped[svc] = append(c.dropped[svc], field) }
func (c *converter) note(svc string, n string)     { c.notes[svc] = append(c.notes[svc], n) }

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// labels are every object's labels; the selector labels add the service.
func (c *converter) labels() map[string]string {
	return map[string]string{LabelManagedBy: ManagedBy, LabelProject: ProjectLabel(c.p.Name)}
}

func (c *converter) selector(svc string) map[string]string {
	return map[string]string{LabelProject: ProjectLabel(c.p.Name), LabelService: c.serviceName[svc]}
}

func (c *converter) meta(name string, svc string) metav1.ObjectMeta {
	l := c.labels()
	if svc != "" {
		l[LabelService] = c.serviceName[svc]
	}
	return metav1.ObjectMeta{Name: name, Namespace: c.o.Namespace, Labels: l}
}

// volumeOwners finds which named volumes one service owns (a StatefulSet's claim template) and
// which several share (one ReadWriteMany claim).
func (c *converter) volumeOwners(names []string) {
	users := map[string][]string{}
	for _, n := range names {
		for _, v := range c.p.Services[n].Volumes {
			if v.Type == types.VolumeTypeVolume && v.Source != "" {
				if vc, ok := c.p.Volumes[v.Source]; ok && !bool(vc.External) {
					if !slices.Contains(users[v.Source], n) {
						users[v.Source] = append(users[v.Source], n)
					}
				}
			}
		}
	}
	for v, us := range users {
		if len(us) == 1 {
			c.owner[v] = us[0]
		} else {
			c.shared[v] = true
		}
	}
	// A service another waits for with service_completed_successfully is a one-shot Job.
	for _, n := range names {
		for dep, d := range c.p.Services[n].DependsOn {
			if d.Condition == types.ServiceConditionCompletedSuccessfully {
				c.jobs[dep] = true
			}
		}
	}
}

// service converts one compose service: its workload, Services, and the data objects only it uses.
func (c *converter) service(s types.ServiceConfig) error {
	name := c.serviceName[s.Name]
	c.unmapped(s)
	pod, err := c.podSpec(s)
	if err != nil {
		return err
	}
	if err := c.serviceObjects(s); err != nil {
		return err
	}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: c.selector(s.Name), Annotations: podAnnotations(s)},
		Spec:       *pod,
	}
	tmpl.Labels[LabelManagedBy] = ManagedBy
	maps.Copy(tmpl.Labels, c.networkLabels(s))
	if s.Runtime != "" {
		tmpl.Spec.RuntimeClassName = ptrTo(dnsLabel(s.Runtime))
		c.note(s.Name, fmt.Sprintf("runtime %s is RuntimeClass %q, which the cluster must have", s.Runtime, dnsLabel(s.Runtime)))
	}
	replicas := int32(1)
	if s.Deploy != nil && s.Deploy.Replicas != nil {
		replicas = int32(*s.Deploy.Replicas)
	} else if s.Scale != nil {
		replicas = int32(*s.Scale)
	}
	if c.o.Replicas > 0 {
		replicas = int32(c.o.Replicas)
	}
	sel := &metav1.LabelSelector{MatchLabels: c.selector(s.Name)}
	meta := c.meta(name, s.Name)
	if s.Deploy != nil && len(s.Deploy.Labels) > 0 {
		meta.Annotations = maps.Clone(map[string]string(s.Deploy.Labels))
	}
	c.placement(s, &tmpl.Spec)
	var claims []corev1.PersistentVolumeClaim
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && c.owner[v.Source] == s.Name {
			claims = append(claims, c.claimTemplate(v.Source))
		}
	}
	mode := ""
	if s.Deploy != nil {
		mode = s.Deploy.Mode
	}
	switch {
	case c.jobs[s.Name]:
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		if s.Restart == types.RestartPolicyOnFailure || strings.HasPrefix(s.Restart, "on-failure") {
			tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		}
		if len(claims) > 0 {
			return fmt.Errorf("runs once (others wait for it to complete) and owns volumes %s: a Job has no volume claim templates", claimNames(claims))
		}
		backoff := int32(0)
		if tmpl.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
			backoff = 6
		}
		c.workloads = append(c.workloads, &batchv1.Job{TypeMeta: typeMeta("batch/v1", "Job"), ObjectMeta: meta,
			Spec: batchv1.JobSpec{Template: tmpl, BackoffLimit: &backoff}})
		c.note(s.Name, "runs once as a Job (other services wait for it to complete)")
	case mode == "global":
		if len(claims) > 0 {
			return fmt.Errorf("deploy.mode global and owns volumes %s: a DaemonSet has no volume claim templates", claimNames(claims))
		}
		c.workloads = append(c.workloads, &appsv1.DaemonSet{TypeMeta: typeMeta("apps/v1", "DaemonSet"), ObjectMeta: meta,
			Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}})
	case len(claims) > 0:
		if replicas > 1 {
			c.note(s.Name, fmt.Sprintf("each of its %d replicas gets its own volumes %s (compose's replicas share one)", replicas, claimNames(claims)))
		}
		c.workloads = append(c.workloads, &appsv1.StatefulSet{TypeMeta: typeMeta("apps/v1", "StatefulSet"), ObjectMeta: meta,
			Spec: appsv1.StatefulSetSpec{Replicas: &replicas, Selector: sel, Template: tmpl, ServiceName: name,
				VolumeClaimTemplates: claims}})
	default:
		c.workloads = append(c.workloads, &appsv1.Deployment{TypeMeta: typeMeta("apps/v1", "Deployment"), ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: sel, Template: tmpl, Strategy: c.strategy(s)}})
	}
	switch {
	case c.jobs[s.Name]:
	case s.Restart == "" || s.Restart == types.RestartPolicyAlways || s.Restart == types.RestartPolicyUnlessStopped:
	default:
		c.drop(s.Name, fmt.Sprintf("restart %s (a %s's pods always restart)", s.Restart, kindOf(c.workloads[len(c.workloads)-1])))
	}
	return nil
}

// placement carries deploy.placement's node label constraints as a node selector or affinity.
func (c *converter) placement(s types.ServiceConfig, pod *corev1.PodSpec) {
	if s.Deploy == nil {
		return
	}
	var terms []corev1.NodeSelectorRequirement
	for _, con := range s.Deploy.Placement.Constraints {
		op, k, v := "==", "", ""
		if a, b, ok := strings.Cut(con, "!="); ok {
			op, k, v = "!=", a, b
		} else if a, b, ok := strings.Cut(con, "=="); ok {
			k, v = a, b
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		label, ok := strings.CutPrefix(k, "node.labels.")
		if !ok || label == "" {
			c.drop(s.Name, "deploy.placement.constraints "+con)
			continue
		}
		if op == "==" {
			if pod.NodeSelector == nil {
				pod.NodeSelector = map[string]string{}
			}
			pod.NodeSelector[label] = v
		} else {
			terms = append(terms, corev1.NodeSelectorRequirement{Key: label, Operator: corev1.NodeSelectorOpNotIn, Values: []string{v}})
		}
	}
	if len(terms) > 0 {
		pod.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: terms}}}}}
	}
}

func kindOf(o Object) string { return o.GetObjectKind().GroupVersionKind().Kind }

func claimNames(claims []corev1.PersistentVolumeClaim) string {
	var n []string
	for _, c := range claims {
		n = append(n, c.Name)
	}
	return strings.Join(n, ", ")
}

// strategy carries deploy.update_config's order: start-first is a rolling update, stop-first
// (and one replica with a volume) is Recreate.
func (c *converter) strategy(s types.ServiceConfig) appsv1.DeploymentStrategy {
	if s.Deploy != nil && s.Deploy.UpdateConfig != nil {
		u := s.Deploy.UpdateConfig
		if u.Order == "stop-first" {
			return appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}
		if u.Parallelism != nil && *u.Parallelism > 0 {
			p := intstr.FromInt32(int32(*u.Parallelism))
			return appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &p, MaxUnavailable: ptrTo(intstr.FromInt32(0))}}
		}
	}
	return appsv1.DeploymentStrategy{}
}

func ptrTo[T any](v T) *T { return &v }

func podAnnotations(s types.ServiceConfig) map[string]string {
	if len(s.Labels) == 0 && len(s.Annotations) == 0 {
		return nil
	}
	a := map[string]string{}
	maps.Copy(a, s.Labels)
	maps.Copy(a, s.Annotations)
	return a
}

// claimTemplate is a StatefulSet's claim for a volume its service owns.
func (c *converter) claimTemplate(volume string) corev1.PersistentVolumeClaim {
	pvc := c.claim(volume, corev1.ReadWriteOnce)
	pvc.TypeMeta = metav1.TypeMeta{}
	pvc.Namespace = ""
	return *pvc
}

func (c *converter) claim(volume string, mode corev1.PersistentVolumeAccessMode) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
		ObjectMeta: c.meta(dnsLabel(volume), ""),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{mode},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(c.o.VolumeSize)}},
		},
	}
}

func sortObjects(objs []Object) {
	rank := map[string]int{"Namespace": 0, "ConfigMap": 1, "Secret": 2, "PersistentVolumeClaim": 3, "Service": 4,
		"NetworkPolicy": 5, "Deployment": 6, "StatefulSet": 7, "DaemonSet": 8, "Job": 9}
	sort.SliceStable(objs, func(i, j int) bool {
		ki, kj := rank[kindOf(objs[i])], rank[kindOf(objs[j])]
		if ki != kj {
			return ki < kj
		}
		return objs[i].GetName() < objs[j].GetName()
	})
}
