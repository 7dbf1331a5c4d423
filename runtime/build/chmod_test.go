package build

import (
	"io/fs"
	"testing"
)

func TestParseChmod(t *testing.T) {
	for _, c := range []struct {
		spec  string
		old   fs.FileMode
		isDir bool
		want  fs.FileMode
	}{
		{"0640", 0o755, false, 0o640},
		{"4755", 0o600, false, 0o755 | fs.ModeSetuid},
		{"+x", 0o644, false, 0o755},
		{"a-w", 0o664, false, 0o444},
		{"u=rwX,go=rX", 0o600, false, 0o644},
		{"u=rwX,go=rX", 0o700, false, 0o755},
		{"u=rwX,go=rX", 0o700, true, 0o755},
		{"go-rwx", 0o777, false, 0o700},
		{"g+s,o=", 0o775, true, 0o770 | fs.ModeSetgid},
		{"+t", 0o777, true, 0o777 | fs.ModeSticky},
	} {
		f, err := parseChmod(c.spec)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		if got := f(c.old, c.isDir); got != c.want {
			t.Errorf("%s on %v (dir %v) = %v, want %v", c.spec, c.old, c.isDir, got, c.want)
		}
	}
	for _, bad := range []string{"", "9999", "u", "u~x", "u+q", "17777"} {
		if _, err := parseChmod(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
