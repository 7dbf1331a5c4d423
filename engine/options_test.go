package engine

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/network"
	"github.com/berth-sh/berth/runtime/container"
)

// options loads content and maps replica n of service name.
func options(t *testing.T, content, name string, n int, compatibility bool) (*compose.Project, container.Options) {
	t.Helper()
	p := load(t, content)
	s, err := p.GetService(name)
	if err != nil {
		t.Fatal(err)
	}
	o, err := ContainerOptions(p.Project, s, n, compatibility)
	if err != nil {
		t.Fatalf("ContainerOptions(%s, %d): %v", name, n, err)
	}
	return p, o
}

func check(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

func TestContainerName(t *testing.T) {
	p := load(t, "services: {web: {image: x}, db: {image: y, container_name: my-db}}")
	web, _ := p.GetService("web")
	db, _ := p.GetService("db")
	for _, tc := range []struct {
		s      compose.ServiceConfig
		n      int
		compat bool
		want   string
	}{
		{web, 1, false, "todo-web-1"},
		{web, 3, false, "todo-web-3"},
		{web, 2, true, "todo_web_2"},
		{db, 1, false, "my-db"},
		{db, 1, true, "my-db"},
	} {
		if got := ContainerName(p.Project, tc.s, tc.n, tc.compat); got != tc.want {
			t.Errorf("ContainerName(%s, %d, %v) = %q, want %q", tc.s.Name, tc.n, tc.compat, got, tc.want)
		}
	}
	// The name is the one Options carry too; container_name is for one replica only.
	if _, o := options(t, "services: {web: {image: x}}", "web", 2, true); o.Name != "todo_web_2" {
		t.Errorf("Options.Name = %q", o.Name)
	}
	if _, err := ContainerOptions(p.Project, db, 2, false); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "container_name") {
		t.Errorf("a second replica of a service with a container_name: %v", err)
	}
}

const webCompose = `
services:
  web:
    image: nginx:1.27
    entrypoint: ["/docker-entrypoint.sh", "-x"]
    command: nginx -g 'daemon off;'
    environment:
      B: "2"
      A: "1"
      EMPTY: ""
      BERTH_TEST_SURELY_UNSET:
    env_file: [./web.env]
    working_dir: /srv
    user: "101:101"
    hostname: web
    domainname: example.org
    sysctls: {net.core.somaxconn: "1024"}
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    privileged: false
    read_only: true
    ulimits:
      nproc: 65535
      nofile: {soft: 20000, hard: 40000}
      core: {soft: 0, hard: 0}
    security_opt: [no-new-privileges:true, seccomp=./seccomp.json, apparmor=unconfined]
    stop_signal: SIGQUIT
    stop_grace_period: 1m30s
    tty: true
    stdin_open: true
    logging:
      driver: json-file
      options: {max-size: 10m, max-file: "3"}
    restart: on-failure:3
    dns: 1.1.1.1
    dns_search: [example.org]
    dns_opt: [ndots:2]
    extra_hosts:
      - "somehost=162.242.195.82"
      - "myhostv6=::1"
      - "host.docker.internal=host-gateway"
      - "somehost=10.0.0.1"
    ports:
      - "8080:80"
      - "127.0.0.1:8000-8010:81"
      - "[::1]:9090:90/udp"
      - "3000"
      - target: 443
        published: "8443"
        host_ip: 0.0.0.0
        mode: host
    expose: [9000, "53/udp", "7000-7002"]
    mem_limit: 512m
    cpus: 1.5
    pids_limit: 200
    volumes: [data:/data]
    tmpfs: [/run]
volumes:
  data:
`

