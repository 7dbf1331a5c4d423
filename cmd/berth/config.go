package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v4"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/graph"
)

type configOptions struct {
	format          string
	output          string
	quiet           bool
	noInterpolate   bool
	noNormalize     bool
	noResolvePath   bool
	noConsistency   bool
	noEnvResolution bool
	services        bool
	volumes         bool
	networks        bool
	profiles        bool
	images          bool
	hash            string
	variables       bool
	environment     bool
}

func newConfigCommand(g *globalOptions, s streams) *cobra.Command {
	o := &configOptions{}
	cmd := &cobra.Command{
		Use:   "config [OPTIONS] [SERVICE...]",
		Short: "Parse, resolve and render compose file in canonical format",
		Long: `Parse, resolve and render the compose file in canonical format, exactly as docker compose
config prints it. Attributes berth does not run are reported on standard error.`,
		Example: `  berth config
  berth -f compose.yaml -f compose.override.yaml config --format json
  berth --profile debug config --services
  berth config --hash '*'`,
		ValidArgsFunction: completeServices(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := s.out
			if o.quiet {
				out = io.Discard
			}
			return runConfig(cmd.Context(), g, o, args, out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "", "Format the output. Values: [yaml | json]")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only validate the configuration, don't print anything")
	f.BoolVar(&o.noInterpolate, "no-interpolate", false, "Don't interpolate environment variables")
	f.BoolVar(&o.noNormalize, "no-normalize", false, "Don't normalize compose model")
	f.BoolVar(&o.noResolvePath, "no-path-resolution", false, "Don't resolve file paths")
	f.BoolVar(&o.noConsistency, "no-consistency", false, "Don't check model consistency - warning: may produce invalid Compose output")
	f.BoolVar(&o.noEnvResolution, "no-env-resolution", false, "Don't resolve service env files")
	f.BoolVar(&o.services, "services", false, "Print the service names, one per line.")
	f.BoolVar(&o.volumes, "volumes", false, "Print the volume names, one per line.")
	f.BoolVar(&o.networks, "networks", false, "Print the network names, one per line.")
	f.BoolVar(&o.profiles, "profiles", false, "Print the profile names, one per line.")
	f.BoolVar(&o.images, "images", false, "Print the image names, one per line.")
	f.StringVar(&o.hash, "hash", "", "Print the service config hash, one per line.")
	f.BoolVar(&o.variables, "variables", false, "Print model variables and default values.")
	f.BoolVar(&o.environment, "environment", false, "Print environment used for interpolation.")
	f.StringVarP(&o.output, "output", "o", "", "Save to file (default to stdout)")
	return cmd
}

// renderOptions are the loading options of `config` itself; the listing modes (--services,
// --volumes, --networks, --hash) load as the other commands do, as docker compose's do.
func (o *configOptions) renderOptions(g *globalOptions, services []string) compose.Options {
	lo := g.loadOptions(services)
	lo.NoInterpolate = o.noInterpolate
	lo.NoNormalize = o.noNormalize || g.compatibility
	lo.NoResolvePaths = o.noResolvePath
	lo.NoConsistency = o.noConsistency
	lo.NoEnvResolution = o.noEnvResolution
	lo.DiscardEnvFile = true
	return lo
}

func runConfig(ctx context.Context, g *globalOptions, o *configOptions, args []string, out io.Writer) error {
	switch {
	case o.services:
		return listConfig(ctx, g, o, out, func(p *compose.Project) []string { return p.ServiceNames() })
	case o.volumes:
		return listConfig(ctx, g, o, out, func(p *compose.Project) []string { return p.VolumeNames() })
	case o.networks:
		return listConfig(ctx, g, o, out, func(p *compose.Project) []string { return p.NetworkNames() })
	case o.hash != "":
		return configHash(ctx, g, o, out)
	case o.profiles:
		return configProfiles(ctx, g, o, args, out)
	case o.images:
		return configImages(ctx, g, o, args, out)
	case o.variables:
		return configVariables(ctx, g, o, args, out)
	case o.environment:
		p, err := loadForConfig(ctx, o.renderOptions(g, args))
		if err != nil {
			return err
		}
		for _, v := range p.Environment.Values() {
			fmt.Fprintln(out, v)
		}
		return nil
	}
	if o.format == "" {
		o.format = "yaml"
	}
	if o.format != "yaml" && o.format != "json" {
		return fmt.Errorf("unsupported format %q", o.format)
	}
	content, err := renderConfig(ctx, g, o, args)
	if err != nil {
		return err
	}
	if o.quiet {
		return nil
	}
	if o.output != "" && len(content) > 0 {
		return os.WriteFile(o.output, content, 0o666)
	}
	_, err = out.Write(content)
	return err
}

// renderConfig produces docker compose's canonical rendering of the project.
func renderConfig(ctx context.Context, g *globalOptions, o *configOptions, args []string) ([]byte, error) {
	if o.noInterpolate {
		if len(args) > 0 {
			logrus.Warn("service filtering is not applied when --no-interpolate is set, the full model will be rendered")
		}
		model, err := compose.LoadModel(ctx, o.renderOptions(g, args))
		if err != nil {
			return nil, err
		}
		return formatModel(model, o.format)
	}
	p, err := loadForConfig(ctx, o.renderOptions(g, args))
	if err != nil {
		return nil, err
	}
	if !o.noEnvResolution {
		resolved, err := p.WithServicesEnvironmentResolved(true)
		if err != nil {
			return nil, err
		}
		p.Project = resolved
	}
	if !o.noConsistency {
		if err := p.CheckContainerNameUnicity(); err != nil {
			return nil, err
		}
	}
	var content []byte
	if o.format == "json" {
		content, err = p.MarshalJSON()
	} else {
		content, err = p.MarshalYAML()
	}
	if err != nil {
		return nil, err
	}
	// The rendered file must read back as it was: a literal $ is written as $$.
	return bytes.ReplaceAll(content, []byte("$"), []byte("$$")), nil
}

// loadForConfig loads for rendering: attributes berth refuses are reported, not fatal, so that
// `config` renders any file docker compose renders.
func loadForConfig(ctx context.Context, lo compose.Options) (*compose.Project, error) {
	lo.RenderOnly = true
	p, err := compose.Load(ctx, lo)
	if err != nil {
		return nil, err
	}
	warnFindings(p.Findings)
	return p, nil
}

func warnFindings(findings []compose.Finding) {
	for _, f := range findings {
		if f.Severity == compose.SeverityError {
			logrus.Warnf("%s (berth will refuse to run this project)", f)
		} else {
			logrus.Warn(f.String())
		}
	}
}

// listConfig prints one name per line from a project loaded as the run commands load it.
func listConfig(ctx context.Context, g *globalOptions, o *configOptions, out io.Writer, names func(*compose.Project) []string) error {
	if o.noInterpolate && o.services {
		model, err := compose.LoadModel(ctx, o.renderOptions(g, nil))
		if err != nil {
			return err
		}
		services, _ := model["services"].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(services)) {
			fmt.Fprintln(out, k)
		}
		return nil
	}
	lo := g.loadOptions(nil)
	lo.NoEnvResolution = true
	p, err := loadForConfig(ctx, lo)
	if err != nil {
		return err
	}
	list := names(p)
	if o.services {
		// Dependencies first, as docker compose lists them; independent services by name, where
		// docker compose's order changes from run to run.
		g, err := graph.FromProject(p.Project)
		if err != nil {
			return err
		}
		list = g.Order()
	}
	for _, n := range list {
		fmt.Fprintln(out, n)
	}
	return nil
}

func configHash(ctx context.Context, g *globalOptions, o *configOptions, out io.Writer) error {
	lo := g.loadOptions(nil)
	lo.NoEnvResolution = true
	p, err := loadForConfig(ctx, lo)
	if err != nil {
		return err
	}
	var names []string
	if o.hash == "*" {
		names = p.ServiceNames()
	} else {
		names = strings.Split(o.hash, ",")
	}
	sort.Strings(names)
	for _, name := range names {
		s, err := p.GetService(name)
		if err != nil {
			return err
		}
		h, err := compose.ServiceHash(s)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s %s\n", name, h)
	}
	return nil
}

func configProfiles(ctx context.Context, g *globalOptions, o *configOptions, args []string, out io.Writer) error {
	p, err := loadForConfig(ctx, o.renderOptions(g, args))
	if err != nil {
		return err
	}
	for _, pr := range p.Profiles() {
		fmt.Fprintln(out, pr)
	}
	return nil
}

func configImages(ctx context.Context, g *globalOptions, o *configOptions, args []string, out io.Writer) error {
	p, err := loadForConfig(ctx, o.renderOptions(g, args))
	if err != nil {
		return err
	}
	names := p.ServiceNames()
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintln(out, compose.ImageName(p.Project, p.Services[n], g.compatibility))
	}
	return nil
}

