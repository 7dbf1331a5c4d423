package container

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"TERM": syscall.SIGTERM, "SIGKILL": syscall.SIGKILL, "hup": syscall.SIGHUP, "9": syscall.SIGKILL} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"NOPE", "0", "65", ""} {
		if _, err := ParseSignal(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSignal(%q) = %v, want ErrInvalid", in, err)
		}
	}
}

func TestCheckOptionsRefuses(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Memory: 1024}, "Minimum memory limit allowed is 6MB"},
		{Options{CPUs: 1e6}, "range of CPUs is from 0.01"},
		{Options{PidsLimit: -2}, "invalid pids limit"},
		{Options{CapAdd: []string{"NOPE"}}, "unknown capability"},
		{Options{Ulimits: []string{"nofile"}}, "invalid ulimit argument"},
		{Options{SecurityOpt: []string{"label=disable"}}, "invalid --security-opt"},
		{Options{SecurityOpt: []string{"seccomp=/no/such/profile.json"}}, "opening seccomp profile"},
		{Options{StopSignal: "SIGNOPE"}, "Invalid signal"},
	} {
		_, err := checkOptions(tc.o)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkOptions(%+v) = %v, want ErrInvalid with %q", tc.o, err, tc.want)
		}
	}
}

func TestCheckOptionsSecurity(t *testing.T) {
	r, err := checkOptions(Options{})
	if err != nil || len(r.Seccomp) == 0 || len(r.Capabilities) != 14 || r.NoNewPrivs {
		t.Errorf("defaults: %d caps, seccomp %d bytes, nnp %v, %v", len(r.Capabilities), len(r.Seccomp), r.NoNewPrivs, err)
	}
	r, err = checkOptions(Options{SecurityOpt: []string{"seccomp=unconfined", "no-new-privileges"}, CapDrop: []string{"ALL"}})
	if err != nil || len(r.Seccomp) != 0 || len(r.Capabilities) != 0 || !r.NoNewPrivs {
		t.Errorf("unconfined, nnp, drop ALL: %+v, %v", r, err)
	}
	r, err = checkOptions(Options{Privileged: true, SecurityOpt: []string{"seccomp=/ignored.json"}})
	if err != nil || len(r.Seccomp) != 0 || len(r.Capabilities) <= 14 {
		t.Errorf("privileged: %d caps, seccomp %d bytes, %v", len(r.Capabilities), len(r.Seccomp), err)
	}
}

func TestRunDirFitsTheSocket(t *testing.T) {
	id := strings.Repeat("ab", 32)
	if got := runDir("/run/berth", id); got != "/run/berth/containers/"+id {
		t.Errorf("runDir = %s", got)
	}
	long := "/tmp/" + strings.Repeat("x", 40)
	if got := runDir(long, id); got != long+"/containers/"+id[:12] {
		t.Errorf("runDir(long) = %s", got)
	}
}

func TestLookup(t *testing.T) {
	root := t.TempDir()
	for i, c := range []*Container{
		{ID: "aaaa1111" + strings.Repeat("0", 56), Name: "web"},
		{ID: "aaaa2222" + strings.Repeat("0", 56), Name: "db"},
		{ID: "bbbb1111" + strings.Repeat("0", 56), Name: "aaaa1"},
	} {
		c.Created = time.Unix(int64(i), 0)
		c.bundle = filepath.Join(containersDir(root), c.ID)
		if err := os.MkdirAll(c.bundle, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := c.save(); err != nil {
			t.Fatal(err)
		}
	}
	for arg, want := range map[string]string{"web": "web", "/db": "db", "aaaa2": "db", "aaaa1": "aaaa1", "bbbb": "aaaa1"} {
		if c, err := Lookup(root, arg); err != nil || c.Name != want {
			t.Errorf("Lookup(%q) = %v, %v; want %s", arg, c, err, want)
		}
	}
	if _, err := Lookup(root, "aaaa"); err == nil || !strings.Contains(err.Error(), "multiple containers") {
		t.Errorf("Lookup(ambiguous) = %v", err)
	}
	if _, err := Lookup(root, "nope"); !errors.Is(err, ErrNotFound) || err.Error() != "No such container: nope" {
		t.Errorf("Lookup(nope) = %v", err)
	}
}
