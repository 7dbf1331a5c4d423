package volumes

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		opts map[string]string
		want mountSpec
	}{
		{"none", nil, mountSpec{}},
		{"tmpfs", map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=100m,uid=1000"},
			mountSpec{fstype: "tmpfs", device: "tmpfs", data: "size=100m,uid=1000"}},
		{"flags and data", map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "noexec,mode=1777,nosuid,,nodev"},
			mountSpec{fstype: "tmpfs", device: "tmpfs", flags: unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV, data: "mode=1777"}},
		{"ro then rw", map[string]string{"type": "ext4", "device": "/dev/sdb1", "o": "ro,noatime,rw"},
			mountSpec{fstype: "ext4", device: "/dev/sdb1", flags: unix.MS_NOATIME}},
		{"defaults", map[string]string{"type": "ext4", "device": "/dev/sdb1", "o": "defaults"},
			mountSpec{fstype: "ext4", device: "/dev/sdb1"}},
		{"bind", map[string]string{"type": "none", "device": dir, "o": "bind"},
			mountSpec{fstype: "none", device: dir, flags: unix.MS_BIND, bind: true}},
		{"rbind ro rprivate", map[string]string{"type": "none", "device": dir, "o": "rbind,ro,rprivate"},
			mountSpec{fstype: "none", device: dir, flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, propagation: unix.MS_PRIVATE | unix.MS_REC, bind: true}},
		{"type bind", map[string]string{"type": "bind", "device": dir},
			mountSpec{fstype: "none", device: dir, flags: unix.MS_BIND, bind: true}},
		{"nfs", map[string]string{"type": "nfs", "device": ":/export/data", "o": "addr=10.0.0.5,rw,nfsvers=4"},
			mountSpec{fstype: "nfs", device: ":/export/data", data: "addr=10.0.0.5,nfsvers=4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := parseOptions("v", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.opts == nil {
				if spec != nil {
					t.Fatalf("parseOptions(nil) = %+v", spec)
				}
				return
			}
			if *spec != tc.want {
				t.Errorf("parseOptions = %+v, want %+v", *spec, tc.want)
			}
		})
	}
}

func TestMountErrorSaysWhat(t *testing.T) {
	err := &mountError{op: "mount", source: "//srv/share", target: "/v/_data", fstype: "cifs", flags: 0, data: "username=me,password=secret,vers=3.0", err: unix.EACCES}
	msg := err.Error()
	if strings.Contains(msg, "secret") || !strings.Contains(msg, "password=********") || !strings.Contains(msg, "/v/_data") || !errors.Is(err, unix.EACCES) {
		t.Errorf("mount error %q", msg)
	}
}