func TestContainerOptions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "web.env"), []byte("FROM_FILE=yes\nA=from-file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(context.Background(), compose.Options{ProjectDir: dir, ProjectName: "todo", Files: []string{writeCompose(t, dir, webCompose)}})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := p.GetService("web")
	o, err := ContainerOptions(p.Project, s, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "Name", o.Name, "todo-web-1")
	check(t, "Image", o.Image, "nginx:1.27")
	check(t, "Entrypoint", o.Entrypoint, []string{"/docker-entrypoint.sh", "-x"})
	check(t, "EntrypointSet", o.EntrypointSet, true)
	check(t, "Cmd", o.Cmd, []string{"nginx", "-g", "daemon off;"})
	// Sorted; environment wins over env_file; an unset variable stays bare, as compose
	// passes it (the runtime then drops it and hides the image's value).
	check(t, "Env", o.Env, []string{"A=1", "B=2", "BERTH_TEST_SURELY_UNSET", "EMPTY=", "FROM_FILE=yes"})
	check(t, "WorkingDir", o.WorkingDir, "/srv")
	check(t, "User", o.User, "101:101")
	check(t, "Hostname", o.Hostname, "web")
	check(t, "Domainname", o.Domainname, "example.org")
	check(t, "Sysctls", o.Sysctls, map[string]string{"net.core.somaxconn": "1024"})
	check(t, "CapAdd", o.CapAdd, []string{"NET_ADMIN"})
	check(t, "CapDrop", o.CapDrop, []string{"MKNOD"})
	check(t, "Privileged", o.Privileged, false)
	check(t, "ReadOnly", o.ReadOnly, true)
	check(t, "Ulimits", o.Ulimits, []string{"core=0", "nofile=20000:40000", "nproc=65535"})
	check(t, "SecurityOpt", o.SecurityOpt, []string{"no-new-privileges:true", "seccomp=" + filepath.Join(dir, "seccomp.json")})
	check(t, "StopSignal", o.StopSignal, "SIGQUIT")
	ninety := 90
	check(t, "StopTimeout", o.StopTimeout, &ninety)
	check(t, "Tty", o.Tty, true)
	check(t, "OpenStdin", o.OpenStdin, true)
	check(t, "LogDriver", o.LogDriver, "json-file")
	check(t, "LogOpts", o.LogOpts, map[string]string{"max-size": "10m", "max-file": "3"})
	check(t, "Restart", o.Restart, "on-failure:3")
	check(t, "Health", o.Health, (*container.HealthOptions)(nil))
	check(t, "DNS", o.DNS, []string{"1.1.1.1"})
	check(t, "DNSSearch", o.DNSSearch, []string{"example.org"})
	check(t, "DNSOptions", o.DNSOptions, []string{"ndots:2"})
	check(t, "ExtraHosts", o.ExtraHosts, []string{"host.docker.internal:host-gateway", "myhostv6:::1", "somehost:162.242.195.82", "somehost:10.0.0.1"})
	check(t, "Ports", o.Ports, []network.PortSpec{
		{Proto: "tcp", HostPort: 8080, ContainerPort: 80},
		{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8000, HostPortEnd: 8010, ContainerPort: 81},
		{Proto: "udp", HostIP: netip.MustParseAddr("::1"), HostPort: 9090, ContainerPort: 90},
		{Proto: "tcp", ContainerPort: 3000},
		{Proto: "tcp", HostPort: 8443, ContainerPort: 443},
	})
	check(t, "Expose", o.Expose, []string{"9000", "53/udp", "7000-7002"})
	check(t, "Memory", o.Memory, int64(512<<20))
	check(t, "CPUs", o.CPUs, 1.5)
	check(t, "PidsLimit", o.PidsLimit, int64(200))
	check(t, "NetworkMode", o.NetworkMode, "")
	check(t, "Networks", o.Networks, []network.Attachment{{Network: "todo_default", Aliases: []string{"web"}}})
	check(t, "Mounts", o.Mounts, []container.Mount{{Type: "volume", Source: "todo_data", Target: "/data"}})
	check(t, "Tmpfs", o.Tmpfs, map[string]string{"/run": ""})
	check(t, "Links", o.Links, []string(nil))
	check(t, "VolumesFrom", o.VolumesFrom, []string(nil))
}

