// Command kcmp measures what `berth convert` and kompose carry over of compose projects; it is
// the measuring half of compare.sh, which runs the tools (see RESULTS.md).
//
//	kcmp placeholders CONFIG.json   create the secret and config files the project names but
//	                                lacks (kompose stops at the first missing one)
//	kcmp report RUNDIR              judge every RUNDIR/inputs/<name>/{berth,kompose}/ output,
//	                                print the summary, write RUNDIR/report.md
//
// Every object is validated with package kval (Kubernetes' own decoding, defaulting and
// validation); every field a compose service sets is probed in the output (probe.go says how).
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

var tools = []string{"berth", "kompose"}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: kcmp placeholders CONFIG.json | kcmp report RUNDIR")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "placeholders":
		err = placeholders(os.Args[2])
	case "report":
		err = report(os.Args[2], os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kcmp:", err)
		os.Exit(1)
	}
}

// placeholders creates every missing file a secret or config of the project is read from, and
// prints each path.
func placeholders(config string) error {
	p, err := loadProject(config)
	if err != nil {
		return err
	}
	for _, m := range []map[string]*topObject{p.Secrets, p.Configs} {
		for _, k := range sortedKeys(m) {
			f := m[k].File
			if f == "" || m[k].External {
				continue
			}
			if _, err := os.Stat(f); err == nil {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(f, []byte("placeholder-"+k+"\n"), 0o600); err != nil {
				return err
			}
			fmt.Println(f)
		}
	}
	return nil
}

// toolRun is one tool's result on one input.
type toolRun struct {
	rc, asisRC  int
	asisErr     string
	objects     int
	rejected    []string // "kind/name: error"
	loadErrs    []string
	results     map[string][]result // by service
	warnings    []string
	noService   []string
	dangling    []string
	unprobed    []string
	skipped     []string
	kinds       map[string]int
	silent, wrn int
}

type inputRun struct {
	name, set    string
	services     []string
	placeholders []string
	tools        map[string]*toolRun
}

func readInt(file string, def int) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return def
	}
	return n
}

func readLines(file string) []string {
	b, _ := os.ReadFile(file)
	var l []string
	for _, x := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(x) != "" {
			l = append(l, strings.TrimSpace(x))
		}
	}
	return l
}

// firstError is the first line of a failed run's standard error that says why.
func firstError(file string) string {
	for _, w := range loadWarnings(file) {
		if strings.HasPrefix(w, "fata") || strings.Contains(w, "level=error") || strings.HasPrefix(w, "berth: ") || strings.HasPrefix(w, "error:") {
			return w
		}
	}
	l := readLines(file)
	if len(l) > 0 {
		return l[len(l)-1]
	}
	return ""
}

func judge(dir string) (*inputRun, error) {
	in := &inputRun{name: filepath.Base(dir), tools: map[string]*toolRun{}}
	in.set = strings.Join(readLines(filepath.Join(dir, "set")), "")
	in.placeholders = readLines(filepath.Join(dir, "placeholders.txt"))
	p, err := loadProject(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	in.services = p.serviceNames()
	for _, t := range tools {
		tr := &toolRun{results: map[string][]result{}, kinds: map[string]int{}}
		in.tools[t] = tr
		tr.rc = readInt(filepath.Join(dir, t+".rc"), -1)
		tr.asisRC = readInt(filepath.Join(dir, "asis-"+t+".rc"), tr.rc)
		if tr.asisRC != 0 {
			tr.asisErr = firstError(filepath.Join(dir, "asis-"+t+".err"))
		}
		tr.warnings = loadWarnings(filepath.Join(dir, t+".err"))
		out, err := loadOutput(filepath.Join(dir, t))
		if err != nil {
			return nil, err
		}
		tr.loadErrs = out.errs
		tr.objects = len(out.objects)
		for _, o := range out.objects {
			tr.kinds[o.kind]++
			if o.rejected != "" {
				tr.rejected = append(tr.rejected, o.id()+": "+o.rejected)
			}
		}
		for _, s := range in.services {
			res, unp, sk := probeService(p, p.Services[s], out)
			tr.results[s] = res
			for _, u := range unp {
				tr.unprobed = append(tr.unprobed, s+"."+u)
			}
			for _, k := range sk {
				tr.skipped = append(tr.skipped, s+": "+k)
			}
			for _, r := range res {
				if r.Carried {
					continue
				}
				if warned(tr.warnings, s, in.services, r) {
					tr.wrn++
				} else {
					tr.silent++
				}
			}
			pd := out.findPod(s, p.Services[s].ContainerName)
			if pd == nil || serviceNamed(out, dnsName(s), pd) == nil {
				tr.noService = append(tr.noService, s)
			}
		}
		tr.dangling = dangling(out, p)
	}
	return in, nil
}

type totals struct {
	inputs, converted, asisFailed, objects, rejected, fields, silent, warned, services, noService, dangling, loadErrs int
}

func (t *totals) add(in *inputRun, tool string) {
	tr := in.tools[tool]
	t.inputs++
	if tr.rc == 0 {
		t.converted++
	}
	if tr.asisRC != 0 {
		t.asisFailed++
	}
	t.objects += tr.objects
	t.rejected += len(tr.rejected)
	for _, s := range in.services {
		t.fields += len(tr.results[s])
	}
	t.silent += tr.silent
	t.warned += tr.wrn
	t.services += len(in.services)
	t.noService += len(tr.noService)
	t.dangling += len(tr.dangling)
	t.loadErrs += len(tr.loadErrs)
}

func report(runDir string, stdout io.Writer) error {
	dirs, err := filepath.Glob(filepath.Join(runDir, "inputs", "*"))
	if err != nil {
		return err
	}
	sort.Strings(dirs)
	var runs []*inputRun
	for _, d := range dirs {
		in, err := judge(d)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(d), err)
		}
		runs = append(runs, in)
	}
	if len(runs) == 0 {
		return fmt.Errorf("no inputs under %s/inputs", runDir)
	}
	var md bytes.Buffer
	summary := summaryTable(runs)
	fmt.Fprint(stdout, summary)
	md.WriteString("# berth convert vs kompose convert: measured by compare.sh\n\n")
	md.WriteString(summary)
	details(&md, runs)
	return os.WriteFile(filepath.Join(runDir, "report.md"), md.Bytes(), 0o644)
}

