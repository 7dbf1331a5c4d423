package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	goruntime "runtime"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// RemoteOptions are what pull and push share.
type RemoteOptions struct {
	// Keychain finds credentials. Optional: authn.DefaultKeychain, which reads
	// ~/.docker/config.json (or $DOCKER_CONFIG) and its credential helpers as Docker does.
	Keychain authn.Keychain
	// Progress receives per-layer progress. Optional: none.
	Progress Progress
	// Transport carries the HTTP requests. Optional: Go's default transport.
	Transport http.RoundTripper
	// Jobs is how many layers move at once. Optional: 4.
	Jobs int
	// UserAgent names berth to registries. Optional.
	UserAgent string
}

func (o RemoteOptions) remote(ctx context.Context) []remote.Option {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithJobs(jobs)}
	if o.Transport != nil {
		opts = append(opts, remote.WithTransport(o.Transport))
	}
	if o.UserAgent != "" {
		opts = append(opts, remote.WithUserAgent(o.UserAgent))
	}
	return opts
}

func (o RemoteOptions) progress() Progress {
	if o.Progress == nil {
		return NoProgress{}
	}
	return o.Progress
}

// PullOptions tunes Pull.
type PullOptions struct {
	RemoteOptions
	// Platform picks the image from a multi-platform index, "os/arch[/variant]". Optional: the
	// host's.
	Platform string
}

// HostPlatform is the platform images are chosen for by default.
func HostPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: goruntime.GOARCH}
	if goruntime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// Pull fetches ref from its registry into the store, unpacks its layers and points ref at it.
// Everything it writes is verified before it becomes visible, so an interrupted pull leaves the
// store as it was, apart from whole layers a new pull reuses.
func (l *Local) Pull(ctx context.Context, ref Reference, o PullOptions) (v1.Descriptor, error) {
	prog := o.progress()
	platform := HostPlatform()
	if o.Platform != "" {
		p, err := v1.ParsePlatform(o.Platform)
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("platform %q: %w", o.Platform, err)
		}
		platform = *p
	}
	opts := append(o.remote(ctx), remote.WithPlatform(platform))

	desc, err := remote.Get(ref.Remote, opts...)
	if err != nil {
		return v1.Descriptor{}, remoteError("pull", ref, err)
	}
	if tag := ref.Tag(); tag != "" {
		prog.Message(fmt.Sprintf("%s: Pulling from %s", tag, ref.Path()))
	} else {
		prog.Message(fmt.Sprintf("%s: Pulling from %s", ref.Digest(), ref.Path()))
	}
	img, err := desc.Image()
	if err != nil {
		return v1.Descriptor{}, remoteError("pull", ref, err)
	}
	if err := checkPlatform(img, platform); err != nil {
		return v1.Descriptor{}, fmt.Errorf("pull %s: %w", ref.Familiar(), err)
	}

	txn, err := l.Store.Begin(ctx)
	if err != nil {
		return v1.Descriptor{}, err
	}
	defer txn.Close()

	manifestDigest, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, remoteError("pull", ref, err)
	}
	upToDate := false
	if cur, err := l.Store.Ref(ref.String()); err == nil && cur.Digest == manifestDigest {
		upToDate = true
	}
	mdesc, err := txn.WriteImage(ctx, &progressImage{Image: img, store: l.Store, prog: prog})
	if err != nil {
		return v1.Descriptor{}, remoteError("pull", ref, err)
	}
	stored, err := l.Store.Image(mdesc.Digest)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := l.Unpack(ctx, stored, prog); err != nil {
		return v1.Descriptor{}, fmt.Errorf("pull %s: %w", ref.Familiar(), err)
	}
	// The tag, and the repository digest that `docker image inspect` calls RepoDigests: the
	// digest the registry serves for the reference, an index for multi-platform images.
	if ref.Tag() != "" {
		if err := txn.SetRef(ref.String(), mdesc); err != nil {
			return v1.Descriptor{}, err
		}
	}
	if err := txn.SetRef(ref.named.Name()+"@"+desc.Digest.String(), mdesc); err != nil {
		return v1.Descriptor{}, err
	}
	prog.Message("Digest: " + desc.Digest.String())
	if upToDate {
		prog.Message("Status: Image is up to date for " + ref.Familiar())
	} else {
		prog.Message("Status: Downloaded newer image for " + ref.Familiar())
	}
	return mdesc, nil
}

// checkPlatform refuses an image built for another platform than the one asked for, which a
// registry serving a single-platform manifest can hand out.
func checkPlatform(img v1.Image, want v1.Platform) error {
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if cfg.OS == "" || cfg.Architecture == "" {
		return nil
	}
	if cfg.OS != want.OS || cfg.Architecture != want.Architecture {
		return fmt.Errorf("image is for %s/%s, not %s", cfg.OS, cfg.Architecture, want.String())
	}
	return nil
}

// remoteError words registry failures in one line, as Docker does, keeping the cause.
func remoteError(op string, ref Reference, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s %s: access denied: wrong credentials, or the repository does not exist (berth login %s): %w", op, ref.Familiar(), ref.Domain(), err)
		case http.StatusNotFound:
			return fmt.Errorf("%s %s: not found: %w", op, ref.Familiar(), err)
		}
	}
	return fmt.Errorf("%s %s: %w", op, ref.Familiar(), err)
}

// progressImage reports each layer's download as the store reads it.
type progressImage struct {
	v1.Image
	store *Store
	prog  Progress
}

func (p *progressImage) Layers() ([]v1.Layer, error) {
	layers, err := p.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(layers))
	for i, layer := range layers {
		out[i] = p.wrap(layer)
	}
	return out, nil
}

func (p *progressImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	layer, err := p.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return p.wrap(layer), nil
}

func (p *progressImage) wrap(layer v1.Layer) v1.Layer {
	d, err := layer.Digest()
	if err == nil && p.store.HasBlob(d) {
		p.prog.Update(ShortID(d.String()), "Already exists", 0, 0)
		return layer
	}
	if err == nil {
		p.prog.Update(ShortID(d.String()), "Pulling fs layer", 0, 0)
	}
	return &progressLayer{Layer: layer, prog: p.prog, moving: "Downloading", done: "Download complete"}
}

// progressLayer counts the compressed bytes read from a layer.
type progressLayer struct {
	v1.Layer
	prog         Progress
	moving, done string
	read         atomic.Bool
}

func (l *progressLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	d, err := l.Layer.Digest()
	if err != nil {
		rc.Close()
		return nil, err
	}
	size, _ := l.Layer.Size()
	l.read.Store(true)
	return &countingReader{rc: rc, id: ShortID(d.String()), total: size, prog: l.prog, moving: l.moving, done: l.done}, nil
}

type countingReader struct {
	rc           io.ReadCloser
	id           string
	n, total     int64
	prog         Progress
	moving, done string
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.rc.Read(b)
	c.n += int64(n)
	if err == io.EOF {
		c.prog.Update(c.id, c.done, c.n, c.total)
	} else if n > 0 {
		c.prog.Update(c.id, c.moving, c.n, c.total)
	}
	return n, err
}

func (c *countingReader) Close() error { return c.rc.Close() }
