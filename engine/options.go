package engine

// This file maps one replica of a compose service to the runtime's options for its container, the
// way docker compose's pkg/compose/create.go builds a container's config, host config and
// networking config. It is pure: it reads the loaded project and nothing else, so `up` can compare
// what a container should be with what it is before touching anything.

import (
	"fmt"
	"maps"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/network"
	"github.com/berth-sh/berth/runtime/container"
)

// More of compose's container labels (docker/compose pkg/api/labels.go).
const (
	LabelWorkingDir  = "com.docker.compose.project.working_dir"
	LabelConfigFiles = "com.docker.compose.project.config_files"
	LabelImage       = "com.docker.compose.image"
	LabelDependsOn   = "com.docker.compose.depends_on"
)

// ifnameOpt is the endpoint driver option that names the container's interface, which compose's
// interface_name stands for.
const ifnameOpt = "com.docker.network.endpoint.ifname"

// ContainerName is the name of replica n (1-based) of service s: its container_name when set,
// else <project><sep><service><sep><n> with compose's separator ("-"; "_" with compatibility).
func ContainerName(p *types.Project, s types.ServiceConfig, n int, compatibility bool) string {
	if s.ContainerName != "" {
		return s.ContainerName
	}
	sep := compose.Separator(compatibility)
	return p.Name + sep + s.Name + sep + strconv.Itoa(n)
}

// ContainerOptions maps replica n of service s of the loaded project p (paths resolved,
// interpolated, normalised) to the runtime's options for one container, as docker compose
// creates it.
//
// References to other services (links, volumes_from, network_mode: service:) name their first
// replica's container. Whatever the service asks for that berth cannot give and that the loader's
// support table does not already refuse or warn about fails with ErrInvalid naming the service
// and the attribute: nothing is dropped silently.
func ContainerOptions(p *types.Project, s types.ServiceConfig, n int, compatibility bool) (container.Options, error) {
	if n < 1 {
		return container.Options{}, invalidf("service %q: replica %d: replicas are numbered from 1", s.Name, n)
	}
	if s.ContainerName != "" && n > 1 {
		return container.Options{}, invalidf("service %q: container_name %q names one container only: remove it to run more than one replica", s.Name, s.ContainerName)
	}
	if err := refuse(s); err != nil {
		return container.Options{}, err
	}
	o := container.Options{
		Name:          ContainerName(p, s, n, compatibility),
		Image:         compose.ImageName(p, s, compatibility),
		Entrypoint:    slices.Clone(s.Entrypoint),
		EntrypointSet: s.Entrypoint != nil, // entrypoint: [] or "" clears the image's
		Env:           environment(s.Environment),
		WorkingDir:    s.WorkingDir,
		User:          s.User,
		Hostname:      s.Hostname,
		Domainname:    s.DomainName,
		Sysctls:       cloneMap(s.Sysctls),
		PidsLimit:     s.PidsLimit,
		CapAdd:        slices.Clone(s.CapAdd),
		CapDrop:       slices.Clone(s.CapDrop),
		Privileged:    s.Privileged,
		ReadOnly:      s.ReadOnly,
		StopSignal:    s.StopSignal,
		Tty:           s.Tty,
		OpenStdin:     s.StdinOpen,
		DNS:           slices.Clone([]string(s.DNS)),
		DNSSearch:     slices.Clone([]string(s.DNSSearch)),
		DNSOptions:    slices.Clone(s.DNSOpts),
	}
	// Docker gives an empty Cmd the image's, so command: [] is no command of its own.
	if len(s.Command) > 0 {
		o.Cmd = slices.Clone(s.Command)
	}
	if s.StopGracePeriod != nil {
		// Whole seconds, truncated, as compose's ToSeconds.
		secs := int(time.Duration(*s.StopGracePeriod).Seconds())
		o.StopTimeout = &secs
	}
	steps := []func(*types.Project, types.ServiceConfig, *container.Options) error{
		mapResources, mapUlimits, mapSecurityOpts, mapLogging, mapRestart, mapHealth,
		mapExtraHosts, mapPorts,
	}
	for _, step := range steps {
		if err := step(p, s, &o); err != nil {
			return container.Options{}, err
		}
	}
	if err := mapNetworks(p, s, compatibility, &o); err != nil {
		return container.Options{}, err
	}
	if err := mapReferences(p, s, compatibility, &o); err != nil {
		return container.Options{}, err
	}
	labels, err := containerLabels(p, s, n, o.Image)
	if err != nil {
		return container.Options{}, err
	}
	o.Labels = labels
	m, err := ServiceMounts(p, s)
	if err != nil {
		return container.Options{}, err
	}
	o.Mounts, o.Tmpfs, o.Secrets, o.Configs = m.Mounts, m.Tmpfs, m.Secrets, m.Configs
	return o, nil
}

