package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/berth-sh/berth/test/k8s/kval"
)

// object is one document of a tool's output, decoded loosely into its typed struct (the verdict
// of Kubernetes' own validation is in rejected).
type object struct {
	file, kind, name string
	rejected         string // kval's error, "" when the apiserver would accept it
	obj              any    // *corev1.Service, *appsv1.Deployment, ... nil for other kinds
}

func (o *object) id() string { return o.kind + "/" + o.name }

// workload is a pod template of the output with where it came from.
type workload struct {
	o        *object
	meta     metav1.ObjectMeta // the workload's own metadata
	tmpl     corev1.PodTemplateSpec
	replicas *int32 // nil: the kind has no replicas (DaemonSet, Job, Pod)
	claims   []string
}

// output is everything one tool wrote for one input.
type output struct {
	objects   []*object
	workloads []*workload
	errs      []string // files that could not be read
}

// loadOutput reads every YAML or JSON file under dir, validates each with kval and decodes it.
func loadOutput(dir string) (*output, error) {
	out := &output{}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".json")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return out, nil
		}
		return nil, err
	}
	sort.Strings(files)
	for _, f := range files {
		res, err := kval.ValidateFile(f)
		if err != nil {
			out.errs = append(out.errs, err.Error())
			continue
		}
		docs, err := splitDocs(f)
		if err != nil {
			out.errs = append(out.errs, err.Error())
			continue
		}
		if len(docs) != len(res) {
			out.errs = append(out.errs, fmt.Sprintf("%s: %d documents but kval judged %d", f, len(docs), len(res)))
			continue
		}
		for i, doc := range docs {
			o := &object{file: filepath.Base(f), kind: res[i].Kind, name: res[i].Name}
			if res[i].Err != nil {
				o.rejected = strings.ReplaceAll(res[i].Err.Error(), "\n", " ")
			}
			o.obj = decode(o.kind, doc)
			out.objects = append(out.objects, o)
			if w := asWorkload(o); w != nil {
				out.workloads = append(out.workloads, w)
			}
		}
	}
	return out, nil
}

// splitDocs splits a file into its non-empty documents, as kval counts them.
func splitDocs(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		empty := true
		for _, l := range strings.Split(string(doc), "\n") {
			l = strings.TrimSpace(l)
			if l != "" && !strings.HasPrefix(l, "#") && l != "---" {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, doc)
		}
	}
}

// decode unmarshals a document into the typed struct of its kind (loosely: the strict verdict is
// kval's), or nil for a kind the probes do not read.
func decode(kind string, doc []byte) any {
	var v any
	switch kind {
	case "Service":
		v = &corev1.Service{}
	case "ConfigMap":
		v = &corev1.ConfigMap{}
	case "Secret":
		v = &corev1.Secret{}
	case "PersistentVolumeClaim":
		v = &corev1.PersistentVolumeClaim{}
	case "Pod":
		v = &corev1.Pod{}
	case "ReplicationController":
		v = &corev1.ReplicationController{}
	case "Deployment":
		v = &appsv1.Deployment{}
	case "StatefulSet":
		v = &appsv1.StatefulSet{}
	case "DaemonSet":
		v = &appsv1.DaemonSet{}
	case "Job":
		v = &batchv1.Job{}
	case "CronJob":
		v = &batchv1.CronJob{}
	case "NetworkPolicy":
		v = &networkingv1.NetworkPolicy{}
	default:
		return nil
	}
	if err := yaml.Unmarshal(doc, v); err != nil {
		return nil
	}
	return v
}

func asWorkload(o *object) *workload {
	w := workloadOf(o)
	if w != nil {
		// A volume with no source is an emptyDir (the apiserver's default).
		for i := range w.tmpl.Spec.Volumes {
			if reflect.DeepEqual(w.tmpl.Spec.Volumes[i].VolumeSource, corev1.VolumeSource{}) {
				w.tmpl.Spec.Volumes[i].EmptyDir = &corev1.EmptyDirVolumeSource{}
			}
		}
	}
	return w
}

