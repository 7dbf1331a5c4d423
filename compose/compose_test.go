package compose

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"

	"github.com/berth-sh/berth/internal/testutil"
)

// writeTree is testutil.WriteTree, short for the many tables below.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	return testutil.WriteTree(t, files)
}

// load loads the project in dir with a clean environment (plus env) so that the test does not
// depend on the environment it runs in.
func load(t *testing.T, dir string, o Options, env ...string) (*Project, error) {
	t.Helper()
	o.ProjectDir = dir
	if o.ProjectName == "" && !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "COMPOSE_PROJECT_NAME=") }) {
		o.ProjectName = "test"
	}
	for i, f := range o.Files {
		if f != "-" && !filepath.IsAbs(f) {
			o.Files[i] = filepath.Join(dir, f)
		}
	}
	o.Environ = append([]string{"PWD=" + dir}, env...)
	return Load(context.Background(), o)
}

func mustLoad(t *testing.T, dir string, o Options, env ...string) *Project {
	t.Helper()
	p, err := load(t, dir, o, env...)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p
}

func TestKnownAttributesMatchCompose(t *testing.T) {
	// When compose-go is upgraded and its specification gains or loses attributes, this fails:
	// decide for each new one whether berth runs it (add it to supportTable if not), then refresh
	// known_attributes.txt from schema.AttributePaths.
	var got, want []string
	for _, p := range knownPaths() {
		got = append(got, p.String())
	}
	for _, p := range schema.AttributePaths() {
		want = append(want, p.String())
	}
	if !slices.Equal(got, want) {
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("compose-go knows %s; berth does not", w)
			}
		}
		for _, g := range got {
			if !slices.Contains(want, g) {
				t.Errorf("berth lists %s; compose-go no longer has it", g)
			}
		}
	}
}

func TestSupportTablePathsExist(t *testing.T) {
	known := map[string]bool{}
	for _, p := range knownPaths() {
		known[p.String()] = true
	}
	for _, r := range supportTable {
		if !known[r.path] {
			t.Errorf("support table names %s, which is not a compose attribute", r.path)
		}
	}
}

func TestInterpolation(t *testing.T) {
	tests := []struct {
		name  string
		value string
		env   []string
		want  string
	}{
		{"plain", "$A", []string{"A=a"}, "a"},
		{"braced", "${A}", []string{"A=a"}, "a"},
		{"unset is blank", "x${A}y", nil, "xy"},
		{"default when unset", "${A:-d}", nil, "d"},
		{"default when empty", "${A:-d}", []string{"A="}, "d"},
		{"dash keeps empty", "${A-d}", []string{"A="}, ""},
		{"dash default when unset", "${A-d}", nil, "d"},
		{"alt when set", "${A:+alt}", []string{"A=a"}, "alt"},
		{"alt not when empty", "${A:+alt}", []string{"A="}, ""},
		{"plus alt when empty", "${A+alt}", []string{"A="}, "alt"},
		{"escaped dollar", "$$A", []string{"A=a"}, "$A"},
		{"nested default", "${A:-${B:-x}}", []string{"B=b"}, "b"},
		{"nested default innermost", "${A:-${B:-x}}", nil, "x"},
		{"project name", "${COMPOSE_PROJECT_NAME}", nil, "test"},
		{"lower case names", "${a_b}", []string{"a_b=v"}, "v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: busybox\n    environment:\n      V: '" + tt.value + "'\n"})
			p := mustLoad(t, dir, Options{}, tt.env...)
			got := p.Services["web"].Environment["V"]
			if got == nil || *got != tt.want {
				t.Fatalf("V = %v, want %q", got, tt.want)
			}
		})
	}
}

