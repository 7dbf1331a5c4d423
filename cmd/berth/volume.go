package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/volumes"
)

func newVolumeCommand(g *globalOptions, s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume COMMAND",
		Short: "Manage volumes",
		Example: `  berth volume create todo-db
  berth volume ls`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newVolumeCreateCommand(g, s),
		newVolumeListCommand(g, s),
		newVolumeInspectCommand(g, s),
		newVolumeRemoveCommand(g, s),
		newVolumePruneCommand(g, s),
	)
	return cmd
}

func openVolumes(g *globalOptions) (*volumes.Store, error) { return volumes.Open(g.root) }

func newVolumeCreateCommand(g *globalOptions, s streams) *cobra.Command {
	var o volumes.Options
	var name string
	var labels, opts []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Example: `  berth volume create todo-db
  berth volume create -o type=tmpfs -o device=tmpfs -o o=size=64m scratch`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if name != "" && name != args[0] {
					return fmt.Errorf("conflicting options: either specify --name or provide positional arg, not both")
				}
				name = args[0]
			}
			if name != "" {
				if err := volumes.ValidName(name); err != nil {
					return err
				}
			}
			var err error
			if o.Labels, err = keyValues("label", labels); err != nil {
				return err
			}
			if o.DriverOpts, err = keyValues("opt", opts); err != nil {
				return err
			}
			store, err := openVolumes(g)
			if err != nil {
				return err
			}
			v, _, err := store.Create(name, o)
			if err != nil {
				return err
			}
			fmt.Fprintln(s.out, v.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Driver, "driver", "d", "local", "Specify volume driver name")
	f.StringVar(&name, "name", "", "Specify volume name")
	f.StringArrayVar(&labels, "label", nil, "Set metadata for a volume")
	f.StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	return cmd
}

// volumeRow is one line of `volume ls`, with Docker's JSON field names.
type volumeRow struct {
	Driver, Name, Scope, Mountpoint, Labels, Links string
}

func newVolumeListCommand(g *globalOptions, s streams) *cobra.Command {
	var quiet bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Example: `  berth volume ls
  berth volume ls -f dangling=true -q`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			match, err := volumeFilter(filters)
			if err != nil {
				return err
			}
			store, err := openVolumes(g)
			if err != nil {
				return err
			}
			all, err := store.List()
			if err != nil {
				return err
			}
			var rows []volumeRow
			for _, v := range all {
				if !match(v) {
					continue
				}
				rows = append(rows, volumeRow{Driver: v.Driver, Name: v.Name, Scope: "local", Mountpoint: v.Mountpoint,
					Labels: joinLabels(v.Labels), Links: fmt.Sprint(len(v.Users))})
			}
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(s.out, r.Name)
				}
				return nil
			}
			return printListing(s.out, format, rows, func(tw io.Writer) {
				fmt.Fprintln(tw, "DRIVER\tVOLUME NAME")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\n", r.Driver, r.Name)
				}
			})
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	cmd.Flags().StringVar(&format, "format", "", "Format output: table or json")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values (e.g. \"dangling=true\", \"label=k=v\", \"name=x\")")
	return cmd
}

// volumeFilter turns `volume ls --filter` values into a predicate: Docker's
// dangling, name (a substring), label (k or k=v) and driver filters.
func volumeFilter(filters []string) (func(*volumes.Volume) bool, error) {
	var preds []func(*volumes.Volume) bool
	for _, f := range filters {
		key, val, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value): %s", f)
		}
		switch key {
		case "dangling":
			want := val == "true" || val == "1"
			if !want && val != "false" && val != "0" {
				return nil, fmt.Errorf("invalid filter 'dangling=%s'", val)
			}
			preds = append(preds, func(v *volumes.Volume) bool { return (len(v.Users) == 0) == want })
		case "name":
			preds = append(preds, func(v *volumes.Volume) bool { return strings.Contains(v.Name, val) })
		case "driver":
			preds = append(preds, func(v *volumes.Volume) bool { return v.Driver == val })
		case "label":
			k, lv, withValue := strings.Cut(val, "=")
			preds = append(preds, func(v *volumes.Volume) bool {
				got, ok := v.Labels[k]
				return ok && (!withValue || got == lv)
			})
		default:
			return nil, fmt.Errorf("invalid filter '%s'", key)
		}
	}
	return func(v *volumes.Volume) bool {
		for _, p := range preds {
			if !p(v) {
				return false
			}
		}
		return true
	}, nil
}

// joinLabels is Docker's k=v,k=v form of a label map, sorted.
func joinLabels(labels map[string]string) string {
	var out []string
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// volumeInspection is Docker's volume inspect object.
type volumeInspection struct {
	CreatedAt  string
	Driver     string
	Labels     map[string]string
	Mountpoint string
	Name       string
	Options    map[string]string
	Scope      string
}

func newVolumeInspectCommand(g *globalOptions, s streams) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "inspect VOLUME [VOLUME...]",
		Short:   "Display detailed information on one or more volumes",
		Example: `  berth volume inspect todo-db`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openVolumes(g)
			if err != nil {
				return err
			}
			out := []volumeInspection{}
			var errs []error
			for _, a := range args {
				v, err := store.Get(a)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, volumeInspection{CreatedAt: v.CreatedAt.Format("2006-01-02T15:04:05Z07:00"), Driver: v.Driver,
					Labels: v.Labels, Mountpoint: v.Mountpoint, Name: v.Name, Options: v.Options, Scope: "local"})
			}
			if err := printInspect(s.out, format, out); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}

func newVolumeRemoveCommand(g *globalOptions, s streams) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Example: `  berth volume rm todo-db`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openVolumes(g)
			if err != nil {
				return err
			}
			var errs []error
			for _, a := range args {
				if err := store.Remove(a, force); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(s.out, a)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes, even in use")
	return cmd
}

func newVolumePruneCommand(g *globalOptions, s streams) *cobra.Command {
	var force, all bool
	var filters []string
	cmd := &cobra.Command{
		Use:     "prune [OPTIONS]",
		Short:   "Remove unused local volumes",
		Example: `  berth volume prune -f`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			labels := map[string]string{}
			for _, f := range filters {
				key, val, _ := strings.Cut(f, "=")
				if key != "label" {
					return fmt.Errorf("invalid filter '%s': berth's volume prune takes label filters", key)
				}
				k, v, _ := strings.Cut(val, "=")
				labels[k] = v
			}
			if !force {
				what := "anonymous local volumes"
				if all {
					what = "all local volumes"
				}
				fmt.Fprintf(s.out, "WARNING! This will remove %s not used by at least one container.\nAre you sure you want to continue? [y/N] ", what)
				if !confirmed(s.in) {
					return nil
				}
			}
			store, err := openVolumes(g)
			if err != nil {
				return err
			}
			removed, err := store.Prune(all, labels)
			if len(removed) > 0 {
				fmt.Fprintln(s.out, "Deleted Volumes:")
				for _, n := range removed {
					fmt.Fprintln(s.out, n)
				}
				fmt.Fprintln(s.out)
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values (e.g. \"label=<label>\")")
	return cmd
}
