package build

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth-sh/berth/runtime/image"
)

// builder is one build in progress.
type builder struct {
	o      Options
	local  *image.Local
	txn    *image.Txn
	cache  *buildCache
	tmpDir string
	prog   *progress
	df     *dockerfile

	ctxTree *fileTree
	metaEnv []string
	bases   []string     // each stage's expanded base name
	slots   []*stageSlot // each stage's result, nil for the stages not built

	mu       sync.Mutex // guards consumed: stages build in parallel
	consumed map[string]bool
}

// Build builds the image o describes and returns its ID ("sha256:..."). The result is tagged
// with o.Tags. A failed build leaves no container, mount or tag behind.
func Build(ctx context.Context, o Options) (string, error) {
	if o.Root == "" || o.RunRoot == "" {
		return "", errors.New("build: the state root and run root are required")
	}
	out := o.Out
	if out == nil || o.Quiet {
		out = io.Discard
	}
	b := &builder{o: o, prog: newProgress(out), consumed: map[string]bool{}}
	if o.TTY && out != io.Discard {
		b.prog = newTTYProgress(out, o.TTYWidth, 100*time.Millisecond)
	}
	// Deferred first, so it runs last: the live view's last picture, then what was printed.
	defer b.prog.close()
	// Tags are checked before anything is built, so a typo costs nothing.
	var refs []image.Reference
	for _, t := range o.Tags {
		ref, err := image.ParseReference(t)
		if err != nil {
			return "", invalidf("invalid argument %q for \"-t, --tag\" flag: %v", t, err)
		}
		refs = append(refs, ref)
	}
	for name, v := range o.NamedContexts {
		if strings.HasPrefix(v, "docker-image://") {
			continue
		}
		if fi, err := os.Stat(v); err != nil || !fi.IsDir() {
			return "", invalidf("build context %q: %s is not a directory", name, v)
		}
	}
	l, err := image.OpenLocal(o.Root)
	if err != nil {
		return "", err
	}
	b.local = l
	b.cache = &buildCache{dir: filepath.Join(o.Root, "build")}
	tmpRoot := filepath.Join(o.Root, "build", "tmp")
	if err := os.MkdirAll(tmpRoot, 0o700); err != nil {
		return "", err
	}
	if b.tmpDir, err = os.MkdirTemp(tmpRoot, "build-"); err != nil {
		return "", err
	}
	defer os.RemoveAll(b.tmpDir)

	text, err := b.loadContext()
	if err != nil {
		return "", err
	}
	id, err := b.build(ctx, text, refs)
	var se *sourceError
	if errors.As(err, &se) && !errors.Is(err, context.Canceled) {
		b.prog.printf("%s", se.excerpt(dockerfileBase(o), text))
	}
	return id, err
}

// build builds the Dockerfile text and tags the result.
func (b *builder) build(ctx context.Context, text string, refs []image.Reference) (string, error) {
	o := b.o
	var err error
	if b.df, err = parseDockerfile(text); err != nil {
		return "", err
	}

	b.txn, err = b.local.Store.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer b.txn.Close()

	target := len(b.df.stages) - 1
	if o.Target != "" {
		i, ok := instructions.HasStage(b.df.stages, o.Target)
		if !ok {
			return "", invalidf("failed to reach build target %s in Dockerfile", o.Target)
		}
		target = i
	}
	b.df.stages = b.df.stages[:target+1]
	keys := make([]string, 0, len(o.Labels))
	for k := range o.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.df.stages[target].AddCommand(instructions.NewLabelCommand(k, o.Labels[k], true))
	}
	if err := b.expandBases(); err != nil {
		return "", err
	}
	if err := b.buildStages(ctx, neededStages(b.df.stages, target, func(i int) string { return b.bases[i] })); err != nil {
		return "", err
	}
	final := b.slots[target].st
	v := b.prog.vertex("exporting to image")
	desc, err := final.write(ctx, b.txn)
	if err != nil {
		return "", err
	}
	v.line("exporting layers done")
	v.line(fmt.Sprintf("writing image %s done", final.id()))
	for _, ref := range refs {
		if err := b.txn.SetRef(ref.String(), desc); err != nil {
			return "", err
		}
		v.line(fmt.Sprintf("naming to %s done", ref.String()))
	}
	v.done()
	b.warnUnconsumed()
	return final.id().String(), nil
}

