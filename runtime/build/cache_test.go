package build

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestCacheKeyAndPersistence(t *testing.T) {
	parent := v1.Hash{Algorithm: "sha256", Hex: "1111111111111111111111111111111111111111111111111111111111111111"}
	other := v1.Hash{Algorithm: "sha256", Hex: "2222222222222222222222222222222222222222222222222222222222222222"}
	child := scratchState()
	child.config.Config.Env = []string{"A=1"}
	k := cacheKey(parent, "/bin/sh -c #(nop)  ENV A=1", child, "")
	for name, k2 := range map[string]string{
		"parent":     cacheKey(other, "/bin/sh -c #(nop)  ENV A=1", child, ""),
		"created by": cacheKey(parent, "/bin/sh -c #(nop)  ENV A=2", child, ""),
		"extra":      cacheKey(parent, "/bin/sh -c #(nop)  ENV A=1", child, "network=none"),
	} {
		if k2 == k {
			t.Errorf("a different %s gave the same key", name)
		}
	}
	c2 := child.clone()
	c2.config.Config.Cmd = []string{"x"}
	if cacheKey(parent, "/bin/sh -c #(nop)  ENV A=1", c2, "") == k {
		t.Error("a different resulting config gave the same key")
	}
	if err := child.seal(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := (&buildCache{dir: dir}).put(k, child); err != nil {
		t.Fatal(err)
	}
	// Another process: a fresh cache over the same directory.
	e, err := (&buildCache{dir: dir}).get(k)
	if err != nil || e == nil || e.Config != string(child.raw) {
		t.Fatalf("entry %+v %v", e, err)
	}
	if e, _ := (&buildCache{dir: dir}).get(cacheKey(other, "x", child, "")); e != nil {
		t.Error("unknown key found")
	}
}
