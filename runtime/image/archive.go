package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// LoadedImage is one image Load stored.
type LoadedImage struct {
	ID       v1.Hash // config digest, Docker's image ID
	Names    []string
	Manifest v1.Descriptor
}

// Load reads a `docker save` tarball or an OCI image archive from r, stores its images and their
// names, and unpacks their layers. Nothing becomes visible before it is verified whole: a corrupt
// or truncated archive leaves the store as it was.
func (l *Local) Load(ctx context.Context, r io.Reader) ([]LoadedImage, error) {
	spool, err := l.spool(r)
	if err != nil {
		return nil, err
	}
	defer os.Remove(spool)
	kind, err := archiveKind(spool)
	if err != nil {
		return nil, err
	}
	txn, err := l.Store.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer txn.Close()
	switch kind {
	case "docker":
		return l.loadDocker(ctx, txn, spool)
	default:
		return l.loadOCI(ctx, txn, spool)
	}
}

// spool copies r to a file beside the store: the archive readers need random access, and standard
// input has none.
func (l *Local) spool(r io.Reader) (string, error) {
	// In ingest/, where GC removes what a killed load leaves.
	f, err := os.CreateTemp(filepath.Join(l.Store.Dir(), "ingest"), "load-*.tar")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("reading archive: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// archiveKind tells a docker-save archive (manifest.json) from an OCI layout (index.json).
func archiveKind(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	oci := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("not an image archive: %w", err)
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "manifest.json":
			return "docker", nil
		case "index.json":
			oci = true
		}
	}
	if oci {
		return "oci", nil
	}
	return "", errors.New("not an image archive: no manifest.json (docker save) or index.json (OCI layout)")
}

func (l *Local) loadDocker(ctx context.Context, txn *Txn, path string) ([]LoadedImage, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("docker archive: %w", err)
	}
	var loaded []LoadedImage
	for _, entry := range m {
		var tag *name.Tag
		if len(entry.RepoTags) > 0 {
			t, err := name.NewTag(entry.RepoTags[0])
			if err != nil {
				return nil, fmt.Errorf("docker archive: tag %q: %w", entry.RepoTags[0], err)
			}
			tag = &t
		}
		img, err := imageForEntry(opener, tag, entry)
		if err != nil {
			return nil, err
		}
		li, err := l.storeLoaded(ctx, txn, img, entry.RepoTags)
		if err != nil {
			return nil, err
		}
		loaded = append(loaded, li)
	}
	return loaded, nil
}

// imageForEntry reads one image of a docker archive; untagged entries are found by config.
func imageForEntry(opener tarball.Opener, tag *name.Tag, entry tarball.Descriptor) (v1.Image, error) {
	if tag != nil {
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, fmt.Errorf("docker archive: %w", err)
		}
		return img, nil
	}
	// Untagged: the only way in is a single-entry manifest, which tarball.Image reads with nil.
	img, err := tarball.Image(opener, nil)
	if err != nil {
		return nil, fmt.Errorf("docker archive: untagged image %s: %w", entry.Config, err)
	}
	return img, nil
}

func (l *Local) loadOCI(ctx context.Context, txn *Txn, path string) ([]LoadedImage, error) {
	dir, err := os.MkdirTemp(filepath.Join(l.Store.Dir(), "ingest"), "oci-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := extractPlain(path, dir); err != nil {
		return nil, fmt.Errorf("OCI archive: %w", err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("OCI archive: %w", err)
	}
	return l.loadIndex(ctx, txn, idx, nil)
}

// loadIndex stores each image of an OCI index (recursing into nested indexes; for a
// multi-platform index, the host platform's image) with the names its annotations give.
func (l *Local) loadIndex(ctx context.Context, txn *Txn, idx v1.ImageIndex, inherited []string) ([]LoadedImage, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	host := HostPlatform()
	var loaded []LoadedImage
	for _, d := range im.Manifests {
		names := inherited
		if n := annotatedName(d.Annotations); n != "" {
			names = []string{n}
		}
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			more, err := l.loadIndex(ctx, txn, child, names)
			if err != nil {
				return nil, err
			}
			loaded = append(loaded, more...)
		case d.MediaType.IsImage():
			if d.Platform != nil && d.Platform.OS != "" && !d.Platform.Satisfies(host) {
				continue
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, err
			}
			li, err := l.storeLoaded(ctx, txn, img, names)
			if err != nil {
				return nil, err
			}
			loaded = append(loaded, li)
		}
	}
	return loaded, nil
}