// loadContext prepares the build context and returns the Dockerfile's text.
func (b *builder) loadContext() (string, error) {
	o := b.o
	dir := o.ContextDir
	var stdinDockerfile string
	if dir == "" {
		dir = filepath.Join(b.tmpDir, "context")
		if err := os.Mkdir(dir, 0o755); err != nil {
			return "", err
		}
		if o.ContextTar != nil {
			br := bufio.NewReader(o.ContextTar)
			if isTarStream(br) {
				if err := extractContext(br, dir); err != nil {
					return "", err
				}
			} else {
				text, err := io.ReadAll(br)
				if err != nil {
					return "", err
				}
				stdinDockerfile = string(text)
			}
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", invalidf("unable to prepare context: path %q not found", o.ContextDir)
	}
	v := b.prog.vertex("[internal] load build definition from " + dockerfileBase(o))
	var text, dfPath string
	switch {
	case o.DockerfileInline != "":
		text = o.DockerfileInline
	case stdinDockerfile != "":
		text = stdinDockerfile
	default:
		dfPath = o.Dockerfile
		if dfPath == "" {
			dfPath = "Dockerfile"
		}
		if !filepath.IsAbs(dfPath) {
			dfPath = filepath.Join(dir, dfPath)
		}
		raw, err := os.ReadFile(dfPath)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", invalidf("failed to read dockerfile: open %s: no such file or directory", dockerfileBase(o))
			}
			return "", fmt.Errorf("failed to read dockerfile: %w", err)
		}
		text = string(raw)
	}
	v.line(fmt.Sprintf("transferring dockerfile: %dB done", len(text)))
	v.done()
	v = b.prog.vertex("[internal] load .dockerignore")
	pm, patterns, err := loadIgnore(dir, dfPath)
	if err != nil {
		return "", err
	}
	v.line(fmt.Sprintf("transferring context: %dB done", len(strings.Join(patterns, "\n"))))
	v.done()
	b.ctxTree = &fileTree{root: dir, pm: pm}
	return text, nil
}

func dockerfileBase(o Options) string {
	if o.DockerfileInline != "" || o.Dockerfile == "" {
		return "Dockerfile"
	}
	return filepath.Base(o.Dockerfile)
}

// builtinArgs are BuildKit's automatic platform args, visible to FROM lines and to stages that
// declare them.
func builtinArgs() []string {
	p := image.HostPlatform()
	plat := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		plat += "/" + p.Variant
	}
	var out []string
	for _, pre := range []string{"TARGET", "BUILD"} {
		out = append(out, pre+"PLATFORM="+plat, pre+"OS="+p.OS, pre+"ARCH="+p.Architecture, pre+"VARIANT="+p.Variant)
	}
	return out
}

// proxyArgs may be given with --build-arg without an ARG; they reach RUN but not history.
var proxyArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true, "ALL_PROXY": true, "all_proxy": true,
}

// buildArg is the --build-arg value of name, if one was given.
func (b *builder) buildArg(name string) (string, bool) {
	v, ok := b.o.BuildArgs[name]
	if !ok || v == nil {
		return "", false
	}
	b.mu.Lock()
	b.consumed[name] = true
	b.mu.Unlock()
	return *v, true
}

// expandBases works out the meta ARGs (before the first FROM) and expands every stage's base
// name with them, as only FROM lines see them.
func (b *builder) expandBases() error {
	env := builtinArgs()
	for _, a := range b.df.metaArgs {
		for _, kv := range a.Args {
			if v, ok := b.buildArg(kv.Key); ok {
				env = setEnv(env, kv.Key, v)
				continue
			}
			if kv.Value != nil {
				v, err := expander(b.newLex(), env)(*kv.Value)
				if err != nil {
					return invalidf("ARG %s: %v", kv.Key, err)
				}
				env = setEnv(env, kv.Key, v)
			}
		}
	}
	b.metaEnv = env
	for _, s := range b.df.stages {
		name, err := expander(b.newLex(), env)(s.BaseName)
		if err != nil {
			return atLines(invalidf("dockerfile line %d: FROM: %v", startLine(s.Location), err), s.Location)
		}
		if name == "" {
			return atLines(invalidf("dockerfile line %d: base name (%s) should not be blank", startLine(s.Location), s.BaseName), s.Location)
		}
		b.bases = append(b.bases, name)
	}
	return nil
}

// warnUnconsumed is the classic builder's warning about --build-arg values no ARG used.
func (b *builder) warnUnconsumed() {
	var left []string
	for k := range b.o.BuildArgs {
		if !b.consumed[k] && !proxyArgs[k] {
			left = append(left, k)
		}
	}
	if len(left) == 0 {
		return
	}
	sort.Strings(left)
	b.prog.printf("[Warning] One or more build-args [%s] were not consumed\n", strings.Join(left, " "))
}

// stageRun is a stage being built.
type stageRun struct {
	index  int
	label  string
	st     *imageState
	args   *argScope
	cmdSet bool
	busted bool
	step   int
	total  int
}

