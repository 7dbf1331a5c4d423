package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/internal/hostcheck"
)

func newSystemCheckCommand(g *globalOptions, s streams) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "check [OPTIONS]",
		Short: "Check that this host has what berth needs: root, kernel, namespaces, overlayfs, cgroups, nftables, bridges",
		Long: `Check that this host has what berth needs, one line per check, and say what to do about
what is missing. The checks try each feature on a small scale where nothing else can see it
(throwaway namespaces, a temporary overlay under the state root) and leave nothing behind.
The exit status is 0 when every check passes, 1 otherwise.`,
		Example: `  sudo berth system check
  berth system check --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "" && format != "json" {
				return usageError{cmd: cmd, err: fmt.Errorf("unsupported format %q: use json, or no --format for one line per check", format)}
			}
			results := hostcheck.Run(cmd.Context(), hostcheck.Options{Root: g.root})
			var err error
			if format == "json" {
				err = writeChecksJSON(s.out, results)
			} else {
				writeChecks(s.out, results, isTerminal(s.out))
			}
			if err != nil {
				return err
			}
			if !hostcheck.AllOK(results) {
				return exitStatus(1) // every failure is on its own line already
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "Format the output. Values: [json]")
	return cmd
}

// writeChecks prints one line per check: a mark (✔/✘ on a terminal, ok/missing elsewhere, so
// that grep and logs read well), the check's name, what was found, and on failure what to do.
func writeChecks(w io.Writer, results []hostcheck.Result, terminal bool) {
	width := 0
	for _, r := range results {
		width = max(width, len(r.Name))
	}
	for _, r := range results {
		mark := "ok     "
		switch {
		case terminal && r.OK:
			mark = "✔"
		case terminal:
			mark = "✘"
		case !r.OK:
			mark = "missing"
		}
		line := fmt.Sprintf("%s %-*s  %s", mark, width, r.Name, oneLine(r.Detail))
		if !r.OK && r.Fix != "" {
			line += " → " + oneLine(r.Fix)
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

// writeChecksJSON prints one JSON object per check and line, as berth's other --format json
// listings do.
func writeChecksJSON(w io.Writer, results []hostcheck.Result) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}