func workloadOf(o *object) *workload {
	switch x := o.obj.(type) {
	case *appsv1.Deployment:
		return &workload{o: o, meta: x.ObjectMeta, tmpl: x.Spec.Template, replicas: orOne(x.Spec.Replicas)}
	case *appsv1.StatefulSet:
		w := &workload{o: o, meta: x.ObjectMeta, tmpl: x.Spec.Template, replicas: orOne(x.Spec.Replicas)}
		for _, c := range x.Spec.VolumeClaimTemplates {
			w.claims = append(w.claims, c.Name)
		}
		return w
	case *appsv1.DaemonSet:
		return &workload{o: o, meta: x.ObjectMeta, tmpl: x.Spec.Template}
	case *batchv1.Job:
		return &workload{o: o, meta: x.ObjectMeta, tmpl: x.Spec.Template}
	case *batchv1.CronJob:
		return &workload{o: o, meta: x.ObjectMeta, tmpl: x.Spec.JobTemplate.Spec.Template}
	case *corev1.ReplicationController:
		if x.Spec.Template == nil {
			return nil
		}
		return &workload{o: o, meta: x.ObjectMeta, tmpl: *x.Spec.Template, replicas: orOne(x.Spec.Replicas)}
	case *corev1.Pod:
		return &workload{o: o, meta: x.ObjectMeta, tmpl: corev1.PodTemplateSpec{ObjectMeta: x.ObjectMeta, Spec: x.Spec}}
	}
	return nil
}

// orOne is the replicas the apiserver defaults a nil count to.
func orOne(p *int32) *int32 {
	if p == nil {
		one := int32(1)
		return &one
	}
	return p
}

// find returns the output's object of that kind and name, or nil.
func (out *output) find(kind, name string) *object {
	for _, o := range out.objects {
		if o.kind == kind && o.name == name {
			return o
		}
	}
	return nil
}

// services are the output's Services the apiserver accepts.
func (out *output) services() []*corev1.Service {
	var s []*corev1.Service
	for _, o := range out.objects {
		if svc, ok := o.obj.(*corev1.Service); ok && o.rejected == "" {
			s = append(s, svc)
		}
	}
	return s
}

// selects reports whether a Service's (or policy's) selector picks the pods of a template.
func selects(sel map[string]string, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// dnsName is a compose name as a DNS-1123 label the way both tools make one (lowercase, runs of
// other characters as "-", trimmed).
func dnsName(s string) string {
	return strings.Trim(notDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// pod is where one compose service's container landed.
type pod struct {
	w *workload
	c *corev1.Container
}

// findPod finds the compose service's workload (named after it, or whose pod labels name it)
// and its container in it (named after the service or its container_name, or the only one).
func (out *output) findPod(svc string, containerName string) *pod {
	names := map[string]bool{svc: true, dnsName(svc): true}
	var w *workload
	for _, x := range out.workloads {
		if names[x.meta.Name] {
			w = x
			break
		}
	}
	if w == nil {
		for _, x := range out.workloads {
			for _, v := range x.tmpl.Labels {
				if names[v] {
					w = x
				}
			}
		}
	}
	if w == nil {
		// A service grouped into another's pod (network_mode: service:X).
		for _, x := range out.workloads {
			for i := range x.tmpl.Spec.Containers {
				if names[x.tmpl.Spec.Containers[i].Name] {
					return &pod{w: x, c: &x.tmpl.Spec.Containers[i]}
				}
			}
		}
		return nil
	}
	cs := w.tmpl.Spec.Containers
	for i := range cs {
		if names[cs[i].Name] || (containerName != "" && cs[i].Name == dnsName(containerName)) {
			return &pod{w: w, c: &cs[i]}
		}
	}
	if len(cs) == 1 {
		return &pod{w: w, c: &cs[0]}
	}
	return nil
}