// groups are the sets of inputs the summary counts apart: the repository's (examples and the
// corpus) and the extra input of this directory.
func groups(runs []*inputRun) (names []string, by map[string][]*inputRun) {
	by = map[string][]*inputRun{}
	for _, r := range runs {
		g := "examples + corpus"
		if r.set == "extra" {
			g = "extra (testdata/fields)"
		}
		if _, ok := by[g]; !ok {
			names = append(names, g)
		}
		by[g] = append(by[g], r)
	}
	sort.Strings(names)
	return names, by
}

func summaryTable(runs []*inputRun) string {
	var b strings.Builder
	names, by := groups(runs)
	for _, g := range names {
		t := map[string]*totals{}
		for _, tool := range tools {
			t[tool] = &totals{}
			for _, r := range by[g] {
				t[tool].add(r, tool)
			}
		}
		fmt.Fprintf(&b, "\n## %s: %d inputs, %d services\n\n", g, t["berth"].inputs, t["berth"].services)
		b.WriteString("| | berth | kompose |\n|---|---|---|\n")
		row := func(name string, f func(*totals) string) {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", name, f(t["berth"]), f(t["kompose"]))
		}
		row("inputs converted (with placeholder secret files)", func(x *totals) string { return fmt.Sprintf("%d/%d", x.converted, x.inputs) })
		row("inputs that fail as they are in the repository", func(x *totals) string { return strconv.Itoa(x.asisFailed) })
		row("objects", func(x *totals) string { return strconv.Itoa(x.objects) })
		row("objects rejected by kval", func(x *totals) string { return strconv.Itoa(x.rejected) })
		row("fields compared (service x field)", func(x *totals) string { return strconv.Itoa(x.fields) })
		row("fields dropped: silently / with a warning", func(x *totals) string {
			return fmt.Sprintf("%d: %d / %d", x.silent+x.warned, x.silent, x.warned)
		})
		row("services without a Service of their name", func(x *totals) string { return fmt.Sprintf("%d/%d", x.noService, x.services) })
		row("dangling references", func(x *totals) string { return strconv.Itoa(x.dangling) })
		if t["berth"].loadErrs+t["kompose"].loadErrs > 0 {
			row("unreadable output files", func(x *totals) string { return strconv.Itoa(x.loadErrs) })
		}
	}
	return b.String()
}

