package build

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// dockerfile is a parsed Dockerfile.
type dockerfile struct {
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	escape   rune
	warnings []string
}

// parseDockerfile parses text with BuildKit's parser. Errors name the line, as Docker's do
// ("dockerfile parse error on line 3: ..."), and carry it for the source excerpt.
func parseDockerfile(text string) (*dockerfile, error) {
	res, err := parser.Parse(strings.NewReader(text))
	if err != nil {
		return nil, parseError(err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		var unknown *instructions.UnknownInstructionError
		if errors.As(err, &unknown) {
			r := []parser.Range{{Start: parser.Position{Line: unknown.Line}, End: parser.Position{Line: unknown.Line}}}
			return nil, atLines(invalidf("dockerfile parse error on line %d: unknown instruction: %s", unknown.Line, strings.ToUpper(unknown.Instruction)), r)
		}
		return nil, parseError(err)
	}
	if len(stages) == 0 {
		return nil, invalidf("the Dockerfile has no FROM instruction: file with no instructions")
	}
	seen := map[string]bool{}
	for _, s := range stages {
		if s.Name == "" {
			continue
		}
		if seen[s.Name] {
			return nil, atLines(invalidf("dockerfile parse error on line %d: duplicate stage name %q", startLine(s.Location), s.Name), s.Location)
		}
		seen[s.Name] = true
	}
	df := &dockerfile{stages: stages, metaArgs: metaArgs, escape: res.EscapeToken}
	for _, w := range res.Warnings {
		df.warnings = append(df.warnings, w.Short)
	}
	return df, nil
}

// parsePrefix is how BuildKit's instruction parser starts some of its messages.
var parsePrefix = regexp.MustCompile(`^dockerfile parse error (on )?line \d+: `)

// parseError is a parser error in Docker's words, with its line when the parser knows it.
func parseError(err error) error {
	msg := parsePrefix.ReplaceAllString(oneLine(err), "")
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		r := le.Locations[0]
		return atLines(invalidf("dockerfile parse error on line %d: %s", r[0].Start.Line, msg), r)
	}
	return invalidf("dockerfile parse error: %s", msg)
}

// sourceError is an error at some lines of the Dockerfile. Its message is the error's own; Build
// prints the lines above it, as Docker does ("Dockerfile:3" and an excerpt).
type sourceError struct {
	start, end int
	err        error
}

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// atLines attaches the first range of r to err, unless it has lines already.
func atLines(err error, r []parser.Range) error {
	var se *sourceError
	if err == nil || len(r) == 0 || errors.As(err, &se) {
		return err
	}
	start, end := r[0].Start.Line, r[len(r)-1].End.Line
	if end < start {
		end = start
	}
	return &sourceError{start: start, end: end, err: err}
}

// excerpt is Docker's picture of where an error is: "Dockerfile:3", then the lines around it,
// the failing ones marked with ">>>".
func (e *sourceError) excerpt(name, text string) string {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if e.start < 1 || e.start > len(lines) {
		return ""
	}
	end := min(e.end, len(lines))
	// Two lines either side of one line, one either side of several, much as BuildKit shows.
	context := 2
	if end > e.start {
		context = 1
	}
	from, to := max(1, e.start-context), min(len(lines), end+context)
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d\n--------------------\n", name, e.start)
	for i := from; i <= to; i++ {
		mark := "   "
		if i >= e.start && i <= end {
			mark = ">>>"
		}
		fmt.Fprintf(&b, " %3d | %s %s\n", i, mark, lines[i-1])
	}
	b.WriteString("--------------------\n")
	return b.String()
}

func startLine(r []parser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[0].Start.Line
}

// oneLine keeps the first line of an error: some parser errors carry the offending source.
func oneLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// stageName is what progress calls a stage: its name, or "stage-N" when it has none.
func stageName(stages []instructions.Stage, i int) string {
	if stages[i].Name != "" {
		return stages[i].Name
	}
	return "stage-" + strconv.Itoa(i)
}

// findStage resolves a stage by name or, for --from, by the index of an earlier stage.
func findStage(stages []instructions.Stage, name string, before int, byIndex bool) (int, bool) {
	if i, ok := instructions.HasStage(stages[:before], name); ok {
		return i, true
	}
	if byIndex {
		if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < before {
			return n, true
		}
	}
	return -1, false
}

