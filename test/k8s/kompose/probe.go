package main

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// result is the verdict on one compose field of one service for one tool's output.
type result struct {
	Field   string
	Carried bool
	Detail  string   // what is missing (empty when carried)
	Values  []string // names and paths of the field a warning about it would quote
}

// excluded are fields the comparison does not count, with why.
var excluded = map[string]string{
	"env_file":   "merged into environment when the project loads",
	"label_file": "merged into labels when the project loads",
	"profiles":   "applied when the project loads",
	"attach":     "about a terminal",
}

// noMapping are fields Kubernetes has no field for: dropped by any tool, the probe only asks
// whether the tool said so.
var noMapping = set("ulimits", "init", "logging", "devices", "gpus", "platform", "cgroup_parent",
	"userns_mode", "runtime", "mac_address", "isolation", "storage_opt", "oom_kill_disable",
	"oom_score_adj", "blkio_config", "cpu_shares", "cpu_quota", "cpu_period", "cpuset",
	"cpu_rt_runtime", "cpu_rt_period", "memswap_limit", "mem_swappiness", "pids_limit",
	"external_links", "develop", "credential_spec", "volumes_from", "cgroup")

func set(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range s {
		m[k] = true
	}
	return m
}

// probeService checks every field the service sets against one tool's output. unprobed are
// fields this comparison has no probe for (listed, not counted); skipped are fields not counted
// (excluded, or nothing to carry).
func probeService(p *project, s *service, out *output) (res []result, unprobed, skipped []string) {
	pd := out.findPod(s.Name, s.ContainerName)
	add := func(field string, carried bool, detail string, values ...string) {
		if carried {
			detail = ""
		}
		res = append(res, result{Field: field, Carried: carried, Detail: detail, Values: values})
	}
	for _, key := range p.present(s.Name) {
		if why := excluded[key]; why != "" {
			skipped = append(skipped, key+" ("+why+")")
			continue
		}
		if noMapping[key] {
			add(key, false, "no Kubernetes field")
			continue
		}
		if pd == nil {
			// The fields of a service with no workload are all lost; probing them one by one
			// would only repeat it.
			if known(key) {
				add(key, false, "no workload for the service")
			} else {
				unprobed = append(unprobed, key)
			}
			continue
		}
		c, spec := pd.c, &pd.w.tmpl.Spec
		switch key {
		case "image":
			add(key, c.Image == s.Image, fmt.Sprintf("image %q, compose has %q", c.Image, s.Image))
		case "build":
			if s.Image != "" {
				add(key, c.Image == s.Image, fmt.Sprintf("image %q, the build is tagged %q", c.Image, s.Image))
			} else {
				add(key, false, fmt.Sprintf("built locally with no image: name; the manifest says image %q, which no registry has", c.Image))
			}
		case "pull_policy":
			want := map[string]corev1.PullPolicy{"always": corev1.PullAlways, "never": corev1.PullNever,
				"missing": corev1.PullIfNotPresent, "if_not_present": corev1.PullIfNotPresent}[s.PullPolicy]
			add(key, want != "" && c.ImagePullPolicy == want, fmt.Sprintf("imagePullPolicy %q", c.ImagePullPolicy))
		case "command":
			args := expandAll(c.Args, c)
			ok := slices.Equal(args, s.Command) && (len(s.Entrypoint) > 0 || len(c.Command) == 0)
			add(key, ok, fmt.Sprintf("runs command %q args %q, compose runs %q", expandAll(c.Command, c), args, s.Command))
		case "entrypoint":
			cmd := expandAll(c.Command, c)
			add(key, slices.Equal(cmd, s.Entrypoint), fmt.Sprintf("runs command %q, compose runs %q", cmd, s.Entrypoint))
		case "environment":
			res = append(res, probeEnv(s, c, out))
		case "working_dir":
			add(key, c.WorkingDir == s.WorkingDir, fmt.Sprintf("workingDir %q", c.WorkingDir))
		case "user":
			res = append(res, probeUser(s.User, c, spec))
		case "ports":
			res = append(res, probePorts(s, pd, out)...)
		case "expose":
			res = append(res, probeExpose(s, pd, out))
		case "healthcheck":
			res = append(res, probeHealth(s.Healthcheck, c))
		case "depends_on":
			res = append(res, probeDepends(s, spec))
		case "deploy":
			r, u := probeDeploy(p, s, pd, out)
			res, unprobed = append(res, r...), append(unprobed, u...)
		case "scale":
			ok := pd.w.replicas != nil && int(*pd.w.replicas) == *s.Scale
			add(key, ok, fmt.Sprintf("%s replicas %s", pd.w.o.kind, ptrStr(pd.w.replicas)))
		case "restart":
			res = append(res, probeRestart(s.Restart, pd))
		case "volumes":
			r, u := probeVolumes(s, pd, out)
			res, unprobed = append(res, r...), append(unprobed, u...)
		case "tmpfs":
			var miss []string
			for _, t := range s.Tmpfs {
				t, _, _ = strings.Cut(t, ":")
				if _, v := mountAt(pd, t); v == nil || v.EmptyDir == nil {
					miss = append(miss, t)
				}
			}
			add(key, len(miss) == 0, "no emptyDir at "+strings.Join(miss, ", "), miss...)
		case "secrets":
			res = append(res, probeFiles(key, s.Secrets, secretPath, pd, out))
		case "configs":
			res = append(res, probeFiles(key, s.Configs, configPath, pd, out))
		case "networks":
			r, sk := probeNetworks(p, s, pd, out)
			res, skipped = append(res, r...), append(skipped, sk...)
		case "network_mode":
			res = append(res, probeNetworkMode(s, pd, out))
		case "labels", "annotations":
			m := s.Labels
			if key == "annotations" {
				m = s.Annotations
			}
			var miss []string
			for k, v := range m {
				if pd.w.tmpl.Annotations[k] != v && pd.w.tmpl.Labels[k] != v && pd.w.meta.Annotations[k] != v && pd.w.meta.Labels[k] != v {
					miss = append(miss, k)
				}
			}
			slices.Sort(miss)
			add(key, len(miss) == 0, "missing "+strings.Join(miss, ", "), miss...)
		case "container_name":
			n := dnsName(s.ContainerName)
			ok := c.Name == n || serviceNamed(out, n, pd) != nil
			add(key, ok, fmt.Sprintf("no container and no Service named %q", n))
		case "hostname":
			add(key, spec.Hostname == s.Hostname, fmt.Sprintf("hostname %q", spec.Hostname))
		case "domainname":
			add(key, spec.Subdomain == s.Domainname, fmt.Sprintf("subdomain %q", spec.Subdomain))
		case "tty":
			add(key, c.TTY, "tty false")
		case "stdin_open":
			add(key, c.Stdin, "stdin false")
		case "privileged":
			add(key, c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged, "not privileged")
		case "read_only":
			add(key, c.SecurityContext != nil && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem, "root filesystem writable")
		case "cap_add", "cap_drop":
			var have []corev1.Capability
			if c.SecurityContext != nil && c.SecurityContext.Capabilities != nil {
				have = c.SecurityContext.Capabilities.Add
				if key == "cap_drop" {
					have = c.SecurityContext.Capabilities.Drop
				}
			}
			want := s.CapAdd
			if key == "cap_drop" {
				want = s.CapDrop
			}
			var miss []string
			for _, w := range want {
				if !slices.ContainsFunc(have, func(h corev1.Capability) bool { return capName(string(h)) == capName(w) }) {
					miss = append(miss, w)
				}
			}
			add(key, len(miss) == 0, "missing "+strings.Join(miss, ", "), miss...)
		case "sysctls":
			var miss []string
			for k, v := range s.Sysctls {
				ok := spec.SecurityContext != nil && slices.ContainsFunc(spec.SecurityContext.Sysctls, func(x corev1.Sysctl) bool { return x.Name == k && x.Value == v })
				if !ok {
					miss = append(miss, k)
				}
			}
			add(key, len(miss) == 0, "missing "+strings.Join(miss, ", "), miss...)
		case "stop_grace_period":
			d, err := time.ParseDuration(s.StopGracePeriod)
			ok := err == nil && spec.TerminationGracePeriodSeconds != nil && *spec.TerminationGracePeriodSeconds == int64(d.Seconds())
			add(key, ok, "terminationGracePeriodSeconds "+ptrStr(spec.TerminationGracePeriodSeconds))
		case "stop_signal":
			ok := c.Lifecycle != nil && c.Lifecycle.StopSignal != nil && string(*c.Lifecycle.StopSignal) == s.StopSignal
			add(key, ok, "no lifecycle.stopSignal")
		case "extra_hosts":
			var miss []string
			for _, e := range s.ExtraHosts {
				h, ip, ok := strings.Cut(e, "=")
				if !ok {
					h, ip, _ = strings.Cut(e, ":")
				}
				if !slices.ContainsFunc(spec.HostAliases, func(a corev1.HostAlias) bool { return a.IP == ip && slices.Contains(a.Hostnames, h) }) {
					miss = append(miss, h)
				}
			}
			add(key, len(miss) == 0, "no hostAliases for "+strings.Join(miss, ", "), miss...)
		case "dns", "dns_search", "dns_opt":
			var have, want []string
			if spec.DNSConfig != nil {
				switch key {
				case "dns":
					have = spec.DNSConfig.Nameservers
				case "dns_search":
					have = spec.DNSConfig.Searches
				default:
					for _, o := range spec.DNSConfig.Options {
						have = append(have, o.Name)
					}
				}
			}
			switch key {
			case "dns":
				want = s.DNS
			case "dns_search":
				want = s.DNSSearch
			default:
				for _, o := range s.DNSOpts {
					n, _, _ := strings.Cut(o, ":")
					want = append(want, n)
				}
			}
			var miss []string
			for _, w := range want {
				if !slices.Contains(have, w) {
					miss = append(miss, w)
				}
			}
			add(key, len(miss) == 0, "dnsConfig lacks "+strings.Join(miss, ", "), miss...)
		case "shm_size":
			_, v := mountAt(pd, "/dev/shm")
			add(key, v != nil && v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory, "no memory emptyDir at /dev/shm")
		case "group_add":
			var miss []string
			for _, g := range s.GroupAdd {
				n, err := strconv.ParseInt(g, 10, 64)
				if err != nil || spec.SecurityContext == nil || !slices.Contains(spec.SecurityContext.SupplementalGroups, n) {
					miss = append(miss, g)
				}
			}
			add(key, len(miss) == 0, "supplementalGroups lack "+strings.Join(miss, ", "), miss...)
		case "pid":
			add(key, s.Pid == "host" && spec.HostPID, "pid "+s.Pid+" not carried")
		case "ipc":
			add(key, s.Ipc == "host" && spec.HostIPC, "ipc "+s.Ipc+" not carried")
		default:
			unprobed = append(unprobed, key)
		}
	}
	return res, unprobed, skipped
}

