package kube

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
)

// servicePorts are the ports other services reach a service on, as compose lets them: every
// target port of ports and expose, or, when the file names none, those its image exposes. Nil
// means none is known (the Service is headless: its name resolves to the pods, every port).
func (c *converter) servicePorts(s types.ServiceConfig) []corev1.ServicePort {
	var out []corev1.ServicePort
	seen := map[string]bool{}
	add := func(port int32, proto, appProto, name string) {
		p := corev1.Protocol(strings.ToUpper(proto))
		if p == "" {
			p = corev1.ProtocolTCP
		}
		key := fmt.Sprintf("%d/%s", port, p)
		if port <= 0 || port > 65535 || seen[key] {
			return
		}
		seen[key] = true
		if name == "" || dnsLabel(name) != name || len(name) > 15 {
			name = strings.ToLower(string(p)) + "-" + strconv.Itoa(int(port))
		}
		sp := corev1.ServicePort{Name: name, Port: port, TargetPort: intOrString(port), Protocol: p}
		if appProto != "" {
			sp.AppProtocol = &appProto
		}
		out = append(out, sp)
	}
	for _, p := range s.Ports {
		add(int32(p.Target), p.Protocol, p.AppProtocol, p.Name)
	}
	for _, e := range s.Expose {
		c.exposed(s.Name, e, add)
	}
	if len(out) == 0 && c.o.ImagePorts != nil && s.Image != "" {
		for _, e := range c.o.ImagePorts(s.Image) {
			c.exposed(s.Name, e, add)
		}
	}
	return out
}

// exposed adds the ports of one expose entry: "80", "80/udp" or a range "8000-8010".
func (c *converter) exposed(svc, e string, add func(int32, string, string, string)) {
	ports, proto, _ := strings.Cut(e, "/")
	lo, hi, isRange := strings.Cut(ports, "-")
	a, err1 := strconv.Atoi(lo)
	b := a
	var err2 error
	if isRange {
		b, err2 = strconv.Atoi(hi)
	}
	if err1 != nil || err2 != nil || b < a || b-a > 1000 {
		c.drop(svc, "expose "+e)
		return
	}
	for p := a; p <= b; p++ {
		add(int32(p), proto, "", "")
	}
}

// serviceObjects are a service's Services: one on its target ports (headless when it has none)
// under its own name, one for its network aliases and links each, and one for its published
// ports.
func (c *converter) serviceObjects(s types.ServiceConfig) error {
	name := c.serviceName[s.Name]
	mk := func(n string, ports []corev1.ServicePort) *corev1.Service {
		svc := &corev1.Service{TypeMeta: typeMeta("v1", "Service"), ObjectMeta: c.meta(n, s.Name),
			Spec: corev1.ServiceSpec{Selector: c.selector(s.Name), Ports: ports}}
		if len(ports) == 0 {
			svc.Spec.ClusterIP = corev1.ClusterIPNone
		}
		return svc
	}
	ports := c.ports[s.Name]
	if len(ports) == 0 && !c.jobs[s.Name] {
		c.note(s.Name, "declares no port (and its image's are not known here): its Service is headless, so its name resolves to its pods")
	}
	c.services = append(c.services, mk(name, ports))
	for _, a := range c.aliases(s) {
		if err := c.names.claim("Service", a, fmt.Sprintf("alias %q of service %q", a, s.Name)); err != nil {
			return err
		}
		c.services = append(c.services, mk(a, ports))
	}
	return c.published(s, mk)
}

// aliases are the other names a service answers to: its network aliases, and the alias names
// other services give it in links.
func (c *converter) aliases(s types.ServiceConfig) []string {
	set := map[string]bool{}
	for _, n := range slices.Sorted(maps.Keys(s.Networks)) {
		nc := s.Networks[n]
		if nc == nil {
			continue
		}
		for _, a := range nc.Aliases {
			set[a] = true
		}
		for f, v := range map[string]string{"ipv4_address": nc.Ipv4Address, "ipv6_address": nc.Ipv6Address, "mac_address": nc.MacAddress, "interface_name": nc.InterfaceName} {
			if v != "" {
				c.drop(s.Name, fmt.Sprintf("networks.%s.%s", n, f))
			}
		}
	}
	// A container's name resolves on its networks too.
	if s.ContainerName != "" {
		set[s.ContainerName] = true
	}
	for _, other := range slices.Sorted(maps.Keys(c.p.Services)) {
		for _, l := range c.p.Services[other].Links {
			target, alias, ok := strings.Cut(l, ":")
			if ok && target == s.Name {
				set[alias] = true
			}
		}
	}
	var out []string
	for _, a := range slices.Sorted(maps.Keys(set)) {
		k := dnsLabel(a)
		if k != a {
			c.note(s.Name, fmt.Sprintf("alias %q is %q in Kubernetes", a, k))
		}
		if k != c.serviceName[s.Name] && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// published makes the Service of the ports a service publishes on the host: a LoadBalancer or
// NodePort Service on the published ports. Ports published on a loopback address only stay
// private (kubectl port-forward reaches them), as they are in compose.
func (c *converter) published(s types.ServiceConfig, mk func(string, []corev1.ServicePort) *corev1.Service) error {
	var ports []corev1.ServicePort
	for _, p := range s.Ports {
		if p.Published == "" && p.Mode != "host" {
			continue
		}
		proto := corev1.Protocol(strings.ToUpper(p.Protocol))
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		pub := int(p.Target)
		if p.Published != "" {
			n, err := strconv.Atoi(p.Published)
			if err != nil {
				c.drop(s.Name, fmt.Sprintf("ports %s:%d (a published range)", p.Published, p.Target))
				continue
			}
			pub = n
		}
		if p.HostIP != "" {
			if a, err := netip.ParseAddr(p.HostIP); err == nil && a.IsLoopback() {
				c.note(s.Name, fmt.Sprintf("port %d is published on %s only: it stays private in the cluster (kubectl port-forward reaches it)", p.Target, p.HostIP))
				continue
			}
			if a, err := netip.ParseAddr(p.HostIP); err != nil || !a.IsUnspecified() {
				c.drop(s.Name, "ports host_ip "+p.HostIP)
			}
		}
		if c.o.PublishAs == PublishNone {
			c.drop(s.Name, fmt.Sprintf("ports %d:%d (--publish-as none)", pub, p.Target))
			continue
		}
		sp := corev1.ServicePort{Name: fmt.Sprintf("%s-%d", strings.ToLower(string(proto)), pub), Port: int32(pub),
			TargetPort: intOrString(int32(p.Target)), Protocol: proto}
		if slices.ContainsFunc(ports, func(o corev1.ServicePort) bool { return o.Port == sp.Port && o.Protocol == sp.Protocol }) {
			continue
		}
		if c.o.PublishAs == PublishNodePort {
			if pub >= 30000 && pub <= 32767 {
				sp.NodePort = int32(pub)
			} else {
				c.note(s.Name, fmt.Sprintf("published port %d is outside the NodePort range: the cluster picks its node port", pub))
			}
		}
		ports = append(ports, sp)
	}
	if len(ports) == 0 {
		return nil
	}
	n := joinLabel(c.serviceName[s.Name], "published")
	if err := c.names.claim("Service", n, fmt.Sprintf("published ports of service %q", s.Name)); err != nil {
		return err
	}
	svc := mk(n, ports)
	svc.Spec.Type = corev1.ServiceTypeLoadBalancer
	if c.o.PublishAs == PublishNodePort {
		svc.Spec.Type = corev1.ServiceTypeNodePort
	}
	c.services = append(c.services, svc)
	return nil
}
