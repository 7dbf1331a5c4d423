package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// newTable is the tabwriter of Docker's listings (ls, ps, history): columns three spaces apart.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
}

// printListing prints rows as Docker's listings do: for --format json one object per line, with
// `<none>` unescaped as Docker's {{json .}} prints it; otherwise the table that table writes.
func printListing[T any](w io.Writer, format string, rows []T, table func(tw io.Writer)) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	case "", "table":
	default:
		if strings.HasPrefix(format, "table ") {
			return printTemplateTable(w, format, rows)
		}
		if !strings.Contains(format, "{{") {
			return fmt.Errorf("unsupported format %q: use table, json or a Go template", format)
		}
		t, err := parseFormat(strings.ReplaceAll(format, `\t`, "\t"))
		if err != nil {
			return err
		}
		return executeFormat(w, t, rows)
	}
	tw := newTable(w)
	table(tw)
	return tw.Flush()
}
