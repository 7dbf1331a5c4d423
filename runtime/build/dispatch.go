package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/patternmatcher"

	"github.com/berth-sh/berth/runtime/container"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// dispatch runs one instruction of a stage.
func (b *builder) dispatch(ctx context.Context, ss *stageRun, cmd instructions.Command) error {
	if err := expandCommand(b.newLex(), ss.env(), cmd); err != nil {
		return lineError(cmd, err)
	}
	child := ss.st.clone()
	cfg := &child.config.Config
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		var parts []string
		for _, kv := range c.Env {
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		return b.meta(ctx, ss, child, "ENV "+strings.Join(parts, " "))
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		comment := "LABEL"
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
			comment += " " + kv.Key + "=" + kv.Value
		}
		return b.meta(ctx, ss, child, comment)
	case *instructions.MaintainerCommand:
		child.config.Author = c.Maintainer
		return b.meta(ctx, ss, child, "MAINTAINER "+c.Maintainer)
	case *instructions.ArgCommand:
		var parts []string
		for _, kv := range c.Args {
			var value *string
			if v, ok := b.buildArg(kv.Key); ok {
				value = &v
			} else if kv.Value != nil {
				value = kv.Value
			} else if v, ok := envList(b.metaEnv).Get(kv.Key); ok {
				value = &v
			}
			ss.args.declare(kv.Key, value)
			part := kv.Key
			if kv.Value != nil {
				part += "=" + *kv.Value
			}
			parts = append(parts, part)
		}
		return b.meta(ctx, ss, child, "ARG "+strings.Join(parts, " "))
	case *instructions.UserCommand:
		cfg.User = c.User
		return b.meta(ctx, ss, child, "USER "+c.User)
	case *instructions.ExposeCommand:
		ports, err := exposedPorts(c.Ports)
		if err != nil {
			return lineError(cmd, err)
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			cfg.ExposedPorts[p] = struct{}{}
		}
		return b.meta(ctx, ss, child, "EXPOSE "+strings.Join(c.Ports, " "))
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return lineError(cmd, errors.New("VOLUME specified can not be an empty string"))
			}
			cfg.Volumes[v] = struct{}{}
		}
		return b.meta(ctx, ss, child, fmt.Sprintf("VOLUME %v", c.Volumes))
	case *instructions.StopSignalCommand:
		if _, err := container.ParseSignal(c.Signal); err != nil {
			return lineError(cmd, err)
		}
		cfg.StopSignal = c.Signal
		return b.meta(ctx, ss, child, fmt.Sprintf("STOPSIGNAL %v", c.Signal))
	case *instructions.CmdCommand:
		cfg.Cmd = commandLine(ss.st, c.ShellDependantCmdLine)
		ss.cmdSet = true
		return b.meta(ctx, ss, child, fmt.Sprintf("CMD %q", cfg.Cmd))
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = commandLine(ss.st, c.ShellDependantCmdLine)
		// Setting ENTRYPOINT drops an inherited CMD, not one this stage set.
		if !ss.cmdSet {
			cfg.Cmd = nil
		}
		return b.meta(ctx, ss, child, fmt.Sprintf("ENTRYPOINT %q", cfg.Entrypoint))
	case *instructions.HealthCheckCommand:
		cfg.Healthcheck = c.Health
		return b.meta(ctx, ss, child, "HEALTHCHECK "+healthString(c.Health))
	case *instructions.ShellCommand:
		cfg.Shell = c.Shell
		// %v, not %q: the classic builder prints the shell as a plain slice.
		return b.meta(ctx, ss, child, fmt.Sprintf("SHELL %v", c.Shell))
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
		return b.meta(ctx, ss, child, "ONBUILD "+c.Expression)
	case *instructions.WorkdirCommand:
		return b.workdir(ctx, ss, child, c)
	case *instructions.RunCommand:
		return b.run(ctx, ss, child, c)
	case *instructions.CopyCommand:
		return b.copy(ctx, ss, child, copyRequest{
			cmd: c, name: "COPY", srcs: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
			from: c.From, chown: c.Chown, chmod: c.Chmod, exclude: c.ExcludePatterns, parents: c.Parents,
		})
	case *instructions.AddCommand:
		if c.Checksum != "" || c.KeepGitDir != nil {
			return lineError(cmd, errors.New("--checksum and --keep-git-dir need BuildKit's remote sources, which berth does not fetch"))
		}
		return b.copy(ctx, ss, child, copyRequest{
			cmd: c, name: "ADD", srcs: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
			chown: c.Chown, chmod: c.Chmod, exclude: c.ExcludePatterns, add: true, unpack: c.Unpack,
		})
	}
	return lineError(cmd, fmt.Errorf("%s is not supported by berth", strings.ToUpper(cmd.Name())))
}

