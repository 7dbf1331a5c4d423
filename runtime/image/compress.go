package image

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Magic numbers of the layer compressions berth meets. Registries and `docker save` name the
// compression in media types, but those lie often enough (docker save writes uncompressed layers
// under gzip names, containerd-store saves the opposite), so the bytes decide.
var (
	magicGzip = []byte{0x1f, 0x8b}
	magicZstd = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicXz   = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// Decompress returns the uncompressed stream of a layer that is gzip, zstd, bzip2 or not
// compressed at all, telling them apart by their first bytes. Closing the result releases the
// decompressor; it does not close r, which stays the caller's. xz is recognised only to be
// refused clearly, rather than handed on as a corrupt tar.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(10)
	// A short stream is still valid input (an empty or tiny uncompressed blob); only real read
	// errors stop us here.
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading layer header: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip layer: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(head, magicZstd):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("zstd layer: %w", err)
		}
		return zr.IOReadCloser(), nil
	case isBzip2(head):
		return io.NopCloser(bzip2.NewReader(br)), nil
	case bytes.HasPrefix(head, magicXz):
		return nil, errors.New("xz-compressed layers are not supported")
	default:
		return io.NopCloser(br), nil
	}
}

// isBzip2 checks the stream header "BZh" plus block size digit and the first block's (or the end
// of stream's) 48-bit magic: "BZh" alone could start the name of the first file in a plain tar.
func isBzip2(head []byte) bool {
	if len(head) < 10 || string(head[:3]) != "BZh" || head[3] < '1' || head[3] > '9' {
		return false
	}
	m := string(head[4:10])
	return m == "\x31\x41\x59\x26\x53\x59" || m == "\x17\x72\x45\x38\x50\x90"
}
