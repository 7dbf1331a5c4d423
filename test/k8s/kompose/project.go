package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
)

// project is the part of `berth config --format json` (compose-go's normalized model) the
// probes read.
type project struct {
	Name     string                 `json:"name"`
	Services map[string]*service    `json:"services"`
	Networks map[string]*topNetwork `json:"networks"`
	Volumes  map[string]*topObject  `json:"volumes"`
	Secrets  map[string]*topObject  `json:"secrets"`
	Configs  map[string]*topObject  `json:"configs"`

	raw map[string]map[string]json.RawMessage // each service's fields as written
}

type topObject struct {
	Name        string `json:"name"`
	File        string `json:"file"`
	Environment string `json:"environment"`
	Content     string `json:"content"`
	External    bool   `json:"external"`
}

type topNetwork struct {
	External bool `json:"external"`
	Internal bool `json:"internal"`
}

type service struct {
	Name            string
	Image           string                `json:"image"`
	Build           json.RawMessage       `json:"build"`
	PullPolicy      string                `json:"pull_policy"`
	Command         []string              `json:"command"`
	Entrypoint      []string              `json:"entrypoint"`
	Environment     map[string]*string    `json:"environment"`
	WorkingDir      string                `json:"working_dir"`
	User            string                `json:"user"`
	Ports           []portConfig          `json:"ports"`
	Expose          []string              `json:"expose"`
	Healthcheck     *healthcheck          `json:"healthcheck"`
	DependsOn       map[string]dependency `json:"depends_on"`
	Deploy          *deploy               `json:"deploy"`
	Scale           *int                  `json:"scale"`
	Restart         string                `json:"restart"`
	Volumes         []volumeConfig        `json:"volumes"`
	Tmpfs           []string              `json:"tmpfs"`
	Configs         []fileRef             `json:"configs"`
	Secrets         []fileRef             `json:"secrets"`
	Networks        map[string]*attach    `json:"networks"`
	NetworkMode     string                `json:"network_mode"`
	Labels          map[string]string     `json:"labels"`
	Annotations     map[string]string     `json:"annotations"`
	ContainerName   string                `json:"container_name"`
	Hostname        string                `json:"hostname"`
	Domainname      string                `json:"domainname"`
	Tty             bool                  `json:"tty"`
	StdinOpen       bool                  `json:"stdin_open"`
	Privileged      bool                  `json:"privileged"`
	ReadOnly        bool                  `json:"read_only"`
	CapAdd          []string              `json:"cap_add"`
	CapDrop         []string              `json:"cap_drop"`
	Sysctls         map[string]string     `json:"sysctls"`
	StopGracePeriod string                `json:"stop_grace_period"`
	StopSignal      string                `json:"stop_signal"`
	ExtraHosts      []string              `json:"extra_hosts"`
	DNS             []string              `json:"dns"`
	DNSSearch       []string              `json:"dns_search"`
	DNSOpts         []string              `json:"dns_opt"`
	ShmSize         string                `json:"shm_size"`
	GroupAdd        []string              `json:"group_add"`
	Pid             string                `json:"pid"`
	Ipc             string                `json:"ipc"`
}

type portConfig struct {
	HostIP    string `json:"host_ip"`
	Target    uint32 `json:"target"`
	Published string `json:"published"`
	Protocol  string `json:"protocol"`
	Mode      string `json:"mode"`
}

type healthcheck struct {
	Test    []string `json:"test"`
	Disable bool     `json:"disable"`
}

type dependency struct {
	Condition string `json:"condition"`
}

type deploy struct {
	Mode      string            `json:"mode"`
	Replicas  *int              `json:"replicas"`
	Labels    map[string]string `json:"labels"`
	Resources struct {
		Limits       *limitSpec `json:"limits"`
		Reservations *limitSpec `json:"reservations"`
	} `json:"resources"`
	Placement struct {
		Constraints []string `json:"constraints"`
	} `json:"placement"`
}

type limitSpec struct {
	Cpus   float64 `json:"cpus"`
	Memory string  `json:"memory"`
	Pids   int64   `json:"pids"`
}

type volumeConfig struct {
	Type   string `json:"type"`
	Source string `json:"source"`
	Target string `json:"target"`
}

type fileRef struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

type attach struct {
	Aliases     []string `json:"aliases"`
	Ipv4Address string   `json:"ipv4_address"`
	Ipv6Address string   `json:"ipv6_address"`
}

// loadProject reads a `berth config --format json` file.
func loadProject(file string) (*project, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var p project
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var raw struct {
		Services map[string]map[string]json.RawMessage `json:"services"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	p.raw = raw.Services
	for n, s := range p.Services {
		s.Name = n
		s.unescape()
	}
	return &p, nil
}

// unescape undoes the "$$" the config output writes for a literal "$" (so it can be read again),
// in the strings the probes compare with what runs.
func (s *service) unescape() {
	u := func(x string) string { return strings.ReplaceAll(x, "$$", "$") }
	for i := range s.Command {
		s.Command[i] = u(s.Command[i])
	}
	for i := range s.Entrypoint {
		s.Entrypoint[i] = u(s.Entrypoint[i])
	}
	if s.Healthcheck != nil {
		for i := range s.Healthcheck.Test {
			s.Healthcheck.Test[i] = u(s.Healthcheck.Test[i])
		}
	}
	for k, v := range s.Environment {
		if v != nil {
			x := u(*v)
			s.Environment[k] = &x
		}
	}
	for _, m := range []map[string]string{s.Labels, s.Annotations} {
		for k, v := range m {
			m[k] = u(v)
		}
	}
}

// serviceNames are the project's services, sorted.
func (p *project) serviceNames() []string {
	var n []string
	for k := range p.Services {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// present are the service's fields that say something: not null, "", false, 0, [] or {}.
func (p *project) present(svc string) []string {
	var keys []string
	for k, v := range p.raw[svc] {
		if strings.HasPrefix(k, "x-") {
			continue
		}
		// A service's networks are named keys with (often) null attachments.
		if isEmptyJSON(v) && (k != "networks" || string(v) == "{}" || string(v) == "null") {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func isEmptyJSON(v json.RawMessage) bool {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return false
	}
	return isEmpty(x)
}

func isEmpty(x any) bool {
	switch t := x.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case bool:
		return !t
	case float64:
		return t == 0
	case []any:
		return len(t) == 0
	case map[string]any:
		for _, v := range t {
			if !isEmpty(v) {
				return false
			}
		}
		return true
	}
	return false
}

// secretPath is where compose puts a secret inside the container.
func secretPath(r fileRef) string {
	t := r.Target
	if t == "" {
		t = r.Source
	}
	if !path.IsAbs(t) {
		t = "/run/secrets/" + t
	}
	return t
}

// configPath is where compose puts a config inside the container.
func configPath(r fileRef) string {
	t := r.Target
	if t == "" {
		t = r.Source
	}
	if !path.IsAbs(t) {
		t = "/" + t
	}
	return t
}