func isMounted(t *testing.T, path string) bool {
	t.Helper()
	m, err := isMountPoint(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// mountCount is how many mounts are stacked on path.
func mountCount(t *testing.T, path string) int {
	t.Helper()
	n := 0
	for _, m := range mountsUnder(t, path) {
		if m == path {
			n++
		}
	}
	return n
}

func tmpfsOptions(o string) Options {
	return Options{DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": o}}
}

func TestTmpfsVolume(t *testing.T) {
	requireRoot(t)
	s, _ := newStore(t)
	v := mustCreate(t, s, "cache", tmpfsOptions("size=1m,uid=1234,gid=5678,mode=0750,noexec"))
	if isMounted(t, v.Mountpoint) {
		t.Fatal("Create mounted the volume")
	}
	p, err := s.Mount("cache", "c1")
	if err != nil {
		t.Fatal(err)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(p, &sfs); err != nil || sfs.Type != unix.TMPFS_MAGIC {
		t.Fatalf("Mount: %s is not a tmpfs (%x, %v)", p, sfs.Type, err)
	}
	if sfs.Flags&unix.ST_NOEXEC == 0 {
		t.Errorf("o=noexec: mount flags %#x", sfs.Flags)
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil || st.Uid != 1234 || st.Gid != 5678 || st.Mode&0o7777 != 0o750 {
		t.Errorf("tmpfs root: uid %d gid %d mode %#o (%v); want 1234 5678 0750 from o", st.Uid, st.Gid, st.Mode&0o7777, err)
	}
	if err := os.WriteFile(filepath.Join(p, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mount("cache", "c2"); err != nil {
		t.Fatal(err)
	}
	if n := mountCount(t, p); n != 1 {
		t.Errorf("two containers: mounted %d times", n)
	}
	if err := s.Unmount("cache", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "f")); err != nil {
		t.Errorf("unmounted with a container still on it: %v", err)
	}
	if err := s.Unmount("cache", "c2"); err != nil {
		t.Fatal(err)
	}
	if isMounted(t, p) {
		t.Error("still mounted after the last Unmount")
	}
	if empty, err := IsEmpty(p); err != nil || !empty {
		t.Errorf("_data after the last Unmount: empty %v, %v", empty, err)
	}
	if err := s.Unmount("cache", "c2"); err != nil {
		t.Errorf("Unmount again: %v", err)
	}

	// A reboot forgets the mount, not the record: the next Mount mounts.
	if _, err := s.Mount("cache", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unmount(p, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mount("cache", "c2"); err != nil {
		t.Fatal(err)
	}
	if n := mountCount(t, p); n != 1 {
		t.Errorf("after a lost mount: mounted %d times, want 1", n)
	}
	if got := mustGet(t, s, "cache"); !slices.Equal(got.Mounts, []string{"c1", "c2"}) {
		t.Errorf("Mounts = %v", got.Mounts)
	}
	// Remove -f of a mounted volume unmounts it first.
	if err := s.Remove("cache", true); err != nil {
		t.Fatal(err)
	}
	if left := entries(t, s); len(left) > 0 {
		t.Errorf("left after Remove: %v", left)
	}
}

func TestMountFailureLeavesNothing(t *testing.T) {
	s, _ := newStore(t)
	v := mustCreate(t, s, "disk", Options{DriverOpts: map[string]string{"type": "ext4", "device": "/nonexistent/berth-disk"}})
	_, err := s.Mount("disk", "c1")
	var errno unix.Errno
	if err == nil || !errors.As(err, &errno) || !strings.HasPrefix(err.Error(), "volume disk: mount "+v.Mountpoint+" from /nonexistent/berth-disk (type ext4") {
		t.Fatalf("Mount of a missing device = %v", err)
	}
	if isMounted(t, v.Mountpoint) {
		t.Error("mounted after a failed Mount")
	}
	if got := mustGet(t, s, "disk"); got.Mounts != nil {
		t.Errorf("Mounts after a failed Mount: %v", got.Mounts)
	}
}

// writeHostTree makes the host directory a bind volume binds, with files
// that must outlive the volume.
func writeHostTree(t *testing.T) string {
	t.Helper()
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"keep.txt": "precious", "sub/deep.txt": "also precious"} {
		if err := os.WriteFile(filepath.Join(host, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return host
}

func checkHostTree(t *testing.T, host string, extra ...string) {
	t.Helper()
	for name, content := range map[string]string{"keep.txt": "precious", "sub/deep.txt": "also precious"} {
		if b, err := os.ReadFile(filepath.Join(host, name)); err != nil || string(b) != content {
			t.Errorf("host file %s: %q, %v", name, b, err)
		}
	}
	for _, name := range extra {
		if _, err := os.Stat(filepath.Join(host, name)); err != nil {
			t.Errorf("host file %s: %v", name, err)
		}
	}
}

// The rule that matters most: removing a volume that binds a host
// directory deletes nothing in it.
func TestBindVolumeRemoveKeepsHostFiles(t *testing.T) {
	requireRoot(t)
	for _, opts := range []map[string]string{
		{"type": "none", "o": "bind"},
		{"type": "none", "o": "rbind"},
		{"type": "bind"},
	} {
		t.Run("type="+opts["type"]+",o="+opts["o"], func(t *testing.T) {
			s, root := newStore(t)
			host := writeHostTree(t)
			opts["device"] = host
			v := mustCreate(t, s, "bound", Options{DriverOpts: opts})
			p, err := s.Mount("bound", "c1")
			if err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(p, "keep.txt")); err != nil || string(b) != "precious" {
				t.Fatalf("bound volume: %q, %v", b, err)
			}
			if err := os.WriteFile(filepath.Join(p, "written.txt"), []byte("by the container"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := s.Use("bound", "c1"); err != nil {
				t.Fatal(err)
			}
			if err := s.Remove("bound", false); !errors.Is(err, ErrInUse) {
				t.Fatalf("Remove in use = %v", err)
			}
			err = s.Remove("bound", true)
			checkHostTree(t, host, "written.txt")
			if err != nil {
				t.Fatal(err)
			}
			if m := mountsUnder(t, root); len(m) > 0 {
				t.Errorf("mounts left: %v", m)
			}
			if _, err := os.Lstat(v.Mountpoint); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("_data after Remove: %v", err)
			}
		})
	}
}

func TestBindVolumeReadOnly(t *testing.T) {
	requireRoot(t)
	s, _ := newStore(t)
	host := writeHostTree(t)
	mustCreate(t, s, "ro", Options{DriverOpts: map[string]string{"type": "none", "o": "bind,ro", "device": host}})
	p, err := s.Mount("ro", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write into a bind,ro volume: %v, want EROFS", err)
	}
	if err := os.WriteFile(filepath.Join(host, "x"), nil, 0o644); err != nil {
		t.Errorf("the host directory became read-only: %v", err)
	}
	if err := s.Unmount("ro", "c1"); err != nil {
		t.Fatal(err)
	}
	if isMounted(t, p) {
		t.Error("still mounted")
	}
}

// Should the unmount not happen (a mount berth did not make, or two
// stacked by a crash), removal still never enters a mount.
func TestRemoveNeverEntersAMount(t *testing.T) {
	requireRoot(t)
	bind := func(t *testing.T, src, dst string) {
		t.Helper()
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = unmountAll(dst) })
	}

	t.Run("a mount inside a plain volume", func(t *testing.T) {
		s, _ := newStore(t)
		host := writeHostTree(t)
		v := mustCreate(t, s, "plain", Options{})
		sub := filepath.Join(v.Mountpoint, "a", "sub")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		bind(t, host, sub)
		err := s.Remove("plain", true)
		checkHostTree(t, host)
		if !errors.Is(err, errMountPoint) || !strings.Contains(err.Error(), "remove volume plain: remove "+sub+": a mount point") {
			t.Fatalf("Remove over a mount = %v", err)
		}
		mustGet(t, s, "plain")
		if err := unmountAll(sub); err != nil {
			t.Fatal(err)
		}
		if err := s.Remove("plain", true); err != nil {
			t.Fatalf("Remove once unmounted: %v", err)
		}
		checkHostTree(t, host)
	})

	t.Run("a mount on a plain volume's _data", func(t *testing.T) {
		s, _ := newStore(t)
		host := writeHostTree(t)
		v := mustCreate(t, s, "plain", Options{})
		bind(t, host, v.Mountpoint)
		err := s.Remove("plain", true)
		checkHostTree(t, host)
		if !errors.Is(err, errMountPoint) {
			t.Fatalf("Remove of a mounted _data = %v", err)
		}
	})

	t.Run("two stacked mounts on a bind volume", func(t *testing.T) {
		s, _ := newStore(t)
		host := writeHostTree(t)
		v := mustCreate(t, s, "bound", Options{DriverOpts: map[string]string{"type": "none", "o": "bind", "device": host}})
		if _, err := s.Mount("bound", "c1"); err != nil {
			t.Fatal(err)
		}
		bind(t, host, v.Mountpoint)
		if n := mountCount(t, v.Mountpoint); n != 2 {
			t.Fatalf("%d mounts, want 2", n)
		}
		err := s.Remove("bound", true)
		checkHostTree(t, host)
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestConcurrentTmpfsMounts(t *testing.T) {
	requireRoot(t)
	s, root := newStore(t)
	v := mustCreate(t, s, "shared", tmpfsOptions("size=1m"))
	testConcurrent(t, root, "shared", func(*Volume) {
		if n := mountCount(t, v.Mountpoint); n != 1 {
			t.Errorf("mounted %d times by concurrent containers, want 1", n)
		}
	})
	if isMounted(t, v.Mountpoint) {
		t.Error("still mounted after every container unmounted")
	}
}
