package image

import (
	"reflect"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestApplyChangeVolume(t *testing.T) {
	for change, want := range map[string][]string{
		"VOLUME /var/lib/db":              {"/var/lib/db"},
		"VOLUME /a /b":                    {"/a", "/b"},
		`VOLUME ["/data", "/with space"]`: {"/data", "/with space"},
	} {
		var c v1.Config
		if err := applyChange(&c, change); err != nil {
			t.Fatalf("%s: %v", change, err)
		}
		got := map[string]struct{}{}
		for _, v := range want {
			got[v] = struct{}{}
		}
		if !reflect.DeepEqual(c.Volumes, got) {
			t.Errorf("%s: Volumes %v, want %v", change, c.Volumes, want)
		}
	}
}
