package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/runtime/container"
)

func newContainerPauseCommand(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:     "pause CONTAINER [CONTAINER...]",
		Short:   "Pause all processes within one or more containers",
		Example: `  berth container pause web`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(g, args, func(c *container.Container, arg string) error {
				if err := c.Pause(); err != nil {
					return err
				}
				fmt.Fprintln(s.out, arg)
				return nil
			})
		},
	}
}

func newContainerUnpauseCommand(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:     "unpause CONTAINER [CONTAINER...]",
		Short:   "Unpause all processes within one or more containers",
		Example: `  berth container unpause web`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(g, args, func(c *container.Container, arg string) error {
				if err := c.Unpause(); err != nil {
					return err
				}
				fmt.Fprintln(s.out, arg)
				return nil
			})
		},
	}
}

func newContainerRestartCommand(g *globalOptions, s streams) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:     "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short:   "Restart one or more containers",
		Example: `  berth container restart -t 2 web`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t := stopTimeoutFlag(cmd, timeout)
			l, err := openImages(g)
			if err != nil {
				return err
			}
			return eachContainer(g, args, func(c *container.Container, arg string) error {
				if err := c.Restart(cmd.Context(), l, t); err != nil {
					return err
				}
				fmt.Fprintln(s.out, arg)
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	return cmd
}

func newContainerTopCommand(g *globalOptions, s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Example: `  berth container top web
  berth container top web -o pid,rss,args`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := container.Lookup(g.root, args[0])
			if err != nil {
				return err
			}
			p, err := c.Top(cmd.Context(), args[1:])
			if err != nil {
				return err
			}
			// docker top's table: wider columns than the listings'.
			tw := tabwriter.NewWriter(s.out, 20, 1, 3, ' ', 0)
			fmt.Fprintln(tw, strings.Join(p.Titles, "\t"))
			for _, row := range p.Processes {
				fmt.Fprintln(tw, strings.Join(row, "\t"))
			}
			return tw.Flush()
		},
	}
	// Everything after the container belongs to ps.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

type containerStatsOptions struct {
	all      bool
	noStream bool
	noTrunc  bool
	format   string
}

const (
	// statsSampleGap is how far apart --no-stream's two readings are: CPU % needs two.
	statsSampleGap = 500 * time.Millisecond
	// statsInterval paces the stream.
	statsInterval = time.Second
)

// statsRow is one line of `container stats`, with Docker's JSON field names (in the order
// Docker's {{json .}} prints them).
type statsRow struct {
	BlockIO   string
	CPUPerc   string
	Container string
	ID        string
	MemPerc   string
	MemUsage  string
	Name      string
	NetIO     string
	PIDs      string
}

// statsTarget is a container shown by stats, under the name the user gave it (Docker's
// Container field), or its id when stats lists them all.
type statsTarget struct {
	c   *container.Container
	arg string
}

