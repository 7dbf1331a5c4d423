package e2e

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const simple = "services:\n  web:\n    image: busybox\n    volumes: [./data:/data]\n"

func TestDiscoveryWalksUp(t *testing.T) {
	root := writeTree(t, map[string]string{
		"Proj/compose.yaml":          simple,
		"Proj/compose.override.yaml": "services:\n  web:\n    image: busybox:override\n",
		"Proj/a/b/.keep":             "",
	})
	proj := filepath.Join(root, "Proj")
	r := cmd{args: []string{"config"}, dir: filepath.Join(proj, "a", "b")}.ok(t)
	for _, want := range []string{"name: proj\n", "image: busybox:override\n", "source: " + filepath.Join(proj, "data") + "\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestDefaultFileNames(t *testing.T) {
	for _, name := range []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"} {
		t.Run(name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{name: simple})
			cmd{args: []string{"config", "-q"}, dir: dir}.ok(t)
		})
	}
	t.Run("compose.yaml preferred", func(t *testing.T) {
		dir := writeTree(t, map[string]string{
			"compose.yaml":       "services:\n  first:\n    image: busybox\n",
			"docker-compose.yml": "services:\n  second:\n    image: busybox\n",
		})
		r := cmd{args: []string{"config", "--services"}, dir: dir}.ok(t)
		if r.stdout != "first\n" {
			t.Errorf("services = %q, want first", r.stdout)
		}
		if !strings.Contains(r.stderr, "multiple config files") {
			t.Errorf("stderr = %q, want a warning about several files", r.stderr)
		}
	})
}

func TestStdinAndProjectDirectory(t *testing.T) {
	dir := writeTree(t, map[string]string{"other/.env": "TAG=from-other\n", "sub/.keep": ""})
	// -f - reads standard input; relative paths resolve against the current directory.
	r := cmd{args: []string{"-f", "-", "-p", "stdin", "config"}, dir: filepath.Join(dir, "sub"),
		stdin: "services:\n  web:\n    image: busybox:${TAG:-none}\n    volumes: [./data:/data]\n"}.ok(t)
	for _, want := range []string{"name: stdin\n", "image: busybox:none\n", "source: " + filepath.Join(dir, "sub", "data") + "\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdin: output lacks %q:\n%s", want, r.stdout)
		}
	}
	// --project-directory moves relative paths and the .env file.
	r = cmd{args: []string{"-f", "-", "-p", "stdin", "--project-directory", filepath.Join(dir, "other"), "config"}, dir: filepath.Join(dir, "sub"),
		stdin: "services:\n  web:\n    image: busybox:${TAG:-none}\n    volumes: [./data:/data]\n"}.ok(t)
	for _, want := range []string{"image: busybox:from-other\n", "source: " + filepath.Join(dir, "other", "data") + "\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--project-directory: output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestEnvironmentVariables(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a.yaml":  "services:\n  web:\n    image: busybox:${TAG}\n    profiles: [p1]\n  db:\n    image: busybox\n",
		"b.yaml":  "services:\n  web:\n    environment: [FROM_B=1]\n",
		".env":    "TAG=dotenv\nCOMPOSE_PROJECT_NAME=fromdotenv\n",
		"x.env":   "TAG=xenv\n",
		"y.env":   "TAG=yenv\n",
		"sub/.ok": "",
	})
	tests := []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		{"COMPOSE_FILE with separator", []string{"config"}, []string{"COMPOSE_FILE=a.yaml:b.yaml", "COMPOSE_PROFILES=p1"},
			[]string{"FROM_B: \"1\"", "image: busybox:dotenv", "name: fromdotenv"}},
		{"COMPOSE_PATH_SEPARATOR", []string{"config"}, []string{"COMPOSE_FILE=a.yaml;b.yaml", "COMPOSE_PATH_SEPARATOR=;", "COMPOSE_PROFILES=p1"},
			[]string{"FROM_B: \"1\""}},
		{"COMPOSE_PROJECT_NAME from the shell beats .env", []string{"-f", "a.yaml", "config"}, []string{"COMPOSE_PROJECT_NAME=fromshell"},
			[]string{"name: fromshell"}},
		{"-p beats everything", []string{"-f", "a.yaml", "-p", "flag", "config"}, []string{"COMPOSE_PROJECT_NAME=fromshell"},
			[]string{"name: flag"}},
		{"--env-file replaces .env", []string{"-f", "a.yaml", "--env-file", "x.env", "--profile", "p1", "config"}, nil,
			[]string{"image: busybox:xenv", "name: " + strings.ToLower(filepath.Base(dir))}},
		{"last --env-file wins", []string{"-f", "a.yaml", "--env-file", "x.env", "--env-file", "y.env", "--profile", "p1", "config"}, nil,
			[]string{"image: busybox:yenv"}},
		{"COMPOSE_ENV_FILES", []string{"-f", "a.yaml", "--profile", "p1", "config"}, []string{"COMPOSE_ENV_FILES=x.env,y.env"},
			[]string{"image: busybox:yenv"}},
		{"shell beats env files", []string{"-f", "a.yaml", "--env-file", "x.env", "--profile", "p1", "config"}, []string{"TAG=shell"},
			[]string{"image: busybox:shell"}},
		{"COMPOSE_PROFILES", []string{"-f", "a.yaml", "config", "--services"}, []string{"COMPOSE_PROFILES=p1"},
			[]string{"web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cmd{args: tt.args, dir: dir, env: tt.env}.ok(t)
			for _, want := range tt.want {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, r.stdout)
				}
			}
		})
	}
}