func writeCompose(t *testing.T, dir, content string) string {
	t.Helper()
	f := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestContainerOptionsEntrypointAndCommand(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		ep         []string
		epSet      bool
		cmd        []string
	}{
		{"unset", "{image: x}", nil, false, nil},
		{"empty list", "{image: x, entrypoint: [], command: []}", []string{}, true, nil},
		{"empty string", `{image: x, entrypoint: ""}`, []string{}, true, nil},
		{"shell form", `{image: x, entrypoint: "/bin/sh -c", command: "echo hi"}`, []string{"/bin/sh", "-c"}, true, []string{"echo", "hi"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, o := options(t, "services: {a: "+tc.yaml+"}", "a", 1, false)
			check(t, "Entrypoint", o.Entrypoint, tc.ep)
			check(t, "EntrypointSet", o.EntrypointSet, tc.epSet)
			check(t, "Cmd", o.Cmd, tc.cmd)
		})
	}
}

func TestContainerOptionsBuildImage(t *testing.T) {
	content := "services: {app: {build: ., ports: [\"3000:3000\"]}, tagged: {build: ., image: me/app:1}}"
	if _, o := options(t, content, "app", 1, false); o.Image != "todo-app" || o.Labels[LabelImage] != "todo-app" {
		t.Errorf("a built service's image: %q, label %q", o.Image, o.Labels[LabelImage])
	}
	if _, o := options(t, content, "app", 1, true); o.Image != "todo_app" {
		t.Errorf("a built service's image in compatibility mode: %q", o.Image)
	}
	if _, o := options(t, content, "tagged", 1, false); o.Image != "me/app:1" {
		t.Errorf("a built service with an image: %q", o.Image)
	}
}

const networksCompose = `
services:
  web:
    image: x
    mac_address: 02:42:ac:11:00:02
    networks:
      back:
        aliases: [api, web]
        ipv4_address: 172.28.0.10
        ipv6_address: 2001:db8::10
      front:
        priority: 10
        interface_name: lan0
      mid:
        use_service_name_alias: false
        aliases: [middle]
        driver_opts: {com.docker.network.endpoint.ifname: mid0}
  gw:
    image: x
    networks:
      back:
      front:
        priority: 10
      mid:
        gw_priority: 5
  plain:
    image: x
networks:
  back:
    ipam: {config: [{subnet: 172.28.0.0/16}]}
  front:
  mid:
    external: true
    name: shared-mid
`

func TestContainerOptionsNetworks(t *testing.T) {
	_, o := options(t, networksCompose, "web", 1, false)
	check(t, "web's networks", o.Networks, []network.Attachment{
		// priority 10 first, then by name; the service's mac_address on the first.
		{Network: "todo_front", Aliases: []string{"web"}, IfName: "lan0", MAC: "02:42:ac:11:00:02"},
		{Network: "todo_back", Aliases: []string{"web", "api"}, IPv4: "172.28.0.10", IPv6: "2001:db8::10"},
		{Network: "shared-mid", Aliases: []string{"middle"}, IfName: "mid0"},
	})
	check(t, "web's network mode", o.NetworkMode, "")

	// The highest gw_priority goes first, where the runtime routes; the rest keep compose's order.
	_, o = options(t, networksCompose, "gw", 2, false)
	var names []string
	for _, a := range o.Networks {
		names = append(names, a.Network)
	}
	check(t, "gw's networks", names, []string{"shared-mid", "todo_front", "todo_back"})

	// A service without networks is on the project's default network.
	_, o = options(t, networksCompose+"  default:\n", "plain", 1, false)
	check(t, "plain's networks", o.Networks, []network.Attachment{{Network: "todo_default", Aliases: []string{"plain"}}})

	// compose refuses two MAC addresses for the primary network.
	p := load(t, "services: {a: {image: x, mac_address: 02:42:ac:11:00:02, networks: {n: {mac_address: 02:42:ac:11:00:03}}}}\nnetworks: {n: {}}")
	a, _ := p.GetService("a")
	if _, err := ContainerOptions(p.Project, a, 1, false); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "mac_address") {
		t.Errorf("two MAC addresses: %v", err)
	}
}

