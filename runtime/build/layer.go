package build

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-sh/berth/runtime/image"
)

// writeLayer makes a gzip-compressed layer of what produce writes into a tar and stores it as a
// blob through txn. It returns nil when produce wrote no entry: the step changed nothing, which
// history records as an empty layer, as Docker does.
func writeLayer(ctx context.Context, txn *image.Txn, tmpDir string, produce func(tw *tar.Writer) (int, error)) (*layerRef, error) {
	f, err := os.CreateTemp(tmpDir, "layer-*.tar.gz")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()

	compressed := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, compressed)}
	gz, err := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	plain := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(gz, plain))
	n, err := produce(tw)
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	ref := &layerRef{
		Digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(compressed.Sum(nil))},
		DiffID:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(plain.Sum(nil))},
		Size:      cw.n,
		MediaType: types.DockerLayer,
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if err := txn.WriteBlob(ctx, ref.Digest, ref.Size, f); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return ref, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// copyFileTo copies size bytes of the file at p to w.
func copyFileTo(w io.Writer, p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(w, f, size); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}
