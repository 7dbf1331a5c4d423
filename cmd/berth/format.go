package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/template"
)

// formatFuncs are the functions Docker's --format templates offer.
var formatFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSpace(b.String()), nil
	},
	"join":  func(list []any, sep string) string { return joinAny(list, sep) },
	"split": strings.Split,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
	"println": fmt.Sprintln,
}

func joinAny(list []any, sep string) string {
	parts := make([]string, len(list))
	for i, v := range list {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, sep)
}

// parseFormat parses a --format Go template, with Docker's functions; an error names the flag.
func parseFormat(format string) (*template.Template, error) {
	t, err := template.New("format").Funcs(formatFuncs).Option("missingkey=zero").Parse(format)
	if err != nil {
		return nil, fmt.Errorf("invalid --format template: %v", err)
	}
	return t, nil
}

// asJSONValue is v as its JSON form decodes (maps, slices, strings, float64 numbers), so a
// template names the fields as Docker's JSON does ({{.State.Status}}, {{.Name}}).
func asJSONValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	err = d.Decode(&out)
	return out, err
}

// executeFormat writes t over each item, one line each, as `docker inspect -f` does.
func executeFormat[T any](w io.Writer, t *template.Template, items []T) error {
	for _, it := range items {
		v, err := asJSONValue(it)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, v); err != nil {
			return fmt.Errorf("template: %v", err)
		}
		fmt.Fprintln(w, strings.TrimSuffix(b.String(), "\n"))
	}
	return nil
}

// printInspect prints inspect results: Docker's indented JSON array, or with -f each through
// the template.
func printInspect[T any](w io.Writer, format string, items []T) error {
	if format == "" || format == "json" {
		if items == nil {
			items = []T{}
		}
		b, err := json.MarshalIndent(items, "", "    ")
		if err != nil {
			return err
		}
		fmt.Fprintln(w, string(b))
		return nil
	}
	t, err := parseFormat(format)
	if err != nil {
		return err
	}
	return executeFormat(w, t, items)
}

var templateField = regexp.MustCompile(`{{\s*\.(\w+)\s*}}`)

// printTemplateTable prints rows through "table TEMPLATE": a header of the fields the template
// names, upper-cased, then a row each, in aligned columns.
func printTemplateTable[T any](w io.Writer, format string, rows []T) error {
	body := strings.TrimPrefix(format, "table")
	body = strings.TrimSpace(strings.ReplaceAll(body, `\t`, "\t"))
	t, err := parseFormat(body)
	if err != nil {
		return err
	}
	header := templateField.ReplaceAllStringFunc(body, func(m string) string {
		return strings.ToUpper(templateField.FindStringSubmatch(m)[1])
	})
	tw := newTable(w)
	fmt.Fprintln(tw, header)
	if err := executeFormat(tw, t, rows); err != nil {
		return err
	}
	return tw.Flush()
}