func TestContainerOptionsNetworkMode(t *testing.T) {
	content := `
services:
  db: {image: x, container_name: the-db}
  app: {image: x}
  host: {image: x, network_mode: host}
  none: {image: x, network_mode: none}
  sidecar: {image: x, network_mode: "service:app"}
  dbside: {image: x, network_mode: "service:db"}
  other: {image: x, network_mode: "container:some-container"}
  named: {image: x, network_mode: my-net, mac_address: 02:42:ac:11:00:02}
  bridge: {image: x, network_mode: default}
`
	for _, tc := range []struct {
		service, mode string
		networks      []network.Attachment
	}{
		{"host", "host", nil},
		{"none", "none", nil},
		{"sidecar", "container:todo-app-1", nil},
		{"dbside", "container:the-db", nil},
		{"other", "container:some-container", nil},
		{"named", "", []network.Attachment{{Network: "my-net", MAC: "02:42:ac:11:00:02"}}},
		{"bridge", "", []network.Attachment{{Network: network.DefaultNetwork}}},
	} {
		_, o := options(t, content, tc.service, 1, false)
		check(t, tc.service+"'s network mode", o.NetworkMode, tc.mode)
		check(t, tc.service+"'s networks", o.Networks, tc.networks)
	}
	if _, o := options(t, content, "sidecar", 1, true); o.NetworkMode != "container:todo_app_1" {
		t.Errorf("service: in compatibility mode: %q", o.NetworkMode)
	}
	p := load(t, "services: {a: {image: x, network_mode: host, mac_address: 02:42:ac:11:00:02}}")
	a, _ := p.GetService("a")
	if _, err := ContainerOptions(p.Project, a, 1, false); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "mac_address") {
		t.Errorf("mac_address on the host's network: %v", err)
	}
}

func TestContainerOptionsReferences(t *testing.T) {
	content := `
services:
  db: {image: x, container_name: the-db}
  cache: {image: x}
  app:
    image: x
    links: [db, "cache:redis"]
    external_links: [legacy, "old-db:olddb"]
    volumes_from: [cache, "db:ro", "container:data-box", "container:other-box:rw"]
`
	_, o := options(t, content, "app", 2, false)
	check(t, "Links", o.Links, []string{"the-db:db", "todo-cache-1:redis", "legacy:legacy", "old-db:olddb"})
	check(t, "VolumesFrom", o.VolumesFrom, []string{"todo-cache-1", "the-db:ro", "data-box", "other-box:rw"})
}

func TestContainerOptionsLabels(t *testing.T) {
	content := `
services:
  db: {image: mariadb, healthcheck: {test: [CMD, healthcheck.sh]}}
  cache: {image: redis}
  app:
    image: app:1
    labels: {com.example.team: web, com.docker.compose.project: spoofed}
    depends_on:
      db: {condition: service_healthy, restart: true}
      cache: {condition: service_started}
`
	p, o := options(t, content, "app", 3, false)
	app, _ := p.GetService("app")
	hash, err := compose.ServiceHash(app)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"com.example.team":                        "web",
		"com.docker.compose.project":              "todo",
		"com.docker.compose.service":              "app",
		"com.docker.compose.container-number":     "3",
		"com.docker.compose.oneoff":               "False",
		"com.docker.compose.config-hash":          hash,
		"com.docker.compose.project.config_files": strings.Join(p.ComposeFiles, ","),
		"com.docker.compose.project.working_dir":  p.WorkingDir,
		"com.docker.compose.image":                "app:1",
		"com.docker.compose.version":              ComposeVersion,
		"com.docker.compose.depends_on":           "cache:service_started:false,db:service_healthy:true",
	}
	check(t, "Labels", o.Labels, want)
	if len(p.ComposeFiles) != 1 || !filepath.IsAbs(p.ComposeFiles[0]) || p.WorkingDir == "" {
		t.Errorf("config files %v, working dir %q", p.ComposeFiles, p.WorkingDir)
	}
	// Every replica has the same config hash; without depends_on the label is there, empty.
	_, db := options(t, content, "db", 1, false)
	if v, ok := db.Labels[LabelDependsOn]; !ok || v != "" {
		t.Errorf("db's depends_on label: %q, %v", v, ok)
	}
	_, o1 := options(t, content, "app", 1, false)
	if o1.Labels[LabelConfigHash] != hash || o1.Labels[LabelNumber] != "1" {
		t.Errorf("replica 1's labels: %v", o1.Labels)
	}
}