// unsupported is one attribute berth cannot carry to a container, and why.
type unsupported struct {
	attr string
	set  bool
	why  string
}

// refuse fails on the first attribute the service sets that berth cannot run. The attributes in
// compose's support table (compose/support.go) are not repeated here: the loader has already
// refused them or warned that they are ignored.
func refuse(s types.ServiceConfig) error {
	var reservations types.Resource
	var restartDelay bool
	if s.Deploy != nil {
		if s.Deploy.Resources.Reservations != nil {
			reservations = *s.Deploy.Resources.Reservations
		}
		restartDelay = s.Deploy.RestartPolicy != nil && s.Deploy.RestartPolicy.Delay != nil
	}
	const ownNS = "a container always has a namespace of its own"
	for _, u := range []unsupported{
		{"annotations", len(s.Annotations) > 0, "berth has no OCI annotations to set"},
		{"cgroup", s.Cgroup != "" && s.Cgroup != "private", "a container always has a cgroup namespace of its own"},
		{"cgroup_parent", s.CgroupParent != "", "containers' cgroups are always under berth's own parent"},
		{"cpu_shares", s.CPUShares != 0, "CPU weights are not supported yet"},
		{"cpuset", s.CPUSet != "", "CPU pinning is not supported yet"},
		{"device_cgroup_rules", len(s.DeviceCgroupRules) > 0, "containers get Docker's default device rules only"},
		{"devices", len(s.Devices) > 0, "host devices cannot be given to containers yet"},
		{"group_add", len(s.GroupAdd) > 0, "supplementary groups are not supported yet"},
		{"ipc", s.Ipc != "" && s.Ipc != "private" && s.Ipc != "shareable", ownNS + " for IPC"},
		{"mem_reservation", s.MemReservation != 0, "soft memory limits are not supported yet"},
		{"memswap_limit", s.MemSwapLimit != 0, "swap limits are not supported yet"},
		{"oom_kill_disable", s.OomKillDisable, "the OOM killer cannot be turned off for a container"},
		{"oom_score_adj", s.OomScoreAdj != 0, "OOM score adjustment is not supported yet"},
		{"pid", s.Pid != "", ownNS + " for PIDs, with berth's init as PID 1"},
		{"shm_size", s.ShmSize != 0, "the size of /dev/shm cannot be set yet"},
		{"umask", s.Umask != nil, "the umask of the workload cannot be set"},
		{"uts", s.Uts != "", ownNS + " for its hostname"},
		{"volume_driver", s.VolumeDriver != "" && s.VolumeDriver != "local", "only the local volume driver is supported"},
		{"deploy.resources.reservations.memory", reservations.MemoryBytes != 0, "soft memory limits are not supported yet"},
		{"deploy.resources.reservations.cpus", reservations.NanoCPUs != 0, "CPU reservations only apply to swarm services"},
		{"deploy.restart_policy.delay", restartDelay, "restarts back off as Docker's do (100 ms, doubling)"},
	} {
		if u.set {
			return invalidf("service %q: %s is not supported by berth: %s", s.Name, u.attr, u.why)
		}
	}
	if s.Platform != "" && !hostPlatform(s.Platform) {
		return invalidf("service %q: platform %q is not supported by berth: it runs images for linux/%s only", s.Name, s.Platform, goruntime.GOARCH)
	}
	return nil
}

