package kube

import (
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// podSpec is a service's pod: its container, the init containers that wait for its
// dependencies, and its volumes.
func (c *converter) podSpec(s types.ServiceConfig) (*corev1.PodSpec, error) {
	name := c.serviceName[s.Name]
	ctr := corev1.Container{
		Name:       name,
		Image:      c.image(s),
		Command:    escapeRefs(s.Entrypoint),
		Args:       escapeRefs(s.Command),
		WorkingDir: s.WorkingDir,
		TTY:        s.Tty,
		Stdin:      s.StdinOpen,
	}
	switch s.PullPolicy {
	case types.PullPolicyAlways:
		ctr.ImagePullPolicy = corev1.PullAlways
	case types.PullPolicyNever:
		ctr.ImagePullPolicy = corev1.PullNever
	case types.PullPolicyMissing, types.PullPolicyIfNotPresent, types.PullPolicyBuild:
		ctr.ImagePullPolicy = corev1.PullIfNotPresent
	case "":
	default:
		c.drop(s.Name, "pull_policy "+s.PullPolicy)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Environment)) {
		v := s.Environment[k]
		if v == nil {
			c.drop(s.Name, fmt.Sprintf("environment %s (no value: it is unset where berth runs)", k))
			continue
		}
		ctr.Env = append(ctr.Env, corev1.EnvVar{Name: k, Value: escapeRef(*v)})
	}
	for _, p := range c.ports[s.Name] {
		if p.Port > 0 {
			ctr.Ports = append(ctr.Ports, corev1.ContainerPort{Name: p.Name, ContainerPort: p.TargetPort.IntVal, Protocol: p.Protocol})
		}
	}
	pod := &corev1.PodSpec{}
	if err := c.resources(s, &ctr); err != nil {
		return nil, err
	}
	c.security(s, pod, &ctr)
	c.probes(s, &ctr)
	if err := c.volumes(s, pod, &ctr); err != nil {
		return nil, err
	}
	c.network(s, pod)
	pod.InitContainers = c.waits(s)
	if s.Hostname != "" {
		if msg := dns1123Label(s.Hostname); msg == "" {
			pod.Hostname = s.Hostname
		} else {
			c.drop(s.Name, fmt.Sprintf("hostname %q (%s)", s.Hostname, msg))
		}
	}
	if s.StopGracePeriod != nil {
		pod.TerminationGracePeriodSeconds = ptrTo(seconds(*s.StopGracePeriod, 0))
	}
	pod.Containers = []corev1.Container{ctr}
	return pod, nil
}

// image is the service's image; a service built here and not named says where it must come from.
func (c *converter) image(s types.ServiceConfig) string {
	if s.Build != nil {
		if s.Image == "" {
			img := c.p.Name + "-" + s.Name
			if c.p.Name == "" {
				img = s.Name
			}
			c.note(s.Name, fmt.Sprintf("is built locally (build:) and has no image: name; the cluster must pull %q: name it in image: and use berth deploy --push", img))
			return strings.ToLower(img)
		}
		c.note(s.Name, fmt.Sprintf("is built locally (build:): the cluster pulls %q (berth deploy --push builds and pushes it)", s.Image))
	}
	return s.Image
}

// escapeRefs keeps "$(NAME)" literal: Kubernetes expands it in command, args and env values.
func escapeRefs(args []string) []string {
	if args == nil {
		return nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = escapeRef(a)
	}
	return out
}

func escapeRef(s string) string { return strings.ReplaceAll(s, "$(", "$$(") }

func seconds(d types.Duration, minimum int64) int64 {
	s := int64(math.Ceil(time.Duration(d).Seconds()))
	if s < minimum {
		s = minimum
	}
	return s
}