func TestContainerOptionsHealth(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       *container.HealthOptions
	}{
		{"disable", "{disable: true}", &container.HealthOptions{Disable: true}},
		{"NONE", "{test: [NONE]}", &container.HealthOptions{Disable: true}},
		{"full", `{test: "curl -f http://localhost", interval: 30s, timeout: 5s, retries: 3, start_period: 1m, start_interval: 2s}`,
			&container.HealthOptions{Test: []string{"CMD-SHELL", "curl -f http://localhost"}, Interval: 30 * time.Second,
				Timeout: 5 * time.Second, Retries: 3, StartPeriod: time.Minute, StartInterval: 2 * time.Second}},
		{"timings only", "{interval: 10s}", &container.HealthOptions{Interval: 10 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, o := options(t, "services: {a: {image: x, healthcheck: "+tc.yaml+"}}", "a", 1, false)
			check(t, "Health", o.Health, tc.want)
		})
	}
}

func TestContainerOptionsDeploy(t *testing.T) {
	content := `
services:
  plain: {image: x, mem_limit: 1g, cpus: 2, pids_limit: 50}
  limited:
    image: x
    deploy:
      resources:
        limits: {cpus: "0.25", memory: 256M, pids: 100}
      restart_policy: {condition: any}
  restart:
    image: x
    restart: unless-stopped
    deploy:
      restart_policy: {condition: on-failure, max_attempts: 5, window: 2m}
  quota: {image: x, cpu_quota: 50000, cpu_period: 200000}
  none: {image: x, deploy: {restart_policy: {condition: none}}}
  always: {image: x, restart: always}
`
	for _, tc := range []struct {
		service string
		memory  int64
		cpus    float64
		pids    int64
		restart string
	}{
		{"plain", 1 << 30, 2, 50, ""},
		{"limited", 256 << 20, 0.25, 100, "always"},
		{"restart", 0, 0, 0, "on-failure:5"},
		{"quota", 0, 0.25, 0, ""},
		{"none", 0, 0, 0, "no"},
		{"always", 0, 0, 0, "always"},
	} {
		_, o := options(t, content, tc.service, 1, false)
		check(t, tc.service+"'s Memory", o.Memory, tc.memory)
		check(t, tc.service+"'s CPUs", o.CPUs, tc.cpus)
		check(t, tc.service+"'s PidsLimit", o.PidsLimit, tc.pids)
		check(t, tc.service+"'s Restart", o.Restart, tc.restart)
	}
}

func TestContainerOptionsLogging(t *testing.T) {
	for _, tc := range []struct {
		yaml   string
		driver string
		opts   map[string]string
	}{
		{"{options: {max-size: 1m}}", "", map[string]string{"max-size": "1m"}},
		{"{driver: local, options: {max-file: '2'}}", "", map[string]string{"max-size": "20m", "max-file": "2", "compress": "true"}},
		{"{driver: none}", "", nil},
		{"{driver: syslog, options: {syslog-address: 'udp://1.2.3.4:514'}}", "", nil},
	} {
		_, o := options(t, "services: {a: {image: x, logging: "+tc.yaml+"}}", "a", 1, false)
		check(t, tc.yaml+": LogDriver", o.LogDriver, tc.driver)
		check(t, tc.yaml+": LogOpts", o.LogOpts, tc.opts)
	}
}

