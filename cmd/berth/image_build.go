package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/runtime/build"
)

type imageBuildOptions struct {
	tags      []string
	file      string
	buildArgs []string
	labels    []string
	target    string
	noCache   bool
	pull      bool
	quiet     bool
	network   string
	progress  string
	iidfile   string
	contexts  []string
}

func newImageBuildCommand(g *globalOptions, s streams) *cobra.Command {
	o := &imageBuildOptions{}
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | -",
		Short: "Build an image from a Dockerfile",
		Example: `  berth image build -t app:1 .
  berth image build -f Dockerfile.dev --build-arg VERSION=2 --target test .
  tar -c . | berth image build -t app -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bo, err := o.buildOptions(g, s, args[0])
			if err != nil {
				return err
			}
			id, err := build.Build(cmd.Context(), bo)
			if err != nil {
				return err
			}
			if o.iidfile != "" {
				if err := os.WriteFile(o.iidfile, []byte(id), 0o644); err != nil {
					return err
				}
			}
			if o.quiet {
				fmt.Fprintln(s.out, id)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.tags, "tag", "t", nil, `Name and optionally a tag in the "name:tag" format`)
	f.StringVarP(&o.file, "file", "f", "", `Name of the Dockerfile (default: "PATH/Dockerfile"; "-" reads it from STDIN)`)
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "Set build-time variables")
	f.StringArrayVar(&o.labels, "label", nil, "Set metadata for an image")
	f.StringVar(&o.target, "target", "", "Set the target build stage to build")
	f.BoolVar(&o.noCache, "no-cache", false, "Do not use cache when building the image")
	f.BoolVar(&o.pull, "pull", false, "Always attempt to pull a newer version of the image")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	f.StringVar(&o.network, "network", "default", `Set the networking mode for the RUN instructions during build ("default", "none", "host")`)
	f.StringVar(&o.progress, "progress", "auto", `Set type of progress output ("auto", "plain", "tty", "quiet")`)
	f.StringVar(&o.iidfile, "iidfile", "", "Write the image ID to the file")
	f.StringArrayVar(&o.contexts, "build-context", nil, "Additional build contexts (e.g., name=path or name=docker-image://ref)")
	return cmd
}

// buildOptions turns the flags into build.Options: the context directory or a tar (or a
// Dockerfile) on stdin, the Dockerfile relative to the current directory as docker's -f is, and
// --build-arg NAME without a value taken from the environment.
func (o *imageBuildOptions) buildOptions(g *globalOptions, s streams, pathArg string) (build.Options, error) {
	bo := build.Options{
		Root: g.root, RunRoot: g.runRoot, Target: o.target, Tags: o.tags,
		NoCache: o.noCache, Pull: o.pull, Quiet: o.quiet || o.progress == "quiet",
		Out: s.out, UserAgent: "berth/" + version,
	}
	switch o.network {
	case "", "default", "bridge", "none", "host":
		bo.Network = o.network
	default:
		return bo, fmt.Errorf("network mode %q not supported by the builder: use default, none or host", o.network)
	}
	switch o.progress {
	case "auto":
		bo.TTY = isTerminal(s.out)
	case "tty":
		bo.TTY = true
	case "plain", "quiet", "rawjson":
	default:
		return bo, fmt.Errorf("invalid progress mode %q: use auto, plain, tty or quiet", o.progress)
	}
	if bo.TTY {
		// Lines longer than the terminal would wrap and spoil the redraw: cut them at its width,
		// or at 80 columns when it does not say.
		bo.TTYWidth = 80
		if f, ok := s.out.(*os.File); ok {
			if w := int(terminalSize(int(f.Fd()))[1]); w > 0 {
				bo.TTYWidth = w
			}
		}
	}
	if pathArg == "-" {
		if o.file == "-" {
			return bo, fmt.Errorf("invalid argument: can't use stdin for both build context and dockerfile")
		}
		bo.ContextTar = s.in
	} else {
		fi, err := os.Stat(pathArg)
		if err != nil || !fi.IsDir() {
			return bo, fmt.Errorf("unable to prepare context: path %q not found", pathArg)
		}
		bo.ContextDir = pathArg
	}
	switch {
	case o.file == "-":
		b, err := io.ReadAll(s.in)
		if err != nil {
			return bo, err
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			return bo, fmt.Errorf("the Dockerfile from stdin is empty")
		}
		bo.DockerfileInline = string(b)
	case o.file != "":
		abs, err := filepath.Abs(o.file)
		if err != nil {
			return bo, err
		}
		bo.Dockerfile = abs
	}
	for _, c := range o.contexts {
		name, v, ok := strings.Cut(c, "=")
		if !ok || name == "" || v == "" {
			return bo, fmt.Errorf("invalid --build-context %q: NAME=PATH or NAME=docker-image://REF", c)
		}
		if !strings.HasPrefix(v, "docker-image://") {
			abs, err := filepath.Abs(v)
			if err != nil {
				return bo, err
			}
			v = abs
		}
		if bo.NamedContexts == nil {
			bo.NamedContexts = map[string]string{}
		}
		bo.NamedContexts[name] = v
	}
	bo.BuildArgs = map[string]*string{}
	for _, a := range o.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			ev, set := os.LookupEnv(k)
			if !set {
				bo.BuildArgs[k] = nil
				continue
			}
			v = ev
		}
		bo.BuildArgs[k] = &v
	}
	if len(o.labels) > 0 {
		bo.Labels = map[string]string{}
		for _, l := range o.labels {
			k, v, _ := strings.Cut(l, "=")
			bo.Labels[k] = v
		}
	}
	return bo, nil
}
