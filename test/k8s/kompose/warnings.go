package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// loadWarnings reads a tool's standard error and returns its warnings and errors, lowercased:
// berth's are logfmt lines at level=warning (or error), kompose's start with WARN (or FATA).
func loadWarnings(file string) []string {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var w []string
	for _, l := range strings.Split(ansi.ReplaceAllString(string(data), ""), "\n") {
		t := strings.TrimSpace(l)
		if strings.Contains(t, "level=warning") || strings.Contains(t, "level=error") ||
			strings.HasPrefix(t, "WARN") || strings.HasPrefix(t, "FATA") || strings.HasPrefix(t, "ERRO") ||
			strings.HasPrefix(t, "berth: ") || strings.HasPrefix(t, "Error:") {
			w = append(w, strings.ToLower(strings.ReplaceAll(t, `\"`, `"`)))
		}
	}
	return w
}

// keywords a warning about a field would contain (besides the field's own names and paths).
var keywords = map[string][]string{
	"image": {"image"}, "build": {"build", "image"}, "pull_policy": {"pull"},
	"command": {"command"}, "entrypoint": {"entrypoint"}, "environment": {"environment", "env"},
	"working_dir": {"working_dir", "workingdir"}, "user": {"user"},
	"ports": {"port"}, "ports.published": {"port", "publish"}, "expose": {"expose", "port"},
	"healthcheck": {"health"}, "depends_on": {"depends_on", "dependson", "depends on"},
	"scale": {"scale", "replica"}, "restart": {"restart"},
	"volumes:named": {"volume"}, "volumes:anonymous": {"volume"}, "volumes:bind": {"volume", "bind", "mount"},
	"volumes:tmpfs": {"tmpfs"}, "tmpfs": {"tmpfs"}, "secrets": {"secret"}, "configs": {"config"},
	"networks.aliases": {"alias"}, "networks.isolation": {"network"}, "networks.internal": {"internal"},
	"networks.ipv4_address": {"ipv4", "address"}, "network_mode": {"network_mode", "network mode"},
	"labels": {"label"}, "annotations": {"annotation"}, "container_name": {"container_name", "container name"},
	"hostname": {"hostname"}, "domainname": {"domainname"}, "tty": {"tty"}, "stdin_open": {"stdin"},
	"privileged": {"privileged"}, "read_only": {"read_only", "read-only", "readonly"},
	"cap_add": {"cap_add", "capabilit"}, "cap_drop": {"cap_drop", "capabilit"}, "sysctls": {"sysctl"},
	"stop_grace_period": {"stop_grace_period", "grace"}, "stop_signal": {"stop_signal", "stop signal", "stopsignal"},
	"extra_hosts": {"extra_hosts", "hostalias", "extra hosts"}, "dns": {"dns"}, "dns_search": {"dns"}, "dns_opt": {"dns"},
	"shm_size": {"shm"}, "ulimits": {"ulimit"}, "init": {"init"}, "logging": {"logging"},
}

// warned reports whether the tool warned about a dropped field of the service: one of its
// warnings concerns the service (names it, or names no service of the project), has a keyword of
// the field and, when the result names what was dropped (a secret, a path, a variable), one of
// those names too (so a warning about another secret of the service does not count).
func warned(warnings []string, svc string, all []string, r result) bool {
	words := keywords[r.Field]
	if len(words) == 0 {
		words = []string{r.Field, strings.ReplaceAll(r.Field, "_", " ")}
	}
	var items []string
	for _, v := range r.Values {
		if len(v) >= 2 {
			items = append(items, strings.ToLower(v))
		}
	}
	for _, w := range warnings {
		if concerns(w, svc, all) && mentions(w, words) && (len(items) == 0 || mentions(w, items)) {
			return true
		}
	}
	return false
}

// mentions reports whether one of the words starts a word of the text ("port" is not in
// "supported", "health" not in "unhealthy").
func mentions(text string, words []string) bool {
	for _, k := range words {
		if regexp.MustCompile(`(^|[^a-z0-9])` + regexp.QuoteMeta(k)).MatchString(text) {
			return true
		}
	}
	return false
}