// hostPlatform reports whether an os[/arch[/variant]] platform is this host's.
func hostPlatform(platform string) bool {
	parts := strings.Split(strings.ToLower(platform), "/")
	if parts[0] != "linux" {
		return false
	}
	if len(parts) == 1 {
		return true
	}
	arch := parts[1]
	switch arch {
	case "x86_64", "x86-64":
		arch = "amd64"
	case "aarch64":
		arch = "arm64"
	}
	return arch == goruntime.GOARCH
}

// environment is compose's environment as KEY=VALUE, sorted. A key without a value (one that
// interpolation found unset) stays a bare KEY, as compose passes it: the runtime, as Docker's
// daemon, then leaves it out and hides the image's value of it.
func environment(env types.MappingWithEquals) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if v := env[k]; v != nil {
			out = append(out, k+"="+*v)
		} else {
			out = append(out, k)
		}
	}
	return out
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// cpuCount turns compose-go's float32 CPU counts into float64 without float32's noise
// (0.1 stays 0.1, not 0.10000000149).
func cpuCount(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

// mapResources sets the memory, CPU and PID limits; deploy.resources.limits win over the
// service-level attributes, as in compose.
func mapResources(_ *types.Project, s types.ServiceConfig, o *container.Options) error {
	o.Memory = int64(s.MemLimit)
	o.CPUs = cpuCount(s.CPUS)
	if s.CPUQuota > 0 {
		if s.CPUS != 0 {
			// The daemon's words.
			return invalidf("service %q: cpus and cpu_quota: Conflicting options: Nano CPUs and CPU Quota cannot both be set", s.Name)
		}
		period := s.CPUPeriod
		if period == 0 {
			period = 100000 // the kernel's and Docker's default CFS period, in µs
		}
		// The runtime always uses the default period: the same share of CPU time.
		o.CPUs = float64(s.CPUQuota) / float64(period)
	}
	if s.Deploy != nil && s.Deploy.Resources.Limits != nil {
		l := s.Deploy.Resources.Limits
		if l.MemoryBytes != 0 {
			o.Memory = int64(l.MemoryBytes)
		}
		if l.NanoCPUs != 0 {
			o.CPUs = cpuCount(float32(l.NanoCPUs))
		}
		if l.Pids > 0 {
			o.PidsLimit = l.Pids
		}
	}
	return nil
}

// mapUlimits writes each ulimit as "name=soft:hard", or "name=value" for a single value, sorted
// by name.
func mapUlimits(_ *types.Project, s types.ServiceConfig, o *container.Options) error {
	for _, name := range slices.Sorted(maps.Keys(s.Ulimits)) {
		u := s.Ulimits[name]
		if u == nil {
			continue
		}
		if u.Soft == 0 && u.Hard == 0 {
			o.Ulimits = append(o.Ulimits, fmt.Sprintf("%s=%d", name, u.Single))
			continue
		}
		soft, hard := u.Single, u.Single
		if u.Soft != 0 {
			soft = u.Soft
		}
		if u.Hard != 0 {
			hard = u.Hard
		}
		o.Ulimits = append(o.Ulimits, fmt.Sprintf("%s=%d:%d", name, soft, hard))
	}
	return nil
}

// mapSecurityOpts keeps what the runtime understands (no-new-privileges, seccomp, with a profile
// path resolved against the project directory as compose does) and refuses the rest.
func mapSecurityOpts(p *types.Project, s types.ServiceConfig, o *container.Options) error {
	for _, opt := range s.SecurityOpt {
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			k, v, ok = strings.Cut(opt, ":")
		}
		switch {
		case k == "no-new-privileges":
			o.SecurityOpt = append(o.SecurityOpt, opt)
		case k == "seccomp" && ok && v == "builtin":
			// Docker's default profile, which the runtime applies when asked for nothing.
		case k == "seccomp" && ok && v != "" && v != "unconfined" && !filepath.IsAbs(v):
			o.SecurityOpt = append(o.SecurityOpt, "seccomp="+filepath.Join(p.WorkingDir, v))
		case k == "seccomp" && ok && v != "":
			o.SecurityOpt = append(o.SecurityOpt, "seccomp="+v)
		case k == "apparmor" && v == "unconfined", k == "label" && v == "disable":
			// berth applies no AppArmor profile and no SELinux label: the container already is
			// what these ask for.
		default:
			return invalidf("service %q: security_opt %q is not supported by berth (no-new-privileges, seccomp, apparmor=unconfined, label=disable)", s.Name, opt)
		}
	}
	return nil
}