// known are the fields probeService has a probe for.
func known(key string) bool {
	switch key {
	case "image", "build", "pull_policy", "command", "entrypoint", "environment", "working_dir", "user",
		"ports", "expose", "healthcheck", "depends_on", "deploy", "scale", "restart", "volumes", "tmpfs",
		"secrets", "configs", "networks", "network_mode", "labels", "annotations", "container_name",
		"hostname", "domainname", "tty", "stdin_open", "privileged", "read_only", "cap_add", "cap_drop",
		"sysctls", "stop_grace_period", "stop_signal", "extra_hosts", "dns", "dns_search", "dns_opt",
		"shm_size", "group_add", "pid", "ipc":
		return true
	}
	return false
}

// k8sExpand is what the kubelet makes of a command, argument or env value: "$$" is "$", and
// "$(NAME)" of a variable of the container is its value (other references stay as written).
func k8sExpand(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// expandAll expands a command or its arguments with the container's literal variables.
func expandAll(list []string, c *corev1.Container) []string {
	if list == nil {
		return nil
	}
	vars := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			vars[e.Name] = k8sExpand(e.Value, vars)
		}
	}
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = k8sExpand(x, vars)
	}
	return out
}

func ptrStr[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func capName(s string) string { return strings.TrimPrefix(strings.ToUpper(s), "CAP_") }

// probeEnv: every variable compose sets is in the container with the same value (a literal, a
// valueFrom, or a key of a ConfigMap or Secret the container takes with envFrom).
func probeEnv(s *service, c *corev1.Container, out *output) result {
	// What the kubelet sets: each value with $(VAR) of the variables before it expanded.
	vars, got := map[string]string{}, map[string]*string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			got[e.Name] = nil
			continue
		}
		x := k8sExpand(e.Value, vars)
		vars[e.Name], got[e.Name] = x, &x
	}
	var miss []string
	for k, v := range s.Environment {
		if v == nil { // unset on the host: compose passes nothing either
			continue
		}
		g, ok := got[k]
		ok = ok && (g == nil || *g == *v)
		if !ok {
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					if o := out.find("ConfigMap", ef.ConfigMapRef.Name); o != nil {
						if cm, _ := o.obj.(*corev1.ConfigMap); cm != nil && cm.Data[strings.TrimPrefix(k, ef.Prefix)] == *v {
							ok = true
						}
					}
				}
				if ef.SecretRef != nil {
					if o := out.find("Secret", ef.SecretRef.Name); o != nil {
						if sec, _ := o.obj.(*corev1.Secret); sec != nil {
							key := strings.TrimPrefix(k, ef.Prefix)
							ok = ok || string(sec.Data[key]) == *v || sec.StringData[key] == *v
						}
					}
				}
			}
		}
		if !ok {
			miss = append(miss, k)
		}
	}
	slices.Sort(miss)
	return result{Field: "environment", Carried: len(miss) == 0, Detail: "missing or changed: " + strings.Join(miss, ", "), Values: miss}
}