func TestEnvPrecedence(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		envFiles []string
		env      []string
		want     map[string]string
	}{
		{
			name:  ".env used for interpolation",
			files: map[string]string{".env": "TAG=from-dotenv\n"},
			want:  map[string]string{"IMG": "busybox:from-dotenv"},
		},
		{
			name:  "shell beats .env",
			files: map[string]string{".env": "TAG=from-dotenv\n"},
			env:   []string{"TAG=from-shell"},
			want:  map[string]string{"IMG": "busybox:from-shell"},
		},
		{
			name:     "--env-file replaces .env",
			files:    map[string]string{".env": "TAG=from-dotenv\n", "alt.env": "TAG=from-alt\n"},
			envFiles: []string{"alt.env"},
			want:     map[string]string{"IMG": "busybox:from-alt"},
		},
		{
			name:     "later --env-file wins",
			files:    map[string]string{"a.env": "TAG=a\n", "b.env": "TAG=b\n"},
			envFiles: []string{"a.env", "b.env"},
			want:     map[string]string{"IMG": "busybox:b"},
		},
		{
			name:  ".env can refer to the shell",
			files: map[string]string{".env": "TAG=${BASE}-x\n"},
			env:   []string{"BASE=shell"},
			want:  map[string]string{"IMG": "busybox:shell-x"},
		},
		{
			name:  "environment beats env_file",
			files: map[string]string{"svc.env": "LEVEL=from-env-file\nONLY=file\n"},
			want:  map[string]string{"LEVEL": "from-environment", "ONLY": "file"},
		},
		{
			name:  "env_file does not feed interpolation",
			files: map[string]string{"svc.env": "TAG=from-env-file\n"},
			want:  map[string]string{"IMG": "busybox:latest"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"compose.yaml": `services:
  web:
    image: busybox:${TAG:-latest}
    env_file: [{path: svc.env, required: false}]
    environment:
      IMG: busybox:${TAG:-latest}
      LEVEL: from-environment
`}
			for k, v := range tt.files {
				files[k] = v
			}
			dir := writeTree(t, files)
			var envFiles []string
			for _, f := range tt.envFiles {
				envFiles = append(envFiles, filepath.Join(dir, f))
			}
			p := mustLoad(t, dir, Options{EnvFiles: envFiles}, tt.env...)
			for k, want := range tt.want {
				got := p.Services["web"].Environment[k]
				if got == nil || *got != want {
					t.Errorf("%s = %v, want %q", k, got, want)
				}
			}
		})
	}
}