// commandLine is CMD's or ENTRYPOINT's value: exec form as given, shell form behind the stage's
// shell.
func commandLine(st *imageState, c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return c.CmdLine
	}
	if len(c.CmdLine) == 0 {
		return nil
	}
	return append(append([]string{}, shellOf(st)...), strings.Join(c.CmdLine, " "))
}

// healthString is how the classic builder prints a healthcheck in history: Go's %q of the
// config struct.
func healthString(h *dockerspec.HealthcheckConfig) string {
	if h == nil {
		return "<nil>"
	}
	return fmt.Sprintf("&{%q %q %q %q %q %q}", h.Test, h.Interval.String(), h.Timeout.String(),
		h.StartPeriod.String(), h.StartInterval.String(), rune(h.Retries))
}

// exposedPorts turns EXPOSE words into config keys: "80" is "80/tcp", a range is every port.
func exposedPorts(words []string) ([]string, error) {
	var out []string
	for _, w := range words {
		port, proto, ok := strings.Cut(w, "/")
		if !ok {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return nil, fmt.Errorf("invalid proto: %s", proto)
		}
		lo, hi, isRange := strings.Cut(port, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("invalid containerPort: %s", port)
		}
		z := a
		if isRange {
			if z, err = strconv.ParseUint(hi, 10, 16); err != nil || z < a {
				return nil, fmt.Errorf("invalid containerPort: %s", port)
			}
		}
		for p := a; p <= z; p++ {
			out = append(out, strconv.FormatUint(p, 10)+"/"+proto)
		}
	}
	return out, nil
}

// step runs a numbered step (one that touches the file system) with its progress lines.
func (b *builder) step(ss *stageRun, cmd instructions.Command, fn func(v *vertex) (bool, error)) error {
	v := b.prog.vertex(ss.prefix() + " " + instructionText(cmd))
	cached, err := fn(v)
	if err != nil {
		v.fail(err)
		return atLines(err, cmd.Location())
	}
	if cached {
		v.cached()
		return nil
	}
	v.done()
	return nil
}

// instructionText is how progress shows an instruction: as written, on one line.
func instructionText(cmd instructions.Command) string {
	type stringer interface{ String() string }
	s, ok := cmd.(stringer)
	if !ok {
		return strings.ToUpper(cmd.Name())
	}
	text := s.String()
	if i := strings.Index(text, "\n"); i >= 0 {
		text = text[:i]
	}
	return text
}

func (b *builder) workdir(ctx context.Context, ss *stageRun, child *imageState, c *instructions.WorkdirCommand) error {
	dir := c.Path
	if !path.IsAbs(dir) {
		cur := child.config.Config.WorkingDir
		if cur == "" {
			cur = "/"
		}
		dir = path.Join(cur, dir)
	}
	dir = path.Clean(dir)
	child.config.Config.WorkingDir = dir
	return b.step(ss, c, func(*vertex) (bool, error) {
		return b.commit(ctx, ss, child, nopString(child, "WORKDIR "+dir), "", func(parent *imageState) (*layerRef, error) {
			return b.mkdirLayer(ctx, parent, dir)
		})
	})
}

// runSpec is what a RUN step runs: the command, its extra environment, its network and mounts.
type runSpec struct {
	args    []string
	env     []string
	netMode string
	mounts  []runMount
}