// probeUser: a numeric uid[:gid] is runAsUser/runAsGroup; a user name has no Kubernetes field.
func probeUser(u string, c *corev1.Container, spec *corev1.PodSpec) result {
	r := result{Field: "user"}
	us, gs, hasGroup := strings.Cut(u, ":")
	uid, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		r.Detail = fmt.Sprintf("user name %q: Kubernetes takes only a numeric uid", us)
		return r
	}
	var runUser, runGroup *int64
	if spec.SecurityContext != nil {
		runUser, runGroup = spec.SecurityContext.RunAsUser, spec.SecurityContext.RunAsGroup
	}
	if c.SecurityContext != nil {
		if c.SecurityContext.RunAsUser != nil {
			runUser = c.SecurityContext.RunAsUser
		}
		if c.SecurityContext.RunAsGroup != nil {
			runGroup = c.SecurityContext.RunAsGroup
		}
	}
	r.Carried = runUser != nil && *runUser == uid
	if hasGroup {
		gid, err := strconv.ParseInt(gs, 10, 64)
		r.Carried = r.Carried && err == nil && runGroup != nil && *runGroup == gid
	}
	r.Detail = fmt.Sprintf("runAsUser %s runAsGroup %s", ptrStr(runUser), ptrStr(runGroup))
	return r
}