// mapLogging keeps json-file and its options. The loader warns about other drivers, which
// berth replaces with its json-file logs; their options go with them. Docker's local driver
// rotates by default, so its defaults come along (20 MB, 5 files, compressed).
func mapLogging(_ *types.Project, s types.ServiceConfig, o *container.Options) error {
	if s.Logging == nil {
		return nil
	}
	switch s.Logging.Driver {
	case "", "json-file":
		o.LogDriver = s.Logging.Driver
		o.LogOpts = cloneMap(s.Logging.Options)
	case "local":
		o.LogOpts = map[string]string{"max-size": "20m", "max-file": "5", "compress": "true"}
		maps.Copy(o.LogOpts, s.Logging.Options)
	}
	return nil
}

// mapRestart is compose's getRestartPolicy: restart, overridden by deploy.restart_policy, whose
// conditions take Docker's names.
func mapRestart(_ *types.Project, s types.ServiceConfig, o *container.Options) error {
	attr, policy := "restart", ""
	if s.Restart != "" {
		cond, count, hasCount := strings.Cut(s.Restart, ":")
		policy = restartName(cond)
		if hasCount {
			policy += ":" + count
		}
	}
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil {
		rp := s.Deploy.RestartPolicy
		attr, policy = "deploy.restart_policy", restartName(rp.Condition)
		if rp.MaxAttempts != nil && *rp.MaxAttempts > 0 {
			policy += ":" + strconv.FormatUint(*rp.MaxAttempts, 10)
		}
	}
	if _, err := container.ParseRestartPolicy(policy); err != nil {
		return invalidf("service %q: %s: %v", s.Name, attr, err)
	}
	o.Restart = policy
	return nil
}

// restartName is compose's mapRestartPolicyCondition.
func restartName(condition string) string {
	switch condition {
	case "none", "no":
		return "no"
	case "any", "always":
		return "always"
	default:
		return condition
	}
}

// mapHealth is compose's ToMobyHealthCheck; disable: true and test: ["NONE"] turn the image's
// healthcheck off.
func mapHealth(_ *types.Project, s types.ServiceConfig, o *container.Options) error {
	h := s.HealthCheck
	if h == nil {
		return nil
	}
	if h.Disable || len(h.Test) > 0 && h.Test[0] == "NONE" {
		o.Health = &container.HealthOptions{Disable: true}
		return nil
	}
	if h.StartInterval != nil && h.StartPeriod == nil {
		// compose's words (moby/moby#48874).
		return invalidf("service %q: healthcheck.start_interval requires healthcheck.start_period to be set", s.Name)
	}
	health := &container.HealthOptions{Test: slices.Clone([]string(h.Test))}
	for _, d := range []struct {
		from *types.Duration
		to   *time.Duration
	}{{h.Interval, &health.Interval}, {h.Timeout, &health.Timeout}, {h.StartPeriod, &health.StartPeriod}, {h.StartInterval, &health.StartInterval}} {
		if d.from != nil {
			*d.to = time.Duration(*d.from)
		}
	}
	if h.Retries != nil {
		health.Retries = int(*h.Retries)
	}
	o.Health = health
	return nil
}

// mapExtraHosts writes extra_hosts as "name:ip", sorted by name, each name's addresses in the
// file's order; host-gateway stays for the runtime to resolve.
func mapExtraHosts(_ *types.Project, s types.ServiceConfig, o *container.Options) error {
	for _, host := range slices.Sorted(maps.Keys(s.ExtraHosts)) {
		for _, ip := range s.ExtraHosts[host] {
			o.ExtraHosts = append(o.ExtraHosts, host+":"+ip)
		}
	}
	return nil
}