func TestContainerOptionsRefuses(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"annotations: {a: b}", "annotations"},
		{"cgroup: host", "cgroup"},
		{"cgroup_parent: /x", "cgroup_parent"},
		{"cpu_shares: 512", "cpu_shares"},
		{"cpuset: 0-1", "cpuset"},
		{"device_cgroup_rules: ['c 1:3 mr']", "device_cgroup_rules"},
		{"devices: [/dev/fuse]", "devices"},
		{"group_add: [audio]", "group_add"},
		{"ipc: host", "ipc"},
		{"mem_reservation: 1g", "mem_reservation"},
		{"memswap_limit: 1g", "memswap_limit"},
		{"oom_kill_disable: true", "oom_kill_disable"},
		{"oom_score_adj: 100", "oom_score_adj"},
		{"pid: host", "pid"},
		{"shm_size: 1g", "shm_size"},
		{"umask: '0022'", "umask"},
		{"uts: host", "uts"},
		{"platform: linux/s390x", "platform"},
		{"platform: wasi/wasm", "platform"},
		{"deploy: {resources: {reservations: {memory: 1g}}}", "deploy.resources.reservations.memory"},
		{"deploy: {resources: {reservations: {cpus: '0.5'}}}", "deploy.resources.reservations.cpus"},
		{"deploy: {restart_policy: {condition: on-failure, delay: 5s}}", "deploy.restart_policy.delay"},
		{"security_opt: [label=type:svirt_apache_t]", "security_opt"},
		{"security_opt: [systempaths=unconfined]", "security_opt"},
		{"ports: ['80/sctp']", "ports"},
		{"expose: ['80/foo']", "expose"},
		{"restart: sometimes", "restart"},
		{"restart: always:3", "restart"},
		{"deploy: {restart_policy: {condition: any, max_attempts: 3}}", "deploy.restart_policy"},
		{"healthcheck: {test: [CMD, x], start_interval: 1s}", "healthcheck.start_interval"},
		{"cpus: 1\n    cpu_quota: 50000", "cpu_quota"},
		{"volumes_from: ['container:a:b:c']", "volumes_from"},
		{"volumes_from: ['b:rx']\n  b: {image: y}", "volumes_from"},
	} {
		p := load(t, "services:\n  a:\n    image: x\n    "+tc.yaml+"\n")
		a, _ := p.GetService("a")
		_, err := ContainerOptions(p.Project, a, 1, false)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `service "a"`) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an invalid-project error naming %s", tc.yaml, err, tc.want)
		}
	}
	// What the host matches is fine.
	p := load(t, "services: {a: {image: x, platform: linux, ipc: private, cgroup: private, init: true}}")
	a, _ := p.GetService("a")
	if _, err := ContainerOptions(p.Project, a, 1, false); err != nil {
		t.Errorf("a service with harmless attributes: %v", err)
	}
	// volume_driver is no longer in compose's schema, but compose-go's model still has it.
	a.VolumeDriver = "local"
	if _, err := ContainerOptions(p.Project, a, 1, false); err != nil {
		t.Errorf("volume_driver local: %v", err)
	}
	a.VolumeDriver = "nfs"
	if _, err := ContainerOptions(p.Project, a, 1, false); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "volume_driver") {
		t.Errorf("volume_driver nfs: %v", err)
	}
}

// TestCorpusOptions: every service of every compose file in the corpus maps to container
// options, or fails naming what berth does not support.
func TestCorpusOptions(t *testing.T) {
	files := corpusFiles(t)
	mapped := 0
	for _, f := range files {
		p, err := compose.Load(context.Background(), compose.Options{Files: []string{f}, ProjectDir: filepath.Dir(f), RenderOnly: true,
			Environ: []string{"HOME=/root"}})
		if err != nil {
			continue // the loader's own corpus test covers what does not load
		}
		for _, name := range slices.Sorted(maps.Keys(p.Services)) {
			s := p.Services[name]
			o, err := ContainerOptions(p.Project, s, 1, false)
			if err != nil {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not supported by berth") && !strings.Contains(err.Error(), "is not set") {
					t.Errorf("%s: service %s: %v", f, name, err)
				}
				continue
			}
			if o.Name == "" || o.Image == "" || o.Labels[LabelConfigHash] == "" || len(o.Networks) == 0 && o.NetworkMode == "" {
				t.Errorf("%s: service %s: incomplete options %+v", f, name, o)
			}
			mapped++
		}
	}
	if mapped == 0 {
		t.Error("no service of the corpus mapped")
	}
}