func configVariables(ctx context.Context, g *globalOptions, o *configOptions, args []string, out io.Writer) error {
	if len(args) > 0 {
		logrus.Warn("service filtering is not applied when --variables is set, variables from the full model will be rendered")
	}
	lo := o.renderOptions(g, args)
	lo.NoInterpolate = true
	lo.NoEnvResolution = true
	lo.SkipValidation = true
	model, err := compose.LoadModel(ctx, lo)
	if err != nil {
		return err
	}
	vars := template.ExtractVariables(model, template.DefaultPattern)
	switch o.format {
	case "yaml":
		b, err := yaml.Marshal(vars)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	case "json":
		b, err := json.Marshal(vars)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, string(b))
		return err
	case "", "table":
	default:
		return fmt.Errorf("unsupported format %q", o.format)
	}
	names := slices.Sorted(maps.Keys(vars))
	w := tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)
	fmt.Fprintln(w, "NAME\tREQUIRED\tDEFAULT VALUE\tALTERNATE VALUE")
	for _, n := range names {
		v := vars[n]
		fmt.Fprintf(w, "%s\t%t\t%s\t%s\n", n, v.Required, v.DefaultValue, v.PresenceValue)
	}
	return w.Flush()
}

// formatModel renders a raw model as docker compose does for --no-interpolate.
func formatModel(model map[string]any, format string) ([]byte, error) {
	if format == "json" {
		return json.MarshalIndent(model, "", "  ")
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(model); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
