package compose

import (
	_ "embed"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"
)

// Severity says what berth does with an attribute it does not run.
type Severity int

const (
	// SeverityWarning: the attribute is ignored and the user is told.
	SeverityWarning Severity = iota
	// SeverityError: leaving the attribute out would surprise the user, so the project is refused.
	SeverityError
)

// Finding is one attribute of the loaded model that berth does not run.
type Finding struct {
	// Path locates the attribute, e.g. services.web.gpus.
	Path     string
	Severity Severity
	// Reason says why berth does not run it, in a few words.
	Reason string
	// Value is the offending value when the rule is about values (a network driver, say).
	Value string
}

// String names the resource and the field, the way a user reads them in the file:
// `service "web": gpus is not supported by berth: ...`.
func (f Finding) String() string {
	parts := strings.Split(f.Path, ".")
	what := "is ignored by berth"
	if f.Severity == SeverityError {
		what = "is not supported by berth"
	}
	kinds := map[string]string{"services": "service", "networks": "network", "volumes": "volume",
		"secrets": "secret", "configs": "config", "models": "model"}
	if kind, ok := kinds[parts[0]]; ok && len(parts) > 2 {
		field := strings.ReplaceAll(strings.Join(parts[2:], "."), ".[]", "[]")
		if f.Value != "" {
			field += " " + strconv.Quote(f.Value)
		}
		return fmt.Sprintf("%s %q: %s %s: %s", kind, parts[1], field, what, f.Reason)
	}
	return fmt.Sprintf("%s %s: %s", f.Path, what, f.Reason)
}

// rule is one line of berth's support table. A nil detect means the attribute's presence alone is
// reported; otherwise only the values for which detect returns true are.
type rule struct {
	path     string
	severity Severity
	reason   string
	detect   func(any) bool
}

const (
	swarmOnly   = "it only applies to swarm services"
	windowsOnly = "it only applies to Windows containers"
)

// notIn reports values that are set and not one of the allowed strings.
func notIn(allowed ...string) func(any) bool {
	return func(v any) bool {
		s, ok := v.(string)
		if !ok {
			return true
		}
		for _, a := range allowed {
			if s == a {
				return false
			}
		}
		return true
	}
}

func isTrue(v any) bool { b, ok := v.(bool); return ok && b }

// supportTable lists every compose attribute that berth does not run. Everything else in the
// compose specification is part of berth's design (../shared/design.md) and is not reported. A
// new attribute that compose-go learns is reported until it is added to known_attributes.txt.
var supportTable = []rule{
	// Refused: running without these would not be what the file asks for.
	{"services.*.gpus", SeverityError, "berth cannot give containers GPUs", nil},
	{"services.*.deploy.resources.reservations.devices", SeverityError, "berth cannot reserve devices such as GPUs", nil},
	{"services.*.deploy.resources.reservations.generic_resources", SeverityError, "berth cannot reserve generic resources", nil},
	{"services.*.runtime", SeverityError, "berth runs containers with its own runtime only", notIn("", "runc", "berth")},
	{"services.*.isolation", SeverityError, windowsOnly, notIn("", "default", "process")},
	{"services.*.userns_mode", SeverityError, "user namespace remapping is not supported", notIn("", "host")},
	{"services.*.use_api_socket", SeverityError, "berth has no Docker API socket to share", isTrue},
	{"services.*.provider", SeverityError, "provider services are not supported", nil},
	{"services.*.models", SeverityError, "AI models are not supported", nil},
	{"models", SeverityError, "AI models are not supported", nil},
	{"services.*.pre_start", SeverityError, "lifecycle hooks are not supported; a setup step would silently not run", nil},
	{"services.*.post_start", SeverityError, "lifecycle hooks are not supported; a setup step would silently not run", nil},
	{"services.*.pre_stop", SeverityError, "lifecycle hooks are not supported; a teardown step would silently not run", nil},
	{"services.*.volumes.[].type", SeverityError, "only bind, volume and tmpfs mounts are supported", notIn("bind", "volume", "tmpfs")},
	{"networks.*.driver", SeverityError, "only the bridge network driver is supported", notIn("", "bridge")},
	{"networks.*.ipam.driver", SeverityError, "only the default IPAM driver is supported", notIn("", "default")},
	{"volumes.*.driver", SeverityError, "only the local volume driver is supported", notIn("", "local")},
	{"secrets.*.driver", SeverityError, "secret drivers " + swarmOnly, nil},
	{"secrets.*.driver_opts", SeverityError, "secret drivers " + swarmOnly, nil},
	{"secrets.*.external", SeverityError, "external secrets exist only in swarm", isTrue},
	{"configs.*.external", SeverityError, "external configs exist only in swarm", isTrue},

	// Ignored with a warning: the service still runs as the user expects on one Linux host.
	{"services.*.credential_spec", SeverityWarning, windowsOnly, nil},
	{"services.*.cpu_count", SeverityWarning, windowsOnly, nil},
	{"services.*.cpu_percent", SeverityWarning, windowsOnly, nil},
	{"services.*.cpu_rt_period", SeverityWarning, "real-time CPU scheduling is not supported", nil},
	{"services.*.cpu_rt_runtime", SeverityWarning, "real-time CPU scheduling is not supported", nil},
	{"services.*.blkio_config", SeverityWarning, "block I/O limits are not supported yet", nil},
	{"services.*.mem_swappiness", SeverityWarning, "swappiness is not supported", nil},
	{"services.*.storage_opt", SeverityWarning, "storage driver options do not apply to berth's overlay snapshots", nil},
	{"services.*.pull_refresh_after", SeverityWarning, "timed image refresh is not supported", nil},
	{"services.*.develop", SeverityWarning, "`watch` is not supported; the service runs without it", nil},
	{"services.*.logging.driver", SeverityWarning, "logs are always written by berth's json-file logger", notIn("", "json-file", "local", "none")},
	{"services.*.networks.*.link_local_ips", SeverityWarning, "link-local addresses are not supported", nil},
	{"services.*.networks.*.driver_opts", SeverityWarning, "per-endpoint driver options are not supported", nil},
	{"services.*.deploy.mode", SeverityWarning, "global mode " + swarmOnly, notIn("", "replicated")},
	{"services.*.deploy.placement", SeverityWarning, swarmOnly, nil},
	{"services.*.deploy.update_config", SeverityWarning, swarmOnly, nil},
	{"services.*.deploy.rollback_config", SeverityWarning, swarmOnly, nil},
	{"services.*.deploy.endpoint_mode", SeverityWarning, swarmOnly, nil},
	{"services.*.deploy.labels", SeverityWarning, swarmOnly, nil},
	{"services.*.deploy.restart_policy.window", SeverityWarning, "berth resets the restart backoff after 10 s of uptime, as Docker does", nil},
	{"services.*.build.cache_from", SeverityWarning, "berth builds use the local layer cache only", nil},
	{"services.*.build.cache_to", SeverityWarning, "berth builds use the local layer cache only", nil},
	{"services.*.build.no_cache_filter", SeverityWarning, "per-stage cache control is not supported", nil},
	{"services.*.build.secrets", SeverityWarning, "build secrets are not supported yet", nil},
	{"services.*.build.ssh", SeverityWarning, "SSH forwarding into builds is not supported", nil},
	{"services.*.build.platforms", SeverityWarning, "berth builds for the host platform only", nil},
	{"services.*.build.privileged", SeverityWarning, "privileged builds are not supported", nil},
	{"services.*.build.entitlements", SeverityWarning, "build entitlements are not supported", nil},
	{"services.*.build.provenance", SeverityWarning, "attestations are not produced", nil},
	{"services.*.build.sbom", SeverityWarning, "attestations are not produced", nil},
	{"services.*.build.isolation", SeverityWarning, windowsOnly, nil},
	{"services.*.build.ulimits", SeverityWarning, "build ulimits are not supported", nil},
	{"services.*.build.extra_hosts", SeverityWarning, "extra hosts in builds are not supported", nil},
	{"services.*.build.shm_size", SeverityWarning, "build shm size is not supported", nil},
	{"secrets.*.template_driver", SeverityWarning, swarmOnly, nil},
	{"configs.*.template_driver", SeverityWarning, swarmOnly, nil},
}

