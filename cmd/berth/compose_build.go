package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/engine"
	"github.com/berth-sh/berth/runtime/build"
)

// composeBuildOptions are `berth build`'s flags, which also apply to builds up and run start.
type composeBuildOptions struct {
	noCache, pull, quiet bool
	buildArgs            []string
}

// serviceBuild builds service s's image from its build section and tags it ref (and the
// section's tags), as docker compose's build does; progress goes to out.
func serviceBuild(ctx context.Context, g *globalOptions, out io.Writer, o composeBuildOptions, p *types.Project, s types.ServiceConfig, ref string) error {
	b := s.Build
	if b == nil {
		return fmt.Errorf("service %q has no build section", s.Name)
	}
	args := map[string]*string{}
	maps.Copy(args, b.Args)
	for _, a := range o.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			// --build-arg NAME: from the environment, as docker compose.
			env, set := p.Environment[k]
			if !set {
				continue
			}
			v = env
		}
		args[k] = &v
	}
	named := map[string]string{}
	for name, v := range b.AdditionalContexts {
		switch {
		case strings.HasPrefix(v, "service:"):
			// Another service's image, which compose builds first.
			depName := strings.TrimPrefix(v, "service:")
			// Not selected (up SERVICE) is fine: its image is still needed.
			dep, ok := engine.FindService(p, depName)
			if !ok {
				return fmt.Errorf("additional context %q: no such service: %s", name, depName)
			}
			named[name] = "docker-image://" + compose.ImageName(p, dep, g.compatibility)
		case strings.HasPrefix(v, "docker-image://"):
			named[name] = v
		case strings.Contains(v, "://") || strings.HasPrefix(v, "oci-layout:"):
			return fmt.Errorf("additional context %q: %s: only directories, docker-image:// and service: are supported by berth", name, v)
		default:
			// compose-go has made a relative path absolute, from the project directory.
			if !filepath.IsAbs(v) {
				v = filepath.Join(p.WorkingDir, v)
			}
			named[name] = v
		}
	}
	bo := build.Options{
		NamedContexts: named,
		Root:          g.root, RunRoot: g.runRoot,
		ContextDir: b.Context, Dockerfile: b.Dockerfile, DockerfileInline: b.DockerfileInline,
		Target: b.Target, BuildArgs: args, Labels: b.Labels,
		Tags:    append([]string{ref}, b.Tags...),
		NoCache: b.NoCache || o.noCache, Pull: b.Pull || o.pull, Network: b.Network,
		Out: out, Quiet: o.quiet, UserAgent: "berth/" + version,
	}
	if bo.Labels == nil {
		bo.Labels = map[string]string{}
	}
	// docker compose labels what it builds with the project and service.
	bo.Labels = maps.Clone(bo.Labels)
	bo.Labels["com.docker.compose.project"] = p.Name
	bo.Labels["com.docker.compose.service"] = s.Name
	bo.Labels["com.docker.compose.version"] = engine.ComposeVersion
	_, err := build.Build(ctx, bo)
	return err
}

func newComposeBuildCommand(g *globalOptions, s streams) *cobra.Command {
	var o composeBuildOptions
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] [SERVICE...]",
		Short: "Build or rebuild services",
		Example: `  berth build
  berth build --no-cache web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject(cmd.Context(), g, args)
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range buildOrder(p.Project) {
				svc := p.Services[name]
				// Services without a build section (and dependencies not named) are skipped.
				if svc.Build == nil || len(args) > 0 && !slices.Contains(args, name) {
					continue
				}
				ref := compose.ImageName(p.Project, svc, g.compatibility)
				if err := serviceBuild(cmd.Context(), g, s.err, o, p.Project, svc, ref); err != nil {
					if errors.Is(err, context.Canceled) {
						return err
					}
					errs = append(errs, fmt.Errorf("service %q: %w", name, err))
					break // docker compose stops at the first failed build
				}
				if !o.quiet {
					fmt.Fprintf(s.err, " Image %s  Built\n", ref)
				}
			}
			return composeError(errors.Join(errs...))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.noCache, "no-cache", false, "Do not use cache when building the image")
	f.BoolVar(&o.pull, "pull", false, "Always attempt to pull a newer version of the image")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the build output")
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "Set build-time variables for services")
	return cmd
}

// buildOrder is the project's services by name, except that a service whose build uses another
// one's image (additional_contexts "service:NAME") comes after it.
func buildOrder(p *types.Project) []string {
	var out []string
	done := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		if done[name] {
			return
		}
		done[name] = true
		if svc, ok := p.Services[name]; ok && svc.Build != nil {
			for _, v := range slices.Sorted(maps.Values(svc.Build.AdditionalContexts)) {
				if dep, ok := strings.CutPrefix(v, "service:"); ok {
					visit(dep)
				}
			}
		}
		if _, ok := p.Services[name]; ok {
			out = append(out, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		visit(name)
	}
	return out
}
