package container

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseVolume(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mount
	}{
		{"/data", Mount{Type: "volume", Target: "/data"}},
		{"db:/var/lib/mysql", Mount{Type: "volume", Source: "db", Target: "/var/lib/mysql"}},
		{"db:/var/lib/mysql:ro,nocopy", Mount{Type: "volume", Source: "db", Target: "/var/lib/mysql", ReadOnly: true, NoCopy: true}},
		{"/src:/app", Mount{Type: "bind", Source: "/src", Target: "/app", CreateHostPath: true}},
		{"/src:/app:ro,Z,rshared", Mount{Type: "bind", Source: "/src", Target: "/app", ReadOnly: true, CreateHostPath: true, Propagation: "rshared"}},
		{"./src:/app", Mount{Type: "bind", Source: "/work/proj/src", Target: "/app", CreateHostPath: true}},
		{"../up:/app:rw", Mount{Type: "bind", Source: "/work/up", Target: "/app", CreateHostPath: true}},
	} {
		got, err := ParseVolume(tc.in, "/work/proj")
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseVolume(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for in, want := range map[string]string{
		"data/x:/y":       "includes invalid characters for a local volume name",
		"db:rel":          "must be absolute",
		"db:/":            "destination can't be '/'",
		"db:/a:bogus":     `unknown option "bogus"`,
		"db:/a:rshared":   "propagation rshared is for bind mounts",
		"/src:/a:nocopy":  "nocopy is for volumes",
		"a:/b:ro:extra":   "too many colons",
		"/data:ro":        "must be absolute",
		"bad name!:/data": "includes invalid characters",
	} {
		_, err := ParseVolume(in, "/work")
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseVolume(%q) = %v; want an invalid-input error with %q", in, err, want)
		}
	}
}

func TestParseMount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mount
	}{
		{"source=db,target=/data", Mount{Type: "volume", Source: "db", Target: "/data"}},
		{"type=volume,src=db,dst=/data,readonly,volume-nocopy,volume-subpath=sub/dir", Mount{Type: "volume", Source: "db", Target: "/data", ReadOnly: true, NoCopy: true, SubPath: "sub/dir"}},
		{"type=bind,source=/src,target=/app,bind-propagation=rslave,bind-recursive=disabled", Mount{Type: "bind", Source: "/src", Target: "/app", Propagation: "rslave", NonRecursive: true}},
		{"type=bind,source=rel,target=/app,ro=false", Mount{Type: "bind", Source: "/work/rel", Target: "/app"}},
		{"type=tmpfs,target=/scratch,tmpfs-size=64m,tmpfs-mode=1770", Mount{Type: "tmpfs", Target: "/scratch", TmpfsSize: 64 << 20, TmpfsMode: 0o1770}},
		{"target=/anon", Mount{Type: "volume", Target: "/anon"}},
	} {
		got, err := ParseMount(tc.in, "/work")
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseMount(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for in, want := range map[string]string{
		"type=nfs,target=/a":             `mount type "nfs" is not supported`,
		"type=bind,target=/a":            "source is required",
		"type=tmpfs,source=x,target=/a":  "source is not allowed for tmpfs",
		"source=db":                      "needs a target",
		"source=db,target=/a,colour=red": "unexpected key 'colour'",
		"type=bind,source=/s,target=/a,bind-propagation=sideways": "invalid propagation mode: sideways",
		"source=db,target=/a,volume-subpath=../up":                "invalid volume-subpath",
		"type=tmpfs,target=/a,tmpfs-size=lots":                    "invalid size",
	} {
		_, err := ParseMount(in, "/work")
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseMount(%q) = %v; want an invalid-input error with %q", in, err, want)
		}
	}
}

func TestCheckMounts(t *testing.T) {
	dir := t.TempDir()
	if err := checkMounts([]Mount{{Type: "bind", Source: dir, Target: "/a"}, {Type: "volume", Source: "v", Target: "/b/"}}); err != nil {
		t.Errorf("good mounts: %v", err)
	}
	if err := checkMounts([]Mount{{Type: "volume", Target: "/a"}, {Type: "tmpfs", Target: "/a/"}}); err == nil || !strings.Contains(err.Error(), "Duplicate mount point: /a") {
		t.Errorf("two mounts on /a: %v", err)
	}
	if err := checkMounts([]Mount{{Type: "bind", Source: dir + "/missing", Target: "/a"}}); err == nil || !strings.Contains(err.Error(), "bind source path does not exist") {
		t.Errorf("a missing --mount bind source: %v", err)
	}
	if err := checkMounts([]Mount{{Type: "bind", Source: dir + "/missing", Target: "/a", CreateHostPath: true}}); err != nil {
		t.Errorf("a missing -v bind source (made at start): %v", err)
	}
}