// servicesFor are the accepted Services that select the pod.
func servicesFor(out *output, pd *pod) []*corev1.Service {
	var r []*corev1.Service
	for _, svc := range out.services() {
		if selects(svc.Spec.Selector, pd.w.tmpl.Labels) {
			r = append(r, svc)
		}
	}
	return r
}

// serviceNamed is the accepted Service of that name selecting the pod, or nil.
func serviceNamed(out *output, name string, pd *pod) *corev1.Service {
	for _, svc := range servicesFor(out, pd) {
		if svc.Name == name {
			return svc
		}
	}
	return nil
}

// reaches reports whether a Service port sends traffic to the container port target.
func reaches(sp corev1.ServicePort, c *corev1.Container, target int32) bool {
	switch {
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		for _, cp := range c.Ports {
			if cp.Name == sp.TargetPort.StrVal {
				return cp.ContainerPort == target
			}
		}
		return false
	case sp.TargetPort.IntVal == 0:
		return sp.Port == target // targetPort defaults to port
	default:
		return sp.TargetPort.IntVal == target
	}
}

func protoOf(s string) corev1.Protocol {
	if s == "" {
		return corev1.ProtocolTCP
	}
	return corev1.Protocol(strings.ToUpper(s))
}

func protoEq(sp corev1.ServicePort, p corev1.Protocol) bool {
	return protoOf(string(sp.Protocol)) == p
}

// inCluster reports whether peers reach the container port by the service's name on that port:
// a Service of that name selecting the pod with port == target, or a headless Service (its
// name resolves to the pods, every port reachable).
func inCluster(out *output, pd *pod, name string, target int32, proto corev1.Protocol) bool {
	for _, svc := range servicesFor(out, pd) {
		if svc.Name != name {
			continue
		}
		if svc.Spec.ClusterIP == corev1.ClusterIPNone && len(svc.Spec.Ports) == 0 {
			return true
		}
		for _, sp := range svc.Spec.Ports {
			if sp.Port == target && protoEq(sp, proto) && reaches(sp, pd.c, target) {
				return true
			}
		}
	}
	return false
}

// probePorts: "ports" holds when peers reach every target port as <service>:<target> (compose
// peers dial the container port); "ports.published" when every port published on a non-loopback
// address is reachable from outside the cluster (a LoadBalancer or NodePort Service, or a
// hostPort) on the published port.
func probePorts(s *service, pd *pod, out *output) []result {
	name := dnsName(s.Name)
	var miss, missPub, pubVals []string
	pub := false
	for _, p := range s.Ports {
		t, proto := int32(p.Target), protoOf(p.Protocol)
		if !inCluster(out, pd, name, t, proto) {
			miss = append(miss, fmt.Sprint(p.Target))
		}
		if p.Published == "" || p.HostIP == "127.0.0.1" || p.HostIP == "::1" {
			continue
		}
		pub = true
		n, err := strconv.ParseInt(p.Published, 10, 32)
		ok := false
		for _, cp := range pd.c.Ports {
			ok = ok || (err == nil && cp.HostPort == int32(n) && cp.ContainerPort == t)
		}
		for _, svc := range servicesFor(out, pd) {
			if svc.Spec.Type != corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeNodePort {
				continue
			}
			for _, sp := range svc.Spec.Ports {
				if err == nil && (sp.Port == int32(n) || sp.NodePort == int32(n)) && protoEq(sp, proto) && reaches(sp, pd.c, t) {
					ok = true
				}
			}
		}
		if !ok {
			missPub = append(missPub, p.Published+":"+fmt.Sprint(p.Target))
			pubVals = append(pubVals, p.Published)
		}
	}
	r := []result{{Field: "ports", Carried: len(miss) == 0, Values: miss,
		Detail: fmt.Sprintf("no Service %q on target port %s", name, strings.Join(miss, ", "))}}
	if pub {
		r = append(r, result{Field: "ports.published", Carried: len(missPub) == 0, Values: pubVals,
			Detail: "not reachable from outside the cluster: " + strings.Join(missPub, ", ")})
	}
	for i := range r {
		if r[i].Carried {
			r[i].Detail = ""
		}
	}
	return r
}