// resources carries cpus/mem_limit/mem_reservation and deploy.resources as limits and requests.
func (c *converter) resources(s types.ServiceConfig, ctr *corev1.Container) error {
	limits, requests := corev1.ResourceList{}, corev1.ResourceList{}
	setCPU := func(l corev1.ResourceList, cpus float64) {
		if cpus > 0 {
			l[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(math.Round(cpus*1000)), resource.DecimalSI)
		}
	}
	setMem := func(l corev1.ResourceList, b int64) {
		if b > 0 {
			l[corev1.ResourceMemory] = *resource.NewQuantity(b, resource.BinarySI)
		}
	}
	setCPU(limits, float64(s.CPUS))
	setMem(limits, int64(s.MemLimit))
	setMem(requests, int64(s.MemReservation))
	if s.Deploy != nil {
		if l := s.Deploy.Resources.Limits; l != nil {
			setCPU(limits, float64(l.NanoCPUs))
			setMem(limits, int64(l.MemoryBytes))
			if l.Pids > 0 {
				c.drop(s.Name, "deploy.resources.limits.pids")
			}
		}
		if r := s.Deploy.Resources.Reservations; r != nil {
			setCPU(requests, float64(r.NanoCPUs))
			setMem(requests, int64(r.MemoryBytes))
			if len(r.Devices) > 0 {
				c.drop(s.Name, "deploy.resources.reservations.devices (use the cluster's device plugins)")
			}
			if len(r.GenericResources) > 0 {
				c.drop(s.Name, "deploy.resources.reservations.generic_resources")
			}
		}
	}
	for k, req := range requests {
		if lim, ok := limits[k]; ok && req.Cmp(lim) > 0 {
			return fmt.Errorf("%s reservation %s is more than its limit %s", k, req.String(), lim.String())
		}
	}
	if len(limits) > 0 {
		ctr.Resources.Limits = limits
	}
	if len(requests) > 0 {
		ctr.Resources.Requests = requests
	}
	return nil
}

// security carries user, privileges and capabilities; what Kubernetes cannot say is dropped.
func (c *converter) security(s types.ServiceConfig, pod *corev1.PodSpec, ctr *corev1.Container) {
	sc := &corev1.SecurityContext{}
	set := false
	if s.User != "" {
		u, g, _ := strings.Cut(s.User, ":")
		uid, err1 := strconv.ParseInt(u, 10, 64)
		if err1 == nil {
			sc.RunAsUser, set = &uid, true
		}
		if g != "" {
			gid, err2 := strconv.ParseInt(g, 10, 64)
			if err2 == nil {
				sc.RunAsGroup, set = &gid, true
			} else {
				err1 = err2
			}
		}
		if err1 != nil {
			c.drop(s.Name, fmt.Sprintf("user %q (Kubernetes takes numeric ids only)", s.User))
		}
	}
	if s.Privileged {
		sc.Privileged, set = ptrTo(true), true
	}
	if s.ReadOnly {
		sc.ReadOnlyRootFilesystem, set = ptrTo(true), true
	}
	if len(s.CapAdd) > 0 || len(s.CapDrop) > 0 {
		sc.Capabilities, set = &corev1.Capabilities{}, true
		for _, cp := range s.CapAdd {
			sc.Capabilities.Add = append(sc.Capabilities.Add, corev1.Capability(strings.TrimPrefix(strings.ToUpper(cp), "CAP_")))
		}
		for _, cp := range s.CapDrop {
			sc.Capabilities.Drop = append(sc.Capabilities.Drop, corev1.Capability(strings.TrimPrefix(strings.ToUpper(cp), "CAP_")))
		}
	}
	for _, o := range s.SecurityOpt {
		switch k, v, _ := strings.Cut(strings.ReplaceAll(o, "=", ":"), ":"); {
		case k == "no-new-privileges" && (v == "" || v == "true"):
			sc.AllowPrivilegeEscalation, set = ptrTo(false), true
		case k == "seccomp" && v == "unconfined":
			sc.SeccompProfile, set = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}, true
		default:
			c.drop(s.Name, "security_opt "+o)
		}
	}
	if set {
		ctr.SecurityContext = sc
	}
	var psc corev1.PodSecurityContext
	pset := false
	for _, k := range slices.Sorted(maps.Keys(s.Sysctls)) {
		psc.Sysctls, pset = append(psc.Sysctls, corev1.Sysctl{Name: k, Value: s.Sysctls[k]}), true
	}
	var unsafe []string
	for k := range s.Sysctls {
		if !safeSysctls[k] {
			unsafe = append(unsafe, k)
		}
	}
	if len(unsafe) > 0 {
		slices.Sort(unsafe)
		c.note(s.Name, fmt.Sprintf("sysctls %s are not in Kubernetes' safe set: the kubelet runs the pod only with --allowed-unsafe-sysctls", strings.Join(unsafe, ", ")))
	}
	for _, g := range s.GroupAdd {
		if gid, err := strconv.ParseInt(g, 10, 64); err == nil {
			psc.SupplementalGroups, pset = append(psc.SupplementalGroups, gid), true
		} else {
			c.drop(s.Name, fmt.Sprintf("group_add %q (numeric ids only)", g))
		}
	}
	if pset {
		pod.SecurityContext = &psc
	}
}