func (b *builder) run(ctx context.Context, ss *stageRun, child *imageState, c *instructions.RunCommand) error {
	for _, f := range c.FlagsUsed {
		if f != "network" && f != "mount" {
			return lineError(c, fmt.Errorf("the --%s option of RUN is not supported by berth", f))
		}
	}
	mounts, err := runMounts(c, ss.st.config.Config.WorkingDir)
	if err != nil {
		return lineError(c, err)
	}
	netMode := instructions.GetNetwork(c)
	if netMode == instructions.NetworkDefault && b.o.Network != "" {
		netMode = b.o.Network
	}
	if netMode == "bridge" {
		netMode = instructions.NetworkDefault
	}
	args, err := runArgs(ss.st, c)
	if err != nil {
		return lineError(c, err)
	}
	buildEnv := ss.args.visible(ss.st.config.Config.Env)
	createdBy := strings.Join(append(runPrefix(buildEnv), args...), " ")
	var extra []string
	if netMode != instructions.NetworkDefault {
		extra = append(extra, "network="+netMode)
	}
	if len(mounts) > 0 {
		extra = append(extra, mountKeys(mounts))
	}
	runEnv := append([]string{}, buildEnv...)
	for k := range b.o.BuildArgs {
		if v, ok := b.buildArg(k); ok && proxyArgs[k] {
			runEnv = append(runEnv, k+"="+v)
		}
	}
	spec := runSpec{args: args, env: runEnv, netMode: netMode, mounts: mounts}
	return b.step(ss, c, func(v *vertex) (bool, error) {
		hit, err := b.commit(ctx, ss, child, createdBy, strings.Join(extra, ";"), func(parent *imageState) (*layerRef, error) {
			w := v.output()
			defer w.flush()
			return b.runStep(ctx, parent, spec, w)
		})
		return hit, err
	})
}

// runArgs is the command a RUN runs: the exec form as written, the shell form behind the
// stage's shell, a heredoc as BuildKit runs it (its body as the shell's script).
func runArgs(st *imageState, c *instructions.RunCommand) ([]string, error) {
	args := c.CmdLine
	if len(c.Files) > 0 {
		if len(args) != 1 || !c.PrependShell {
			return nil, fmt.Errorf("unsupported heredoc form: %v", args)
		}
		if h := parser.MustParseHeredoc(args[0]); h != nil {
			args = []string{c.Files[0].Data}
		} else {
			full := args[0]
			for _, f := range c.Files {
				full += "\n" + f.Data + f.Name
			}
			args = []string{full}
		}
	}
	if c.PrependShell {
		return append(append([]string{}, shellOf(st)...), strings.Join(args, " ")), nil
	}
	return args, nil
}

// copyRequest is a COPY or ADD after expansion.
type copyRequest struct {
	cmd      instructions.Command
	name     string
	srcs     []string
	contents []instructions.SourceContent
	dest     string
	from     string
	chown    string
	chmod    string
	exclude  []string
	parents  bool
	add      bool
	unpack   *bool
}

func (b *builder) copy(ctx context.Context, ss *stageRun, child *imageState, r copyRequest) error {
	if r.parents {
		return lineError(r.cmd, errors.New("--parents is not supported by berth"))
	}
	var mode fileMode
	if r.chmod != "" {
		m, err := parseChmod(r.chmod)
		if err != nil {
			return lineError(r.cmd, err)
		}
		mode = m
	}
	var exclude *patternmatcher.PatternMatcher
	if len(r.exclude) > 0 {
		pm, err := patternmatcher.New(r.exclude)
		if err != nil {
			return lineError(r.cmd, fmt.Errorf("--exclude: %v", err))
		}
		exclude = pm
	}
	return b.step(ss, r.cmd, func(*vertex) (bool, error) {
		if r.from == "" {
			return b.copyFrom(ctx, ss, child, r, b.ctxTree.excluding(exclude), mode)
		}
		var src *imageState
		if dir, ref, ok := b.namedContext(r.from); ok && ref == "" {
			return b.copyFrom(ctx, ss, child, r, &fileTree{root: dir, exclude: exclude}, mode)
		} else if ok {
			st, err := b.baseImage(ctx, ref)
			if err != nil {
				return false, invalidf("%s --from=%s: %s", r.name, r.from, oneLine(err))
			}
			src = st
		} else if j, ok := findStage(b.df.stages, r.from, ss.index, true); ok {
			st, err := b.stageResult(ctx, j)
			if err != nil {
				return false, err
			}
			src = st
		} else {
			if _, ok := instructions.HasStage(b.df.stages, r.from); ok {
				return false, invalidf("%s --from=%s: a stage cannot copy from itself or a later stage", r.name, r.from)
			}
			st, err := b.baseImage(ctx, r.from)
			if err != nil {
				return false, invalidf("%s --from=%s: no stage or image of that name: %s", r.name, r.from, oneLine(err))
			}
			src = st
		}
		var hit bool
		err := b.view(ctx, src, func(root string) error {
			var err error
			hit, err = b.copyFrom(ctx, ss, child, r, &fileTree{root: root, inRoot: true, ownership: true, exclude: exclude}, mode)
			return err
		})
		return hit, err
	})
}