var portSpec = regexp.MustCompile(`^(\d+)(?:-(\d+))?(?:/(\w+))?$`)

// probeExpose: every exposed port is reached as <service>:<port>.
func probeExpose(s *service, pd *pod, out *output) result {
	name := dnsName(s.Name)
	var miss []string
	for _, e := range s.Expose {
		m := portSpec.FindStringSubmatch(e)
		if m == nil {
			miss = append(miss, e)
			continue
		}
		lo, _ := strconv.Atoi(m[1])
		hi := lo
		if m[2] != "" {
			hi, _ = strconv.Atoi(m[2])
		}
		for p := lo; p <= hi; p++ {
			if !inCluster(out, pd, name, int32(p), protoOf(m[3])) {
				miss = append(miss, strconv.Itoa(p))
			}
		}
	}
	r := result{Field: "expose", Carried: len(miss) == 0, Values: miss}
	if !r.Carried {
		r.Detail = fmt.Sprintf("no Service %q on port %s", name, strings.Join(miss, ", "))
	}
	return r
}

// probeHealth: some probe of the container runs what compose runs (CMD as is, CMD-SHELL through
// a shell); a disabled healthcheck means no probe.
func probeHealth(h *healthcheck, c *corev1.Container) result {
	r := result{Field: "healthcheck"}
	probes := map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe}
	if h.Disable || (len(h.Test) > 0 && h.Test[0] == "NONE") {
		r.Carried = c.ReadinessProbe == nil && c.LivenessProbe == nil && c.StartupProbe == nil
		r.Detail = "disabled in compose but the container has a probe"
		return r
	}
	var want [][]string
	switch {
	case len(h.Test) > 1 && h.Test[0] == "CMD":
		want = [][]string{h.Test[1:]}
	case len(h.Test) == 2 && h.Test[0] == "CMD-SHELL":
		want = [][]string{{"/bin/sh", "-c", h.Test[1]}, {"sh", "-c", h.Test[1]}}
	default:
		r.Detail = fmt.Sprintf("test %q is not CMD or CMD-SHELL", h.Test)
		return r
	}
	var got []string
	for _, kind := range []string{"readiness", "liveness", "startup"} {
		pr := probes[kind]
		if pr == nil {
			continue
		}
		if pr.Exec == nil {
			got = append(got, kind+" (not exec)")
			continue
		}
		for _, w := range want {
			if slices.Equal(pr.Exec.Command, w) {
				r.Carried = true
			}
		}
		got = append(got, fmt.Sprintf("%s exec %q", kind, pr.Exec.Command))
	}
	if len(got) == 0 {
		r.Detail = "no probe"
	} else {
		r.Detail = fmt.Sprintf("%s, compose runs %q", strings.Join(got, ", "), want[0])
	}
	return r
}

// probeDepends: every dependency is waited for before the container starts: an init container
// whose command names the dependency's Service.
func probeDepends(s *service, spec *corev1.PodSpec) result {
	var text []string
	for _, ic := range spec.InitContainers {
		text = append(text, strings.Join(append(slices.Clone(ic.Command), ic.Args...), " "))
	}
	all := strings.Join(text, "\n")
	var miss []string
	for dep := range s.DependsOn {
		re := regexp.MustCompile(`(^|[^a-z0-9.-])` + regexp.QuoteMeta(dnsName(dep)) + `([^a-z0-9-]|$)`)
		if !re.MatchString(all) {
			miss = append(miss, dep)
		}
	}
	slices.Sort(miss)
	return result{Field: "depends_on", Carried: len(miss) == 0, Values: miss,
		Detail: "nothing waits for " + strings.Join(miss, ", ")}
}