// concerns reports whether a warning is about the service: it names it, or names no service of
// the project (kompose's warnings often name only a path or a key). Paths are not read as names.
func concerns(w, svc string, all []string) bool {
	var words []string
	for _, f := range strings.Fields(w) {
		if !strings.Contains(f, "/") {
			words = append(words, f)
		}
	}
	text := " " + strings.Join(words, " ") + " "
	names := func(s string) bool {
		for _, n := range []string{strings.ToLower(s), dnsName(s)} {
			re := regexp.MustCompile(`[^a-z0-9_.-]` + regexp.QuoteMeta(n) + `[^a-z0-9_-]`)
			if re.MatchString(text) {
				return true
			}
		}
		return false
	}
	if names(svc) {
		return true
	}
	for _, o := range all {
		if o != svc && names(o) {
			return false
		}
	}
	return true
}

// dangling lists the references of the output to objects it does not hold (or holds but the
// apiserver rejects): ConfigMaps, Secrets and claims of pod volumes and env, and Services whose
// selector matches no pod template. References to objects the compose file declares external
// are not dangling.
func dangling(out *output, p *project) []string {
	external := map[string]bool{}
	for _, m := range []map[string]*topObject{p.Secrets, p.Configs, p.Volumes} {
		for k, o := range m {
			if o != nil && o.External {
				external[k], external[dnsName(k)], external[o.Name], external[dnsName(o.Name)] = true, true, true, true
			}
		}
	}
	var bad []string
	ref := func(w *workload, kind, name, key string, optional bool) {
		if optional || external[name] {
			return
		}
		id := kind + "/" + name
		o := out.find(kind, name)
		switch {
		case o == nil:
			bad = append(bad, fmt.Sprintf("%s: %s is not in the output", w.o.id(), id))
		case o.rejected != "":
			bad = append(bad, fmt.Sprintf("%s: %s is rejected by the apiserver", w.o.id(), id))
		case key != "" && !hasKey(out, kind, name, key):
			bad = append(bad, fmt.Sprintf("%s: %s has no key %q", w.o.id(), id, key))
		}
	}
	opt := func(b *bool) bool { return b != nil && *b }
	for _, w := range out.workloads {
		spec := w.tmpl.Spec
		for _, v := range spec.Volumes {
			switch {
			case v.ConfigMap != nil:
				ref(w, "ConfigMap", v.ConfigMap.Name, "", opt(v.ConfigMap.Optional))
				for _, it := range v.ConfigMap.Items {
					ref(w, "ConfigMap", v.ConfigMap.Name, it.Key, opt(v.ConfigMap.Optional))
				}
			case v.Secret != nil:
				ref(w, "Secret", v.Secret.SecretName, "", opt(v.Secret.Optional))
				for _, it := range v.Secret.Items {
					ref(w, "Secret", v.Secret.SecretName, it.Key, opt(v.Secret.Optional))
				}
			case v.PersistentVolumeClaim != nil:
				if !slices.Contains(w.claims, v.PersistentVolumeClaim.ClaimName) {
					ref(w, "PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName, "", false)
				}
			case v.Projected != nil:
				for _, s := range v.Projected.Sources {
					if s.ConfigMap != nil {
						ref(w, "ConfigMap", s.ConfigMap.Name, "", opt(s.ConfigMap.Optional))
					}
					if s.Secret != nil {
						ref(w, "Secret", s.Secret.Name, "", opt(s.Secret.Optional))
					}
				}
			}
		}
		for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					ref(w, "ConfigMap", r.Name, r.Key, opt(r.Optional))
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					ref(w, "Secret", r.Name, r.Key, opt(r.Optional))
				}
			}
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					ref(w, "ConfigMap", e.ConfigMapRef.Name, "", opt(e.ConfigMapRef.Optional))
				}
				if e.SecretRef != nil {
					ref(w, "Secret", e.SecretRef.Name, "", opt(e.SecretRef.Optional))
				}
			}
		}
	}
	for _, o := range out.objects {
		svc, _ := o.obj.(*corev1.Service)
		if svc == nil || len(svc.Spec.Selector) == 0 {
			continue
		}
		if !slices.ContainsFunc(out.workloads, func(w *workload) bool { return selects(svc.Spec.Selector, w.tmpl.Labels) }) {
			bad = append(bad, o.id()+": its selector matches no pod template")
		}
	}
	sort.Strings(bad)
	return slices.Compact(bad)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func sortedKeys[V any](m map[string]V) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}
