package kube

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Publish kinds: what the Service for a service's published ports is.
const (
	PublishLoadBalancer = "loadbalancer"
	PublishNodePort     = "nodeport"
	PublishNone         = "none"
)

// DefaultWaitImage runs the init containers that wait for a service's dependencies.
const DefaultWaitImage = "busybox:1.37"

// Options says how convert maps a project. The zero value is valid: every field has a default.
type Options struct {
	// Namespace is put on every namespaced object, and a Namespace object is made for it.
	// Optional: empty leaves objects without a namespace (the deploying context's).
	Namespace string
	// Replicas overrides every replicated service's replica count when > 0.
	Replicas int
	// VolumeSize is the storage request of every PersistentVolumeClaim. Optional: 1Gi.
	VolumeSize string
	// PublishAs is PublishLoadBalancer (the default), PublishNodePort or PublishNone.
	PublishAs string
	// Strict turns every warning (a field not carried over) into an error.
	Strict bool
	// WaitImage is the image of the init containers that wait for dependencies. Optional.
	WaitImage string
	// ImagePorts returns the ports (as "80/tcp") an image exposes, for services that declare
	// none. Optional; it returns nil when the image is not known locally.
	ImagePorts func(image string) []string
}

func (o Options) withDefaults() (Options, error) {
	if o.VolumeSize == "" {
		o.VolumeSize = "1Gi"
	}
	if q, err := resource.ParseQuantity(o.VolumeSize); err != nil || q.Sign() <= 0 {
		return o, fmt.Errorf("--volume-size %q: must be a positive quantity such as 512Mi or 5Gi", o.VolumeSize)
	}
	if o.WaitImage == "" {
		o.WaitImage = DefaultWaitImage
	}
	o.PublishAs = strings.ToLower(o.PublishAs)
	switch o.PublishAs {
	case "":
		o.PublishAs = PublishLoadBalancer
	case PublishLoadBalancer, PublishNodePort, PublishNone:
	default:
		return o, fmt.Errorf("--publish-as %q: must be loadbalancer, nodeport or none", o.PublishAs)
	}
	if o.Replicas < 0 {
		return o, fmt.Errorf("--replicas %d: must not be negative", o.Replicas)
	}
	return o, nil
}

// Warning is what convert could not carry over for one service (Service empty: the project).
type Warning struct {
	Service string
	// Fields are the compose fields (with why, where it helps) not carried over, sorted.
	Fields []string
	// Notes say what was carried over differently from compose's meaning.
	Notes []string
}

func (w Warning) String() string {
	var parts []string
	if len(w.Fields) > 0 {
		parts = append(parts, "not carried over: "+strings.Join(w.Fields, "; "))
	}
	parts = append(parts, w.Notes...)
	who := "project"
	if w.Service != "" {
		who = "service " + w.Service
	}
	return who + ": " + strings.Join(parts, "; ")
}

// Result is a converted project.
type Result struct {
	// Objects in apply order: Namespace, ConfigMaps and Secrets, PersistentVolumeClaims,
	// Services, then workloads.
	Objects []Object
	// Warnings, one per service with something not carried over, in service order.
	Warnings []Warning
	// External are the objects the output refers to but does not make (external volumes,
	// configs and secrets), as "Kind/name".
	External []string
}