// copyFrom resolves the sources in tree, checks the cache and copies on a miss.
func (b *builder) copyFrom(ctx context.Context, ss *stageRun, child *imageState, r copyRequest, tree *fileTree, mode fileMode) (bool, error) {
	var srcs []source
	for _, s := range r.srcs {
		if r.add && (strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) {
			src, err := b.download(ctx, r.name, s, r.dest)
			if err != nil {
				return false, err
			}
			srcs = append(srcs, src)
			continue
		}
		if r.add && (strings.HasPrefix(s, "git@") || strings.HasSuffix(s, ".git")) {
			return false, invalidf("%s %s: git sources are not supported by berth", r.name, s)
		}
		found, err := tree.resolve(s)
		if err != nil || len(found) == 0 {
			if r.from != "" {
				return false, invalidf("%s failed: stat %s: file does not exist in --from=%s", r.name, "/"+cleanRel(s), r.from)
			}
			return false, invalidf("%s failed: file not found in build context or excluded by .dockerignore: stat %s: file does not exist", r.name, s)
		}
		if hasMeta(s) {
			// --exclude drops what a wildcard matched, as it drops what a directory holds.
			kept := found[:0]
			for _, f := range found {
				if !tree.excludedByFlag(f.rel) {
					kept = append(kept, f)
				}
			}
			found = kept
		}
		sortSources(found)
		srcs = append(srcs, found...)
	}
	if len(srcs)+len(r.contents) > 1 && !strings.HasSuffix(r.dest, "/") {
		return false, invalidf("When using %s with more than one source file, the destination must be a directory and end with a /", r.name)
	}
	hash, err := tree.hashSources(srcs)
	if err != nil {
		return false, err
	}
	if len(r.contents) > 0 {
		hash = heredocHash(hash, len(srcs), r.contents)
	}
	flags := ""
	if r.chown != "" {
		flags += "--chown=" + r.chown + " "
	}
	if r.chmod != "" {
		flags += "--chmod=" + r.chmod + " "
	}
	for _, x := range r.exclude {
		flags += "--exclude=" + x + " "
	}
	createdBy := nopString(child, fmt.Sprintf("%s %s%s in %s ", r.name, flags, hash, r.dest))
	dest := r.dest
	if !path.IsAbs(dest) {
		wd := child.config.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		dest = path.Join(wd, dest) + map[bool]string{true: "/", false: ""}[strings.HasSuffix(r.dest, "/") || r.dest == "." || strings.HasSuffix(r.dest, "/.")]
	}
	unpack := r.add && (r.unpack == nil || *r.unpack)
	return b.commit(ctx, ss, child, createdBy, "", func(parent *imageState) (*layerRef, error) {
		return b.copyLayer(ctx, parent, copyPlan{
			tree: tree, srcs: srcs, contents: r.contents, dest: dest, chown: r.chown, mode: mode, unpack: unpack,
		})
	})
}

// heredocHash folds a COPY's heredoc files into its source checksum: "file:<hex>" for one
// heredoc alone (a file, as the classic builder would name it), "multi:<hex>" with others.
func heredocHash(srcHash string, nSrcs int, contents []instructions.SourceContent) string {
	h := sha256.New()
	if nSrcs > 0 {
		fmt.Fprintf(h, "%s\x00", srcHash)
	}
	for _, c := range contents {
		fmt.Fprintf(h, "%q %d\x00%s", c.Path, len(c.Data), c.Data)
	}
	kind := "multi"
	if nSrcs == 0 && len(contents) == 1 {
		kind = "file"
	}
	return kind + ":" + hex.EncodeToString(h.Sum(nil))
}

// copyPlan is what a COPY or ADD writes on a cache miss.
type copyPlan struct {
	tree     *fileTree
	srcs     []source
	contents []instructions.SourceContent
	dest     string // absolute; a trailing "/" makes it a directory
	chown    string
	mode     fileMode
	unpack   bool
}