// prefix is the progress prefix of the stage's next step: "[builder 2/3]" or "[2/3]".
func (s *stageRun) prefix() string {
	s.step++
	if s.label == "" {
		return fmt.Sprintf("[%d/%d]", s.step, s.total)
	}
	return fmt.Sprintf("[%s %d/%d]", s.label, s.step, s.total)
}

// fsSteps counts a stage's steps that progress numbers: those that touch the file system.
func fsSteps(cmds []instructions.Command) int {
	n := 0
	for _, c := range cmds {
		switch c.(type) {
		case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand, *instructions.WorkdirCommand:
			n++
		}
	}
	return n
}

// stageSlot is one stage's result, there once done is closed; st stays nil when the stage failed.
type stageSlot struct {
	done chan struct{}
	st   *imageState
}

// buildStages builds the stages given (the ones the target needs) all at once: a stage waits only
// for the stages it starts from or copies from (stageResult), so independent stages build in
// parallel, as BuildKit's do. The first failure cancels the others and is the one reported.
func (b *builder) buildStages(ctx context.Context, stages []int) error {
	b.slots = make([]*stageSlot, len(b.df.stages))
	for _, i := range stages {
		b.slots[i] = &stageSlot{done: make(chan struct{})}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for _, i := range stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := b.buildStage(ctx, i)
			if err != nil {
				once.Do(func() { firstErr = err; cancel(err) })
			} else {
				b.slots[i].st = st
			}
			close(b.slots[i].done)
		}()
	}
	wg.Wait()
	if firstErr == nil {
		// A cancellation none of the stages noticed (they had all finished) is still one.
		firstErr = context.Cause(ctx)
	}
	return firstErr
}