func TestProfiles(t *testing.T) {
	const file = `services:
  web:
    image: busybox
  debug:
    image: busybox
    profiles: [debug]
  tools:
    image: busybox
    profiles: [tools, all]
`
	tests := []struct {
		name     string
		profiles []string
		services []string
		env      []string
		want     []string
	}{
		{"no profile", nil, nil, nil, []string{"web"}},
		{"one profile", []string{"debug"}, nil, nil, []string{"debug", "web"}},
		{"two profiles", []string{"debug", "tools"}, nil, nil, []string{"debug", "tools", "web"}},
		{"star", []string{"*"}, nil, nil, []string{"debug", "tools", "web"}},
		{"COMPOSE_PROFILES", nil, nil, []string{"COMPOSE_PROFILES=all,debug"}, []string{"debug", "tools", "web"}},
		{"flag beats COMPOSE_PROFILES", []string{"tools"}, nil, []string{"COMPOSE_PROFILES=debug"}, []string{"tools", "web"}},
		{"named service enables its profile", nil, []string{"debug"}, nil, []string{"debug"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"compose.yaml": file})
			p := mustLoad(t, dir, Options{Profiles: tt.profiles, Services: tt.services}, tt.env...)
			got := p.ServiceNames()
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("services = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestProfileDependencyMustBeEnabled(t *testing.T) {
	dir := writeTree(t, map[string]string{"compose.yaml": `services:
  web:
    image: busybox
    depends_on: [db]
  db:
    image: busybox
    profiles: [db]
`})
	_, err := load(t, dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "db") {
		t.Fatalf("err = %v, want an error naming the disabled dependency db", err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func TestOverrides(t *testing.T) {
	files := map[string]string{
		"compose.yaml": `services:
  web:
    image: busybox:1
    command: [sh, -c, "echo base"]
    environment: {A: base, B: base}
    ports: ["8080:80"]
    labels: [keep=yes]
  db:
    image: busybox
    volumes: [data:/data]
volumes:
  data: {}
`,
		"compose.override.yaml": `services:
  web:
    image: busybox:2
    command: [echo, override]
    environment: {B: override, C: new}
    ports: ["9090:90"]
`,
		"reset.yaml": `services:
  web:
    ports: !reset []
    labels: !override [only=this]
`,
		"other.yaml": `services:
  db:
    environment: [X=1]
`,
	}
	tests := []struct {
		name  string
		files []string
		check func(t *testing.T, p *Project)
	}{
		{"override file found by discovery", nil, func(t *testing.T, p *Project) {
			web := p.Services["web"]
			if web.Image != "busybox:2" {
				t.Errorf("image = %q, want the override's", web.Image)
			}
			if !slices.Equal([]string(web.Command), []string{"echo", "override"}) {
				t.Errorf("command = %v, want it replaced, not appended", web.Command)
			}
			if *web.Environment["A"] != "base" || *web.Environment["B"] != "override" || *web.Environment["C"] != "new" {
				t.Errorf("environment = %v, want merged by key", web.Environment)
			}
			if len(web.Ports) != 2 {
				t.Errorf("ports = %v, want both (sequences append)", web.Ports)
			}
		}},
		{"explicit -f skips discovery of the override", []string{"compose.yaml"}, func(t *testing.T, p *Project) {
			if p.Services["web"].Image != "busybox:1" {
				t.Errorf("image = %q, want the base file's", p.Services["web"].Image)
			}
		}},
		{"reset and override tags", []string{"compose.yaml", "compose.override.yaml", "reset.yaml"}, func(t *testing.T, p *Project) {
			web := p.Services["web"]
			if len(web.Ports) != 0 {
				t.Errorf("ports = %v, want none after !reset", web.Ports)
			}
			if len(web.Labels) != 1 || web.Labels["only"] != "this" {
				t.Errorf("labels = %v, want only the !override ones", web.Labels)
			}
		}},
		{"three files in order", []string{"compose.yaml", "other.yaml"}, func(t *testing.T, p *Project) {
			if v := p.Services["db"].Environment["X"]; v == nil || *v != "1" {
				t.Errorf("db environment = %v, want X=1 from the second file", p.Services["db"].Environment)
			}
			if len(p.ComposeFiles) != 2 {
				t.Errorf("compose files = %v, want 2", p.ComposeFiles)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, files)
			tt.check(t, mustLoad(t, dir, Options{Files: slices.Clone(tt.files)}))
		})
	}
}

func TestComposeFileEnv(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a.yaml": "services:\n  web:\n    image: busybox:a\n",
		"b.yaml": "services:\n  web:\n    image: busybox:b\n",
	})
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	p := mustLoad(t, dir, Options{}, "COMPOSE_FILE="+a+"#"+b, "COMPOSE_PATH_SEPARATOR=#")
	if p.Services["web"].Image != "busybox:b" {
		t.Fatalf("image = %q, want busybox:b from the second COMPOSE_FILE entry", p.Services["web"].Image)
	}
}

func TestProjectName(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		flag  string
		env   []string
		want  string
		isErr bool
	}{
		{"flag wins", "name: fromfile\n", "fromflag", []string{"COMPOSE_PROJECT_NAME=fromenv"}, "fromflag", false},
		{"env beats file", "name: fromfile\n", "", []string{"COMPOSE_PROJECT_NAME=fromenv"}, "fromenv", false},
		{"file beats directory", "name: fromfile\n", "", nil, "fromfile", false},
		{"name is interpolated", "name: ${N}\n", "", []string{"N=interp"}, "interp", false},
		{"directory normalised", "", "", nil, "my_app-1", false},
		{"invalid flag", "", "Bad_Name", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, map[string]string{"My_App-1/compose.yaml": tt.yaml + "services:\n  web:\n    image: busybox\n"})
			dir := filepath.Join(root, "My_App-1")
			o := Options{ProjectDir: dir, ProjectName: tt.flag, Environ: append([]string{"PWD=" + dir}, tt.env...)}
			p, err := Load(context.Background(), o)
			if tt.isErr {
				if err == nil || !strings.Contains(err.Error(), tt.flag) {
					t.Fatalf("err = %v, want an error naming %q", err, tt.flag)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tt.want {
				t.Fatalf("name = %q, want %q", p.Name, tt.want)
			}
		})
	}
}

func TestIncludeAndExtends(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"compose.yaml": `include:
  - sub/compose.yaml
services:
  web:
    extends: {file: base.yaml, service: base}
    environment: {OWN: yes}
`,
		"base.yaml": `services:
  base:
    image: busybox:base
    environment: {FROM_BASE: "1"}
    volumes: [./data:/data]
`,
		"sub/compose.yaml": `services:
  db:
    image: busybox:${DB_TAG}
    volumes: [./init:/init]
`,
		"sub/.env": "DB_TAG=from-sub-env\n",
	})
	p := mustLoad(t, dir, Options{})
	web, db := p.Services["web"], p.Services["db"]
	if web.Image != "busybox:base" || *web.Environment["FROM_BASE"] != "1" || *web.Environment["OWN"] != "yes" {
		t.Errorf("web = %q %v, want extends merged", web.Image, web.Environment)
	}
	if got, want := web.Volumes[0].Source, filepath.Join(dir, "data"); got != want {
		t.Errorf("web volume source = %q, want %q", got, want)
	}
	if db.Image != "busybox:from-sub-env" {
		t.Errorf("db image = %q, want the included project's own .env applied", db.Image)
	}
	if got, want := db.Volumes[0].Source, filepath.Join(dir, "sub", "init"); got != want {
		t.Errorf("db volume source = %q, want it relative to the included file (%q)", got, want)
	}
}

