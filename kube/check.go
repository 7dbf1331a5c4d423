package kube

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Check is convert's pre-flight: what the API server would refuse in each object (names, keys,
// ports, probes, resources), and what only a kubelet would notice across objects: every
// ConfigMap, Secret, claim and Service an object refers to is in objs (or in external, as
// "Kind/name"), every Service selects a pod template, every workload's selector matches its own
// template. It returns one line per problem, naming the object.
func Check(objs []Object, external []string) []string {
	var probs []string
	bad := func(o Object, format string, a ...any) {
		probs = append(probs, fmt.Sprintf("%s %q: %s", kindOf(o), o.GetName(), fmt.Sprintf(format, a...)))
	}
	have := map[string]Object{}
	for _, e := range external {
		have[e] = nil
	}
	type tmpl struct {
		owner Object
		spec  *corev1.PodTemplateSpec
	}
	var templates []tmpl
	for _, o := range objs {
		key := kindOf(o) + "/" + o.GetName()
		if _, dup := have[key]; dup {
			bad(o, "made twice")
		}
		have[key] = o
		if o.GetObjectKind().GroupVersionKind().Version == "" {
			bad(o, "has no apiVersion")
		}
		checkMeta(o, bad)
		switch t := o.(type) {
		case *appsv1.Deployment:
			templates = append(templates, tmpl{o, &t.Spec.Template})
			checkSelector(o, t.Spec.Selector, t.Spec.Template.Labels, bad)
		case *appsv1.StatefulSet:
			templates = append(templates, tmpl{o, &t.Spec.Template})
			checkSelector(o, t.Spec.Selector, t.Spec.Template.Labels, bad)
		case *appsv1.DaemonSet:
			templates = append(templates, tmpl{o, &t.Spec.Template})
			checkSelector(o, t.Spec.Selector, t.Spec.Template.Labels, bad)
		case *batchv1.Job:
			templates = append(templates, tmpl{o, &t.Spec.Template})
		case *corev1.ConfigMap:
			for k := range t.Data {
				checkKey(o, k, bad)
			}
			for k := range t.BinaryData {
				checkKey(o, k, bad)
			}
		case *corev1.Secret:
			for k := range t.Data {
				checkKey(o, k, bad)
			}
		case *corev1.Service:
			checkService(o, t, bad)
		}
	}
	exists := func(kind, name string) bool { _, ok := have[kind+"/"+name]; return ok }
	for _, t := range templates {
		checkPod(t.owner, t.spec, exists, have, bad)
	}
	for _, o := range objs {
		switch t := o.(type) {
		case *corev1.Service:
			if len(t.Spec.Selector) > 0 && !slices.ContainsFunc(templates, func(p tmpl) bool {
				return p.owner.GetNamespace() == t.Namespace && labels.SelectorFromSet(t.Spec.Selector).Matches(labels.Set(p.spec.Labels))
			}) {
				bad(o, "selects no pod template")
			}
		case *appsv1.StatefulSet:
			if !exists("Service", t.Spec.ServiceName) {
				bad(o, "its serviceName %q is not a Service of the output", t.Spec.ServiceName)
			}
		}
	}
	return probs
}

func checkMeta(o Object, bad func(Object, string, ...any)) {
	var msgs []string
	switch kindOf(o) {
	case "Service", "Namespace":
		msgs = validation.IsDNS1035Label(o.GetName())
	default:
		msgs = validation.IsDNS1123Subdomain(o.GetName())
	}
	if ns := o.GetNamespace(); ns != "" {
		msgs = append(msgs, validation.IsDNS1123Label(ns)...)
	}
	for _, m := range msgs {
		bad(o, "name: %s", m)
	}
	checkLabels(o, o.GetLabels(), bad)
}

func checkLabels(o Object, l map[string]string, bad func(Object, string, ...any)) {
	for k, v := range l {
		for _, m := range validation.IsQualifiedName(k) {
			bad(o, "label %q: %s", k, m)
		}
		for _, m := range validation.IsValidLabelValue(v) {
			bad(o, "label %s=%q: %s", k, v, m)
		}
	}
}

func checkKey(o Object, k string, bad func(Object, string, ...any)) {
	for _, m := range validation.IsConfigMapKey(k) {
		bad(o, "key %q: %s", k, m)
	}
}

func checkSelector(o Object, sel *metav1.LabelSelector, tl map[string]string, bad func(Object, string, ...any)) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() || !s.Matches(labels.Set(tl)) {
		bad(o, "its selector does not match its pod template's labels")
	}
}

func checkService(o Object, s *corev1.Service, bad func(Object, string, ...any)) {
	if len(s.Spec.Ports) == 0 && s.Spec.ClusterIP != corev1.ClusterIPNone {
		bad(o, "has no port and is not headless")
	}
	names, ports := map[string]bool{}, map[string]bool{}
	for _, p := range s.Spec.Ports {
		if len(s.Spec.Ports) > 1 && p.Name == "" {
			bad(o, "port %d has no name (a Service with several ports names each)", p.Port)
		}
		if p.Name != "" {
			for _, m := range validation.IsDNS1123Label(p.Name) {
				bad(o, "port name %q: %s", p.Name, m)
			}
		}
		if names[p.Name] {
			bad(o, "port name %q twice", p.Name)
		}
		names[p.Name] = true
		key := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if ports[key] {
			bad(o, "port %s twice", key)
		}
		ports[key] = true
		for _, m := range validation.IsValidPortNum(int(p.Port)) {
			bad(o, "port %d: %s", p.Port, m)
		}
		if p.NodePort != 0 && s.Spec.Type != corev1.ServiceTypeNodePort && s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			bad(o, "nodePort %d on a %s Service", p.NodePort, s.Spec.Type)
		}
	}
}

