package process

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
# comment line
broken:x:notanumber:0::/nope:/bin/sh
short:x
twin:x:1001:1001::/first:/bin/sh
twin:x:1002:1002::/second:/bin/sh
nohome:x:1003:1003
`

const testGroup = `root:x:0:
daemon:x:1:
wheel:x:10:root,app
staff:x:50: app , other
app:x:1000:
docker:x:999:app
audio:x:29:
`

func TestResolveUserSpecs(t *testing.T) {
	tests := []struct {
		name     string
		spec     string
		groupAdd []string
		passwd   *string
		group    *string
		want     User
		wantErr  string
	}{
		{name: "default is root with root's groups", spec: "", want: User{0, 0, []uint32{0, 10}, "/root"}},
		{name: "root by name", spec: "root", want: User{0, 0, []uint32{0, 10}, "/root"}},
		{name: "name gives uid gid home and supplementary groups", spec: "app", want: User{1000, 1000, []uint32{1000, 10, 50, 999}, "/home/app"}},
		{name: "numeric uid with entry", spec: "1000", want: User{1000, 1000, []uint32{1000, 10, 50, 999}, "/home/app"}},
		{name: "numeric uid without entry", spec: "4242", want: User{4242, 0, []uint32{0}, "/"}},
		{name: "uid:gid numeric without entries", spec: "4242:4343", want: User{4242, 4343, []uint32{4343}, "/"}},
		{name: "name:group explicit has no supplementary groups", spec: "app:staff", want: User{1000, 50, []uint32{50}, "/home/app"}},
		{name: "name:gid", spec: "app:29", want: User{1000, 29, []uint32{29}, "/home/app"}},
		{name: "uid:group", spec: "1:wheel", want: User{1, 10, []uint32{10}, "/usr/sbin"}},
		{name: "empty group part means implicit", spec: "app:", want: User{1000, 1000, []uint32{1000, 10, 50, 999}, "/home/app"}},
		{name: ":group means root with that group", spec: ":audio", want: User{0, 29, []uint32{29}, "/root"}},
		{name: "first passwd match wins", spec: "twin", want: User{1001, 1001, []uint32{1001}, "/first"}},
		{name: "entry without home", spec: "nohome", want: User{1003, 1003, []uint32{1003}, "/"}},
		{name: "malformed uid line never matches", spec: "broken", wantErr: "unable to find user broken: no matching entries in passwd file"},
		{name: "unknown user", spec: "nobody", wantErr: "unable to find user nobody: no matching entries in passwd file"},
		{name: "unknown group", spec: "app:nogroup", wantErr: "unable to find group nogroup: no matching entries in group file"},
		{name: "uid out of range", spec: "2147483648", wantErr: "uids and gids must be in range 0-2147483647"},
		{name: "negative uid", spec: "-1", wantErr: "uids and gids must be in range 0-2147483647"},
		{name: "gid out of range", spec: "0:-5", wantErr: "uids and gids must be in range 0-2147483647"},
		{name: "group_add by name", spec: "4242", groupAdd: []string{"audio"}, want: User{4242, 0, []uint32{0, 29}, "/"}},
		{name: "group_add by gid in file", spec: "4242", groupAdd: []string{"999"}, want: User{4242, 0, []uint32{0, 999}, "/"}},
		{name: "group_add bare number", spec: "4242", groupAdd: []string{"7777"}, want: User{4242, 0, []uint32{0, 7777}, "/"}},
		{name: "group_add after supplementary, deduplicated", spec: "app", groupAdd: []string{"docker", "audio", "audio"}, want: User{1000, 1000, []uint32{1000, 10, 50, 999, 29}, "/home/app"}},
		{name: "group_add unknown name", spec: "app", groupAdd: []string{"video"}, wantErr: "unable to find group video: no matching entries in group file"},
		{name: "group_add out of range", spec: "app", groupAdd: []string{"4294967296"}, wantErr: "uids and gids must be in range 0-2147483647"},
		{name: "missing passwd: numeric user ok", spec: "1000:1000", passwd: ptr(""), group: ptr(""), want: User{1000, 1000, []uint32{1000}, "/"}},
		{name: "missing passwd: default root", spec: "", passwd: ptr(""), want: User{0, 0, []uint32{0}, "/"}},
		{name: "missing passwd: named user fails", spec: "app", passwd: ptr(""), wantErr: "unable to find user app: no matching entries in passwd file"},
		{name: "missing group: named group fails", spec: "0:staff", group: ptr(""), wantErr: "unable to find group staff: no matching entries in group file"},
		{name: "missing group: group_add number ok", spec: "0", group: ptr(""), groupAdd: []string{"5"}, want: User{0, 0, []uint32{0, 5}, "/root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRootfs(t)
			// ptr("") means "file missing"; nil means the standard file.
			if tt.passwd == nil {
				writeFile(t, root, "etc/passwd", testPasswd)
			}
			if tt.group == nil {
				writeFile(t, root, "etc/group", testGroup)
			}
			got, err := ResolveUser(root, tt.spec, tt.groupAdd)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.UID != tt.want.UID || got.GID != tt.want.GID || got.Home != tt.want.Home || !slices.Equal(got.AdditionalGids, tt.want.AdditionalGids) {
				t.Errorf("ResolveUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestResolveUserErrorsAreSentinels(t *testing.T) {
	root := newRootfs(t)
	if _, err := ResolveUser(root, "ghost", nil); !errors.Is(err, ErrNoPasswdEntries) {
		t.Errorf("err = %v, want ErrNoPasswdEntries", err)
	}
	if _, err := ResolveUser(root, "0:ghost", nil); !errors.Is(err, ErrNoGroupEntries) {
		t.Errorf("err = %v, want ErrNoGroupEntries", err)
	}
	if _, err := ResolveUser(root, "99999999999", nil); !errors.Is(err, ErrIDRange) {
		t.Errorf("err = %v, want ErrIDRange", err)
	}
}

// An image can plant /etc/passwd as a symlink to a host file. It must resolve
// inside the rootfs, never reach the host file.
func TestResolveUserSymlinkEscape(t *testing.T) {
	outside := t.TempDir()
	hostPasswd := writeFile(t, outside, "passwd", "evil:x:0:0::/host:/bin/sh\n")
	rel := func(root string) string {
		r, err := filepath.Rel(filepath.Join(root, "etc"), hostPasswd)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	t.Run("absolute link", func(t *testing.T) {
		root := newRootfs(t)
		symlink(t, hostPasswd, root, "etc/passwd")
		if _, err := ResolveUser(root, "evil", nil); err == nil || !strings.Contains(err.Error(), "unable to find user evil") {
			t.Fatalf("host passwd was read: err = %v", err)
		}
		u, err := ResolveUser(root, "0", nil)
		if err != nil || u.Home != "/" {
			t.Fatalf("numeric user with escaped passwd: %+v, %v", u, err)
		}
	})
	t.Run("relative dot-dot link", func(t *testing.T) {
		root := newRootfs(t)
		symlink(t, rel(root), root, "etc/passwd")
		if _, err := ResolveUser(root, "evil", nil); err == nil {
			t.Fatal("host passwd was read through ../ link")
		}
	})
	t.Run("absolute link resolves inside the rootfs", func(t *testing.T) {
		root := newRootfs(t)
		symlink(t, hostPasswd, root, "etc/passwd")
		// The same path, inside the rootfs, holds a different file.
		writeFile(t, root, hostPasswd, "inside:x:77:77::/in:/bin/sh\n")
		u, err := ResolveUser(root, "inside", nil)
		if err != nil || u.UID != 77 || u.Home != "/in" {
			t.Fatalf("ResolveUser = %+v, %v; want the rootfs's file", u, err)
		}
		if _, err := ResolveUser(root, "evil", nil); err == nil {
			t.Fatal("host passwd was read")
		}
	})
	t.Run("symlinked etc directory", func(t *testing.T) {
		root := newRootfs(t)
		symlink(t, outside, root, "etc")
		if _, err := ResolveUser(root, "evil", nil); err == nil {
			t.Fatal("host passwd was read through a symlinked /etc")
		}
	})
}

func TestResolveUserRefusesSpecialFiles(t *testing.T) {
	root := newRootfs(t)
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A FIFO would block a plain open for reading forever.
	if err := syscall.Mkfifo(filepath.Join(root, "etc", "passwd"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := ResolveUser(root, "0", nil); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("err = %v, want a not-a-regular-file error", err)
	}
}

func TestResolveUserMissingRootfs(t *testing.T) {
	newRootfs(t)
	if _, err := ResolveUser(filepath.Join(t.TempDir(), "nope"), "0", nil); err == nil {
		t.Fatal("missing rootfs accepted")
	}
}

func TestSplitUserSpec(t *testing.T) {
	tests := []struct{ spec, user, group string }{
		{"", "", ""},
		{"app", "app", ""},
		{"app:staff", "app", "staff"},
		{":staff", "", "staff"},
		{"app:", "app", ""},
		{"a:b:c", "a", "b:c"},
	}
	for _, tt := range tests {
		u, g := splitUserSpec(tt.spec)
		if u != tt.user || g != tt.group {
			t.Errorf("splitUserSpec(%q) = %q, %q", tt.spec, u, g)
		}
	}
}