// probes carries the healthcheck as a readiness probe (what gates traffic and dependents, as
// healthy does in compose; compose never restarts an unhealthy container, so no liveness probe)
// and its start period as a startup probe.
func (c *converter) probes(s types.ServiceConfig, ctr *corev1.Container) {
	h := s.HealthCheck
	if h == nil || h.Disable || len(h.Test) == 0 || h.Test[0] == "NONE" {
		return
	}
	var cmd []string
	switch h.Test[0] {
	case "CMD":
		cmd = h.Test[1:]
	case "CMD-SHELL":
		cmd = []string{"/bin/sh", "-c", strings.Join(h.Test[1:], " ")}
	default:
		c.drop(s.Name, "healthcheck.test "+h.Test[0])
		return
	}
	if len(cmd) == 0 {
		c.drop(s.Name, "healthcheck.test (empty)")
		return
	}
	dur := func(d *types.Duration, def time.Duration) int32 {
		if d == nil || *d == 0 {
			return int32(seconds(types.Duration(def), 1))
		}
		return int32(seconds(*d, 1))
	}
	interval := dur(h.Interval, 30*time.Second)
	retries := int32(3)
	if h.Retries != nil && *h.Retries > 0 {
		retries = int32(*h.Retries)
	}
	handler := corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}}
	ctr.ReadinessProbe = &corev1.Probe{ProbeHandler: handler, PeriodSeconds: interval,
		TimeoutSeconds: dur(h.Timeout, 30*time.Second), FailureThreshold: retries, SuccessThreshold: 1}
	if h.StartPeriod != nil && *h.StartPeriod > 0 {
		// compose: failures in the start period do not count, checks run every start_interval
		// (default: interval). After it, retries failures make the container unhealthy.
		period := interval
		if h.StartInterval != nil && *h.StartInterval > 0 {
			period = dur(h.StartInterval, 5*time.Second)
		}
		n := int32(math.Ceil(float64(seconds(*h.StartPeriod, 1))/float64(period))) + retries
		ctr.StartupProbe = &corev1.Probe{ProbeHandler: handler, PeriodSeconds: period,
			TimeoutSeconds: ctr.ReadinessProbe.TimeoutSeconds, FailureThreshold: n, SuccessThreshold: 1}
		c.note(s.Name, "a container still unhealthy after its start period is restarted (Kubernetes' startup probe)")
	} else if h.StartInterval != nil {
		c.drop(s.Name, "healthcheck.start_interval (no start_period)")
	}
}

