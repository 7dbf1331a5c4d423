// Package kube turns a compose project into Kubernetes objects (convert) and applies them to a
// cluster with server-side apply (deploy).
package kube

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Object is one Kubernetes object convert makes: a typed k8s.io/api struct whose TypeMeta
// (apiVersion, kind) is always set.
type Object interface {
	metav1.Object
	runtime.Object
}

// Labels every object convert makes carries, so deploy --down finds what it applied.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "berth"
	LabelProject   = "berth.sh/project"
	LabelService   = "berth.sh/service"
	// FieldManager is the server-side apply field manager of berth deploy.
	FieldManager = "berth"
)
