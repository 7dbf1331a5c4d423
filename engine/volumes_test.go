package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/volumes"
)

// load loads the compose file content in a project directory of its own.
func load(t *testing.T, content string, environ ...string) *compose.Project {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "db_password.txt"), []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(context.Background(), compose.Options{
		Files: []string{filepath.Join(dir, "compose.yaml")}, ProjectDir: dir, ProjectName: "todo",
		Environ: environ,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const todoCompose = `
services:
  app:
    image: app
    volumes:
      - ./src:/app
      - /app/node_modules
      - type: bind
        source: ./conf
        target: /etc/app
        read_only: true
        bind: {create_host_path: false, propagation: rslave}
      - type: tmpfs
        target: /cache
        tmpfs: {size: 1048576, mode: 0o1770}
    tmpfs: [/run:size=64k]
    secrets:
      - db_password
      - source: api_key
        target: keys/api
        uid: "1000"
        gid: "1001"
        mode: 0o400
    configs:
      - app_cfg
      - source: app_cfg
        target: /etc/other.conf
  db:
    image: mariadb
    volumes:
      - todo-mysql-data:/var/lib/mysql
      - type: volume
        source: shared
        target: /shared
        volume: {nocopy: true, subpath: db}
volumes:
  todo-mysql-data:
  shared:
    external: true
    name: team-shared
secrets:
  db_password:
    file: ./db_password.txt
  api_key:
    environment: API_KEY
configs:
  app_cfg:
    content: "level=debug"
`

func TestServiceMounts(t *testing.T) {
	p := load(t, todoCompose, "API_KEY=from-env")
	app, err := p.GetService("app")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ServiceMounts(p.Project, app)
	if err != nil {
		t.Fatal(err)
	}
	dir := p.WorkingDir
	want := []container.Mount{
		{Type: "bind", Source: filepath.Join(dir, "src"), Target: "/app", CreateHostPath: true},
		{Type: "volume", Target: "/app/node_modules"},
		{Type: "bind", Source: filepath.Join(dir, "conf"), Target: "/etc/app", ReadOnly: true, Propagation: "rslave"},
		{Type: "tmpfs", Target: "/cache", TmpfsSize: 1 << 20, TmpfsMode: 0o1770},
	}
	if !reflect.DeepEqual(m.Mounts, want) {
		t.Errorf("app's mounts:\n%+v\nwant\n%+v", m.Mounts, want)
	}
	if !reflect.DeepEqual(m.Tmpfs, map[string]string{"/run": "size=64k"}) {
		t.Errorf("app's tmpfs: %v", m.Tmpfs)
	}
	wantSecrets := []container.FileMount{
		{Name: "db_password", Target: "/run/secrets/db_password", File: filepath.Join(dir, "db_password.txt"), Mode: 0o444},
		{Name: "api_key", Target: "/run/secrets/keys/api", Content: []byte("from-env"), UID: 1000, GID: 1001, Mode: 0o400},
	}
	if !reflect.DeepEqual(m.Secrets, wantSecrets) {
		t.Errorf("app's secrets:\n%+v\nwant\n%+v", m.Secrets, wantSecrets)
	}
	wantConfigs := []container.FileMount{
		{Name: "app_cfg", Target: "/app_cfg", Content: []byte("level=debug"), Mode: 0o444},
		{Name: "app_cfg", Target: "/etc/other.conf", Content: []byte("level=debug"), Mode: 0o444},
	}
	if !reflect.DeepEqual(m.Configs, wantConfigs) {
		t.Errorf("app's configs:\n%+v\nwant\n%+v", m.Configs, wantConfigs)
	}
	db, _ := p.GetService("db")
	m, err = ServiceMounts(p.Project, db)
	if err != nil {
		t.Fatal(err)
	}
	want = []container.Mount{
		{Type: "volume", Source: "todo_todo-mysql-data", Target: "/var/lib/mysql"},
		{Type: "volume", Source: "team-shared", Target: "/shared", NoCopy: true, SubPath: "db"},
	}
	if !reflect.DeepEqual(m.Mounts, want) {
		t.Errorf("db's mounts:\n%+v\nwant\n%+v", m.Mounts, want)
	}
}

func TestServiceMountsRefuses(t *testing.T) {
	for _, tc := range []struct{ compose, want string }{
		{"services: {a: {image: x, secrets: [s]}}\nsecrets: {s: {environment: NOPE_NOT_SET}}", "environment variable NOPE_NOT_SET is not set"},
		{"services: {a: {image: x, secrets: [{source: s, uid: abc}]}}\nsecrets: {s: {file: ./db_password.txt}}", `uid "abc" is not a number`},
	} {
		p := load(t, tc.compose)
		a, _ := p.GetService("a")
		_, err := ServiceMounts(p.Project, a)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v; want an invalid-project error with %q", tc.compose, err, tc.want)
		}
	}
}

func TestEnsureVolumes(t *testing.T) {
	p := load(t, todoCompose, "API_KEY=x")
	store, err := volumes.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureVolumes(store, p.Project); err == nil || err.Error() != `external volume "team-shared" not found` || !errors.Is(err, ErrInvalid) {
		t.Errorf("an unknown external volume: %v", err)
	}
	if _, _, err := store.Create("team-shared", volumes.Options{}); err != nil {
		t.Fatal(err)
	}
	created, err := EnsureVolumes(store, p.Project)
	if err != nil || !slices.Equal(created, []string{"todo_todo-mysql-data"}) {
		t.Fatalf("EnsureVolumes = %v, %v", created, err)
	}
	v, err := store.Get("todo_todo-mysql-data")
	if err != nil {
		t.Fatal(err)
	}
	if v.Labels[LabelProject] != "todo" || v.Labels[LabelVolume] != "todo-mysql-data" || v.Labels[LabelVersion] == "" {
		t.Errorf("labels of the project's volume: %v", v.Labels)
	}
	if ext, _ := store.Get("team-shared"); len(ext.Labels) != 0 {
		t.Errorf("the external volume was relabelled: %v", ext.Labels)
	}
	// Again: nothing new, nothing lost.
	if created, err := EnsureVolumes(store, p.Project); err != nil || len(created) != 0 {
		t.Errorf("a second EnsureVolumes = %v, %v", created, err)
	}
}

// TestCorpusMounts: every service of every compose file in the corpus maps to mounts, or names
// what berth does not support.
func TestCorpusMounts(t *testing.T) {
	files := corpusFiles(t)
	mapped := 0
	for _, f := range files {
		p, err := compose.Load(context.Background(), compose.Options{Files: []string{f}, ProjectDir: filepath.Dir(f), RenderOnly: true,
			Environ: []string{"HOME=/root"}})
		if err != nil {
			continue // the loader's own corpus test covers what does not load
		}
		for _, s := range p.Services {
			if _, err := ServiceMounts(p.Project, s); err != nil {
				if !strings.Contains(err.Error(), "not supported by berth") && !strings.Contains(err.Error(), "is not set") {
					t.Errorf("%s: service %s: %v", f, s.Name, err)
				}
				continue
			}
			mapped++
		}
	}
	if mapped == 0 {
		t.Error("no service of the corpus mapped")
	}
}

// corpusFiles are the compose files of the awesome-compose corpus beside the checkout
// (../shared/corpus, or BERTH_CORPUS); the test skips, saying so, without it.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	dir := os.Getenv("BERTH_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus", "awesome-compose")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "compose.y*ml"))
	more, _ := filepath.Glob(filepath.Join(dir, "*", "*", "compose.y*ml"))
	files = append(files, more...)
	if len(files) == 0 {
		t.Skipf("needs the awesome-compose corpus at %s (the project's shared/ folder beside the checkout, or BERTH_CORPUS)", dir)
	}
	return files
}
