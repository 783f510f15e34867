//go:build tools

// Package tools pins the control-plane commands that scripts/k8s/build.sh builds.
// It is never compiled (build tag "tools"); it only keeps `go mod tidy` honest.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
