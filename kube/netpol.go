package kube

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// networkLabelPrefix marks a pod as on a compose network: net.berth.sh/<network>: "true".
const networkLabelPrefix = "net.berth.sh/"

// isolates says whether the project's networks separate its services: with one network (the
// default) every service reaches every other, as in any cluster, and no policy is needed.
func (c *converter) isolates() bool {
	n := 0
	for _, nw := range c.p.Networks {
		if !bool(nw.External) {
			n++
		}
		if nw.Internal {
			return true
		}
	}
	return n > 1
}

// serviceNetworks are the project networks a service is on (none with network_mode).
func (c *converter) serviceNetworks(s types.ServiceConfig) []string {
	if s.NetworkMode != "" {
		return nil
	}
	return slices.Sorted(maps.Keys(s.Networks))
}

// networkLabels are the pod labels saying which networks a service is on.
func (c *converter) networkLabels(s types.ServiceConfig) map[string]string {
	if !c.isolates() {
		return nil
	}
	l := map[string]string{}
	for _, n := range c.serviceNetworks(s) {
		l[networkLabelPrefix+dnsLabel(n)] = "true"
	}
	return l
}

// networkPolicies carry compose's network isolation: a pod accepts connections from pods that
// share a network with it (one policy per network, which Kubernetes adds up), its published
// ports from anywhere, and a service on internal networks only reaches those networks (and the
// cluster's DNS). A cluster enforces them only with a network plugin that implements policies.
func (c *converter) networkPolicies(names []string) {
	if !c.isolates() {
		return
	}
	member := func(n string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{LabelProject: ProjectLabel(c.p.Name), networkLabelPrefix + dnsLabel(n): "true"}}
	}
	used := map[string]bool{}
	for _, n := range names {
		for _, nw := range c.serviceNetworks(c.p.Services[n]) {
			used[nw] = true
		}
	}
	for _, nw := range slices.Sorted(maps.Keys(used)) {
		c.policies = append(c.policies, &networkingv1.NetworkPolicy{
			TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: c.meta(joinLabel("network", nw), ""),
			Spec: networkingv1.NetworkPolicySpec{PodSelector: *member(nw), PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: member(nw)}}}}},
		})
	}
	for _, n := range names {
		s := c.p.Services[n]
		if c.serviceNetworks(s) == nil {
			continue
		}
		var open []networkingv1.NetworkPolicyPort
		for _, svc := range c.services {
			if svc.GetName() != joinLabel(c.serviceName[n], "published") {
				continue
			}
			for _, p := range svc.(*corev1.Service).Spec.Ports {
				open = append(open, networkingv1.NetworkPolicyPort{Protocol: ptrTo(p.Protocol), Port: ptrTo(p.TargetPort)})
			}
		}
		if len(open) > 0 {
			c.policies = append(c.policies, &networkingv1.NetworkPolicy{
				TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: c.meta(joinLabel(c.serviceName[n], "published"), n),
				Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: c.selector(n)},
					PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
					Ingress:     []networkingv1.NetworkPolicyIngressRule{{Ports: open}}},
			})
		}
		internal := true
		for _, nw := range c.serviceNetworks(s) {
			internal = internal && c.p.Networks[nw].Internal
		}
		if !internal {
			continue
		}
		var to []networkingv1.NetworkPolicyPeer
		for _, nw := range c.serviceNetworks(s) {
			to = append(to, networkingv1.NetworkPolicyPeer{PodSelector: member(nw)})
		}
		dns := []networkingv1.NetworkPolicyPort{
			{Protocol: ptrTo(corev1.ProtocolUDP), Port: ptrTo(intstr.FromInt32(53))},
			{Protocol: ptrTo(corev1.ProtocolTCP), Port: ptrTo(intstr.FromInt32(53))},
		}
		c.policies = append(c.policies, &networkingv1.NetworkPolicy{
			TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: c.meta(joinLabel(c.serviceName[n], "internal"), n),
			Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: c.selector(n)},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: to},
					{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}, Ports: dns}}},
		})
	}
	c.note("", fmt.Sprintf("networks %s are NetworkPolicies: the cluster enforces them only with a network plugin that implements policies", strings.Join(slices.Sorted(maps.Keys(used)), ", ")))
}