func details(b *bytes.Buffer, runs []*inputRun) {
	b.WriteString("\n## Per input\n\n(objects / rejected / dropped silently+warned / services without a Service / dangling)\n\n")
	b.WriteString("| input | services | berth | kompose |\n|---|---|---|---|\n")
	for _, r := range runs {
		cell := func(t string) string {
			tr := r.tools[t]
			s := fmt.Sprintf("%d / %d / %d+%d / %d / %d", tr.objects, len(tr.rejected), tr.silent, tr.wrn, len(tr.noService), len(tr.dangling))
			if tr.rc != 0 {
				s = "FAILED " + s
			}
			if tr.asisRC != 0 {
				s += " (as is: fails)"
			}
			return s
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s |\n", r.name, len(r.services), cell("berth"), cell("kompose"))
	}
	b.WriteString("\n## Per field, examples + corpus (services setting it; dropped by berth; dropped by kompose)\n\n")
	b.WriteString("| field | services | berth drops (silent+warned) | kompose drops (silent+warned) |\n|---|---|---|---|\n")
	type cnt struct{ n, bs, bw, ks, kw int }
	perField := map[string]*cnt{}
	for _, r := range runs {
		if r.set == "extra" {
			continue
		}
		for _, s := range r.services {
			for i, x := range r.tools["berth"].results[s] {
				c := perField[x.Field]
				if c == nil {
					c = &cnt{}
					perField[x.Field] = c
				}
				c.n++
				if !x.Carried {
					if warned(r.tools["berth"].warnings, s, r.services, x) {
						c.bw++
					} else {
						c.bs++
					}
				}
				// Both tools are probed for the same fields in the same order.
				if k := r.tools["kompose"].results[s]; i < len(k) && !k[i].Carried {
					if warned(r.tools["kompose"].warnings, s, r.services, k[i]) {
						c.kw++
					} else {
						c.ks++
					}
				}
			}
		}
	}
	for _, f := range sortedKeys(perField) {
		c := perField[f]
		fmt.Fprintf(b, "| %s | %d | %d+%d | %d+%d |\n", f, c.n, c.bs, c.bw, c.ks, c.kw)
	}
	for _, t := range tools {
		fmt.Fprintf(b, "\n## %s\n", t)
		b.WriteString("\n### Failures on the inputs as they are\n\n")
		n := 0
		for _, r := range runs {
			if tr := r.tools[t]; tr.asisRC != 0 {
				fmt.Fprintf(b, "- %s: %s\n", r.name, tr.asisErr)
				n++
			}
		}
		if n == 0 {
			b.WriteString("none\n")
		}
		b.WriteString("\n### Objects rejected by kval\n\n")
		n = 0
		for _, r := range runs {
			for _, x := range r.tools[t].rejected {
				fmt.Fprintf(b, "- %s: %s\n", r.name, x)
				n++
			}
			for _, x := range r.tools[t].loadErrs {
				fmt.Fprintf(b, "- %s: unreadable: %s\n", r.name, x)
				n++
			}
		}
		if n == 0 {
			b.WriteString("none\n")
		}
		// Dropped fields, by field then one line each.
		type agg struct{ silent, warned int }
		byField := map[string]*agg{}
		var lines []string
		for _, r := range runs {
			tr := r.tools[t]
			for _, s := range r.services {
				for _, x := range tr.results[s] {
					if x.Carried {
						continue
					}
					a := byField[x.Field]
					if a == nil {
						a = &agg{}
						byField[x.Field] = a
					}
					how := "silent"
					if warned(tr.warnings, s, r.services, x) {
						how = "warned"
						a.warned++
					} else {
						a.silent++
					}
					lines = append(lines, fmt.Sprintf("- %s/%s **%s** (%s): %s", r.name, s, x.Field, how, x.Detail))
				}
			}
		}
		b.WriteString("\n### Fields dropped, by field (silent / warned)\n\n")
		for _, f := range sortedKeys(byField) {
			fmt.Fprintf(b, "- %s: %d / %d\n", f, byField[f].silent, byField[f].warned)
		}
		b.WriteString("\n### Fields dropped, each\n\n")
		b.WriteString(strings.Join(lines, "\n") + "\n")
		b.WriteString("\n### Services without a Service of their name (their DNS name does not resolve)\n\n")
		for _, r := range runs {
			if ns := r.tools[t].noService; len(ns) > 0 {
				fmt.Fprintf(b, "- %s: %s\n", r.name, strings.Join(ns, ", "))
			}
		}
		b.WriteString("\n### Dangling references\n\n")
		for _, r := range runs {
			for _, d := range r.tools[t].dangling {
				fmt.Fprintf(b, "- %s: %s\n", r.name, d)
			}
		}
		b.WriteString("\n### Object kinds\n\n")
		kinds := map[string]int{}
		for _, r := range runs {
			for k, v := range r.tools[t].kinds {
				kinds[k] += v
			}
		}
		for _, k := range sortedKeys(kinds) {
			fmt.Fprintf(b, "- %s: %d\n", k, kinds[k])
		}
	}
	b.WriteString("\n## Fields not compared\n\n")
	seen := map[string]bool{}
	skipped := map[string]int{}
	for _, r := range runs {
		for _, t := range tools {
			for _, u := range r.tools[t].unprobed {
				if k := r.name + "/" + u + " (no probe)"; !seen[k] {
					seen[k] = true
					fmt.Fprintf(b, "- %s\n", k)
				}
			}
		}
		for _, s := range r.tools["berth"].skipped {
			_, why, _ := strings.Cut(s, ": ")
			skipped[why]++
		}
	}
	for _, k := range sortedKeys(skipped) {
		fmt.Fprintf(b, "- %s: %d services\n", k, skipped[k])
	}
	b.WriteString("\n## Placeholder files created (missing in the repository copy; kompose stops at the first)\n\n")
	for _, r := range runs {
		for _, p := range r.placeholders {
			fmt.Fprintf(b, "- %s: %s\n", r.name, filepath.Base(filepath.Dir(p))+"/"+filepath.Base(p))
		}
	}
}