func TestSelection(t *testing.T) {
	dir := writeTree(t, map[string]string{"compose.yaml": `services:
  web:
    image: busybox
    depends_on: [api]
  api:
    image: busybox
    depends_on: [db]
  db:
    image: busybox
  other:
    image: busybox
`})
	p := mustLoad(t, dir, Options{Services: []string{"web"}})
	got := p.ServiceNames()
	slices.Sort(got)
	if want := []string{"api", "db", "web"}; !slices.Equal(got, want) {
		t.Errorf("with deps: %v, want %v", got, want)
	}
	p = mustLoad(t, dir, Options{Services: []string{"web"}, NoDeps: true})
	if got := p.ServiceNames(); !slices.Equal(got, []string{"web"}) {
		t.Errorf("no deps: %v, want [web]", got)
	}
	if _, err := load(t, dir, Options{Services: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown service: err = %v, want it named", err)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		opts     Options
		env      []string
		wantFile string // file named in the message ("" for none)
		wantLine string // ":N:" expected right after the file, when the loader knows it
		want     string // text the message must contain
	}{
		{"malformed yaml", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n   bad: [\n"}, Options{}, nil, "compose.yaml", "", "line 3"},
		{"unknown field", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    imagee: y\n"}, Options{}, nil, "compose.yaml", ":4:", `did you mean "image"`},
		{"unknown top-level", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\nvolume:\n  a: {}\n"}, Options{}, nil, "compose.yaml", ":4:", `did you mean "volumes"`},
		{"wrong type", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    ports: 80\n"}, Options{}, nil, "compose.yaml", ":4:", "services.web.ports"},
		{"required variable", map[string]string{"compose.yaml": "services:\n  web:\n    image: ${TAG:?set TAG to the image tag}\n"}, Options{}, nil, "compose.yaml", ":3:", "set TAG to the image tag"},
		{"required variable in override", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n", "compose.override.yaml": "services:\n  web:\n    environment:\n      A: ${A?}\n"}, Options{}, nil, "compose.override.yaml", ":4:", "A"},
		{"missing env_file", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    env_file: nope.env\n"}, Options{}, nil, "nope.env", "", "not found"},
		{"missing --env-file", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n"}, Options{EnvFiles: []string{"/nonexistent/x.env"}}, nil, "/nonexistent/x.env", "", "env file"},
		{"missing -f file", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n"}, Options{Files: []string{"nope.yaml"}}, nil, "nope.yaml", "", "no such file"},
		{"cycle", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    depends_on: [api]\n  api:\n    image: x\n    depends_on: [web]\n"}, Options{}, nil, "compose.yaml", "", "api -> web -> api"},
		{"undefined service", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    depends_on: [nope]\n"}, Options{}, nil, "compose.yaml", ":2:", `undefined service "nope"`},
		{"undefined network", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    networks: [front]\n"}, Options{}, nil, "compose.yaml", ":2:", "undefined network front"},
		{"undefined volume", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    volumes: [data:/data]\n"}, Options{}, nil, "compose.yaml", ":2:", "undefined volume data"},
		{"undefined secret", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    secrets: [pw]\n"}, Options{}, nil, "compose.yaml", ":2:", "undefined secret pw"},
		{"extends unknown service", map[string]string{"compose.yaml": "services:\n  web:\n    extends: {service: nope}\n"}, Options{}, nil, "compose.yaml", "", `"nope" not found`},
		{"empty file", map[string]string{"compose.yaml": ""}, Options{}, nil, "", "", "empty compose file"},
		{"refused attribute", map[string]string{"compose.yaml": "services:\n  ai:\n    image: x\n    gpus: all\n"}, Options{}, nil, "compose.yaml", ":4:", `service "ai": gpus is not supported by berth`},
		{"refused network driver", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    networks: [o]\nnetworks:\n  o:\n    driver: overlay\n"}, Options{}, nil, "compose.yaml", ":7:", `network "o": driver "overlay" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			_, err := load(t, dir, tt.opts, tt.env...)
			if err == nil {
				t.Fatal("loaded, want an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message has several lines: %q", msg)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q, want it to contain %q", msg, tt.want)
			}
			if tt.wantFile != "" && !strings.Contains(msg, tt.wantFile+tt.wantLine) {
				t.Errorf("message %q, want it to name %s%s", msg, tt.wantFile, tt.wantLine)
			}
		})
	}
}

func TestFindings(t *testing.T) {
	dir := writeTree(t, map[string]string{"compose.yaml": `services:
  web:
    image: busybox
    cpu_rt_runtime: 400
    logging: {driver: syslog}
    develop:
      watch: [{action: sync, path: ., target: /app}]
  ai:
    image: busybox
    gpus: all
    profiles: [ai]
  runner:
    image: busybox
    runtime: io.containerd.wasmedge.v1
    profiles: [wasm]
x-custom:
  anything: [goes]
`})
	p := mustLoad(t, dir, Options{})
	var got []string
	for _, f := range p.Findings {
		if f.Severity != SeverityWarning {
			t.Errorf("finding %s is an error; services with inactive profiles must not count", f)
		}
		got = append(got, f.Path)
	}
	want := []string{"services.web.cpu_rt_runtime", "services.web.develop", "services.web.logging.driver"}
	if !slices.Equal(got, want) {
		t.Errorf("findings = %v, want %v", got, want)
	}
	for _, f := range p.Findings {
		if !strings.HasPrefix(f.String(), `service "web": `) {
			t.Errorf("finding %q does not name the service first", f)
		}
	}

	// The same file with the profile on: refused, unless only rendering.
	if _, err := load(t, dir, Options{Profiles: []string{"ai"}}); err == nil || !strings.Contains(err.Error(), "gpus") {
		t.Errorf("err = %v, want gpus refused", err)
	}
	p = mustLoad(t, dir, Options{Profiles: []string{"*"}, RenderOnly: true})
	var errs []string
	for _, f := range p.Findings {
		if f.Severity == SeverityError {
			errs = append(errs, f.String())
		}
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "gpus") || !strings.Contains(errs[1], `runtime "io.containerd.wasmedge.v1"`) {
		t.Errorf("render-only errors = %q, want gpus then runtime", errs)
	}
}

func TestServiceHash(t *testing.T) {
	base := types.ServiceConfig{Name: "web"}
	base.Image = "busybox"
	base.Environment = types.NewMappingWithEquals([]string{"A=1"})
	one := 1
	base.Deploy = &types.DeployConfig{Replicas: &one}
	h0, err := ServiceHash(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(h0) != 64 {
		t.Fatalf("hash %q is not a hex sha256", h0)
	}
	same := base
	same.Build = &types.BuildConfig{Context: "."}
	same.DependsOn = types.DependsOnConfig{"db": {Condition: "service_started"}}
	same.Profiles = []string{"x"}
	same.PullPolicy = "always"
	replicas := 3
	same.Deploy = &types.DeployConfig{Replicas: &replicas}
	if h, _ := ServiceHash(same); h != h0 {
		t.Errorf("hash changed with build/depends_on/profiles/pull_policy/replicas only")
	}
	if *base.Deploy.Replicas != 1 {
		t.Errorf("ServiceHash modified the caller's deploy config")
	}
	if same.Deploy.Replicas == nil {
		t.Errorf("ServiceHash modified the caller's deploy config")
	}
	changed := base
	changed.Environment = types.NewMappingWithEquals([]string{"A=2"})
	if h, _ := ServiceHash(changed); h == h0 {
		t.Errorf("hash did not change with the environment")
	}
}

func TestMain(m *testing.M) {
	// compose-go warns through logrus (unset variables, obsolete `version`); keep test output clean.
	logrus.SetOutput(io.Discard)
	os.Exit(m.Run())
}
