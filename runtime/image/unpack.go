package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Unpack makes sure every layer of img has its snapshot, extracting the missing ones from their
// blobs in order. Each layer's uncompressed content is checked against the diff ID in the image
// config while it is extracted, so a snapshot under a chain ID always holds what that ID names.
func (l *Local) Unpack(ctx context.Context, img v1.Image, prog Progress) error {
	if prog == nil {
		prog = NoProgress{}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) != len(layers) {
		return fmt.Errorf("image config lists %d layers, manifest %d", len(diffIDs), len(layers))
	}
	chain := ChainIDs(diffIDs)
	opts := ApplyOptions{IgnoreOwnership: os.Geteuid() != 0}
	for i, layer := range layers {
		digest, err := layer.Digest()
		if err != nil {
			return err
		}
		id := ShortID(digest.String())
		if l.Snapshots.Has(chain[i].String()) {
			prog.Update(id, "Pull complete", 0, 0)
			continue
		}
		prog.Update(id, "Extracting", 0, 0)
		want := diffIDs[i]
		_, err = l.Snapshots.Prepare(ctx, chain[i].String(), func(ctx context.Context, dir string) error {
			return applyVerified(ctx, dir, layer, want, opts)
		})
		if err != nil {
			return fmt.Errorf("layer %s: %w", digest, err)
		}
		prog.Update(id, "Pull complete", 0, 0)
	}
	return nil
}

// applyVerified extracts one layer into dir, hashing the uncompressed stream as it goes.
func applyVerified(ctx context.Context, dir string, layer v1.Layer, want v1.Hash, opts ApplyOptions) error {
	rc, err := layer.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	plain, err := Decompress(rc)
	if err != nil {
		return err
	}
	defer plain.Close()
	h := sha256.New()
	if _, err := Apply(ctx, dir, io.TeeReader(plain, h), opts); err != nil {
		return err
	}
	// Apply stops at the tar end marker; the rest of the stream is part of the digest too.
	if _, err := io.Copy(h, plain); err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.String() {
		return fmt.Errorf("%w: uncompressed content is %s, the image config says %s", ErrDigestMismatch, got, want)
	}
	return nil
}