// mapPorts maps ports (and checks expose) with docker run's -p parser, so that a port means the
// same to `berth run` and to a compose file.
func mapPorts(_ *types.Project, s types.ServiceConfig, o *container.Options) error {
	var values []string
	for _, pc := range s.Ports {
		proto := pc.Protocol
		if proto == "" {
			proto = "tcp"
		}
		v := strconv.FormatUint(uint64(pc.Target), 10) + "/" + proto
		if pc.Published != "" || pc.HostIP != "" {
			v = pc.Published + ":" + v
		}
		if ip := pc.HostIP; ip != "" {
			if strings.Contains(ip, ":") && !strings.HasPrefix(ip, "[") {
				ip = "[" + ip + "]"
			}
			v = ip + ":" + v
		}
		values = append(values, v)
	}
	ports, err := network.ParsePorts(values)
	if err != nil {
		return invalidf("service %q: ports: %v", s.Name, err)
	}
	o.Ports = ports
	if len(s.Expose) > 0 {
		if _, err := container.ExposedPorts(s.Expose); err != nil {
			return invalidf("service %q: expose: %v", s.Name, err)
		}
		o.Expose = slices.Clone([]string(s.Expose))
	}
	return nil
}

// mapNetworks is compose's defaultNetworkSettings: network_mode as Docker reads it, or one
// attachment per network of the service.
func mapNetworks(p *types.Project, s types.ServiceConfig, compatibility bool, o *container.Options) error {
	mode := s.NetworkMode
	switch {
	case mode == "":
		return mapAttachments(p, s, o)
	case mode == "host" || mode == "none" || strings.HasPrefix(mode, types.ContainerPrefix):
		o.NetworkMode = mode
	case strings.HasPrefix(mode, types.ServicePrefix):
		other, err := otherService(p, s, "network_mode", strings.TrimPrefix(mode, types.ServicePrefix))
		if err != nil {
			return err
		}
		o.NetworkMode = types.ContainerPrefix + ContainerName(p, other, 1, compatibility)
	default:
		// Docker reads any other mode as the name of a network (not a key of the file's
		// networks); "default" is its default bridge.
		name := mode
		if name == "default" {
			name = network.DefaultNetwork
		}
		o.Networks = []network.Attachment{{Network: name, MAC: s.MacAddress}}
		return nil
	}
	if s.MacAddress != "" {
		// The daemon's words.
		return invalidf("service %q: mac_address: conflicting options: mac-address and the network mode %s", s.Name, mode)
	}
	return nil
}

// mapAttachments puts the container on the service's networks in compose's order (priority,
// highest first, then name), except that the one with the highest gw_priority goes first: the
// runtime routes through the first, and Docker through the highest gw_priority. Each gets the
// service name as an alias (unless use_service_name_alias is false), then the entry's aliases;
// the runtime adds the container name, short id and hostname itself.
func mapAttachments(p *types.Project, s types.ServiceConfig, o *container.Options) error {
	keys := s.NetworksByPriority()
	if len(keys) == 0 {
		// A project without networks: compose runs the container with none.
		o.NetworkMode = "none"
		return nil
	}
	primary, gw := keys[0], 0
	for i, key := range keys {
		if gwPriority(s, key) > gwPriority(s, keys[gw]) {
			gw = i
		}
	}
	keys = append(append([]string{keys[gw]}, keys[:gw]...), keys[gw+1:]...)
	for _, key := range keys {
		def, ok := p.Networks[key]
		if !ok {
			return invalidf("service %q refers to undefined network %s: invalid compose project", s.Name, key)
		}
		a := network.Attachment{Network: def.Name}
		if a.Network == "" {
			a.Network = p.Name + "_" + key
		}
		cfg := s.Networks[key]
		if cfg.ServiceNameAliasEnabled() {
			a.Aliases = append(a.Aliases, s.Name)
		}
		if cfg != nil {
			for _, alias := range cfg.Aliases {
				if !slices.Contains(a.Aliases, alias) {
					a.Aliases = append(a.Aliases, alias)
				}
			}
			a.IPv4, a.IPv6, a.MAC = cfg.Ipv4Address, cfg.Ipv6Address, cfg.MacAddress
			// interface_name wins over the driver option it stands for, as in compose.
			a.IfName = cfg.InterfaceName
			if a.IfName == "" {
				a.IfName = cfg.DriverOpts[ifnameOpt]
			}
		}
		// compose's prepareContainerMACAddress: the service's mac_address is the primary
		// network's, and may not contradict it.
		if key == primary && s.MacAddress != "" {
			if a.MAC != "" && a.MAC != s.MacAddress {
				// compose's words.
				return invalidf("service %q: the service-level mac_address should have the same value as network %s", s.Name, key)
			}
			a.MAC = s.MacAddress
		}
		o.Networks = append(o.Networks, a)
	}
	return nil
}

