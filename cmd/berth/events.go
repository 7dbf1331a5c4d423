package main

// berth system events (docker events) and berth events (docker compose events): both read the
// state root's event journal (package events), replaying it from --since and following it as
// berth's processes append to it.

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/docker/cli/templates"
	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/engine"
	"github.com/berth-sh/berth/events"
)

// rfc3339NanoFixed is Docker's event time: RFC 3339 with the nanoseconds always nine digits.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// eventTimes reads --since and --until as Docker does (durations before now, RFC 3339 times,
// Unix seconds).
func eventTimes(since, until string) (events.Options, error) {
	var o events.Options
	var err error
	now := time.Now()
	if o.Since, err = parseLogTime(since, now); err != nil {
		return o, fmt.Errorf("--since: %w", err)
	}
	if o.Until, err = parseLogTime(until, now); err != nil {
		return o, fmt.Errorf("--until: %w", err)
	}
	return o, nil
}

func newSystemEventsCommand(g *globalOptions, s streams) *cobra.Command {
	var since, until, format string
	var filters []string
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from berth's containers, networks and volumes",
		Example: `  berth system events
  berth system events --since 10m --until 0s --filter type=container --filter event=die
  berth system events --format '{{json .}}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := eventTimes(since, until)
			if err != nil {
				return err
			}
			if o.Filter, err = events.ParseFilter(filters); err != nil {
				return err
			}
			tmpl, err := eventTemplate(format)
			if err != nil {
				return codedError{err: dockerMessage("Error parsing format: " + err.Error()), code: 64}
			}
			return events.Follow(cmd.Context(), g.root, o, func(e events.Event) error {
				return printEvent(s.out, e, tmpl)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "Show all events created since timestamp")
	f.StringVar(&until, "until", "", "Stream events until this timestamp")
	f.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	f.StringVar(&format, "format", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

// eventTemplate is --format's template (nil: Docker's line), checked on an empty event as
// Docker does, so that a bad field fails before any event.
func eventTemplate(format string) (*template.Template, error) {
	switch format {
	case "":
		return nil, nil
	case "json":
		format = "{{json .}}"
	}
	tmpl, err := templates.Parse(format)
	if err != nil {
		return nil, err
	}
	return tmpl, tmpl.Execute(io.Discard, &events.Event{})
}

// printEvent writes e with tmpl, or as docker events' line: time, type, action, actor id and
// the attributes sorted by key.
func printEvent(w io.Writer, e events.Event, tmpl *template.Template) error {
	if tmpl != nil {
		if err := tmpl.Execute(w, e); err != nil {
			return err
		}
		_, err := io.WriteString(w, "\n")
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s", e.When().Format(rfc3339NanoFixed), e.Type, e.Action, e.Actor.ID)
	if len(e.Actor.Attributes) > 0 {
		b.WriteString(" (" + joinAttributes(e.Actor.Attributes) + ")")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// joinAttributes is "k=v, k=v" sorted by key.
func joinAttributes(attrs map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		parts = append(parts, k+"="+attrs[k])
	}
	return strings.Join(parts, ", ")
}

func newComposeEventsCommand(g *globalOptions, s streams) *cobra.Command {
	var asJSON bool
	var since, until string
	cmd := &cobra.Command{
		Use:   "events [OPTIONS] [SERVICE...]",
		Short: "Receive real time events from containers",
		Example: `  berth events
  berth events --json web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := eventTimes(since, until)
			if err != nil {
				return err
			}
			sc, err := openProject(cmd.Context(), g, s, args)
			if err != nil {
				return composeError(err)
			}
			// As docker compose: the project's containers, not its one-off ones.
			o.Filter = events.Filter{"type": {events.TypeContainer}, "label": {engine.LabelProject + "=" + strings.ToLower(sc.name)}}
			err = events.Follow(cmd.Context(), g.root, o, func(e events.Event) error {
				service := e.Actor.Attributes[engine.LabelService]
				if e.Actor.Attributes[engine.LabelOneoff] == "True" || len(args) > 0 && !slices.Contains(args, service) {
					return nil
				}
				return printComposeEvent(s.out, e, service, asJSON)
			})
			return composeError(err)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "Output events as a stream of json objects")
	f.StringVar(&since, "since", "", "Show all events created since timestamp")
	f.StringVar(&until, "until", "", "Stream events until this timestamp")
	return cmd
}

// printComposeEvent writes e as docker compose events does: its attributes without the
// com.docker.compose labels, as a JSON object with --json, otherwise as a line with the local
// time to the microsecond.
func printComposeEvent(w io.Writer, e events.Event, service string, asJSON bool) error {
	attrs := map[string]string{}
	for k, v := range e.Actor.Attributes {
		if !strings.HasPrefix(k, "com.docker.compose.") {
			attrs[k] = v
		}
	}
	if asJSON {
		b, err := json.Marshal(map[string]any{
			"time":       e.When(),
			"type":       e.Type,
			"service":    service,
			"id":         e.Actor.ID,
			"action":     e.Action,
			"attributes": attrs,
		})
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	_, err := fmt.Fprintf(w, "%s %s %s %s (%s)\n", e.When().Format("2006-01-02 15:04:05.000000"), e.Type, e.Action, e.Actor.ID, joinAttributes(attrs))
	return err
}