// network carries network_mode, pid, ipc, extra_hosts and the DNS settings.
func (c *converter) network(s types.ServiceConfig, pod *corev1.PodSpec) {
	switch {
	case s.NetworkMode == "":
	case s.NetworkMode == "host":
		pod.HostNetwork = true
		pod.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	default:
		c.drop(s.Name, "network_mode "+s.NetworkMode)
	}
	switch s.Pid {
	case "":
	case "host":
		pod.HostPID = true
	default:
		c.drop(s.Name, "pid "+s.Pid)
	}
	switch s.Ipc {
	case "", "private", "shareable":
	case "host":
		pod.HostIPC = true
	default:
		c.drop(s.Name, "ipc "+s.Ipc)
	}
	for _, host := range slices.Sorted(maps.Keys(s.ExtraHosts)) {
		for _, ip := range s.ExtraHosts[host] {
			if _, err := netip.ParseAddr(strings.Trim(ip, "[]")); err != nil {
				c.drop(s.Name, fmt.Sprintf("extra_hosts %s=%s", host, ip))
				continue
			}
			i := slices.IndexFunc(pod.HostAliases, func(a corev1.HostAlias) bool { return a.IP == ip })
			if i < 0 {
				pod.HostAliases = append(pod.HostAliases, corev1.HostAlias{IP: strings.Trim(ip, "[]")})
				i = len(pod.HostAliases) - 1
			}
			pod.HostAliases[i].Hostnames = append(pod.HostAliases[i].Hostnames, host)
		}
	}
	if len(s.DNS) > 0 || len(s.DNSSearch) > 0 || len(s.DNSOpts) > 0 {
		// Cluster DNS stays first, as berth's and Docker's embedded resolvers stay in front of
		// the service's own servers.
		dc := &corev1.PodDNSConfig{Nameservers: s.DNS, Searches: s.DNSSearch}
		for _, o := range s.DNSOpts {
			k, v, ok := strings.Cut(o, ":")
			opt := corev1.PodDNSConfigOption{Name: k}
			if ok {
				opt.Value = &v
			}
			dc.Options = append(dc.Options, opt)
		}
		pod.DNSConfig = dc
	}
}

// waits are the init containers that hold the service back until its dependencies are up:
// service_started waits for the dependency's Service to answer, service_healthy too (a Service
// only routes to ready pods, and readiness is the healthcheck).
func (c *converter) waits(s types.ServiceConfig) []corev1.Container {
	var out []corev1.Container
	for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
		d := s.DependsOn[dep]
		if _, ok := c.serviceName[dep]; !ok {
			if d.Required {
				c.drop(s.Name, fmt.Sprintf("depends_on %s (not in the converted services)", dep))
			}
			continue
		}
		k := c.serviceName[dep]
		var script string
		switch {
		case c.jobs[dep]:
			c.drop(s.Name, fmt.Sprintf("depends_on %s: service_completed_successfully (the pod starts without waiting for Job %s)", dep, k))
			continue
		case len(c.ports[dep]) > 0:
			p := c.ports[dep][0]
			if p.Protocol != corev1.ProtocolTCP && p.Protocol != "" {
				script = fmt.Sprintf("until nslookup %s >/dev/null 2>&1; do echo waiting for %s; sleep 1; done", k, k)
				break
			}
			script = fmt.Sprintf("until nc -z -w 2 %s %d; do echo waiting for %s; sleep 1; done", k, p.Port, k)
		default:
			// A headless Service's name resolves once a pod is ready.
			script = fmt.Sprintf("until nslookup %s >/dev/null 2>&1; do echo waiting for %s; sleep 1; done", k, k)
		}
		if d.Condition == types.ServiceConditionHealthy {
			if h := c.p.Services[dep].HealthCheck; h == nil || h.Disable {
				c.note(s.Name, fmt.Sprintf("depends_on %s: service_healthy, but %s has no healthcheck in the file (its image's is not carried over): it is ready when it runs", dep, dep))
			}
		}
		out = append(out, corev1.Container{
			Name:    joinLabel("wait-for", k),
			Image:   c.o.WaitImage,
			Command: []string{"sh", "-c", escapeRef(script)},
		})
	}
	return out
}

func intOrString(p int32) intstr.IntOrString { return intstr.FromInt32(p) }

// safeSysctls are the sysctls every kubelet allows (Kubernetes 1.34's safe set).
var safeSysctls = set("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem")
