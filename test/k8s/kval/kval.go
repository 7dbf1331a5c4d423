// Package kval validates Kubernetes YAML in-process with the same code the
// kube-apiserver (v1.34) runs on create: strict decoding, defaulting,
// conversion to the internal types, system metadata, and the registry strategy
// of the kind (PrepareForCreate + Validate + object-meta validation) through
// rest.BeforeCreate.
//
// What a live server does in addition and kval does not: admission plugins
// (ServiceAccount, quota, LimitRange, PodSecurity), Service ClusterIP/NodePort
// allocation and its conflicts, and update validation. Like most clusters it
// allows privileged containers (--allow-privileged=true). Cross-object references
// (a volume naming a missing ConfigMap) are not API errors on a server either.
package kval

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/yaml"

	"k8s.io/kubernetes/pkg/api/legacyscheme"
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	_ "k8s.io/kubernetes/pkg/apis/batch/install"
	api "k8s.io/kubernetes/pkg/apis/core"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	_ "k8s.io/kubernetes/pkg/apis/networking/install"
	"k8s.io/kubernetes/pkg/capabilities"
	"k8s.io/kubernetes/pkg/registry/apps/daemonset"
	"k8s.io/kubernetes/pkg/registry/apps/deployment"
	"k8s.io/kubernetes/pkg/registry/apps/statefulset"
	"k8s.io/kubernetes/pkg/registry/batch/job"
	"k8s.io/kubernetes/pkg/registry/core/configmap"
	"k8s.io/kubernetes/pkg/registry/core/namespace"
	"k8s.io/kubernetes/pkg/registry/core/persistentvolumeclaim"
	"k8s.io/kubernetes/pkg/registry/core/pod"
	"k8s.io/kubernetes/pkg/registry/core/secret"
	"k8s.io/kubernetes/pkg/registry/core/service"
	"k8s.io/kubernetes/pkg/registry/networking/networkpolicy"
)

// DefaultNamespace is the request namespace used for namespaced objects that
// do not name one, as `kubectl apply` against a context namespace "default".
const DefaultNamespace = "default"

// strategies maps each supported kind to the create strategy its REST
// storage uses in the apiserver.
var strategies = map[schema.GroupKind]rest.RESTCreateStrategy{
	{Group: "", Kind: "Namespace"}:                      namespace.Strategy,
	{Group: "", Kind: "ConfigMap"}:                      configmap.Strategy,
	{Group: "", Kind: "Secret"}:                         secret.Strategy,
	{Group: "", Kind: "PersistentVolumeClaim"}:          persistentvolumeclaim.Strategy,
	{Group: "", Kind: "Service"}:                        service.Strategy,
	{Group: "", Kind: "Pod"}:                            pod.Strategy,
	{Group: "apps", Kind: "Deployment"}:                 deployment.Strategy,
	{Group: "apps", Kind: "StatefulSet"}:                statefulset.Strategy,
	{Group: "apps", Kind: "DaemonSet"}:                  daemonset.Strategy,
	{Group: "batch", Kind: "Job"}:                       job.Strategy,
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}: networkpolicy.Strategy,
}

// Like kube-apiserver --allow-privileged=true, as kubeadm, kind and the test
// cluster of package cluster run it: privileged containers and host
// namespaces are allowed (the flag's default would forbid them).
func init() {
	capabilities.Setup(true, 0)
}

// decoder decodes JSON or YAML strictly (unknown and duplicate fields are
// errors), applies the v1 defaults and converts to the internal version, as
// the apiserver's create handler does with fieldValidation=Strict.
var decoder = serializer.NewCodecFactory(legacyscheme.Scheme, serializer.EnableStrict).UniversalDecoder()

// Result is the verdict on one YAML document.
type Result struct {
	Doc       int    // 1-based index of the document in the stream (empty documents between two "---" are not counted)
	Kind      string // from the document, best effort when it does not decode
	Namespace string
	Name      string
	Err       error // nil when the apiserver would accept the object
}

// OK reports whether the object was accepted.
func (r Result) OK() bool { return r.Err == nil }

// String is "OK kind/name" or "REJECTED kind/name: error".
func (r Result) String() string {
	id := r.Kind + "/" + r.Name
	if r.Err == nil {
		return "OK " + id
	}
	return "REJECTED " + id + ": " + r.Err.Error()
}

// ValidateFile validates every document of a multi-document YAML file. The
// error is only for an unreadable file or broken YAML framing; rejected
// objects are reported in their Result.
func ValidateFile(path string) ([]Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	res, err := Validate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

// Validate validates every non-empty document of a YAML stream.
func Validate(data []byte) ([]Result, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []Result
	n := 0
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("splitting YAML documents: %w", err)
		}
		n++
		if isEmptyDoc(doc) {
			continue
		}
		res := ValidateDocument(doc)
		res.Doc = n
		out = append(out, res)
	}
}

// isEmptyDoc reports whether a document holds only comments and whitespace.
func isEmptyDoc(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && line != "---" {
			return false
		}
	}
	return true
}

// ValidateDocument validates one object given as YAML or JSON.
func ValidateDocument(doc []byte) Result {
	var res Result
	obj, gvk, err := decoder.Decode(doc, nil, nil)
	if gvk != nil {
		res.Kind = gvk.Kind
	}
	if err != nil {
		gvk = fillIdentity(&res, doc, gvk)
		res.Err = decodeError(err, gvk)
		return res
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		res.Err = err
		return res
	}
	res.Namespace, res.Name = m.GetNamespace(), m.GetName()
	strategy, ok := strategies[gvk.GroupKind()]
	if !ok {
		res.Err = fmt.Errorf("kind %s is not supported by kval", gvk.GroupKind())
		return res
	}

	// What the generic registry store does before rest.BeforeCreate.
	rest.FillObjectMetaSystemFields(m)
	if m.GetGenerateName() != "" && m.GetName() == "" {
		m.SetName(strategy.GenerateName(m.GetGenerateName()))
	}
	// What the Service storage does in beginCreate before validating:
	// keep clusterIP and clusterIPs in sync (allocation itself is left out).
	if svc, ok := obj.(*api.Service); ok && svc.Spec.ClusterIP != "" && len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	}

	ns := ""
	if strategy.NamespaceScoped() {
		ns = m.GetNamespace()
		if ns == "" {
			ns = DefaultNamespace
		}
	}
	ctx := genericapirequest.WithNamespace(context.Background(), ns)
	res.Err = rest.BeforeCreate(strategy, ctx, obj)
	return res
}

// decodeError words a decode failure as kube-apiserver does for a YAML
// body with fieldValidation=Strict (checked by TestKvalAgreesWithServer).
func decodeError(err error, gvk *schema.GroupVersionKind) error {
	if gvk != nil && gvk.Kind != "" {
		return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err))
	}
	return apierrors.NewBadRequest(err.Error())
}

// fillIdentity reads apiVersion, kind and name loosely from a document that
// did not decode, so the report can still name it. It returns the kind the
// document claims when the decoder did not report one.
func fillIdentity(res *Result, doc []byte, gvk *schema.GroupVersionKind) *schema.GroupVersionKind {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if yaml.Unmarshal(doc, &head) != nil {
		return gvk
	}
	if res.Kind == "" {
		res.Kind = head.Kind
	}
	res.Name, res.Namespace = head.Metadata.Name, head.Metadata.Namespace
	if gvk == nil && head.Kind != "" {
		if gv, err := schema.ParseGroupVersion(head.APIVersion); err == nil {
			k := gv.WithKind(head.Kind)
			gvk = &k
		}
	}
	return gvk
}