// annotatedName reads the image name an OCI archive records: containerd's full name, or the
// standard ref.name when it is a whole reference.
func annotatedName(a map[string]string) string {
	if n := a["io.containerd.image.name"]; n != "" {
		return n
	}
	if n := a["org.opencontainers.image.ref.name"]; strings.ContainsAny(n, "/:") {
		return n
	}
	return ""
}

func (l *Local) storeLoaded(ctx context.Context, txn *Txn, img v1.Image, names []string) (LoadedImage, error) {
	desc, err := txn.WriteImage(ctx, img)
	if err != nil {
		return LoadedImage{}, err
	}
	stored, err := l.Store.Image(desc.Digest)
	if err != nil {
		return LoadedImage{}, err
	}
	if err := l.Unpack(ctx, stored, nil); err != nil {
		return LoadedImage{}, err
	}
	id, err := stored.ConfigName()
	if err != nil {
		return LoadedImage{}, err
	}
	li := LoadedImage{ID: id, Manifest: desc}
	for _, n := range names {
		ref, err := ParseReference(n)
		if err != nil {
			return LoadedImage{}, err
		}
		if err := txn.SetRef(ref.String(), desc); err != nil {
			return LoadedImage{}, err
		}
		li.Names = append(li.Names, ref.Familiar())
	}
	return li, nil
}

// extractPlain unpacks an archive of plain files and directories (an OCI layout) into dir,
// refusing anything else and any path that would leave dir.
func extractPlain(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		clean := filepath.Clean("/" + h.Name)
		target := filepath.Join(dir, clean)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q: unexpected type %c in an OCI layout", h.Name, h.Typeflag)
		}
	}
}

// Save writes the images refs name as one `docker save` tarball that `docker load` and
// `berth image load` accept.
func (l *Local) Save(ctx context.Context, w io.Writer, refs []Reference) error {
	images := map[name.Reference]v1.Image{}
	for _, ref := range refs {
		desc, err := l.Store.Ref(ref.String())
		if err != nil {
			return fmt.Errorf("save: %w", noSuchImage(ref.Familiar()))
		}
		img, err := l.Store.Image(desc.Digest)
		if err != nil {
			return fmt.Errorf("save %s: %w", ref.Familiar(), err)
		}
		images[ref.Remote] = img
	}
	return tarball.MultiRefWrite(images, w)
}

// ImportOptions tunes Import.
type ImportOptions struct {
	// Changes are Dockerfile instructions applied to the config, as `docker import --change`:
	// CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, STOPSIGNAL, VOLUME.
	Changes []string
	// Message is the history comment.
	Message string
	// Source names where the rootfs came from in the history ("-" for standard input).
	Source string
}

// Import makes a one-layer image from a root filesystem tarball (plain, gzip or zstd), as
// `docker import` does, and names it ref when ref is not nil.
func (l *Local) Import(ctx context.Context, r io.Reader, ref *Reference, o ImportOptions) (v1.Hash, error) {
	spool, err := l.spool(r)
	if err != nil {
		return v1.Hash{}, err
	}
	defer os.Remove(spool)
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		f, err := os.Open(spool)
		if err != nil {
			return nil, err
		}
		plain, err := Decompress(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		return &readCloser{Reader: plain, close: func() error { plain.Close(); return f.Close() }}, nil
	})
	if err != nil {
		return v1.Hash{}, fmt.Errorf("import: %w", err)
	}
	if err := checkTar(spool); err != nil {
		return v1.Hash{}, fmt.Errorf("import: %w", err)
	}
	now := time.Now().UTC()
	cfg := &v1.ConfigFile{
		Architecture: HostPlatform().Architecture,
		OS:           "linux",
		Created:      v1.Time{Time: now},
		Config:       v1.Config{},
	}
	for _, c := range o.Changes {
		if err := applyChange(&cfg.Config, c); err != nil {
			return v1.Hash{}, fmt.Errorf("import: --change %q: %w", c, err)
		}
	}
	base, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return v1.Hash{}, err
	}
	base = mutate.MediaType(base, types.DockerManifestSchema2)
	src := o.Source
	if src == "" {
		src = "-"
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: now}, CreatedBy: "Imported from " + src, Comment: o.Message,
	}})
	if err != nil {
		return v1.Hash{}, err
	}
	txn, err := l.Store.Begin(ctx)
	if err != nil {
		return v1.Hash{}, err
	}
	defer txn.Close()
	li, err := l.storeLoaded(ctx, txn, img, nil)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("import: %w", err)
	}
	if ref != nil {
		if err := txn.SetRef(ref.String(), li.Manifest); err != nil {
			return v1.Hash{}, err
		}
	}
	return li.ID, nil
}

