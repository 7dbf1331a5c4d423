package image

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

// BenchmarkPull pulls a five-layer image of about 200 MB from a registry on loopback into an
// empty store: download, digest checks, store writes and unpacking. Where a Docker engine answers
// (`docker info`), the same pull by `docker pull` from the same registry runs beside it, so the
// two figures come from one sitting (../shared/bench/README.md).
func BenchmarkPull(b *testing.B) {
	const layers, layerSize = 5, 40 << 20
	reg := newTestRegistry(b)
	img := hostImage(b, layerSize, layers)
	ref := reg.ref(b, "bench/big:1")
	seed(b, ref, img)

	b.Run("berth", func(b *testing.B) {
		b.SetBytes(layers * layerSize)
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
	})

	b.Run("docker", func(b *testing.B) {
		if exec.Command("docker", "info").Run() != nil {
			b.Skip("needs a running Docker engine (docker info failed)")
		}
		b.SetBytes(layers * layerSize)
		for b.Loop() {
			b.StopTimer()
			exec.Command("docker", "rmi", "-f", ref.String()).Run()
			b.StartTimer()
			if out, err := exec.Command("docker", "pull", "-q", ref.String()).CombinedOutput(); err != nil {
				b.Fatalf("docker pull: %v: %s", err, out)
			}
		}
		b.StopTimer()
		exec.Command("docker", "rmi", "-f", ref.String()).Run()
	})
}