// neededStages lists, in order, the stages the target needs: itself and, transitively, the stages
// it is based on or copies from. The classic builder builds every stage up to the target;
// BuildKit only these, which is what berth does.
func neededStages(stages []instructions.Stage, target int, baseName func(int) string) []int {
	need := map[int]bool{}
	var visit func(i int)
	visit = func(i int) {
		if need[i] {
			return
		}
		need[i] = true
		if j, ok := findStage(stages, baseName(i), i, false); ok {
			visit(j)
		}
		for _, c := range stages[i].Commands {
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" {
				if j, ok := findStage(stages, cp.From, i, true); ok {
					visit(j)
				}
			}
		}
	}
	visit(target)
	var out []int
	for i := range stages {
		if need[i] {
			out = append(out, i)
		}
	}
	return out
}

// envList is a shell.EnvGetter over KEY=VALUE pairs, the last one of a key winning.
type envList []string

func (e envList) Get(key string) (string, bool) {
	for i := len(e) - 1; i >= 0; i-- {
		k, v, _ := strings.Cut(e[i], "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

func (e envList) Keys() []string {
	var keys []string
	for _, kv := range e {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// setEnv replaces or appends key=value, keeping the order of first definition as Docker does.
func setEnv(env []string, key, value string) []string {
	out := slices.Clone(env)
	for i, kv := range out {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			out[i] = key + "=" + value
			return out
		}
	}
	return append(out, key+"="+value)
}

// argScope is the ARGs a stage has declared, with their values, in declaration order.
type argScope struct {
	names  []string
	values map[string]*string
}

func (a *argScope) declare(name string, value *string) {
	if a.values == nil {
		a.values = map[string]*string{}
	}
	if _, ok := a.values[name]; !ok {
		a.names = append(a.names, name)
	}
	a.values[name] = value
}

// visible is the declared ARGs with a value that no ENV overrides: what the classic builder
// calls FilterAllowed, and what a RUN sees in its environment.
func (a *argScope) visible(env []string) []string {
	var out []string
	for _, n := range a.names {
		v := a.values[n]
		if v == nil {
			continue
		}
		if _, ok := envList(env).Get(n); ok {
			continue
		}
		out = append(out, n+"="+*v)
	}
	return out
}

// runPrefix is what the classic builder puts before a RUN's command in its history and cache
// key when build args are in effect: "|N k=v ...", sorted.
func runPrefix(args []string) []string {
	if len(args) == 0 {
		return nil
	}
	sorted := slices.Clone(args)
	sort.Strings(sorted)
	return append([]string{"|" + strconv.Itoa(len(sorted))}, sorted...)
}

// expander returns the word expander of one instruction: every variable keeps the value it had
// before the instruction.
func expander(lex *shell.Lex, env []string) instructions.SingleWordExpander {
	return func(word string) (string, error) {
		res, err := lex.ProcessWordWithMatches(word, envList(env))
		if err != nil {
			return "", err
		}
		return res.Result, nil
	}
}

// expandCommand expands a command's variables in place, as the classic builder does for every
// command that supports it (ADD, COPY, ENV, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, ARG), plus
// EXPOSE, whose words may expand to several ports.
func expandCommand(lex *shell.Lex, env []string, cmd instructions.Command) error {
	ex := expander(lex, env)
	if e, ok := cmd.(*instructions.ExposeCommand); ok {
		var ports []string
		for _, p := range e.Ports {
			ps, err := lex.ProcessWords(p, envList(env))
			if err != nil {
				return err
			}
			ports = append(ports, ps...)
		}
		e.Ports = ports
		return nil
	}
	if e, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		if err := e.Expand(ex); err != nil {
			return err
		}
	}
	if e, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
		if err := e.ExpandRaw(ex); err != nil {
			return err
		}
	}
	return nil
}

// lineError prefixes err with the Dockerfile line of cmd.
func lineError(cmd instructions.Command, err error) error {
	if l := startLine(cmd.Location()); l > 0 {
		return atLines(fmt.Errorf("dockerfile line %d: %s: %w", l, strings.ToUpper(cmd.Name()), err), cmd.Location())
	}
	return err
}
