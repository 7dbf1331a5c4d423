package e2e

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/berth-sh/berth/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// app is a compose project that uses most of what the workshop's stacks use.
var app = map[string]string{
	"compose.yaml": `name: shop
services:
  web:
    build:
      context: ./web
      args:
        VERSION: ${VERSION:-1.0}
    image: shop/web:${VERSION:-1.0}
    ports:
      - "8080:80"
      - "127.0.0.1:9000-9001:9000-9001/udp"
    environment:
      DB_HOST: db
      PRICE: "$$5"
      MODE:
    env_file: web.env
    depends_on:
      db:
        condition: service_healthy
        restart: true
      cache:
        condition: service_started
        required: false
    volumes:
      - ./web/src:/app/src:ro
      - uploads:/app/uploads
    networks: [front, back]
    secrets: [db_password]
    configs:
      - source: app_cfg
        target: /etc/app.cfg
  db:
    image: mariadb:11
    command: --character-set-server=utf8mb4
    environment:
      MYSQL_ROOT_PASSWORD_FILE: /run/secrets/db_password
    healthcheck:
      test: ["CMD-SHELL", "mysqladmin ping -h 127.0.0.1"]
      interval: 5s
      retries: 10
      start_period: 30s
    volumes: [db_data:/var/lib/mysql]
    networks: [back]
    secrets: [db_password]
  cache:
    image: redis:7
    profiles: [cache]
  debug:
    image: busybox
    profiles: [debug]
    command: sleep infinity
networks:
  front: {}
  back:
    internal: true
volumes:
  db_data: {}
  uploads:
    labels: {keep: "yes"}
secrets:
  db_password:
    file: ./secrets/db_password.txt
configs:
  app_cfg:
    content: |
      listen = 80
`,
	"web.env":                 "FROM_FILE=1\nMODE=from-env-file\n",
	"web/Dockerfile":          "FROM busybox\n",
	"secrets/db_password.txt": "s3cret\n",
	"compose.prod.yaml": `services:
  web:
    ports: !override
      - "80:80"
    environment:
      MODE: production
  db:
    restart: always
`,
}

// TestConfigGolden renders the app with each of config's modes and compares with golden files.
// Absolute paths of the temp project are written as /PROJECT. Refresh with -update.
func TestConfigGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  []string
	}{
		{"yaml", []string{"config"}, nil},
		{"json", []string{"config", "--format", "json"}, nil},
		{"override", []string{"-f", "compose.yaml", "-f", "compose.prod.yaml", "config"}, nil},
		{"profile", []string{"--profile", "debug", "config"}, nil},
		{"env-override", []string{"config"}, []string{"VERSION=2.5"}},
		{"select-service", []string{"config", "db"}, nil},
		{"services", []string{"config", "--services"}, nil},
		{"services-all-profiles", []string{"--profile", "*", "config", "--services"}, nil},
		{"volumes", []string{"config", "--volumes"}, nil},
		{"networks", []string{"config", "--networks"}, nil},
		{"images", []string{"config", "--images"}, nil},
		{"profiles", []string{"config", "--profiles"}, nil},
		// db's configuration holds no absolute path of the temp project, so its hash is stable
		{"hash-one", []string{"config", "--hash", "db"}, nil},
		{"no-interpolate", []string{"config", "--no-interpolate"}, nil},
		{"no-normalize", []string{"config", "--no-normalize"}, nil},
		{"no-path-resolution", []string{"config", "--no-path-resolution"}, nil},
		{"no-env-resolution", []string{"config", "--no-env-resolution"}, nil},
		{"variables", []string{"config", "--variables"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, app)
			r := cmd{args: tt.args, dir: dir, env: tt.env}.ok(t)
			got := strings.ReplaceAll(r.stdout, dir, "/PROJECT")
			golden := filepath.Join("testdata", "golden", tt.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./e2e -run TestConfigGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s:\n%s", golden, testutil.FirstDiff(got, string(want)))
			}
		})
	}
}

