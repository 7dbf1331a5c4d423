package resolver

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// helperEnv makes the test binary an Update client instead of running the
// tests: "<path> <prefix> <count>" adds count entries <prefix>-<i>.
const helperEnv = "BERTH_RESOLVER_UPDATE_HELPER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		if err := runUpdateHelper(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runUpdateHelper(spec string) error {
	f := strings.Fields(spec)
	if len(f) != 3 {
		return fmt.Errorf("bad %s %q", helperEnv, spec)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		return err
	}
	return addEntries(f[0], f[1], n)
}

// addEntries adds n entries in n separate updates, to interleave with
// other writers as much as possible.
func addEntries(path, prefix string, n int) error {
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		err := Update(path, func(r *NetworkRecords) error {
			r.Network = "proj_default"
			r.Entries = append(r.Entries, Entry{ID: id, Names: []string{id}})
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func TestUpdateRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "net.json")
	if _, err := Read(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of a missing file: %v, want fs.ErrNotExist", err)
	}

	web := Entry{
		ID:    "0123456789abcdef",
		Names: []string{"proj-web-1", "web", "0123456789ab"},
		IPv4:  netip.MustParseAddr("172.20.0.2"),
		IPv6:  netip.MustParseAddr("fd00::2"),
	}
	db := Entry{ID: "fedcba9876543210", Names: []string{"proj-db-1", "db"}, IPv4: netip.MustParseAddr("172.20.0.3")}
	err := Update(path, func(r *NetworkRecords) error {
		if r.Network != "" || len(r.Entries) != 0 {
			t.Errorf("a missing file starts as %+v, want empty", r)
		}
		r.Network, r.Internal = "proj_default", true
		r.Entries = append(r.Entries, web, db)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Network != "proj_default" || !got.Internal || len(got.Entries) != 2 ||
		got.Entries[0].IPv6 != web.IPv6 || got.Entries[1].IPv6.IsValid() || got.Entries[1].IPv4 != db.IPv4 {
		t.Errorf("Read = %+v", got)
	}
	b, _ := os.ReadFile(path)
	if strings.Count(string(b), "ipv6") != 1 {
		t.Errorf("a zero IPv6 is written out:\n%s", b)
	}

	errNo := errors.New("no")
	if err := Update(path, func(r *NetworkRecords) error { r.Entries = nil; return errNo }); !errors.Is(err, errNo) {
		t.Errorf("Update = %v, want f's error", err)
	}
	if got, _ := Read(path); len(got.Entries) != 2 {
		t.Errorf("a failed Update wrote %+v", got)
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp"))
	if len(matches) != 0 {
		t.Errorf("temp files left: %v", matches)
	}

	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Update(path, func(*NetworkRecords) error { return nil }); err == nil {
		t.Error("Update over a corrupt file succeeded")
	}
}

func TestUpdateConcurrent(t *testing.T) {
	const writers, each = 8, 25
	path := filepath.Join(t.TempDir(), "net.json")
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			if err := addEntries(path, fmt.Sprintf("g%d", w), each); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	assertEntries(t, path, writers*each)
}

// TestUpdateProcesses runs writers in separate processes (the test binary
// re-executed), which a mutex in this process could not serialize, beside
// writers in this one.
func TestUpdateProcesses(t *testing.T) {
	const procs, each = 4, 25
	path := filepath.Join(t.TempDir(), "net.json")
	var cmds []*exec.Cmd
	for p := range procs {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s p%d %d", helperEnv, path, p, each))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	if err := addEntries(path, "parent", each); err != nil {
		t.Error(err)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("writer process: %v", err)
		}
	}
	assertEntries(t, path, (procs+1)*each)
}

func assertEntries(t *testing.T, path string, want int) {
	t.Helper()
	r, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, e := range r.Entries {
		ids[e.ID] = true
	}
	if len(r.Entries) != want || len(ids) != want {
		t.Errorf("%d entries, %d distinct, want %d", len(r.Entries), len(ids), want)
	}
}
