package process

import (
	"errors"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestArgs(t *testing.T) {
	imgEP := []string{"/entry.sh"}
	imgCmd := []string{"serve", "--port", "80"}
	tests := []struct {
		name          string
		imgEP, imgCmd []string
		ep, cmd       []string
		epSet, cmdSet bool
		want          []string
		wantErr       error
	}{
		{name: "image only", imgEP: imgEP, imgCmd: imgCmd, want: []string{"/entry.sh", "serve", "--port", "80"}},
		{name: "cmd override keeps image entrypoint", imgEP: imgEP, imgCmd: imgCmd, cmd: []string{"sh"}, cmdSet: true, want: []string{"/entry.sh", "sh"}},
		{name: "entrypoint override drops image cmd", imgEP: imgEP, imgCmd: imgCmd, ep: []string{"/bin/echo"}, epSet: true, want: []string{"/bin/echo"}},
		{name: "entrypoint and cmd override", imgEP: imgEP, imgCmd: imgCmd, ep: []string{"/bin/echo"}, epSet: true, cmd: []string{"hi"}, cmdSet: true, want: []string{"/bin/echo", "hi"}},
		{name: `docker run --entrypoint "" with cmd`, imgEP: imgEP, imgCmd: imgCmd, ep: []string{""}, epSet: true, cmd: []string{"sh", "-c", "true"}, cmdSet: true, want: []string{"sh", "-c", "true"}},
		{name: `docker run --entrypoint "" alone resets image cmd`, imgEP: imgEP, imgCmd: imgCmd, ep: []string{""}, epSet: true, wantErr: ErrNoCommand},
		{name: "compose entrypoint [] keeps image cmd (daemon merge)", imgEP: imgEP, imgCmd: imgCmd, ep: []string{}, epSet: true, want: []string{"serve", "--port", "80"}},
		{name: "compose entrypoint [] with command", imgEP: imgEP, imgCmd: imgCmd, ep: []string{}, epSet: true, cmd: []string{"ls"}, cmdSet: true, want: []string{"ls"}},
		{name: "compose command [] is like unset", imgEP: imgEP, imgCmd: imgCmd, cmd: []string{}, cmdSet: true, want: []string{"/entry.sh", "serve", "--port", "80"}},
		{name: "compose entrypoint [] and command [] use image cmd", imgEP: imgEP, imgCmd: imgCmd, ep: []string{}, epSet: true, cmd: []string{}, cmdSet: true, want: []string{"serve", "--port", "80"}},
		{name: "image without entrypoint", imgCmd: []string{"/bin/sh"}, want: []string{"/bin/sh"}},
		{name: "image without entrypoint, cmd override", imgCmd: []string{"/bin/sh"}, cmd: []string{"echo", "x"}, cmdSet: true, want: []string{"echo", "x"}},
		{name: "image entrypoint only", imgEP: []string{"/app"}, want: []string{"/app"}},
		{name: "shell form arrives split", imgCmd: []string{"/bin/sh", "-c", "echo $HOME"}, want: []string{"/bin/sh", "-c", "echo $HOME"}},
		{name: "nothing at all", wantErr: ErrNoCommand},
		{name: "entrypoint [] and no image cmd", imgEP: imgEP, ep: []string{}, epSet: true, wantErr: ErrNoCommand},
		{name: "unset fields ignore their values", imgEP: imgEP, imgCmd: imgCmd, ep: []string{"x"}, cmd: []string{"y"}, want: []string{"/entry.sh", "serve", "--port", "80"}},
		{name: "multi-element entrypoint starting empty is kept", ep: []string{"", "a"}, epSet: true, want: []string{"", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			epIn, cmdIn := slices.Clone(tt.imgEP), slices.Clone(tt.imgCmd)
			got, err := Args(tt.imgEP, tt.imgCmd, tt.ep, tt.cmd, tt.epSet, tt.cmdSet)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && err.Error() != "no command specified" {
				t.Errorf("error text %q, want Docker's", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Args = %q, want %q", got, tt.want)
			}
			if !slices.Equal(epIn, tt.imgEP) || !slices.Equal(cmdIn, tt.imgCmd) {
				t.Error("inputs modified")
			}
		})
	}
}

func TestArgsDoesNotAlias(t *testing.T) {
	img := []string{"/a", "b"}
	got, err := Args(nil, img, nil, nil, false, false)
	if err != nil {
		t.Fatal(err)
	}
	got[0] = "changed"
	if img[0] != "/a" {
		t.Fatal("result aliases the image's Cmd")
	}
}

func TestWorkingDir(t *testing.T) {
	tests := []struct {
		img, override, want, wantErr string
	}{
		{"", "", "/", ""},
		{"/app", "", "/app", ""},
		{"/app/", "", "/app", ""},
		{"/app", "/srv//x/../y", "/srv/y", ""},
		{"", "/", "/", ""},
		{"/app", "x", "", "the working directory 'x' is invalid, it needs to be an absolute path"},
		{"/app", "./x", "", "the working directory './x' is invalid, it needs to be an absolute path"},
		{"rel", "", "", "the image's working directory 'rel' is invalid, it needs to be an absolute path"},
		{"rel", "/ok", "/ok", ""},
	}
	for _, tt := range tests {
		got, err := WorkingDir(tt.img, tt.override)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("WorkingDir(%q,%q) err = %v, want %q", tt.img, tt.override, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("WorkingDir(%q,%q) = %q, %v; want %q", tt.img, tt.override, got, err, tt.want)
		}
	}
}

func TestEnv(t *testing.T) {
	tests := []struct {
		name            string
		image, override []string
		want            []string
	}{
		{name: "empty", want: []string{"PATH=" + DefaultPath}},
		{name: "image only", image: []string{"A=1", "B=2"}, want: []string{"PATH=" + DefaultPath, "A=1", "B=2"}},
		{name: "override first then image rest", image: []string{"A=1", "B=2"}, override: []string{"B=3", "C=4"},
			want: []string{"PATH=" + DefaultPath, "B=3", "C=4", "A=1"}},
		{name: "image PATH replaces default in place", image: []string{"X=1", "PATH=/opt/bin"}, want: []string{"PATH=/opt/bin", "X=1"}},
		{name: "override PATH wins over image PATH", image: []string{"PATH=/opt/bin"}, override: []string{"PATH=/mine"}, want: []string{"PATH=/mine"}},
		{name: "later override wins, at its position", override: []string{"A=1", "B=2", "A=3"}, want: []string{"PATH=" + DefaultPath, "B=2", "A=3"}},
		{name: "empty value kept", override: []string{"A="}, want: []string{"PATH=" + DefaultPath, "A="}},
		{name: "value with =", override: []string{"A=b=c"}, want: []string{"PATH=" + DefaultPath, "A=b=c"}},
		{name: "unset hides image value", image: []string{"A=1", "B=2"}, override: []string{"A"}, want: []string{"PATH=" + DefaultPath, "B=2"}},
		{name: "unset PATH removes it", override: []string{"PATH"}, want: []string{}},
		{name: "HOME not added by Env", image: []string{"HOME=/root"}, want: []string{"PATH=" + DefaultPath, "HOME=/root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Env(tt.image, tt.override)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Env = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEnvWithDaemonDefaults(t *testing.T) {
	got := EnvWith(DefaultEnv("abc123", true), []string{"TERM=dumb", "LANG=C"}, []string{"HOSTNAME=mine", "X=1"})
	want := []string{"PATH=" + DefaultPath, "HOSTNAME=mine", "TERM=dumb", "X=1", "LANG=C"}
	if !slices.Equal(got, want) {
		t.Errorf("EnvWith = %q, want %q", got, want)
	}
	if got := DefaultEnv("", false); !slices.Equal(got, []string{"PATH=" + DefaultPath}) {
		t.Errorf("DefaultEnv = %q", got)
	}
}

func TestWithHome(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		home string
		want []string
	}{
		{"added", []string{"A=1"}, "/home/app", []string{"A=1", "HOME=/home/app"}},
		{"default slash", []string{"A=1"}, "", []string{"A=1", "HOME=/"}},
		{"kept when set", []string{"HOME=/x", "A=1"}, "/home/app", []string{"HOME=/x", "A=1"}},
		{"empty HOME replaced", []string{"HOME=", "A=1"}, "/root", []string{"A=1", "HOME=/root"}},
	}
	for _, tt := range tests {
		if got := WithHome(tt.env, tt.home); !slices.Equal(got, tt.want) {
			t.Errorf("%s: WithHome = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestValidateEnv(t *testing.T) {
	if err := ValidateEnv([]string{"A=1", "B", "C="}); err != nil {
		t.Errorf("valid env refused: %v", err)
	}
	for _, bad := range []string{"=x", "", "A=a\x00b"} {
		if err := ValidateEnv([]string{bad}); err == nil {
			t.Errorf("ValidateEnv(%q) = nil", bad)
		}
	}
	if err := ValidateEnv([]string{"=foo"}); err == nil || err.Error() != "invalid environment variable: =foo" {
		t.Errorf("text = %v", err)
	}
}

func TestResolveImageConfig(t *testing.T) {
	root := newRootfs(t)
	writeFile(t, root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
	writeFile(t, root, "etc/group", "root:x:0:\napp:x:1000:\nstaff:x:50:app\n")
	cfg := v1.Config{
		Entrypoint: []string{"/entry.sh"},
		Cmd:        []string{"run"},
		Env:        []string{"PATH=/usr/bin:/bin", "APP=1"},
		WorkingDir: "/srv",
		User:       "app",
	}
	p, err := Resolve(root, cfg, Overrides{Cmd: []string{"debug"}, CmdSet: true, Env: []string{"APP=2"}, Hostname: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Args, []string{"/entry.sh", "debug"}) {
		t.Errorf("Args = %q", p.Args)
	}
	wantEnv := []string{"PATH=/usr/bin:/bin", "HOSTNAME=h1", "APP=2", "HOME=/home/app"}
	if !slices.Equal(p.Env, wantEnv) {
		t.Errorf("Env = %q, want %q", p.Env, wantEnv)
	}
	if p.Cwd != "/srv" || p.User.UID != 1000 || p.User.GID != 1000 || !slices.Equal(p.User.AdditionalGids, []uint32{1000, 50}) {
		t.Errorf("Process = %+v", p)
	}
	if _, err := Resolve(root, cfg, Overrides{User: "nobody"}); err == nil {
		t.Error("unknown user accepted")
	}
	if _, err := Resolve(root, cfg, Overrides{Env: []string{"=x"}}); err == nil {
		t.Error("bad env accepted")
	}
}