// TestBadInputCLI checks that each kind of bad input ends with one clear line on stderr naming the
// file, exit code 1, and no Go stack trace.
func TestBadInputCLI(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		want  []string // all must appear in the error line
	}{
		{"malformed yaml", map[string]string{"compose.yaml": "services:\n  web:\n    image: [x\n"}, nil, []string{"compose.yaml", "yaml:"}},
		{"unknown field", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    port: [80]\n"}, nil, []string{"compose.yaml:4:", "services.web.port", `did you mean "ports"`}},
		{"missing required variable", map[string]string{"compose.yaml": "services:\n  web:\n    image: ${IMAGE:?set IMAGE}\n"}, nil, []string{"compose.yaml:3:", "required variable IMAGE", "set IMAGE"}},
		{"missing env_file", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    env_file: app.env\n"}, nil, []string{"app.env", "not found"}},
		{"missing --env-file", map[string]string{"compose.yaml": simple}, []string{"--env-file", "nope.env"}, []string{"nope.env"}},
		{"missing -f", map[string]string{"compose.yaml": simple}, []string{"-f", "nope.yaml"}, []string{"nope.yaml"}},
		{"no compose file", map[string]string{"x.txt": ""}, nil, []string{"no configuration file provided"}},
		{"cycle", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    depends_on: [api]\n  api:\n    image: x\n    depends_on: [db]\n  db:\n    image: x\n    depends_on: [web]\n"}, nil, []string{"compose.yaml", "api -> db -> web -> api"}},
		{"undefined service", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    links: [db]\n"}, nil, []string{"compose.yaml:2:", `"db"`}},
		{"undefined network", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    networks: [back]\n"}, nil, []string{"compose.yaml:2:", "undefined network back"}},
		{"undefined volume", map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    volumes: [db:/var/lib/mysql]\n"}, nil, []string{"compose.yaml:2:", "undefined volume db"}},
		{"invalid project name", map[string]string{"compose.yaml": simple}, []string{"-p", "My App"}, []string{`"My App"`}},
		{"unknown service selected", map[string]string{"compose.yaml": simple}, []string{"config", "nope"}, []string{"nope"}},
		{"unknown flag", map[string]string{"compose.yaml": simple}, []string{"--bogus"}, []string{"unknown flag: --bogus"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			args := tt.args
			if !slices.Contains(args, "config") {
				args = append(args, "config")
			}
			r := cmd{args: args, dir: dir}.run(t)
			if r.code != 1 {
				t.Errorf("exit code %d, want 1", r.code)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "panic") {
				t.Fatalf("stack trace on stderr:\n%s", r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			msg := lines[0]
			if len(lines) == 2 && strings.HasPrefix(lines[1], "See '") {
				lines = lines[:1] // usage errors add a pointer to --help, as docker does
			}
			if len(lines) != 1 {
				t.Errorf("stderr has %d lines, want one:\n%s", len(lines), r.stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error line %q lacks %q", msg, want)
				}
			}
		})
	}
}

func TestUnsupportedAttributesAreReported(t *testing.T) {
	dir := writeTree(t, map[string]string{"compose.yaml": `services:
  web:
    image: busybox
    cpu_rt_runtime: 950
  ml:
    image: busybox
    gpus: all
`})
	r := cmd{args: []string{"config", "--services"}, dir: dir}.ok(t)
	for _, want := range []string{`service \"web\": cpu_rt_runtime is ignored by berth`, `service \"ml\": gpus is not supported by berth`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	dir := t.TempDir()
	r := cmd{args: []string{"version"}, dir: dir}.ok(t)
	if !strings.HasPrefix(r.stdout, "berth version ") {
		t.Errorf("version = %q", r.stdout)
	}
	short := cmd{args: []string{"version", "--short"}, dir: dir}.ok(t)
	if short.stdout == "" || strings.Contains(strings.TrimSpace(short.stdout), " ") {
		t.Errorf("version --short = %q, want one word", short.stdout)
	}
	js := cmd{args: []string{"version", "--format", "json"}, dir: dir}.ok(t)
	var v map[string]string
	if err := json.Unmarshal([]byte(js.stdout), &v); err != nil || v["version"] != strings.TrimSpace(short.stdout) {
		t.Errorf("version --format json = %q (%v), want the same version as --short", js.stdout, err)
	}
}

func TestCompletion(t *testing.T) {
	dir := writeTree(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n  db:\n    image: x\n    profiles: [dbs]\n"})
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := cmd{args: []string{"completion", shell}, dir: dir}.ok(t)
		if !strings.Contains(r.stdout, "berth") {
			t.Errorf("completion %s printed no script", shell)
		}
	}
	// What the shell scripts ask berth for: service names for config, profile names for --profile.
	r := cmd{args: []string{"__complete", "config", ""}, dir: dir}.ok(t)
	if !strings.Contains(r.stdout, "web\n") {
		t.Errorf("service completion = %q, want web", r.stdout)
	}
	r = cmd{args: []string{"__complete", "--profile", ""}, dir: dir}.ok(t)
	if !strings.Contains(r.stdout, "dbs\n") {
		t.Errorf("profile completion = %q, want dbs", r.stdout)
	}
}

func TestHelp(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"--help"}, {"config", "--help"}, {"version", "--help"}, {"completion", "--help"}, {"help", "config"}} {
		r := cmd{args: args, dir: dir}.ok(t)
		if !strings.Contains(r.stdout, "Examples:") {
			t.Errorf("berth %v: no examples in help:\n%s", args, r.stdout)
		}
	}
	// Commands that are not built yet are absent and say so.
	r := cmd{args: []string{"watch"}, dir: dir}.run(t)
	if r.code != 1 || !strings.Contains(r.stderr, `unknown command "watch"`) {
		t.Errorf("berth watch: exit %d, stderr %q; want exit 1 and unknown command", r.code, r.stderr)
	}
}