// probeDeploy checks the deploy keys set: replicas, mode, resources, placement constraints and
// labels; other keys are unprobed.
func probeDeploy(p *project, s *service, pd *pod, out *output) (res []result, unprobed []string) {
	d := s.Deploy
	var sub map[string]any
	_ = jsonUnmarshal(p.raw[s.Name]["deploy"], &sub)
	for _, k := range sortedKeys(sub) {
		if isEmpty(sub[k]) {
			continue
		}
		f := "deploy." + k
		switch k {
		case "replicas":
			ok := pd.w.replicas != nil && d.Replicas != nil && int(*pd.w.replicas) == *d.Replicas
			if d.Mode == "global" {
				ok = pd.w.o.kind == "DaemonSet"
			}
			res = append(res, result{Field: f, Carried: ok, Detail: fmt.Sprintf("%s replicas %s", pd.w.o.kind, ptrStr(pd.w.replicas))})
		case "mode":
			ok := d.Mode != "global" || pd.w.o.kind == "DaemonSet"
			res = append(res, result{Field: f, Carried: ok, Detail: "a " + pd.w.o.kind + ", not a DaemonSet"})
		case "resources":
			res = append(res, probeResources(d, pd.c))
		case "placement":
			var miss []string
			for _, con := range d.Placement.Constraints {
				k, _, _ := strings.Cut(strings.NewReplacer("!=", "=", "==", "=").Replace(con), "=")
				label := strings.TrimPrefix(strings.TrimSpace(k), "node.labels.")
				txt := fmt.Sprint(pd.w.tmpl.Spec.NodeSelector, pd.w.tmpl.Spec.Affinity)
				if !strings.Contains(txt, label) {
					miss = append(miss, con)
				}
			}
			res = append(res, result{Field: f, Carried: len(miss) == 0, Detail: "no node selector for " + strings.Join(miss, ", ")})
		case "labels":
			var miss []string
			for lk, lv := range d.Labels {
				if pd.w.meta.Annotations[lk] != lv && pd.w.meta.Labels[lk] != lv {
					miss = append(miss, lk)
				}
			}
			res = append(res, result{Field: f, Carried: len(miss) == 0, Detail: "missing " + strings.Join(miss, ", "), Values: miss})
		default:
			unprobed = append(unprobed, f)
		}
	}
	for i := range res {
		if res[i].Carried {
			res[i].Detail = ""
		}
	}
	return res, unprobed
}

// probeResources: every limit and reservation compose sets is the container's limit or request
// of the same quantity (pids has no container field).
func probeResources(d *deploy, c *corev1.Container) result {
	var miss []string
	check := func(what string, r *limitSpec, have corev1.ResourceList) {
		if r == nil {
			return
		}
		if r.Cpus != 0 {
			q, ok := have[corev1.ResourceCPU]
			if !ok || q.MilliValue() != int64(r.Cpus*1000+0.5) {
				miss = append(miss, what+".cpus")
			}
		}
		if r.Memory != "" {
			q, ok := have[corev1.ResourceMemory]
			want, err := resource.ParseQuantity(r.Memory)
			if !ok || err != nil || q.Cmp(want) != 0 {
				miss = append(miss, what+".memory")
			}
		}
		if r.Pids != 0 {
			miss = append(miss, what+".pids")
		}
	}
	check("limits", d.Resources.Limits, c.Resources.Limits)
	check("reservations", d.Resources.Reservations, c.Resources.Requests)
	return result{Field: "deploy.resources", Carried: len(miss) == 0, Detail: "missing " + strings.Join(miss, ", ")}
}

// probeRestart: always and unless-stopped are pods that always restart in a workload that keeps
// them; on-failure is restartPolicy OnFailure; no is Never.
func probeRestart(r string, pd *pod) result {
	rp := pd.w.tmpl.Spec.RestartPolicy
	if rp == "" {
		rp = corev1.RestartPolicyAlways
	}
	var ok bool
	switch {
	case r == "always" || r == "unless-stopped":
		ok = rp == corev1.RestartPolicyAlways && pd.w.o.kind != "Job" && pd.w.o.kind != "CronJob"
	case strings.HasPrefix(r, "on-failure"):
		ok = rp == corev1.RestartPolicyOnFailure
	case r == "no":
		ok = rp == corev1.RestartPolicyNever
	}
	return result{Field: "restart", Carried: ok, Detail: fmt.Sprintf("%s %s with restartPolicy %s", r, pd.w.o.kind, rp)}
}

