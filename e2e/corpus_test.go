package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"

	"github.com/berth-sh/berth/internal/testutil"
)

// corpusDir is ../shared/corpus/awesome-compose beside the checkout (BERTH_CORPUS overrides).
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BERTH_CORPUS")
	if dir == "" {
		dir = filepath.Join(repoRoot(), "..", "shared", "corpus", "awesome-compose")
	}
	// Resolved, so that berth (run with PWD=dir) and the in-process reference (which asks the
	// kernel for its working directory) see the same path.
	resolved, err := filepath.EvalSymlinks(dir)
	if err == nil {
		dir = resolved
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("needs the awesome-compose corpus at %s (the project's shared/ folder beside the checkout, or BERTH_CORPUS): %v", dir, err)
	}
	return dir
}

// canonical renders a project the way docker compose v5's `config` does, straight from compose-go:
// the same option functions in the same order, the same post-processing, the same $ escaping. It is
// the reference berth's output is compared with.
func canonical(t *testing.T, dir, name string, env []string, format string) []byte {
	t.Helper()
	fns := []cli.ProjectOptionsFn{
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithDiscardEnvFile,
		cli.WithWorkingDirectory(""),
		cli.WithEnv(env),
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(),
		cli.WithName(name),
	}
	// Discovery starts from the current directory, as for a user in dir.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.Chdir(wd) }()
	po, err := cli.NewProjectOptions(nil, fns...)
	if err != nil {
		t.Fatal(err)
	}
	p, err := po.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose-go: %v", err)
	}
	if p, err = p.WithServicesEnabled(); err != nil {
		t.Fatal(err)
	}
	if p, err = p.WithSelectedServices(nil); err != nil {
		t.Fatal(err)
	}
	p = p.WithoutUnnecessaryResources()
	if p, err = p.WithServicesEnvironmentResolved(true); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckContainerNameUnicity(); err != nil {
		t.Fatal(err)
	}
	var out []byte
	if format == "json" {
		out, err = p.MarshalJSON()
	} else {
		out, err = p.MarshalYAML()
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(out, []byte("$"), []byte("$$"))
}

// TestCorpusConfig loads every compose file of the awesome-compose corpus with berth and checks that
// `berth config` prints exactly compose-go's canonical model, in JSON and in YAML.
func TestCorpusConfig(t *testing.T) {
	root := corpusDir(t)
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		for _, name := range []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"} {
			if d.Name() == name {
				dirs = append(dirs, filepath.Dir(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 30 {
		t.Fatalf("found %d compose projects under %s, want the whole corpus (39)", len(dirs), root)
	}
	for _, dir := range dirs {
		name := loader.NormalizeProjectName("corpus-" + filepath.Base(dir))
		t.Run(filepath.Base(dir), func(t *testing.T) {
			// compose-go expands ~ in paths from the process's HOME, so both sides share it.
			home := os.Getenv("HOME")
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "PWD=" + dir}
			for _, format := range []string{"json", "yaml"} {
				want := canonical(t, dir, name, env, format)
				r := cmd{args: []string{"-p", name, "config", "--format", format}, dir: dir, env: []string{"HOME=" + home}}.ok(t)
				if r.stdout != string(want) {
					t.Errorf("berth config --format %s differs from compose-go's canonical model:\n%s", format, testutil.FirstDiff(r.stdout, string(want)))
				}
				if strings.Contains(r.stderr, "panic") {
					t.Errorf("stderr: %s", r.stderr)
				}
			}
		})
	}
}
