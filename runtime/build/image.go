package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-sh/berth/runtime/image"
)

// defaultPath is the PATH the classic builder gives a stage whose base has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// layerRef is one layer of an image under construction: a compressed blob in the store.
type layerRef struct {
	Digest    v1.Hash         `json:"digest"`
	DiffID    v1.Hash         `json:"diffID"`
	Size      int64           `json:"size"`
	MediaType types.MediaType `json:"mediaType"`
}

// imageState is an image as a build holds it: its config (Docker's, with Healthcheck, OnBuild
// and Shell) and its layers. Its ID is the digest of the config as serialised.
type imageState struct {
	config dockerspec.DockerOCIImage
	layers []layerRef
	raw    []byte // the config's bytes once fixed, see seal
}

// seal serialises the config, which fixes the image ID.
func (s *imageState) seal() error {
	b, err := json.Marshal(s.config)
	if err != nil {
		return err
	}
	s.raw = b
	return nil
}

// id is the image ID, the sha256 of the config's bytes.
func (s *imageState) id() v1.Hash {
	sum := sha256.Sum256(s.raw)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// clone copies the state deeply enough for a step to change it.
func (s *imageState) clone() *imageState {
	var c imageState
	// A round trip through JSON is the simplest deep copy of a struct of slices and maps.
	b, _ := json.Marshal(s.config)
	_ = json.Unmarshal(b, &c.config)
	c.layers = append([]layerRef(nil), s.layers...)
	return &c
}

// scratchState is `FROM scratch`: no layers, an empty config for the host's platform.
func scratchState() *imageState {
	p := image.HostPlatform()
	s := &imageState{}
	s.config.Platform = ocispec.Platform{Architecture: p.Architecture, OS: p.OS, Variant: p.Variant}
	s.config.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{}}
	return s
}

// stateFromStore reads a stored image (by manifest digest) into an imageState.
func stateFromStore(l *image.Local, manifest v1.Hash) (*imageState, error) {
	img, err := l.Store.Image(manifest)
	if err != nil {
		return nil, err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	// raw is the stored config as it is: the state's ID is the stored image's until a step
	// changes it (COPY --from an image views it as it is).
	s := &imageState{raw: raw}
	if err := json.Unmarshal(raw, &s.config); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if len(s.config.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("image %s: config and manifest disagree on the number of layers", manifest)
	}
	for i, l := range m.Layers {
		d, err := v1.NewHash(s.config.RootFS.DiffIDs[i].String())
		if err != nil {
			return nil, err
		}
		s.layers = append(s.layers, layerRef{Digest: l.Digest, DiffID: d, Size: l.Size, MediaType: l.MediaType})
	}
	return s, nil
}

// addHistory appends a history entry, and the layer when it is not empty.
func (s *imageState) addHistory(createdBy string, layer *layerRef, now time.Time) {
	h := ocispec.History{Created: &now, CreatedBy: createdBy, EmptyLayer: layer == nil}
	s.config.History = append(s.config.History, h)
	s.config.Created = &now
	if layer != nil {
		s.layers = append(s.layers, *layer)
		s.config.RootFS.DiffIDs = append(s.config.RootFS.DiffIDs, digest.Digest(layer.DiffID.String()))
	}
	if s.config.RootFS.Type == "" {
		s.config.RootFS.Type = "layers"
	}
}

// manifest is the Docker schema 2 manifest of the state, as `docker build` writes it. Layers
// keep the compression they have; OCI gzip layers of a pulled base take Docker's name for it.
func (s *imageState) manifest() ([]byte, error) {
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config: v1.Descriptor{
			MediaType: types.DockerConfigJSON,
			Size:      int64(len(s.raw)),
			Digest:    s.id(),
		},
		Layers: []v1.Descriptor{},
	}
	for _, l := range s.layers {
		mt := l.MediaType
		switch mt {
		case types.OCILayer, "":
			mt = types.DockerLayer
		case types.OCIUncompressedLayer:
			mt = types.DockerUncompressedLayer
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: mt, Size: l.Size, Digest: l.Digest})
	}
	return json.Marshal(m)
}

// write stores the state as an image (config, then manifest; its layers are in the store
// already) and returns the manifest's descriptor.
func (s *imageState) write(ctx context.Context, txn *image.Txn) (v1.Descriptor, error) {
	if err := txn.WriteBlob(ctx, s.id(), int64(len(s.raw)), bytes.NewReader(s.raw)); err != nil {
		return v1.Descriptor{}, err
	}
	raw, err := s.manifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	d, n, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := txn.WriteBlob(ctx, d, n, bytes.NewReader(raw)); err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: types.DockerManifestSchema2, Size: n, Digest: d}, nil
}

// v1Image is the state as a go-containerregistry image backed by the store's blobs, for
// unpacking its layers into snapshots without writing a manifest.
func (s *imageState) v1Image(st *image.Store) (v1.Image, error) {
	raw, err := s.manifest()
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&stateCore{s: s, st: st, raw: raw, m: m})
}

type stateCore struct {
	s   *imageState
	st  *image.Store
	raw []byte
	m   *v1.Manifest
}

func (c *stateCore) RawConfigFile() ([]byte, error)      { return c.s.raw, nil }
func (c *stateCore) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }
func (c *stateCore) RawManifest() ([]byte, error)        { return c.raw, nil }

func (c *stateCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for i, l := range c.m.Layers {
		if l.Digest == h {
			return &stateLayer{st: c.st, desc: l, diffID: c.s.layers[i].DiffID}, nil
		}
	}
	if h == c.m.Config.Digest {
		return &stateLayer{st: c.st, desc: c.m.Config, diffID: h, config: c.s.raw}, nil
	}
	return nil, fmt.Errorf("layer %s: %w", h, image.ErrNotFound)
}

type stateLayer struct {
	st     *image.Store
	desc   v1.Descriptor
	diffID v1.Hash
	config []byte
}

func (l *stateLayer) Digest() (v1.Hash, error) { return l.desc.Digest, nil }
func (l *stateLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *stateLayer) Size() (int64, error)     { return l.desc.Size, nil }
func (l *stateLayer) MediaType() (types.MediaType, error) {
	return l.desc.MediaType, nil
}
func (l *stateLayer) Compressed() (io.ReadCloser, error) {
	if l.config != nil {
		return io.NopCloser(bytes.NewReader(l.config)), nil
	}
	return l.st.OpenBlob(l.desc.Digest)
}

// lowers unpacks the state's layers (those without a snapshot yet) and returns their snapshot
// directories, top first; none for an image without layers.
func (s *imageState) lowers(ctx context.Context, l *image.Local) ([]string, error) {
	if len(s.layers) == 0 {
		return nil, nil
	}
	img, err := s.v1Image(l.Store)
	if err != nil {
		return nil, err
	}
	if err := l.Unpack(ctx, img, nil); err != nil {
		return nil, err
	}
	diffIDs := make([]v1.Hash, len(s.layers))
	for i, ly := range s.layers {
		diffIDs[i] = ly.DiffID
	}
	chain := image.ChainIDs(diffIDs)
	out := make([]string, 0, len(chain))
	for i := len(chain) - 1; i >= 0; i-- {
		out = append(out, l.Snapshots.Path(chain[i].String()))
	}
	return out, nil
}