// mountAt finds the container's mount at a path and its volume (a claim template counts as a
// PVC volume).
func mountAt(pd *pod, target string) (*corev1.VolumeMount, *corev1.Volume) {
	for i := range pd.c.VolumeMounts {
		m := &pd.c.VolumeMounts[i]
		if path.Clean(m.MountPath) != path.Clean(target) {
			continue
		}
		for j := range pd.w.tmpl.Spec.Volumes {
			if pd.w.tmpl.Spec.Volumes[j].Name == m.Name {
				return m, &pd.w.tmpl.Spec.Volumes[j]
			}
		}
		if slices.Contains(pd.w.claims, m.Name) {
			return m, &corev1.Volume{Name: m.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: m.Name}}}
		}
		return m, nil
	}
	return nil, nil
}

// probeVolumes: a named volume is a PVC (or claim template) at the target; an anonymous one an
// emptyDir or PVC; a bind the host's content (a hostPath, or a ConfigMap or Secret holding every
// file of it; a PVC or emptyDir starts empty); a tmpfs an emptyDir.
func probeVolumes(s *service, pd *pod, out *output) (res []result, unprobed []string) {
	miss, missVals := map[string][]string{}, map[string][]string{}
	seen := map[string]bool{}
	for _, v := range s.Volumes {
		kind := v.Type
		if kind == "volume" && v.Source == "" {
			kind = "anonymous"
		} else if kind == "volume" {
			kind = "named"
		}
		var ok bool
		_, vol := mountAt(pd, v.Target)
		switch kind {
		case "named":
			ok = vol != nil && vol.PersistentVolumeClaim != nil
		case "anonymous":
			ok = vol != nil && (vol.EmptyDir != nil || vol.PersistentVolumeClaim != nil)
		case "bind":
			ok = vol != nil && (vol.HostPath != nil || carriesFiles(out, vol, v.Source))
		case "tmpfs":
			ok = vol != nil && vol.EmptyDir != nil
		default:
			if !seen[kind] {
				unprobed = append(unprobed, "volumes:"+kind)
			}
			seen[kind] = true
			continue
		}
		seen[kind] = true
		if !ok {
			what := "nothing"
			if vol != nil {
				what = volumeKind(vol)
			}
			miss[kind] = append(miss[kind], fmt.Sprintf("%s:%s (%s)", v.Source, v.Target, what))
			missVals[kind] = append(missVals[kind], v.Target)
			if v.Source != "" {
				missVals[kind] = append(missVals[kind], v.Source)
			}
		}
	}
	for _, kind := range []string{"named", "anonymous", "bind", "tmpfs"} {
		if !seen[kind] {
			continue
		}
		r := result{Field: "volumes:" + kind, Carried: len(miss[kind]) == 0, Detail: strings.Join(miss[kind], ", ")}
		r.Values = missVals[kind]
		res = append(res, r)
	}
	return res, unprobed
}

// carriesFiles reports whether a ConfigMap or Secret volume holds the content of a bind's source:
// the file, or every file of a directory with no subdirectories (a ConfigMap is flat). A source
// missing here has no content to carry.
func carriesFiles(out *output, v *corev1.Volume, source string) bool {
	kind, name := "", ""
	switch {
	case v.ConfigMap != nil:
		kind, name = "ConfigMap", v.ConfigMap.Name
	case v.Secret != nil:
		kind, name = "Secret", v.Secret.SecretName
	default:
		return false
	}
	st, err := os.Stat(source)
	if err != nil {
		return false
	}
	if !st.IsDir() {
		o := out.find(kind, name)
		return o != nil && o.rejected == ""
	}
	entries, err := os.ReadDir(source)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !hasKey(out, kind, name, e.Name()) {
			return false
		}
	}
	return true
}

func volumeKind(v *corev1.Volume) string {
	switch {
	case v.PersistentVolumeClaim != nil:
		return "a PVC"
	case v.EmptyDir != nil:
		return "an emptyDir"
	case v.HostPath != nil:
		return "a hostPath"
	case v.ConfigMap != nil:
		return "a ConfigMap"
	case v.Secret != nil:
		return "a Secret"
	}
	return "another volume"
}