func gwPriority(s types.ServiceConfig, key string) int {
	if cfg := s.Networks[key]; cfg != nil {
		return cfg.GatewayPriority
	}
	return 0
}

// FindService is the project's service name, enabled or not (up SERVICE and profiles disable
// the others, which can still be named by links, volumes_from or a build's service: context).
func FindService(p *types.Project, name string) (types.ServiceConfig, bool) {
	if s, ok := p.Services[name]; ok {
		return s, true
	}
	s, ok := p.DisabledServices[name]
	return s, ok
}

// otherService finds the service that attr of s names, enabled or not: its container is named
// the same either way.
func otherService(p *types.Project, s types.ServiceConfig, attr, name string) (types.ServiceConfig, error) {
	if other, ok := FindService(p, name); ok {
		return other, nil
	}
	return types.ServiceConfig{}, invalidf("service %q: %s refers to undefined service %s: invalid compose project", s.Name, attr, name)
}

// mapReferences resolves links, external_links and volumes_from to container names, as compose's
// getLinks and resolveVolumeFrom do, with each service's first replica.
func mapReferences(p *types.Project, s types.ServiceConfig, compatibility bool, o *container.Options) error {
	for _, l := range s.Links {
		name, alias, _ := strings.Cut(l, ":")
		other, err := otherService(p, s, "links", name)
		if err != nil {
			return err
		}
		if alias == "" {
			alias = name
		}
		o.Links = append(o.Links, ContainerName(p, other, 1, compatibility)+":"+alias)
	}
	for _, l := range s.ExternalLinks {
		name, alias, _ := strings.Cut(l, ":")
		if alias == "" {
			alias = name
		}
		o.Links = append(o.Links, name+":"+alias)
	}
	for _, v := range s.VolumesFrom {
		parts := strings.Split(v, ":")
		var name, mode string
		switch {
		case parts[0] == "container" && len(parts) >= 2 && len(parts) <= 3:
			name = parts[1]
			if len(parts) == 3 {
				mode = parts[2]
			}
		case parts[0] != "container" && len(parts) <= 2:
			other, err := otherService(p, s, "volumes_from", parts[0])
			if err != nil {
				return err
			}
			name = ContainerName(p, other, 1, compatibility)
			if len(parts) == 2 {
				mode = parts[1]
			}
		default:
			return invalidf("service %q: volumes_from %q: want service[:ro|rw] or container:name[:ro|rw]", s.Name, v)
		}
		switch mode {
		case "":
		case "ro", "rw":
			name += ":" + mode
		default:
			return invalidf("service %q: volumes_from %q: mode %q is not ro or rw", s.Name, v, mode)
		}
		o.VolumesFrom = append(o.VolumesFrom, name)
	}
	return nil
}

// containerLabels are the service's labels and compose's own on replica n.
func containerLabels(p *types.Project, s types.ServiceConfig, n int, image string) (map[string]string, error) {
	hash, err := compose.ServiceHash(s)
	if err != nil {
		return nil, invalidf("service %q: config hash: %v", s.Name, err)
	}
	var deps []string
	for name, d := range s.DependsOn {
		deps = append(deps, fmt.Sprintf("%s:%s:%t", name, d.Condition, d.Restart))
	}
	slices.Sort(deps)
	labels := map[string]string{}
	maps.Copy(labels, s.Labels)
	maps.Copy(labels, s.CustomLabels)
	maps.Copy(labels, map[string]string{
		LabelProject:     p.Name,
		LabelService:     s.Name,
		LabelNumber:      strconv.Itoa(n),
		LabelOneoff:      "False",
		LabelConfigHash:  hash,
		LabelWorkingDir:  p.WorkingDir,
		LabelConfigFiles: strings.Join(p.ComposeFiles, ","),
		LabelImage:       image,
		LabelVersion:     ComposeVersion,
		LabelDependsOn:   strings.Join(deps, ","),
	})
	return labels, nil
}
