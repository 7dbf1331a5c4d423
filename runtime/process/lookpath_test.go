package process

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookPath(t *testing.T) {
	root := newRootfs(t)
	writeFileMode(t, root, "bin/sh", "#!", 0o755)
	writeFileMode(t, root, "usr/bin/tool", "#!", 0o755)
	writeFileMode(t, root, "usr/local/bin/tool", "#!", 0o644) // earlier in PATH but not executable
	writeFileMode(t, root, "opt/app/run", "#!", 0o700)
	writeFileMode(t, root, "etc/passwd", "x", 0o644)
	writeFileMode(t, root, "usr/bin/onlyx", "#!", 0o001)
	if err := os.MkdirAll(filepath.Join(root, "usr/sbin/dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, "/bin/sh", root, "usr/bin/shlink")   // absolute link inside the rootfs
	symlink(t, "../../bin/sh", root, "usr/bin/rel") // relative link inside the rootfs

	// A host executable that only an escaping symlink could reach.
	outside := t.TempDir()
	hostBin := writeFileMode(t, outside, "hostbin", "#!", 0o755)
	symlink(t, hostBin, root, "usr/bin/escape")
	rel, err := filepath.Rel(filepath.Join(root, "usr/bin"), hostBin)
	if err != nil {
		t.Fatal(err)
	}
	symlink(t, rel, root, "usr/bin/escape2")

	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	tests := []struct {
		name, file string
		env        []string
		want       string
		wantErr    string
	}{
		{name: "found in PATH", file: "sh", env: env, want: "/bin/sh"},
		{name: "non-executable earlier match is skipped", file: "tool", env: env, want: "/usr/bin/tool"},
		{name: "any x bit counts", file: "onlyx", env: env, want: "/usr/bin/onlyx"},
		{name: "default PATH when env has none", file: "tool", want: "/usr/bin/tool"},
		{name: "last PATH wins", file: "run", env: []string{"PATH=/bin", "PATH=/opt/app"}, want: "/opt/app/run"},
		{name: "not found", file: "nope", env: env, wantErr: `exec: "nope": executable file not found in $PATH`},
		{name: "directory in PATH is not a match", file: "dir", env: []string{"PATH=/usr/sbin"}, wantErr: "executable file not found in $PATH"},
		{name: "relative PATH entries are skipped", file: "sh", env: []string{"PATH=bin::."}, wantErr: "executable file not found in $PATH"},
		{name: "absolute path", file: "/opt/app/run", want: "/opt/app/run"},
		{name: "absolute path not executable", file: "/etc/passwd", wantErr: `exec: "/etc/passwd": permission denied`},
		{name: "absolute path missing", file: "/nope", wantErr: `exec: "/nope": stat /nope: no such file or directory`},
		{name: "absolute directory", file: "/usr", wantErr: `exec: "/usr": is a directory`},
		{name: "relative path with slash from /", file: "bin/sh", want: "bin/sh"},
		{name: "absolute symlink resolves inside", file: "shlink", env: env, want: "/usr/bin/shlink"},
		{name: "relative symlink inside", file: "rel", env: env, want: "/usr/bin/rel"},
		{name: "absolute symlink escaping is not followed out", file: "escape", env: env, wantErr: "executable file not found in $PATH"},
		{name: "dot-dot symlink escaping is not followed out", file: "escape2", env: env, wantErr: "executable file not found in $PATH"},
		{name: "escaping symlink by path", file: "/usr/bin/escape", wantErr: "no such file or directory"},
		{name: "empty name", file: "", env: env, wantErr: `exec: "": executable file not found in $PATH`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LookPath(root, tt.file, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LookPath(%q) = %q, %v; want error %q", tt.file, got, err, tt.wantErr)
				}
				var ee *exec.Error
				if !errors.As(err, &ee) {
					t.Errorf("error %T is not *exec.Error", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("LookPath(%q) = %q, %v; want %q", tt.file, got, err, tt.want)
			}
		})
	}
}

func TestLookPathFeedsExecError(t *testing.T) {
	root := newRootfs(t)
	writeFileMode(t, root, "data", "x", 0o644)
	for file, want := range map[string]int{"missing": 127, "/missing": 127, "/data": 126} {
		_, err := LookPath(root, file, nil)
		if code, msg := ExecError(file, err); code != want {
			t.Errorf("%s: code %d (%s), want %d", file, code, msg, want)
		}
	}
}

func TestLookPathMissingRootfs(t *testing.T) {
	newRootfs(t)
	_, err := LookPath(filepath.Join(t.TempDir(), "gone"), "sh", nil)
	if err == nil || strings.Contains(err.Error(), "not found in $PATH") {
		t.Fatalf("a missing rootfs must not look like a missing command: %v", err)
	}
}