// probeFiles: each secret (config) is one file at its compose path from a Secret (ConfigMap)
// volume: mounted there (subPath or not), or a mount of the directory whose items place exactly
// that file. A mount at /run/secrets itself replaces the directory: not carried.
func probeFiles(field string, refs []fileRef, where func(fileRef) string, pd *pod, out *output) result {
	var miss, vals []string
	for _, r := range refs {
		t := where(r)
		ok := false
		for i := range pd.c.VolumeMounts {
			m := pd.c.VolumeMounts[i]
			var v *corev1.Volume
			for j := range pd.w.tmpl.Spec.Volumes {
				if pd.w.tmpl.Spec.Volumes[j].Name == m.Name {
					v = &pd.w.tmpl.Spec.Volumes[j]
				}
			}
			if v == nil {
				continue
			}
			var items []corev1.KeyToPath
			var objKind, objName string
			switch {
			case field == "secrets" && v.Secret != nil:
				items, objKind, objName = v.Secret.Items, "Secret", v.Secret.SecretName
			case field == "configs" && v.ConfigMap != nil:
				items, objKind, objName = v.ConfigMap.Items, "ConfigMap", v.ConfigMap.Name
			default:
				continue
			}
			switch {
			case path.Clean(m.MountPath) == t:
				ok = true
			case m.SubPath == "" && path.Clean(m.MountPath) == path.Dir(t):
				base := path.Base(t)
				if len(items) > 0 {
					ok = ok || slices.ContainsFunc(items, func(k corev1.KeyToPath) bool { return k.Path == base })
				} else {
					ok = ok || hasKey(out, objKind, objName, base)
				}
			}
		}
		if !ok {
			miss = append(miss, r.Source+" at "+t)
			vals = append(vals, r.Source, dnsName(r.Source), t)
		}
	}
	return result{Field: field, Carried: len(miss) == 0, Detail: "no file " + strings.Join(miss, ", "), Values: vals}
}

func hasKey(out *output, kind, name, key string) bool {
	o := out.find(kind, name)
	if o == nil {
		return false
	}
	switch x := o.obj.(type) {
	case *corev1.ConfigMap:
		_, a := x.Data[key]
		_, b := x.BinaryData[key]
		return a || b
	case *corev1.Secret:
		_, a := x.Data[key]
		_, b := x.StringData[key]
		return a || b
	}
	return false
}

// probeNetworks: aliases are Services of those names; several project networks (isolation) and
// internal networks are NetworkPolicies selecting the pod; static addresses have no mapping. A
// service on the project's only network with no aliases has nothing to carry.
func probeNetworks(p *project, s *service, pd *pod, out *output) (res []result, skipped []string) {
	var aliases, static []string
	internal := false
	for n, a := range s.Networks {
		if nw := p.Networks[n]; nw != nil && nw.Internal {
			internal = true
		}
		if a == nil {
			continue
		}
		aliases = append(aliases, a.Aliases...)
		if a.Ipv4Address != "" || a.Ipv6Address != "" {
			static = append(static, n)
		}
	}
	isolated := 0
	for _, n := range p.Networks {
		if !n.External {
			isolated++
		}
	}
	if len(aliases) > 0 {
		var miss []string
		for _, a := range aliases {
			if serviceNamed(out, dnsName(a), pd) == nil {
				miss = append(miss, a)
			}
		}
		res = append(res, result{Field: "networks.aliases", Carried: len(miss) == 0, Detail: "no Service for " + strings.Join(miss, ", "), Values: miss})
	}
	if len(static) > 0 {
		res = append(res, result{Field: "networks.ipv4_address", Detail: "no Kubernetes field"})
	}
	policy := func(egress bool) bool {
		for _, o := range out.objects {
			np, _ := o.obj.(*networkingv1.NetworkPolicy)
			if np == nil || o.rejected != "" || !selectsOrAll(np.Spec.PodSelector.MatchLabels, pd.w.tmpl.Labels) {
				continue
			}
			if !egress || slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
				return true
			}
		}
		return false
	}
	if isolated > 1 {
		res = append(res, result{Field: "networks.isolation", Carried: policy(false), Detail: "no NetworkPolicy selects the pods"})
	}
	if internal {
		res = append(res, result{Field: "networks.internal", Carried: policy(true), Detail: "no egress NetworkPolicy selects the pods"})
	}
	for i := range res {
		if res[i].Carried {
			res[i].Detail = ""
		}
	}
	if len(res) == 0 {
		skipped = append(skipped, "networks (the project's one network, no aliases: nothing to carry)")
	}
	return res, skipped
}

func selectsOrAll(sel, labels map[string]string) bool { return len(sel) == 0 || selects(sel, labels) }

// probeNetworkMode: host is hostNetwork; service:X is a container in X's pod; none has no mapping.
func probeNetworkMode(s *service, pd *pod, out *output) result {
	r := result{Field: "network_mode"}
	mode := s.NetworkMode
	switch {
	case mode == "host":
		r.Carried = pd.w.tmpl.Spec.HostNetwork
		r.Detail = "no hostNetwork"
	case strings.HasPrefix(mode, "service:"):
		other := out.findPod(strings.TrimPrefix(mode, "service:"), "")
		r.Carried = other != nil && other.w == pd.w
		r.Detail = "not in the pod of " + strings.TrimPrefix(mode, "service:")
	default:
		r.Detail = "network_mode " + mode + " has no mapping"
	}
	return r
}
