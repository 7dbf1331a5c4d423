//go:build tools

// Package k8s pins the Kubernetes commands build-tools.sh builds, so that
// `go mod tidy` keeps their dependencies in go.mod/go.sum.
package k8s

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