func TestConfigOutputFileAndQuiet(t *testing.T) {
	dir := writeTree(t, app)
	out := filepath.Join(t.TempDir(), "rendered.yaml")
	r := cmd{args: []string{"config", "-o", out}, dir: dir}.ok(t)
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing with -o", r.stdout)
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	plain := cmd{args: []string{"config"}, dir: dir}.ok(t)
	if string(written) != plain.stdout {
		t.Errorf("-o wrote something else than config prints")
	}

	// The rendered file loads again and renders the same: the canonical form is a fixed point.
	// (With every profile on: a rendering without the disabled services cannot satisfy their
	// optional dependents, for docker compose as for berth.)
	cmd{args: []string{"--profile", "*", "config", "-o", out}, dir: dir}.ok(t)
	plain = cmd{args: []string{"--profile", "*", "config"}, dir: dir}.ok(t)
	again := cmd{args: []string{"-f", out, "--project-directory", dir, "--profile", "*", "config"}, dir: dir}.ok(t)
	if again.stdout != plain.stdout {
		t.Errorf("re-rendering the rendered file differs:\n%s", testutil.FirstDiff(again.stdout, plain.stdout))
	}

	for _, args := range [][]string{{"config", "-q"}, {"config", "-q", "--services"}, {"config", "--quiet", "--format", "json"}} {
		if r := (cmd{args: args, dir: dir}).ok(t); r.stdout != "" {
			t.Errorf("berth %v printed %q, want nothing", args, r.stdout)
		}
	}
	bad := writeTree(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: ${TAG:?need TAG}\n"})
	if r := (cmd{args: []string{"config", "-q"}, dir: bad}).run(t); r.code != 1 || !strings.Contains(r.stderr, "need TAG") {
		t.Errorf("config -q on a bad file: exit %d, stderr %q; want exit 1 and the error", r.code, r.stderr)
	}
}

func TestConfigEnvironment(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: busybox:${TAG}\n",
		".env":         "TAG=from-dotenv\nOTHER=x\n",
	})
	r := cmd{args: []string{"config", "--environment"}, dir: dir, env: []string{"TAG=from-shell"}}.ok(t)
	for _, want := range []string{"TAG=from-shell\n", "OTHER=x\n", "COMPOSE_PROJECT_NAME=" + strings.ToLower(filepath.Base(dir)) + "\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--environment output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestConfigFormatError(t *testing.T) {
	dir := writeTree(t, app)
	r := cmd{args: []string{"config", "--format", "toml"}, dir: dir}.run(t)
	if r.code != 1 || strings.TrimSpace(r.stderr) != `unsupported format "toml"` {
		t.Errorf("exit %d, stderr %q; want exit 1 and the format named", r.code, r.stderr)
	}
}

func TestConfigHash(t *testing.T) {
	dir := writeTree(t, app)
	hashes := func(args ...string) map[string]string {
		t.Helper()
		r := cmd{args: append([]string{"config", "--hash"}, args...), dir: dir}.ok(t)
		m := map[string]string{}
		var order []string
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			name, h, ok := strings.Cut(line, " ")
			if !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
				t.Fatalf("line %q is not `service sha256`", line)
			}
			m[name] = h
			order = append(order, name)
		}
		if !sort.StringsAreSorted(order) {
			t.Errorf("services not sorted: %v", order)
		}
		return m
	}
	all := hashes("*")
	if len(all) != 2 || all["web"] == "" || all["db"] == "" {
		t.Fatalf("--hash '*' = %v, want web and db (enabled services only)", all)
	}
	if one := hashes("db"); len(one) != 1 || one["db"] != all["db"] {
		t.Errorf("--hash db = %v, want the same hash as in '*'", one)
	}
	if two := hashes("web,db"); len(two) != 2 || two["web"] != all["web"] {
		t.Errorf("--hash web,db = %v", two)
	}
	// The hash follows what changes the container and ignores what does not.
	edit := func(old, new string) {
		t.Helper()
		p := filepath.Join(dir, "compose.yaml")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("compose.yaml lacks %q", old)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("    healthcheck:", "    pull_policy: always\n    healthcheck:")
	edit("condition: service_healthy", "condition: service_started")
	if after := hashes("*"); after["db"] != all["db"] || after["web"] != all["web"] {
		t.Errorf("hashes changed with depends_on and pull_policy only: %v -> %v", all, after)
	}
	edit("DB_HOST: db", "DB_HOST: db2")
	if after := hashes("*"); after["web"] == all["web"] || after["db"] != all["db"] {
		t.Errorf("web's environment changed: hashes %v -> %v, want only web's to change", all, after)
	}
	r := cmd{args: []string{"config", "--hash", "nope"}, dir: dir}.run(t)
	if r.code != 1 || !strings.Contains(r.stderr, "nope") {
		t.Errorf("--hash nope: exit %d, stderr %q; want exit 1 naming the service", r.code, r.stderr)
	}
}
