package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v4"
)

// loadError is a loader error made fit for one line on a terminal: it names the file and line
// of the attribute at fault where the model path in compose-go's message can be found in a file.
type loadError struct {
	msg string
	err error
}

func (e *loadError) Error() string { return e.msg }

func (e *loadError) Unwrap() []error { return []error{ErrInvalid, e.err} }

var (
	// validating /abs/compose.yaml: services.web.imagee false schema
	reSchema = regexp.MustCompile(`^validating (\S+): (\S+) (.*)$`)
	// error while interpolating services.web.image: ...; invalid interpolation format for services.web.image.
	reInterp = regexp.MustCompile(`interpolat(?:ing|ion format for) ([A-Za-z0-9_.\[\]-]+?)[.:]?(?: |$)`)
	// validating /abs/compose.yaml: additional properties 'foo' not allowed
	reTopLevel = regexp.MustCompile(`^validating (\S+): additional properties '([^']+)' not allowed$`)
	reCycle    = regexp.MustCompile(`dependency cycle detected: ([^ ]+) ->`)
	reSvc      = regexp.MustCompile(`service "([^"]+)"`)
	reYAML     = regexp.MustCompile(`^yaml: `)
)

// wrap makes a loader error an ErrInvalid on one line that names the file and, where it can be
// found, the line. files are the compose files that were loaded, in order.
func wrap(err error, files []string) error {
	if err == nil || errors.Is(err, ErrInvalid) || errors.Is(err, context.Canceled) {
		return err
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	switch {
	case reTopLevel.MatchString(msg):
		m := reTopLevel.FindStringSubmatch(msg)
		msg = fmt.Sprintf("%s: %s %s", position(m[1], m[2]), m[2], unknownAttribute(m[2]))
	case reSchema.MatchString(msg):
		m := reSchema.FindStringSubmatch(msg)
		file, path, what := m[1], m[2], m[3]
		if what == "false schema" {
			what = unknownAttribute(path)
		}
		msg = fmt.Sprintf("%s: %s", position(file, path), strings.TrimSpace(path+" "+what))
	case reYAML.MatchString(msg):
		if file := firstBadYAML(files); file != "" {
			msg = file + ": " + msg
		}
	default:
		if path := modelPath(msg); path != "" {
			if file, line := locate(files, path); file != "" && !strings.Contains(msg, file) {
				msg = fmt.Sprintf("%s:%d: %s", file, line, msg)
			}
		}
	}
	return &loadError{msg: msg, err: err}
}

// findingError refuses a project for an attribute berth does not run, naming where it is set.
func findingError(f Finding, files []string) error {
	msg := f.String()
	if file, line := locate(files, f.Path); file != "" {
		msg = fmt.Sprintf("%s:%d: %s", file, line, msg)
	}
	return &loadError{msg: msg, err: ErrInvalid}
}

// modelPath finds the model path a loader message is about.
func modelPath(msg string) string {
	if m := reInterp.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	if m := reCycle.FindStringSubmatch(msg); m != nil {
		return "services." + m[1] + ".depends_on"
	}
	if m := reSvc.FindStringSubmatch(msg); m != nil {
		return "services." + m[1]
	}
	return ""
}

// position is "file:line" for path in file, or just file when the path cannot be found.
func position(file, path string) string {
	if f, line := locate([]string{file}, path); f != "" {
		return fmt.Sprintf("%s:%d", f, line)
	}
	return file
}

// locate returns the first file, and the line in it, that defines the longest prefix of path
// (at least its first part).
func locate(files []string, path string) (string, int) {
	parts := splitPath(path)
	bestFile, bestLine, bestDepth := "", 0, 0
	for _, f := range files {
		root := parseFile(f)
		if root == nil {
			continue
		}
		if depth, line := walk(root, parts); depth > bestDepth {
			bestFile, bestLine, bestDepth = f, line, depth
		}
	}
	return bestFile, bestLine
}

func splitPath(path string) []string {
	path = strings.ReplaceAll(path, "[", ".")
	path = strings.ReplaceAll(path, "]", "")
	return strings.FieldsFunc(path, func(r rune) bool { return r == '.' })
}

func parseFile(file string) *yaml.Node {
	if file == "" || file == "-" {
		return nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// walk follows parts through mappings (by key) and sequences (by index) and returns how many
// parts it matched and the line of the last matched key or item.
func walk(n *yaml.Node, parts []string) (int, int) {
	depth, line := 0, n.Line
	for _, p := range parts {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == p {
					line, next = n.Content[i].Line, n.Content[i+1]
					break
				}
			}
		case yaml.SequenceNode:
			var idx int
			if _, err := fmt.Sscanf(p, "%d", &idx); err == nil && idx >= 0 && idx < len(n.Content) {
				next = n.Content[idx]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
		depth++
	}
	return depth, line
}

// firstBadYAML names the first file that does not parse as YAML.
func firstBadYAML(files []string) string {
	for _, f := range files {
		if f == "-" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var v any
		if yaml.Unmarshal(b, &v) != nil {
			return f
		}
	}
	return ""
}

// unknownAttribute words a schema rejection of an attribute the specification does not have, with
// the nearest known attribute as a suggestion.
func unknownAttribute(path string) string {
	if best := nearestKnown(splitPath(path)); best != "" {
		return fmt.Sprintf("is not a compose attribute: did you mean %q?", best)
	}
	return "is not a compose attribute"
}

// nearestKnown finds the sibling attribute closest in spelling to the last part of parts.
func nearestKnown(parts []string) string {
	name := parts[len(parts)-1]
	best, bestDist := "", 3
	for _, known := range knownPaths() {
		kp := known.Parts()
		if len(kp) != len(parts) {
			continue
		}
		same := true
		for i := 0; i < len(parts)-1; i++ {
			if kp[i] != "*" && kp[i] != parts[i] {
				same = false
				break
			}
		}
		if !same {
			continue
		}
		if d := editDistance(name, kp[len(kp)-1]); d < bestDist {
			best, bestDist = kp[len(kp)-1], d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
