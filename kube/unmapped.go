package kube

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// carried are the service fields convert maps (some partly: what of them it cannot carry is
// dropped where it is handled); ignored are those with no meaning in a cluster worth a warning.
var (
	carried = set("image", "build", "pull_policy", "command", "entrypoint", "environment", "working_dir", "user",
		"ports", "expose", "healthcheck", "depends_on", "deploy", "scale", "restart", "volumes", "tmpfs",
		"configs", "secrets", "networks", "network_mode", "labels", "annotations", "hostname", "tty",
		"stdin_open", "privileged", "cap_add", "cap_drop", "read_only", "sysctls", "stop_grace_period",
		"extra_hosts", "dns", "dns_search", "dns_opt", "cpus", "mem_limit", "mem_reservation", "shm_size",
		"group_add", "security_opt", "links", "pid", "ipc", "volumes_from", "container_name", "runtime")
	// env_file and label_file are merged into environment and labels when the project loads;
	// profiles are applied then too; attach is about a terminal.
	ignored = set("env_file", "label_file", "profiles", "attach")
	why     = map[string]string{
		"ulimits":        "no Kubernetes field",
		"stop_signal":    "needs Kubernetes' ContainerStopSignals feature",
		"init":           "no Kubernetes field: the image's entrypoint is PID 1",
		"logging":        "the cluster's logging applies",
		"devices":        "use the cluster's device plugins",
		"gpus":           "use the cluster's device plugins",
		"platform":       "the cluster schedules by node",
		"develop":        "a local dev loop",
		"domainname":     "no Kubernetes field",
		"external_links": "not defined in the project",
		"mac_address":    "no Kubernetes field",
		"cgroup_parent":  "the kubelet places pods",
		"userns_mode":    "no Kubernetes field",
	}
)

func set(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range s {
		m[k] = true
	}
	return m
}

// unmapped drops every field of the service convert does not carry, so none is lost silently.
func (c *converter) unmapped(s types.ServiceConfig) {
	b, err := json.Marshal(s)
	if err != nil {
		c.drop(s.Name, "(the service could not be inspected: "+err.Error()+")")
		return
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] == nil || carried[k] || ignored[k] || strings.HasPrefix(k, "x-") {
			continue
		}
		if w := why[k]; w != "" {
			c.drop(s.Name, fmt.Sprintf("%s (%s)", k, w))
		} else {
			c.drop(s.Name, k)
		}
	}
	if d := s.Deploy; d != nil {
		switch d.Mode {
		case "", "replicated", "global":
		default:
			c.drop(s.Name, "deploy.mode "+d.Mode)
		}
		if d.RestartPolicy != nil {
			c.drop(s.Name, "deploy.restart_policy (pods always restart)")
		}
		if d.RollbackConfig != nil {
			c.drop(s.Name, "deploy.rollback_config")
		}
		if d.EndpointMode != "" && d.EndpointMode != "vip" {
			c.drop(s.Name, "deploy.endpoint_mode "+d.EndpointMode)
		}
		if u := d.UpdateConfig; u != nil && (u.Delay != 0 || u.FailureAction != "" || u.Monitor != 0 || u.MaxFailureRatio != 0) {
			c.drop(s.Name, "deploy.update_config delay/failure_action/monitor/max_failure_ratio")
		}
		if len(d.Placement.Preferences) > 0 || d.Placement.MaxReplicas > 0 {
			c.drop(s.Name, "deploy.placement preferences/max_replicas_per_node")
		}
	}
}
