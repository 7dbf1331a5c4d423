package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// mobyMaskedPaths and mobyReadonlyPaths are copied by hand from moby's
// daemon/pkg/oci/defaults.go (defaultLinuxMaskedPaths before the per-CPU
// thermal_throttle entries, and Linux.ReadonlyPaths), so that a change to
// ours shows up here as a difference from Docker.
var (
	mobyMaskedPaths = []string{
		"/proc/acpi",
		"/proc/asound",
		"/proc/interrupts",
		"/proc/kcore",
		"/proc/keys",
		"/proc/latency_stats",
		"/proc/sched_debug",
		"/proc/scsi",
		"/proc/timer_list",
		"/proc/timer_stats",
		"/sys/devices/virtual/powercap",
		"/sys/firmware",
	}
	mobyReadonlyPaths = []string{
		"/proc/bus",
		"/proc/fs",
		"/proc/irq",
		"/proc/sys",
		"/proc/sysrq-trigger",
	}
)

func TestDefaultPathsMatchDocker(t *testing.T) {
	got := DefaultMaskedPaths()
	if len(got) < len(mobyMaskedPaths) || !slices.Equal(got[:len(mobyMaskedPaths)], mobyMaskedPaths) {
		t.Errorf("DefaultMaskedPaths() = %q, want it to start with %q", got, mobyMaskedPaths)
	}
	thermal := regexp.MustCompile(`^/sys/devices/system/cpu/cpu[0-9]+/thermal_throttle$`)
	for _, p := range got[min(len(got), len(mobyMaskedPaths)):] {
		if !thermal.MatchString(p) {
			t.Errorf("DefaultMaskedPaths() has %q after Docker's fixed list, want only thermal_throttle dirs", p)
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("DefaultMaskedPaths() has %q, which does not exist: %v", p, err)
		}
	}
	if got := DefaultReadonlyPaths(); !slices.Equal(got, mobyReadonlyPaths) {
		t.Errorf("DefaultReadonlyPaths() = %q, want %q", got, mobyReadonlyPaths)
	}
	// The defaults are fresh slices: a caller changing one changes nothing.
	DefaultReadonlyPaths()[0] = "/changed"
	if DefaultReadonlyPaths()[0] != "/proc/bus" {
		t.Error("DefaultReadonlyPaths shares its slice between calls")
	}
}

func TestSpecLists(t *testing.T) {
	var s Spec
	if got := s.readonlyPaths(); !slices.Equal(got, mobyReadonlyPaths) {
		t.Errorf("nil ReadonlyPaths: got %q, want Docker's", got)
	}
	if got := (&Spec{Privileged: true}).maskedPaths(); got != nil {
		t.Errorf("privileged: masked %q, want none", got)
	}
	if got := (&Spec{MaskedPaths: []string{}}).maskedPaths(); len(got) != 0 {
		t.Errorf("empty MaskedPaths: got %q, want none", got)
	}
	if got := (&Spec{Privileged: true, ReadonlyPaths: []string{"/x"}}).readonlyPaths(); !slices.Equal(got, []string{"/x"}) {
		t.Errorf("privileged with an explicit list: got %q", got)
	}
	if got := s.shmSize(); got != 64<<20 {
		t.Errorf("default shm size %d", got)
	}
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{
		"0\n":         {0},
		"0-3":         {0, 1, 2, 3},
		"0-1,4,6-7\n": {0, 1, 4, 6, 7},
		"":            nil,
		"x,2,3-1":     {2},
	} {
		if got := parseCPUList(in); !slices.Equal(got, want) {
			t.Errorf("parseCPUList(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestSpecDevices(t *testing.T) {
	s := Spec{Devices: []Device{
		{Path: "/dev/null", Type: 'c', Major: 1, Minor: 3, Mode: 0o600},
		{Path: "/dev/net/../net/tun", Type: 'c', Major: 10, Minor: 200},
	}}
	devs, err := s.devices()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != len(DefaultDevices())+1 || devs[0].Mode != 0o600 || devs[len(devs)-1].Path != "/dev/net/tun" {
		t.Errorf("devices() = %+v", devs)
	}
	for _, bad := range []Device{
		{Path: "/etc/null", Type: 'c'},
		{Path: "dev/null", Type: 'c'},
		{Path: "/dev/../etc/x", Type: 'c'},
		{Path: "/dev/x", Type: 'p'},
	} {
		if _, err := (&Spec{Devices: []Device{bad}}).devices(); err == nil {
			t.Errorf("devices() accepted %+v", bad)
		}
	}
}

func TestCheckProc(t *testing.T) {
	root := t.TempDir()
	if err := CheckProc(root); err != nil {
		t.Fatalf("empty rootfs: %v", err)
	}
	for _, d := range []string{"proc", "sys", "dev"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckProc(root); err != nil {
		t.Fatalf("ordinary dirs: %v", err)
	}

	link := t.TempDir()
	if err := os.Symlink("/../../../../proc", filepath.Join(link, "proc")); err != nil {
		t.Fatal(err)
	}
	err := CheckProc(link)
	const want = "rootfs: /proc is a symlink: refusing (CVE-2019-16884 class)"
	var ue *UnsafePathError
	if err == nil || err.Error() != want || !errors.As(err, &ue) || ue.Path != "/proc" {
		t.Errorf("proc symlink: got %v, want %q", err, want)
	}

	file := t.TempDir()
	if err := os.WriteFile(filepath.Join(file, "sys"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckProc(file); err == nil || err.Error() != "rootfs: /sys is not a directory: refusing (CVE-2019-16884 class)" {
		t.Errorf("sys file: got %v", err)
	}
}