func checkPod(o Object, t *corev1.PodTemplateSpec, exists func(kind, name string) bool, have map[string]Object, bad func(Object, string, ...any)) {
	checkLabels(o, t.Labels, bad)
	p := &t.Spec
	vols := map[string]corev1.Volume{}
	for _, v := range p.Volumes {
		if _, dup := vols[v.Name]; dup {
			bad(o, "volume %q twice", v.Name)
		}
		for _, m := range validation.IsDNS1123Label(v.Name) {
			bad(o, "volume %q: %s", v.Name, m)
		}
		vols[v.Name] = v
		switch {
		case v.ConfigMap != nil:
			checkRef(o, "ConfigMap", v.ConfigMap.Name, v.ConfigMap.Items, exists, have, bad)
		case v.Secret != nil:
			checkRef(o, "Secret", v.Secret.SecretName, v.Secret.Items, exists, have, bad)
		case v.PersistentVolumeClaim != nil:
			if !exists("PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName) {
				bad(o, "volume %q: PersistentVolumeClaim %q is not in the output", v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
	if s, ok := o.(*appsv1.StatefulSet); ok {
		for _, c := range s.Spec.VolumeClaimTemplates {
			vols[c.Name] = corev1.Volume{Name: c.Name}
		}
	}
	if p.Hostname != "" {
		for _, m := range validation.IsDNS1123Label(p.Hostname) {
			bad(o, "hostname %q: %s", p.Hostname, m)
		}
	}
	names := map[string]bool{}
	all := append(append([]corev1.Container{}, p.InitContainers...), p.Containers...)
	if len(p.Containers) == 0 {
		bad(o, "has no container")
	}
	for i, c := range all {
		if names[c.Name] {
			bad(o, "container %q twice", c.Name)
		}
		names[c.Name] = true
		for _, m := range validation.IsDNS1123Label(c.Name) {
			bad(o, "container %q: %s", c.Name, m)
		}
		if c.Image == "" {
			bad(o, "container %q has no image", c.Name)
		}
		for _, e := range c.Env {
			if e.Name == "" || strings.Contains(e.Name, "=") || strings.ContainsFunc(e.Name, func(r rune) bool { return r < ' ' || r > '~' }) {
				bad(o, "container %q: environment variable name %q", c.Name, e.Name)
			}
		}
		for _, cp := range c.Ports {
			for _, m := range validation.IsValidPortNum(int(cp.ContainerPort)) {
				bad(o, "container %q port %d: %s", c.Name, cp.ContainerPort, m)
			}
			if cp.Name != "" {
				for _, m := range validation.IsValidPortName(cp.Name) {
					bad(o, "container %q port name %q: %s", c.Name, cp.Name, m)
				}
			}
		}
		for _, m := range c.VolumeMounts {
			if _, ok := vols[m.Name]; !ok {
				bad(o, "container %q mounts volume %q, which the pod does not have", c.Name, m.Name)
			}
			if !strings.HasPrefix(m.MountPath, "/") {
				bad(o, "container %q mounts %q: not an absolute path", c.Name, m.MountPath)
			}
		}
		for _, pr := range []*corev1.Probe{c.ReadinessProbe, c.StartupProbe, c.LivenessProbe} {
			if pr != nil && (pr.Exec == nil && pr.HTTPGet == nil && pr.TCPSocket == nil && pr.GRPC == nil || pr.PeriodSeconds < 1 || pr.FailureThreshold < 1) {
				bad(o, "container %q has a probe without a handler or with a period or threshold under 1", c.Name)
			}
		}
		for k, req := range c.Resources.Requests {
			if lim, ok := c.Resources.Limits[k]; ok && req.Cmp(lim) > 0 {
				bad(o, "container %q requests more %s than its limit", c.Name, k)
			}
		}
		if i < len(p.InitContainers) {
			if dep, ok := strings.CutPrefix(c.Name, "wait-for-"); ok && !exists("Service", dep) {
				bad(o, "init container %q waits for Service %q, which is not in the output", c.Name, dep)
			}
		}
	}
}

func checkRef(o Object, kind, name string, items []corev1.KeyToPath, exists func(kind, name string) bool, have map[string]Object, bad func(Object, string, ...any)) {
	if !exists(kind, name) {
		bad(o, "%s %q is not in the output", kind, name)
		return
	}
	obj := have[kind+"/"+name]
	for _, it := range items {
		ok := true
		switch t := obj.(type) {
		case *corev1.ConfigMap:
			_, a := t.Data[it.Key]
			_, b := t.BinaryData[it.Key]
			ok = a || b
		case *corev1.Secret:
			_, ok = t.Data[it.Key]
		}
		if !ok {
			bad(o, "%s %q has no key %q", kind, name, it.Key)
		}
	}
}
