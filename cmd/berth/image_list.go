package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/go-units"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/runtime/build"
	"github.com/berth-sh/berth/runtime/image"
)

type imageListOptions struct {
	quiet   bool
	all     bool
	format  string
	filters []string
	noTrunc bool
	digests bool
}

// imageRow is one line of `image ls`, with Docker's JSON field names.
type imageRow struct {
	Containers   string
	CreatedAt    string
	CreatedSince string
	Digest       string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
	VirtualSize  string
}

func newImageListCommand(g *globalOptions, s streams) *cobra.Command {
	o := &imageListOptions{}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS] [REPOSITORY[:TAG]]",
		Aliases: []string{"list"},
		Short:   "List images",
		Example: `  berth image ls
  berth image ls --filter dangling=true -q
  berth image ls --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dangling, err := danglingFilter(o.filters)
			if err != nil {
				return err
			}
			l, err := openImages(g)
			if err != nil {
				return err
			}
			images, err := l.Store.Images()
			if err != nil {
				return err
			}
			// Builds' intermediate images (untagged steps in the build cache) are shown with -a
			// only, as Docker shows the classic builder's.
			intermediate, err := build.CachedImageIDs(g.root)
			if err != nil {
				return err
			}
			var rows []imageRow
			seen := map[v1.Hash]bool{}
			for _, img := range images {
				tags := image.Tags(img.Names)
				if dangling != nil && *dangling != (len(tags) == 0) {
					continue
				}
				size := l.ImageSize(img)
				base := imageRow{
					Containers: "N/A", SharedSize: "N/A", UniqueSize: "N/A",
					CreatedAt:    img.Created.Format("2006-01-02 15:04:05 -0700 MST"),
					CreatedSince: units.HumanDuration(time.Since(img.Created)) + " ago",
					Digest:       "<none>",
					ID:           img.ID.String(),
					Size:         units.HumanSizeWithPrecision(float64(size), 3),
					VirtualSize:  units.HumanSizeWithPrecision(float64(size), 3),
				}
				if !o.noTrunc {
					base.ID = image.ShortID(img.ID.String())
				}
				if d := image.Digests(img.Names); len(d) > 0 {
					_, base.Digest, _ = strings.Cut(d[0], "@")
				}
				if len(tags) == 0 {
					if !o.all && (dangling == nil && seen[img.ID] || intermediate[img.ID.String()]) {
						continue
					}
					row := base
					row.Repository, row.Tag = "<none>", "<none>"
					if d := image.Digests(img.Names); len(d) > 0 {
						row.Repository, _, _ = strings.Cut(d[0], "@")
					}
					rows = append(rows, row)
					seen[img.ID] = true
					continue
				}
				for _, t := range tags {
					row := base
					i := strings.LastIndex(t, ":")
					row.Repository, row.Tag = t[:i], t[i+1:]
					if len(args) == 1 && !matchRepo(args[0], t) {
						continue
					}
					rows = append(rows, row)
				}
				seen[img.ID] = true
			}
			return printImageRows(s.out, rows, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVarP(&o.all, "all", "a", false, "Show all images")
	f.StringVar(&o.format, "format", "", "Format output using a custom template: 'table' or 'json'")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "Filter output based on conditions provided (dangling=true|false)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVar(&o.digests, "digests", false, "Show digests")
	return cmd
}

func danglingFilter(filters []string) (*bool, error) {
	var dangling *bool
	for _, f := range filters {
		k, v, _ := strings.Cut(f, "=")
		if k != "dangling" {
			return nil, fmt.Errorf("invalid filter %q: berth filters images by dangling=true|false", f)
		}
		b := v == "true" || v == "1"
		if !b && v != "false" && v != "0" {
			return nil, fmt.Errorf("invalid filter %q: dangling takes true or false", f)
		}
		dangling = &b
	}
	return dangling, nil
}

// matchRepo is `docker images REPOSITORY[:TAG]`: the repository, and the tag when given.
func matchRepo(want, tag string) bool {
	ref, err := image.ParseReference(want)
	if err != nil {
		return false
	}
	if strings.Contains(want[strings.LastIndex(want, "/")+1:], ":") {
		return tag == ref.Familiar()
	}
	return strings.HasPrefix(tag, ref.Repository()+":")
}

func printImageRows(w io.Writer, rows []imageRow, o *imageListOptions) error {
	if o.quiet {
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.ID] {
				fmt.Fprintln(w, r.ID)
				seen[r.ID] = true
			}
		}
		return nil
	}
	return printListing(w, o.format, rows, func(tw io.Writer) {
		if o.digests {
			fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tCREATED\tSIZE")
		} else {
			fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
		}
		for _, r := range rows {
			if o.digests {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.Digest, r.ID, r.CreatedSince, r.Size)
			} else {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size)
			}
		}
	})
}

func newImageInspectCommand(g *globalOptions, s streams) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "inspect IMAGE [IMAGE...]",
		Short:   "Display detailed information on one or more images",
		Example: `  berth image inspect busybox`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := openImages(g)
			if err != nil {
				return err
			}
			var out []*image.Inspection
			for _, a := range args {
				in, err := l.Inspect(a)
				if err != nil {
					return err
				}
				out = append(out, in)
			}
			return printInspect(s.out, format, out)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}

// historyRow is one line of `image history`, with docker's --format field names.
type historyRow struct {
	ID, CreatedAt, CreatedSince, CreatedBy, Size, Comment string
}

func newImageHistoryCommand(g *globalOptions, s streams) *cobra.Command {
	var noTrunc, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:     "history [OPTIONS] IMAGE",
		Short:   "Show the history of an image",
		Example: `  berth image history app:latest`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := openImages(g)
			if err != nil {
				return err
			}
			hist, err := l.History(args[0])
			if err != nil {
				return err
			}
			if quiet {
				for _, h := range hist {
					fmt.Fprintln(s.out, h.ID)
				}
				return nil
			}
			rows := make([]historyRow, len(hist))
			for i, h := range hist {
				id, by := h.ID, strings.ReplaceAll(h.CreatedBy, "\t", " ")
				if !noTrunc {
					if id != "<missing>" {
						id = image.ShortID(id)
					}
					if r := []rune(by); len(r) > 45 {
						by = string(r[:44]) + "…"
					}
				}
				created, since := "N/A", "N/A"
				if !h.Created.IsZero() {
					created = h.Created.Format(time.RFC3339)
					since = units.HumanDuration(time.Since(h.Created)) + " ago"
				}
				rows[i] = historyRow{ID: id, CreatedAt: created, CreatedSince: since, CreatedBy: by,
					Size: units.HumanSizeWithPrecision(float64(h.Size), 3), Comment: h.Comment}
			}
			return printListing(s.out, format, rows, func(tw io.Writer) {
				fmt.Fprintln(tw, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment)
				}
			})
		},
	}
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	cmd.Flags().StringVar(&format, "format", "", "Format output: table, json or a Go template")
	return cmd
}

func newImageRemoveCommand(g *globalOptions, s streams) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] IMAGE [IMAGE...]",
		Aliases: []string{"remove", "rmi"},
		Short:   "Remove one or more images",
		Example: `  berth image rm app:old`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := openImages(g)
			if err != nil {
				return err
			}
			res, err := l.Remove(cmd.Context(), args, force)
			printRemoved(s.out, res.Untagged, res.Deleted, "Untagged: ", "Deleted: ")
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force removal of the image")
	return cmd
}

func printRemoved(w io.Writer, untagged []string, deleted []v1.Hash, u, d string) {
	for _, t := range untagged {
		fmt.Fprintln(w, u+t)
	}
	for _, id := range deleted {
		fmt.Fprintln(w, d+id.String())
	}
}

func newImagePruneCommand(g *globalOptions, s streams) *cobra.Command {
	var all, yes bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Example: `  berth image prune -f
  berth image prune -a -f`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !yes {
				warning := "WARNING! This will remove all dangling images."
				if all {
					warning = "WARNING! This will remove all images without at least one container associated to them."
				}
				fmt.Fprintf(s.out, "%s\nAre you sure you want to continue? [y/N] ", warning)
				if !confirmed(s.in) {
					return nil
				}
			}
			l, err := openImages(g)
			if err != nil {
				return err
			}
			res, err := l.Prune(cmd.Context(), all)
			if len(res.Untagged)+len(res.Deleted) > 0 {
				fmt.Fprintln(s.out, "Deleted Images:")
				printRemoved(s.out, res.Untagged, res.Deleted, "untagged: ", "deleted: ")
				fmt.Fprintln(s.out)
			}
			fmt.Fprintf(s.out, "Total reclaimed space: %s\n", units.HumanSizeWithPrecision(float64(res.Reclaimed), 3))
			return err
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&yes, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

// confirmed reads Docker's [y/N] answer from in.
func confirmed(in io.Reader) bool {
	answer, _ := bufio.NewReader(in).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes"
}