func newContainerStatsCommand(g *globalOptions, s streams) *cobra.Command {
	o := &containerStatsOptions{}
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		Example: `  berth container stats --no-stream
  berth container stats --no-stream --format json web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch o.format {
			case "", "table", "json":
			default:
				return fmt.Errorf("unsupported format %q: use table or json", o.format)
			}
			return runContainerStats(cmd.Context(), g, s, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVar(&o.noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Do not truncate output")
	f.StringVar(&o.format, "format", "", "Format output: table or json")
	return cmd
}

// statsTargets are the named containers, or every running one (every one with -a), newest
// first. A name that is not found fails the command before anything is shown, as in Docker.
func statsTargets(ctx context.Context, g *globalOptions, o *containerStatsOptions, args []string) ([]statsTarget, error) {
	var out []statsTarget
	if len(args) > 0 {
		var errs []error
		for _, a := range args {
			c, err := container.Lookup(g.root, a)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, statsTarget{c: c, arg: a})
		}
		return out, errors.Join(errs...)
	}
	all, err := container.List(ctx, g.root)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if !o.all {
			st, err := c.State()
			if err != nil {
				return nil, err
			}
			if st.Status != container.StatusRunning {
				continue
			}
		}
		out = append(out, statsTarget{c: c, arg: c.ID})
	}
	return out, nil
}

// readUsage reads every target's usage, by container id.
func readUsage(targets []statsTarget) (map[string]container.Usage, error) {
	out := map[string]container.Usage{}
	for _, t := range targets {
		u, err := t.c.Usage()
		if err != nil {
			return nil, err
		}
		out[t.c.ID] = u
	}
	return out, nil
}

func runContainerStats(ctx context.Context, g *globalOptions, s streams, o *containerStatsOptions, args []string) error {
	targets, err := statsTargets(ctx, g, o, args)
	if err != nil {
		return err
	}
	prev, err := readUsage(targets)
	if err != nil {
		return err
	}
	if o.noStream {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(statsSampleGap):
		}
		cur, err := readUsage(targets)
		if err != nil {
			return err
		}
		if len(targets) == 0 {
			return nil // Docker prints nothing at all, not even the header
		}
		return printStats(s.out, o, statsRows(targets, prev, cur, o.noTrunc))
	}
	// The stream redraws the table in place on a terminal, as docker stats does; elsewhere it
	// prints one table after the other.
	tty := isTerminal(s.out)
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil // Ctrl-C ends the stream; it is no failure
		case <-tick.C:
		}
		if len(args) == 0 {
			// Containers come and go while the stream runs.
			if targets, err = statsTargets(ctx, g, o, nil); err != nil {
				return err
			}
		}
		cur, err := readUsage(targets)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := printStats(&buf, o, statsRows(targets, prev, cur, o.noTrunc)); err != nil {
			return err
		}
		if tty {
			buf = redraw(buf.Bytes())
		}
		if _, err := s.out.Write(buf.Bytes()); err != nil {
			return err
		}
		prev = cur
	}
}

// redraw turns a table into docker stats' in-place update: cursor home, every line cleared to
// its end, and whatever the previous table left below cleared.
func redraw(table []byte) bytes.Buffer {
	var b bytes.Buffer
	b.WriteString("\033[H")
	for _, line := range strings.SplitAfter(string(table), "\n") {
		if line == "" {
			continue
		}
		b.WriteString(strings.TrimSuffix(line, "\n") + "\033[K\n")
	}
	b.WriteString("\033[J")
	return b
}

// statsRows formats each target's usage, CPU % from the two readings, as Docker's stats
// formatter does.
func statsRows(targets []statsTarget, prev, cur map[string]container.Usage, noTrunc bool) []statsRow {
	rows := make([]statsRow, 0, len(targets))
	for _, t := range targets {
		u := cur[t.c.ID]
		id := t.c.ShortID()
		if noTrunc {
			id = t.c.ID
		}
		rows = append(rows, statsRow{
			Container: t.arg,
			ID:        id,
			Name:      t.c.Name,
			CPUPerc:   percent(container.CPUPercent(prev[t.c.ID], u)),
			MemUsage:  units.BytesSize(float64(u.Memory)) + " / " + units.BytesSize(float64(u.MemoryLimit)),
			MemPerc:   percent(u.MemoryPercent()),
			NetIO:     units.HumanSizeWithPrecision(float64(u.NetRx), 3) + " / " + units.HumanSizeWithPrecision(float64(u.NetTx), 3),
			BlockIO:   units.HumanSizeWithPrecision(float64(u.BlockRead), 3) + " / " + units.HumanSizeWithPrecision(float64(u.BlockWrite), 3),
			PIDs:      strconv.FormatUint(u.Pids, 10),
		})
	}
	return rows
}

func percent(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "%" }

func printStats(w io.Writer, o *containerStatsOptions, rows []statsRow) error {
	return printListing(w, o.format, rows, func(tw io.Writer) {
		fmt.Fprintln(tw, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Name, r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs)
		}
	})
}
