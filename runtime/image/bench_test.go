package image

import (
	"context"
	"os"
	"testing"
)

// BenchmarkPull pulls a five-layer image of about 200 MB from a registry on loopback into an
// empty store: download, digest checks, store writes and unpacking. Compare with `docker pull`
// of the same image from the same registry (../shared/bench/README.md).
func BenchmarkPull(b *testing.B) {
	const layers, layerSize = 5, 40 << 20
	reg := newTestRegistry(b)
	img := hostImage(b, layerSize, layers)
	ref := reg.ref(b, "bench/big:1")
	seed(b, ref, img)
	b.SetBytes(layers * layerSize)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		dir, err := os.MkdirTemp("", "berth-bench-pull-")
		if err != nil {
			b.Fatal(err)
		}
		l, err := OpenLocal(dir)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := l.Pull(context.Background(), ref, PullOptions{RemoteOptions: anon()}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}