// knownAttributes is the compose specification as berth was written against it: compose-go's
// schema.AttributePaths at the pinned version. A test keeps it equal to compose-go's, so an upgrade
// that brings new attributes makes someone decide on each; until then they are reported.
//
//go:embed known_attributes.txt
var knownAttributes string

func knownPaths() []tree.Path {
	var paths []tree.Path
	for _, line := range strings.Split(knownAttributes, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			paths = append(paths, tree.Path(line))
		}
	}
	return paths
}

// supportCheck returns the loader option that walks the merged model once and hands every
// finding to report.
func supportCheck(report func([]Finding)) func(*loader.Options) {
	patterns := make([]loader.UnsupportedAttributePattern, 0, len(supportTable))
	for _, r := range supportTable {
		patterns = append(patterns, loader.UnsupportedAttributePattern{Path: tree.Path(r.path), Detect: r.detect})
	}
	convert := func(found []loader.UnsupportedAttribute) {
		out := make([]Finding, 0, len(found))
		for _, a := range found {
			out = append(out, classify(a.Path, a.Value))
		}
		report(out)
	}
	return func(o *loader.Options) {
		loader.WithUnsupportedAttributesCheck(patterns, convert)(o)
		loader.WithSupportedAttributes(knownPaths(), nil)(o)
	}
}

func classify(p tree.Path, value any) Finding {
	for _, r := range supportTable {
		if p.Matches(tree.Path(r.path)) {
			f := Finding{Path: p.String(), Severity: r.severity, Reason: r.reason}
			if r.detect != nil {
				f.Value = fmt.Sprint(value)
			}
			return f
		}
	}
	return Finding{Path: p.String(), Severity: SeverityWarning,
		Reason: "this attribute is newer than berth's compose support"}
}

// relevant keeps the findings about what the loaded project still holds: not about services that
// profiles disabled or selection left out, nor resources no selected service uses.
func relevant(findings []Finding, p *types.Project) []Finding {
	var out []Finding
	for _, f := range findings {
		parts := strings.SplitN(f.Path, ".", 3)
		if len(parts) >= 2 {
			present := true
			switch parts[0] {
			case "services":
				_, present = p.Services[parts[1]]
			case "networks":
				_, present = p.Networks[parts[1]]
			case "volumes":
				_, present = p.Volumes[parts[1]]
			case "secrets":
				_, present = p.Secrets[parts[1]]
			case "configs":
				_, present = p.Configs[parts[1]]
			}
			if !present {
				continue
			}
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity > out[j].Severity
		}
		return out[i].Path < out[j].Path
	})
	return out
}
