package image

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push uploads the image ref names to its registry. Layers the registry already holds are not
// sent again.
func (l *Local) Push(ctx context.Context, ref Reference, o RemoteOptions) (v1.Descriptor, error) {
	prog := o.progress()
	desc, err := l.Store.Ref(ref.String())
	if err != nil {
		return v1.Descriptor{}, &notFoundError{msg: "An image does not exist locally with the tag: " + ref.Familiar()}
	}
	img, err := l.Store.Image(desc.Digest)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("push %s: %w", ref.Familiar(), err)
	}
	prog.Message(fmt.Sprintf("The push refers to repository [%s]", ref.named.Name()))
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, err
	}
	wrapped := make([]*progressLayer, len(layers))
	byDigest := map[v1.Hash]v1.Layer{}
	for i, layer := range layers {
		d, err := layer.Digest()
		if err != nil {
			return v1.Descriptor{}, err
		}
		prog.Update(ShortID(d.String()), "Preparing", 0, 0)
		wrapped[i] = &progressLayer{Layer: layer, prog: prog, moving: "Pushing", done: "Pushed"}
		byDigest[d] = wrapped[i]
	}
	if err := remote.Write(ref.Remote, &pushImage{Image: img, layers: byDigest}, o.remote(ctx)...); err != nil {
		return v1.Descriptor{}, remoteError("push", ref, err)
	}
	for _, layer := range wrapped {
		if !layer.read.Load() {
			d, _ := layer.Digest()
			prog.Update(ShortID(d.String()), "Layer already exists", 0, 0)
		}
	}
	tag := ref.Tag()
	if tag == "" {
		tag = ref.Digest()
	}
	prog.Message(fmt.Sprintf("%s: digest: %s size: %d", tag, desc.Digest, desc.Size))
	return desc, nil
}

// pushImage hands remote.Write the progress-reporting layers.
type pushImage struct {
	v1.Image
	layers map[v1.Hash]v1.Layer
}

func (p *pushImage) Layers() ([]v1.Layer, error) {
	layers, err := p.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(layers))
	for i, layer := range layers {
		d, err := layer.Digest()
		if err != nil {
			return nil, err
		}
		out[i] = p.layers[d]
	}
	return out, nil
}

func (p *pushImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	if layer, ok := p.layers[h]; ok {
		return layer, nil
	}
	return p.Image.LayerByDigest(h)
}
