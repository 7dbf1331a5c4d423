// Package compose loads compose projects the way docker compose does and checks them against what
// berth can run.
//
// Loading is compose-go's (github.com/compose-spec/compose-go/v2), driven with the same options, in
// the same order, as docker compose v5: file discovery walking up parent directories, override
// files, COMPOSE_FILE and COMPOSE_PATH_SEPARATOR, COMPOSE_PROJECT_NAME, COMPOSE_PROFILES, `.env` and
// --env-file precedence, interpolation, include, extends and profiles. On top of it berth adds one
// thing of its own: every attribute the file sets that berth does not run is reported as a Finding,
// a warning when leaving it out is harmless and an error when it would surprise the user.
//
// The package has no side effects beyond reading files (and standard input for `-f -`): it never
// creates containers, networks or volumes and never prints. It must not import cobra or cmd/.
package compose

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// ErrInvalid marks a compose project that cannot be loaded: bad YAML, a schema violation, an
// undefined reference, a missing required variable or env file, or an attribute berth refuses.
var ErrInvalid = errors.New("invalid compose project")

// Separator joins project, service and index in container names, as docker compose's
// api.Separator does ("_" in --compatibility mode).
func Separator(compatibility bool) string {
	if compatibility {
		return "_"
	}
	return "-"
}

// Options says which project to load and how. The zero value loads the project found from the
// current directory with the process environment, as `docker compose` does with no flags.
type Options struct {
	// Files are the -f paths, in order; "-" reads standard input. Optional: when empty, COMPOSE_FILE
	// and then discovery from the current directory upwards decide.
	Files []string
	// ProjectName is -p. Optional; must already be a valid project name when set.
	ProjectName string
	// ProjectDir is --project-directory. Optional; defaults to the directory of the first file.
	ProjectDir string
	// EnvFiles are the --env-file paths. Optional; defaults to <project dir>/.env when it exists.
	EnvFiles []string
	// Profiles are the --profile values. Optional; defaults to COMPOSE_PROFILES.
	Profiles []string
	// Services selects services (and, unless NoDeps, their dependencies). Optional: all enabled.
	Services []string
	// NoDeps keeps the selection to the named services only.
	NoDeps bool
	// Environ is the environment for interpolation as KEY=VALUE. Optional: nil means os.Environ().
	Environ []string

	// The rendering switches of `config`; all false for every other command.
	NoInterpolate   bool
	NoNormalize     bool
	NoResolvePaths  bool
	NoConsistency   bool
	NoEnvResolution bool
	// DiscardEnvFile drops env_file from services once merged into environment (`config` does).
	DiscardEnvFile bool
	// AllResources keeps networks and volumes that no selected service uses.
	AllResources bool
	// Compatibility is docker compose's --compatibility ("_" as the name separator).
	Compatibility bool
	// SkipValidation skips the schema and consistency checks (`config --variables`).
	SkipValidation bool
	// RenderOnly keeps error-class findings as findings instead of failing the load: `config`
	// renders any file docker compose renders and reports what berth would refuse to run.
	RenderOnly bool
}

// ServiceConfig is compose-go's service model, named here so callers need not import compose-go.
type ServiceConfig = types.ServiceConfig

// Project is a loaded compose project with what berth found it cannot run.
type Project struct {
	*types.Project
	// Findings lists attributes berth does not run, warnings and errors, sorted by path.
	Findings []Finding
	// EnvFiles are the --env-file paths the project was loaded with (for the compose labels).
	EnvFiles []string
}

func (o Options) projectOptions(extra ...cli.ProjectOptionsFn) (*cli.ProjectOptions, error) {
	environ := o.Environ
	if environ == nil {
		environ = os.Environ()
	}
	// docker compose applies the process environment first ("always win"), then the env files,
	// then discovery, then the env files again for a project dir found by discovery.
	fns := append([]cli.ProjectOptionsFn{}, extra...)
	fns = append(fns,
		cli.WithInterpolation(!o.NoInterpolate),
		cli.WithResolvedPaths(!o.NoResolvePaths),
		cli.WithNormalization(!o.NoNormalize),
		cli.WithConsistency(!o.NoConsistency),
		cli.WithWorkingDirectory(o.ProjectDir),
		cli.WithEnv(environ),
	)
	if !hasKey(environ, "PWD") {
		if pwd, err := os.Getwd(); err == nil {
			fns = append(fns, cli.WithEnv([]string{"PWD=" + pwd}))
		}
	}
	fns = append(fns,
		cli.WithEnvFiles(o.EnvFiles...),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		cli.WithEnvFiles(o.EnvFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(o.Profiles...),
		cli.WithName(o.ProjectName),
	)
	if o.DiscardEnvFile {
		fns = append(fns, cli.WithDiscardEnvFile)
	}
	if o.NoEnvResolution {
		fns = append(fns, cli.WithoutEnvironmentResolution)
	}
	if o.SkipValidation {
		fns = append(fns, cli.WithLoadOptions(loader.WithSkipValidation))
	}
	return cli.NewProjectOptions(o.Files, fns...)
}

// Load loads, merges, interpolates and normalises the project, selects services and profiles, and
// checks every attribute against what berth runs. Error-class findings fail the load with
// ErrInvalid; warnings are returned in Project.Findings for the caller to show.
func Load(ctx context.Context, o Options) (*Project, error) {
	var findings []Finding
	check := cli.WithLoadOptions(supportCheck(func(f []Finding) { findings = f }))
	po, err := o.projectOptions(check)
	if err != nil {
		return nil, wrap(err, o.Files)
	}
	p, err := po.LoadProject(ctx)
	if err != nil {
		return nil, wrap(err, po.ConfigPaths)
	}
	if p.Name == "" {
		return nil, fmt.Errorf("%w: project name can't be empty: use -p to set one", ErrInvalid)
	}
	if p, err = p.WithServicesEnabled(o.Services...); err != nil {
		return nil, wrap(err, po.ConfigPaths)
	}
	var depOpts []types.DependencyOption
	if o.NoDeps {
		depOpts = append(depOpts, types.IgnoreDependencies)
	}
	if p, err = p.WithSelectedServices(o.Services, depOpts...); err != nil {
		return nil, wrap(err, po.ConfigPaths)
	}
	if !o.AllResources {
		p = p.WithoutUnnecessaryResources()
	}
	findings = relevant(findings, p)
	for _, f := range findings {
		if f.Severity == SeverityError && !o.RenderOnly {
			return nil, findingError(f, po.ConfigPaths)
		}
	}
	return &Project{Project: p, Findings: findings, EnvFiles: o.EnvFiles}, nil
}

// Profiles lists, sorted, every profile a service of the project names, enabled or not.
func (p *Project) Profiles() []string {
	set := map[string]bool{}
	for _, s := range p.AllServices() {
		for _, pr := range s.Profiles {
			set[pr] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// LoadModel returns the merged model before interpolation-dependent binding, as
// `config --no-interpolate` renders it.
func LoadModel(ctx context.Context, o Options) (map[string]any, error) {
	po, err := o.projectOptions()
	if err != nil {
		return nil, wrap(err, o.Files)
	}
	m, err := po.LoadModel(ctx)
	if err != nil {
		return nil, wrap(err, po.ConfigPaths)
	}
	return m, nil
}

// ImageName is the image a service runs: its `image`, or `<project>-<service>` for a build.
func ImageName(p *types.Project, s types.ServiceConfig, compatibility bool) string {
	if s.Image != "" {
		return s.Image
	}
	return p.Name + Separator(compatibility) + s.Name
}

func hasKey(environ []string, key string) bool {
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}