// checkTar reads the whole (decompressed) archive once, so that a corrupt tarball fails here,
// with nothing stored.
func checkTar(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	plain, err := Decompress(f)
	if err != nil {
		return err
	}
	defer plain.Close()
	tr := tar.NewReader(plain)
	n := 0
	for {
		_, err := tr.Next()
		if err == io.EOF {
			if n == 0 {
				return errors.New("not a tar archive: no entries")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("not a valid tar archive: %w", err)
		}
		n++
	}
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// applyChange applies one `--change` instruction to a config.
func applyChange(c *v1.Config, change string) error {
	instr, rest, _ := strings.Cut(strings.TrimSpace(change), " ")
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return fmt.Errorf("%s needs an argument", strings.ToUpper(instr))
	}
	switch strings.ToUpper(instr) {
	case "CMD":
		c.Cmd = commandForm(rest)
	case "ENTRYPOINT":
		c.Entrypoint = commandForm(rest)
	case "ENV":
		for _, kv := range keyValues(rest) {
			c.Env = setEnv(c.Env, kv)
		}
	case "LABEL":
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range keyValues(rest) {
			k, v, _ := strings.Cut(kv, "=")
			c.Labels[k] = v
		}
	case "EXPOSE":
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(rest) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			c.ExposedPorts[p] = struct{}{}
		}
	case "USER":
		c.User = rest
	case "WORKDIR":
		c.WorkingDir = rest
	case "STOPSIGNAL":
		c.StopSignal = rest
	case "VOLUME":
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		// A JSON array, or paths separated by spaces (not a shell command).
		var paths []string
		if !strings.HasPrefix(rest, "[") || json.Unmarshal([]byte(rest), &paths) != nil {
			paths = strings.Fields(rest)
		}
		for _, v := range paths {
			c.Volumes[v] = struct{}{}
		}
	case "HEALTHCHECK":
		h, err := parseHealthcheck(rest)
		if err != nil {
			return err
		}
		c.Healthcheck = h
	default:
		return fmt.Errorf("%q is not an instruction `import --change` accepts (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, USER, WORKDIR, STOPSIGNAL, VOLUME)", instr)
	}
	return nil
}

// parseHealthcheck reads HEALTHCHECK's arguments as the Dockerfile has
// them: NONE, or [--interval=D] [--timeout=D] [--start-period=D]
// [--retries=N] CMD command (exec or shell form).
func parseHealthcheck(s string) (*v1.HealthConfig, error) {
	if strings.EqualFold(s, "NONE") {
		return &v1.HealthConfig{Test: []string{"NONE"}}, nil
	}
	h := &v1.HealthConfig{}
	for strings.HasPrefix(s, "--") {
		flag, rest, _ := strings.Cut(s, " ")
		s = strings.TrimSpace(rest)
		name, value, ok := strings.Cut(strings.TrimPrefix(flag, "--"), "=")
		if !ok {
			return nil, fmt.Errorf("HEALTHCHECK: flag %s needs a value (--%s=...)", flag, name)
		}
		if name == "retries" {
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("HEALTHCHECK: --retries=%s: not a count", value)
			}
			h.Retries = n
			continue
		}
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("HEALTHCHECK: --%s=%s: not a duration", name, value)
		}
		switch name {
		case "interval":
			h.Interval = d
		case "timeout":
			h.Timeout = d
		case "start-period":
			h.StartPeriod = d
		default:
			return nil, fmt.Errorf("HEALTHCHECK: unknown flag --%s (interval, timeout, start-period, retries)", name)
		}
	}
	kind, cmd, _ := strings.Cut(s, " ")
	cmd = strings.TrimSpace(cmd)
	if !strings.EqualFold(kind, "CMD") || cmd == "" {
		return nil, fmt.Errorf("HEALTHCHECK: want NONE or CMD and a command, got %q", s)
	}
	var list []string
	if strings.HasPrefix(cmd, "[") && json.Unmarshal([]byte(cmd), &list) == nil {
		h.Test = append([]string{"CMD"}, list...)
	} else {
		h.Test = []string{"CMD-SHELL", cmd}
	}
	return h, nil
}

// commandForm reads the JSON (exec) form, or the shell form run by /bin/sh -c.
func commandForm(s string) []string {
	var list []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &list) == nil {
		return list
	}
	return []string{"/bin/sh", "-c", s}
}

// keyValues reads `A=1 B="two words"` or the legacy `A value` form.
func keyValues(s string) []string {
	if !strings.Contains(s, "=") {
		k, v, _ := strings.Cut(s, " ")
		return []string{k + "=" + strings.TrimSpace(v)}
	}
	var out []string
	var cur strings.Builder
	quote := rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		case quote == 0 && r == ' ':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}
