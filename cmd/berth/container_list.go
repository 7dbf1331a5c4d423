package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/runtime/monitor"
)

type containerListOptions struct {
	all     bool
	quiet   bool
	noTrunc bool
	format  string
}

// containerRow is one line of `container ls`, with Docker's JSON field names.
type containerRow struct {
	Command    string
	CreatedAt  string
	ID         string
	Image      string
	Labels     string
	Names      string
	Ports      string
	RunningFor string
	State      string
	Status     string
}

func newContainerListCommand(g *globalOptions, s streams) *cobra.Command {
	o := &containerListOptions{}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"ps", "list"},
		Short:   "List containers",
		Example: `  berth container ls -a
  berth container ps -q`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := container.List(cmd.Context(), g.root)
			if err != nil {
				return err
			}
			var rows []containerRow
			for _, c := range all {
				st, err := c.Status()
				if err != nil {
					return err
				}
				if !o.all && st.Status != container.StatusRunning && st.Status != container.StatusPaused && st.Status != container.StatusRestarting {
					continue
				}
				rows = append(rows, newContainerRow(c, st, o.noTrunc))
			}
			return printContainerRows(s.out, rows, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display container IDs")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringVar(&o.format, "format", "", "Format output: table or json")
	return cmd
}

func newContainerRow(c *container.Container, st monitor.State, noTrunc bool) containerRow {
	id, command := c.ShortID(), c.Command()
	if noTrunc {
		id = c.ID
	} else if r := []rune(command); len(r) > 20 {
		// Docker's Ellipsis: 19 runes and "…".
		command = string(r[:19]) + "…"
	}
	return containerRow{
		Command:    strconv.Quote(command),
		CreatedAt:  c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		ID:         id,
		Image:      c.Options.Image,
		Labels:     joinLabels(c.Options.Labels),
		Names:      c.Name,
		RunningFor: units.HumanDuration(time.Since(c.Created)) + " ago",
		State:      st.Status,
		Status:     statusText(st),
		Ports:      portsColumn(c, st),
	}
}

// portsColumn is the PORTS column of docker ps and docker compose ps: while the container runs,
// each published port ("0.0.0.0:8080->80/tcp", "[::]:8080->80/tcp"), then each exposed port no
// host port leads to ("3306/tcp"); nothing once it has stopped.
func portsColumn(c *container.Container, st monitor.State) string {
	if st.Status != container.StatusRunning && st.Status != container.StatusPaused {
		return ""
	}
	var out []string
	published := map[string]bool{}
	for _, p := range c.Published {
		out = append(out, fmt.Sprintf("%s->%d/%s", p.HostAddrPort(), p.ContainerPort, p.Proto))
		published[fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)] = true
	}
	exposed, _ := container.ExposedPorts(append(slices.Clone(c.Process.ImageExposed), c.Options.Expose...))
	for _, e := range exposed {
		if !published[e] {
			out = append(out, e)
		}
	}
	return strings.Join(out, ", ")
}

// statusText is Docker's STATUS column: "Up 3 seconds", "Up 3 seconds
// (Paused)", "Exited (42) 5 seconds ago", "Created".
func statusText(st monitor.State) string {
	health := ""
	if h := st.Health; h != nil {
		health = " (" + h.Status + ")"
		if h.Status == monitor.HealthStarting {
			health = " (health: starting)"
		}
	}
	switch st.Status {
	case container.StatusRunning:
		return "Up " + units.HumanDuration(time.Since(st.StartedAt)) + health
	case container.StatusPaused:
		return "Up " + units.HumanDuration(time.Since(st.StartedAt)) + " (Paused)"
	case container.StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, units.HumanDuration(time.Since(st.FinishedAt)))
	case container.StatusExited:
		if st.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", st.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, units.HumanDuration(time.Since(st.FinishedAt)))
	default:
		return "Created"
	}
}

func printContainerRows(w io.Writer, rows []containerRow, o *containerListOptions) error {
	if o.quiet {
		for _, r := range rows {
			fmt.Fprintln(w, r.ID)
		}
		return nil
	}
	return printListing(w, o.format, rows, func(tw io.Writer) {
		fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names)
		}
	})
}

type containerLogsOptions struct {
	follow     bool
	tail       string
	timestamps bool
	since      string
	until      string
}

func newContainerLogsCommand(g *globalOptions, s streams) *cobra.Command {
	o := &containerLogsOptions{}
	cmd := &cobra.Command{
		Use:     "logs [OPTIONS] CONTAINER",
		Short:   "Fetch the logs of a container",
		Example: `  berth container logs -f --tail 10 web`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lo, err := logOptions(o.follow, o.timestamps, o.tail, o.since, o.until)
			if err != nil {
				return err
			}
			c, err := container.Lookup(g.root, args[0])
			if err != nil {
				return err
			}
			return c.Logs(cmd.Context(), lo, s.out, s.err)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "Follow log output")
	f.StringVarP(&o.tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	f.BoolVarP(&o.timestamps, "timestamps", "t", false, "Show timestamps")
	f.StringVar(&o.since, "since", "", "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	f.StringVar(&o.until, "until", "", "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	return cmd
}

// parseLogTime reads --since/--until as Docker does: a duration before
// now, an RFC 3339 time (with or without zone), a date, or Unix seconds.
func parseLogTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use a duration (10m), an RFC 3339 time or Unix seconds", v)
}

// logOptions reads the logs commands' --follow, --timestamps, --tail ("all" or a number),
// --since and --until.
func logOptions(follow, timestamps bool, tail, since, until string) (container.LogOptions, error) {
	lo := container.LogOptions{Follow: follow, Timestamps: timestamps, Tail: -1}
	if tail != "all" {
		n, err := strconv.Atoi(tail)
		if err != nil {
			return lo, fmt.Errorf("invalid value for \"tail\": %q is not a number or \"all\"", tail)
		}
		lo.Tail = n
	}
	var err error
	now := time.Now()
	if lo.Since, err = parseLogTime(since, now); err != nil {
		return lo, err
	}
	if lo.Until, err = parseLogTime(until, now); err != nil {
		return lo, err
	}
	return lo, nil
}
