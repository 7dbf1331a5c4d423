package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/berth-sh/berth/internal/testutil"
)

// TestRootfs128Layers stores a 128-layer image, mounts its root filesystem with a writable upper
// dir, and reads a file of its lowest layer through the mount (the runtime issue will run `cat`
// in a container of the same image).
func TestRootfs128Layers(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireOverlay(t)
	layers := []v1.Layer{layerOf(t, map[string]string{"bottom.txt": "from layer 0\n"})}
	for i := 1; i < 128; i++ {
		layers = append(layers, layerOf(t, map[string]string{fmt.Sprintf("layer%03d.txt", i): "x"}))
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	l := newLocal(t)
	txn, err := l.Store.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	desc, err := txn.WriteImage(context.Background(), img)
	txn.Close()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	upper, work, target := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "rootfs")
	for _, d := range []string{upper, work, target} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.MountRootfs(context.Background(), desc.Digest, upper, work, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Unmount(target) })
	got, err := os.ReadFile(filepath.Join(target, "bottom.txt"))
	if err != nil || string(got) != "from layer 0\n" {
		t.Fatalf("bottom.txt through the mount: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(target, "layer127.txt")); err != nil {
		t.Errorf("top layer's file: %v", err)
	}
	// Writes land in the container's upper dir, never in a snapshot.
	if err := os.WriteFile(filepath.Join(target, "bottom.txt"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(upper, "bottom.txt")); string(b) != "changed" {
		t.Errorf("write did not go to the upper dir")
	}
	lowers, err := l.Lowers(context.Background(), desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(lowers[len(lowers)-1], "bottom.txt")); string(b) != "from layer 0\n" {
		t.Errorf("the snapshot changed under a container write: %q", b)
	}
}
