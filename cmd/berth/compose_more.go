package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/engine"
	"github.com/berth-sh/berth/runtime/container"
)

// composeMoreCommands are the project commands beside up, down, ps and the container ones:
// create, pull, ls, wait.
func composeMoreCommands(g *globalOptions, s streams) []*cobra.Command {
	return []*cobra.Command{
		newComposeCreateCommand(g, s),
		newComposePullCommand(g, s),
		newComposeLsCommand(g, s),
		newComposeWaitCommand(g, s),
	}
}

func newComposeCreateCommand(g *globalOptions, s streams) *cobra.Command {
	o := engine.UpOptions{NoStart: true}
	var pull string
	cmd := &cobra.Command{
		Use:     "create [OPTIONS] [SERVICE...]",
		Short:   "Creates containers for a service",
		Example: `  berth create web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.ForceRecreate && o.NoRecreate {
				return errors.New("--force-recreate and --no-recreate are incompatible")
			}
			p, err := loadProject(cmd.Context(), g, args)
			if err != nil {
				return err
			}
			e, err := newEngineWithPull(g, s, pull)
			if err != nil {
				return err
			}
			return composeError(e.Up(cmd.Context(), p.Project, o))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.ForceRecreate, "force-recreate", false, "Recreate containers even if their configuration hasn't changed")
	f.BoolVar(&o.NoRecreate, "no-recreate", false, "If containers already exist, don't recreate them")
	f.BoolVar(&o.RemoveOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	f.StringVar(&pull, "pull", "missing", `Pull image before running ("always"|"missing"|"never")`)
	return cmd
}

func newComposePullCommand(g *globalOptions, s streams) *cobra.Command {
	var ignoreFailures, quiet bool
	cmd := &cobra.Command{
		Use:     "pull [OPTIONS] [SERVICE...]",
		Short:   "Pull service images",
		Example: `  berth pull`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject(cmd.Context(), g, args)
			if err != nil {
				return err
			}
			l, err := openImages(g)
			if err != nil {
				return err
			}
			quietStreams := s
			if quiet {
				quietStreams.err = io.Discard
			}
			var errs []error
			for _, name := range slices.Sorted(maps.Keys(p.Services)) {
				svc := p.Services[name]
				if svc.Image == "" {
					fmt.Fprintf(s.err, " %s Skipped - No image to be pulled\n", name)
					continue
				}
				ref := compose.ImageName(p.Project, svc, g.compatibility)
				fmt.Fprintf(s.err, " %s Pulling\n", name)
				if err := ensureImage(cmd.Context(), l, quietStreams, ref, "always"); err != nil {
					if ignoreFailures {
						fmt.Fprintf(s.err, " %s Warning %v\n", name, err)
						continue
					}
					errs = append(errs, fmt.Errorf("service %q: %w", name, err))
					continue
				}
				fmt.Fprintf(s.err, " %s Pulled\n", name)
			}
			return composeError(errors.Join(errs...))
		},
	}
	cmd.Flags().BoolVar(&ignoreFailures, "ignore-pull-failures", false, "Pull what it can and ignores images with pull failures")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Pull without printing progress information")
	return cmd
}

// lsRow is one project of `ls`, with docker compose's JSON field names.
type lsRow struct {
	Name, Status, ConfigFiles string
}

func newComposeLsCommand(g *globalOptions, s streams) *cobra.Command {
	var all, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Short:   "List running compose projects",
		Example: `  berth ls -a`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := container.List(cmd.Context(), g.root)
			if err != nil {
				return err
			}
			type counts struct {
				states map[string]int
				files  string
			}
			projects := map[string]*counts{}
			for _, c := range cs {
				name := c.Options.Labels[engine.LabelProject]
				if name == "" {
					continue
				}
				st, err := c.Status()
				if err != nil {
					return err
				}
				p := projects[name]
				if p == nil {
					p = &counts{states: map[string]int{}, files: c.Options.Labels["com.docker.compose.project.config_files"]}
					projects[name] = p
				}
				p.states[st.Status]++
			}
			var rows []lsRow
			for _, name := range slices.Sorted(maps.Keys(projects)) {
				p := projects[name]
				if !all && p.states[container.StatusRunning] == 0 {
					continue
				}
				// docker compose's form: running(2), exited(1)
				var status []string
				for _, st := range slices.Sorted(maps.Keys(p.states)) {
					status = append(status, fmt.Sprintf("%s(%d)", st, p.states[st]))
				}
				rows = append(rows, lsRow{Name: name, Status: strings.Join(status, ", "), ConfigFiles: p.files})
			}
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(s.out, r.Name)
				}
				return nil
			}
			return printListing(s.out, format, rows, func(tw io.Writer) {
				fmt.Fprintln(tw, "NAME\tSTATUS\tCONFIG FILES")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Status, r.ConfigFiles)
				}
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Show all stopped Compose projects")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display project names")
	cmd.Flags().StringVar(&format, "format", "", "Format the output. Values: [table | json]")
	return cmd
}

func newComposeWaitCommand(g *globalOptions, s streams) *cobra.Command {
	var downProject bool
	cmd := &cobra.Command{
		Use:     "wait SERVICE [SERVICE...] [OPTIONS]",
		Short:   "Block until containers of all (or specified) services stop.",
		Example: `  berth wait migrate`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := openProject(cmd.Context(), g, s, args)
			if err != nil {
				return err
			}
			var cs []*container.Container
			for _, c := range sc.containers {
				if slices.Contains(args, serviceOf(c)) && !isOneOff(c) {
					cs = append(cs, c)
				}
			}
			type exit struct {
				c    *container.Container
				code int
				err  error
			}
			exits := make(chan exit, len(cs))
			for _, c := range cs {
				go func() {
					st, err := c.Wait(cmd.Context())
					exits <- exit{c, st.ExitCode, err}
				}()
			}
			code := -1
			for range cs {
				x := <-exits
				if x.err != nil {
					return x.err
				}
				fmt.Fprintf(s.out, "%s exited with code %d\n", x.c.Name, x.code)
				if code < 0 {
					code = x.code // docker compose exits with the first container's code
				}
				if downProject {
					// The first container to stop drops the project.
					if err := sc.engine.Down(cmd.Context(), sc.name, engine.DownOptions{}); err != nil {
						return composeError(err)
					}
					break
				}
			}
			if code > 0 {
				return exitStatus(code)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&downProject, "down-project", false, "Drops project when the first container stops")
	return cmd
}