// stageResult waits for stage j and returns its result.
func (b *builder) stageResult(ctx context.Context, j int) (*imageState, error) {
	slot := b.slots[j]
	if slot == nil {
		return nil, fmt.Errorf("stage %s was not built", stageName(b.df.stages, j))
	}
	select {
	case <-slot.done:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	if slot.st == nil {
		return nil, fmt.Errorf("stage %s failed", stageName(b.df.stages, j))
	}
	return slot.st, nil
}

func (b *builder) buildStage(ctx context.Context, i int) (*imageState, error) {
	stage := b.df.stages[i]
	base := b.bases[i]
	ss := &stageRun{index: i, args: &argScope{}, busted: b.o.NoCache}
	if len(b.df.stages) > 1 || i > 0 {
		ss.label = stageName(b.df.stages, i)
	}
	display := base
	var st *imageState
	var err error
	if dir, ref, ok := b.namedContext(base); ok {
		if ref == "" {
			return nil, invalidf("FROM %s: the named context %s is a directory, which berth cannot use as a base image", base, dir)
		}
		if st, err = b.baseImage(ctx, ref); err != nil {
			return nil, err
		}
		display = ref
	} else if j, ok := findStage(b.df.stages, base, i, false); ok {
		res, err := b.stageResult(ctx, j)
		if err != nil {
			return nil, err
		}
		st = res.clone()
		display = stageName(b.df.stages, j)
	} else if strings.EqualFold(base, "scratch") {
		st = scratchState()
	} else {
		if ref, err := image.ParseReference(base); err == nil {
			display = ref.String()
		}
		st, err = b.baseImage(ctx, base)
		if err != nil {
			return nil, err
		}
	}
	// ONBUILD triggers of the base run first, and are not passed on.
	var triggers []instructions.Command
	for _, expr := range st.config.Config.OnBuild {
		cmd, err := parseTrigger(expr)
		if err != nil {
			return nil, err
		}
		triggers = append(triggers, cmd)
	}
	st.config.Config.OnBuild = nil
	if _, ok := envList(st.config.Config.Env).Get("PATH"); !ok {
		st.config.Config.Env = append(st.config.Config.Env, "PATH="+defaultPath)
	}
	if err := st.seal(); err != nil {
		return nil, err
	}
	ss.st = st
	ss.total = 1 + fsSteps(triggers) + fsSteps(stage.Commands)
	v := b.prog.vertex(ss.prefix() + " FROM " + display)
	v.done()
	for _, c := range append(triggers, stage.Commands...) {
		if err := b.dispatch(ctx, ss, c); err != nil {
			return nil, err
		}
	}
	return ss.st, nil
}

// parseTrigger parses an ONBUILD expression as a one-line Dockerfile.
func parseTrigger(expr string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil || len(res.AST.Children) != 1 {
		return nil, invalidf("ONBUILD trigger %q: cannot parse it", expr)
	}
	cmd, err := instructions.ParseCommand(res.AST.Children[0])
	if err != nil {
		return nil, invalidf("ONBUILD trigger %q: %s", expr, oneLine(err))
	}
	return cmd, nil
}

// baseImage is the state of a base image from the store, pulled when missing or with --pull.
func (b *builder) baseImage(ctx context.Context, name string) (*imageState, error) {
	ref, err := image.ParseReference(name)
	if err != nil {
		return nil, invalidf("base image %q: %v", name, err)
	}
	if !b.o.Pull {
		if si, err := b.local.Resolve(name); err == nil {
			return stateFromStore(b.local, si.Manifest.Digest)
		}
	}
	var prog image.Progress = image.NoProgress{}
	if !b.o.Quiet && b.o.Out != nil {
		prog = image.NewDisplay(b.o.Out, false)
	}
	desc, err := b.local.Pull(ctx, ref, image.PullOptions{RemoteOptions: image.RemoteOptions{Progress: prog, UserAgent: b.o.UserAgent}})
	if err != nil {
		return nil, err
	}
	return stateFromStore(b.local, desc.Digest)
}

// env is what the stage's next instruction expands with: the config's Env and the declared
// ARGs no ENV overrides.
func (ss *stageRun) env() []string {
	e := ss.st.config.Config.Env
	return append(append([]string{}, e...), ss.args.visible(e)...)
}

// shellOf is the stage's SHELL, /bin/sh -c by default.
func shellOf(st *imageState) []string {
	if len(st.config.Config.Shell) > 0 {
		return st.config.Config.Shell
	}
	return []string{"/bin/sh", "-c"}
}

// nop is the classic builder's history string of a metadata step: the shell, "#(nop) ", and the
// comment, joined with spaces (hence two of them before the comment).
func nop(st *imageState, comment string) string {
	return strings.Join(append(append([]string{}, shellOf(st)...), "#(nop) ", comment), " ")
}

// nopString is the single-argument form WORKDIR, COPY and ADD use: one space.
func nopString(st *imageState, comment string) string {
	return strings.Join(append(append([]string{}, shellOf(st)...), "#(nop) "+comment), " ")
}

// commit ends a step: child is the parent's state with the step's config change. On a cache hit
// the cached child replaces it; otherwise produce (when set) makes the step's layer from the
// parent, and the result is cached. It reports whether the step hit the cache.
func (b *builder) commit(ctx context.Context, ss *stageRun, child *imageState, createdBy, extra string, produce func(parent *imageState) (*layerRef, error)) (bool, error) {
	key := cacheKey(ss.st.id(), createdBy, child, extra)
	if !ss.busted {
		e, err := b.cache.get(key)
		if err != nil {
			return false, err
		}
		if e != nil && b.present(e) {
			hit := &imageState{raw: []byte(e.Config), layers: e.Layers}
			if err := jsonUnmarshal(hit.raw, &hit.config); err == nil {
				ss.st = hit
				return true, nil
			}
		}
		// The classic builder stops probing after the first miss of a stage.
		ss.busted = true
	}
	var layer *layerRef
	if produce != nil {
		var err error
		if layer, err = produce(ss.st); err != nil {
			return false, err
		}
	}
	child.addHistory(createdBy, layer, time.Now().UTC())
	if err := child.seal(); err != nil {
		return false, err
	}
	if err := b.cache.put(key, child); err != nil {
		return false, err
	}
	ss.st = child
	return false, nil
}

// present reports whether every layer of a cache entry is still in the store.
func (b *builder) present(e *cacheEntry) bool {
	for _, l := range e.Layers {
		if !b.local.Store.HasBlob(l.Digest) {
			return false
		}
	}
	return true
}

// meta commits a metadata-only step: a config change and a history entry, no layer.
func (b *builder) meta(ctx context.Context, ss *stageRun, child *imageState, comment string) error {
	_, err := b.commit(ctx, ss, child, nop(child, comment), "", nil)
	return err
}

// newLex is a word expander for the Dockerfile's escape token. BuildKit's Lex keeps the word
// it works on in itself, so each use (stages run in parallel) takes its own.
func (b *builder) newLex() *shell.Lex { return shell.NewLex(b.df.escape) }

// namedContext is the named build context name stands for: its directory, or the image it
// names (docker-image://REF).
func (b *builder) namedContext(name string) (dir, imageRef string, ok bool) {
	v, ok := b.o.NamedContexts[name]
	if !ok {
		return "", "", false
	}
	if ref, isImage := strings.CutPrefix(v, "docker-image://"); isImage {
		return "", ref, true
	}
	return v, "", true
}
