package image

import (
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Inspection is `image inspect`'s JSON, with Docker's field names.
type Inspection struct {
	ID            string `json:"Id"`
	RepoTags      []string
	RepoDigests   []string
	Parent        string
	Comment       string
	Created       string
	DockerVersion string
	Author        string
	Config        v1.Config
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Size          int64
	GraphDriver   GraphDriver
	RootFS        RootFS
	Metadata      Metadata
}

// GraphDriver says where the layers are unpacked.
type GraphDriver struct {
	Name string
	Data map[string]string
}

// RootFS lists the layers' diff IDs.
type RootFS struct {
	Type   string
	Layers []string
}

// Metadata is Docker's image metadata block.
type Metadata struct {
	LastTagTime string
}

// open resolves s (see Resolve) to the stored image and its config.
func (l *Local) open(s string) (StoredImage, v1.Image, *v1.ConfigFile, error) {
	si, err := l.Resolve(s)
	if err != nil {
		return StoredImage{}, nil, nil, err
	}
	img, err := l.Store.Image(si.Manifest.Digest)
	if err != nil {
		return StoredImage{}, nil, nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return StoredImage{}, nil, nil, err
	}
	return si, img, cfg, nil
}

// Inspect describes the image s names (see Resolve).
func (l *Local) Inspect(s string) (*Inspection, error) {
	si, _, cfg, err := l.open(s)
	if err != nil {
		return nil, err
	}
	in := &Inspection{
		ID:           si.ID.String(),
		RepoTags:     nonNil(Tags(si.Names)),
		RepoDigests:  nonNil(Digests(si.Names)),
		Created:      cfg.Created.Format(time.RFC3339Nano),
		Author:       cfg.Author,
		Config:       cfg.Config,
		Architecture: cfg.Architecture,
		Variant:      cfg.Variant,
		Os:           cfg.OS,
		Size:         l.ImageSize(si),
		GraphDriver:  GraphDriver{Name: "overlay", Data: map[string]string{}},
		RootFS:       RootFS{Type: "layers"},
		Metadata:     Metadata{LastTagTime: "0001-01-01T00:00:00Z"},
	}
	if len(cfg.History) > 0 {
		in.Comment = cfg.History[len(cfg.History)-1].Comment
	}
	chain := ChainIDs(cfg.RootFS.DiffIDs)
	var lowers string
	for i := len(chain) - 1; i >= 0; i-- {
		if lowers != "" {
			lowers += ":"
		}
		lowers += l.Snapshots.Path(chain[i].String())
	}
	in.GraphDriver.Data["LowerDir"] = lowers
	for _, d := range cfg.RootFS.DiffIDs {
		in.RootFS.Layers = append(in.RootFS.Layers, d.String())
	}
	return in, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ImageSize is the unpacked size of an image, Docker's SIZE: its layers' files, or their
// compressed size for layers not unpacked.
func (l *Local) ImageSize(si StoredImage) int64 {
	img, err := l.Store.Image(si.Manifest.Digest)
	if err != nil {
		return si.Size
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return si.Size
	}
	m, err := img.Manifest()
	if err != nil || len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return si.Size
	}
	// Each layer's unpacked size; a layer not unpacked yet (a build's last one) counts with
	// its compressed size, which is all the store knows of it.
	var n int64
	for i, c := range ChainIDs(cfg.RootFS.DiffIDs) {
		if l.Snapshots.Has(c.String()) {
			n += l.LayerSize(c.String())
		} else {
			n += m.Layers[i].Size
		}
	}
	return n
}

// HistoryEntry is one row of `image history`.
type HistoryEntry struct {
	ID        string // the image ID on the newest row, <missing> below it, as Docker shows
	Created   time.Time
	CreatedBy string
	Size      int64
	Comment   string
}

// History lists the image's history newest first, each entry with the size of the layer it made.
func (l *Local) History(s string) ([]HistoryEntry, error) {
	si, img, cfg, err := l.open(s)
	if err != nil {
		return nil, err
	}
	chain := ChainIDs(cfg.RootFS.DiffIDs)
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	var out []HistoryEntry
	layer := 0
	for _, h := range cfg.History {
		e := HistoryEntry{ID: "<missing>", Created: h.Created.Time, CreatedBy: h.CreatedBy, Comment: h.Comment}
		if !h.EmptyLayer && layer < len(chain) {
			if l.Snapshots.Has(chain[layer].String()) {
				e.Size = l.LayerSize(chain[layer].String())
			} else if size, err := layers[layer].Size(); err == nil {
				e.Size = size
			}
			layer++
		}
		out = append([]HistoryEntry{e}, out...)
	}
	if len(out) > 0 {
		out[0].ID = si.ID.String()
	}
	return out, nil
}
