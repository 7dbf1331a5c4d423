package volumes

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name, in, err string
	}{
		{"plain", "data", ""},
		{"project prefix", "todo-app_mysql-data", ""},
		{"dots and digits", "0.v-1_x", ""},
		{"anonymous", "3f2a0c5d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f", ""},
		{"two characters", "ab", ""},
		{"one character", "a", "volume name is too short, names should be at least two alphanumeric characters"},
		{"empty", "", `"" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{"leading dot", ".data", `".data" includes invalid characters`},
		{"leading dash", "-data", `"-data" includes invalid characters`},
		{"slash", "a/b", `"a/b" includes invalid characters`},
		{"parent", "..", `".." includes invalid characters`},
		{"relative path", "./data", `"./data" includes invalid characters`},
		{"blank", "my data", `"my data" includes invalid characters`},
		{"colon", "data:ro", `"data:ro" includes invalid characters`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidName(tc.in)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("ValidName(%q) = %v", tc.in, err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("ValidName(%q) = %v, want ErrInvalid with %q", tc.in, err, tc.err)
			}
		})
	}
}

func TestIsEmpty(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		setup func(string) string
		empty bool
	}{
		{"empty", func(d string) string { return d }, true},
		{"missing", func(d string) string { return filepath.Join(d, "missing") }, true},
		{"a file", func(d string) string {
			os.WriteFile(filepath.Join(d, "f"), nil, 0o644)
			return d
		}, false},
		{"a hidden directory", func(d string) string {
			os.Mkdir(filepath.Join(d, ".git"), 0o755)
			return d
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(dir, tc.name)
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			got, err := IsEmpty(tc.setup(d))
			if err != nil || got != tc.empty {
				t.Fatalf("IsEmpty = %v, %v; want %v", got, err, tc.empty)
			}
		})
	}
	f := filepath.Join(dir, "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := IsEmpty(f); err == nil {
		t.Error("IsEmpty of a file: no error")
	}
}

func TestGetMissing(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nope", "../etc", "a", ""} {
		_, err := s.Get(name)
		if !errors.Is(err, ErrNotFound) || err.Error() != "no such volume: "+name {
			t.Errorf("Get(%q) = %v, want %q", name, err, "no such volume: "+name)
		}
	}
	vols, err := s.List()
	if err != nil || len(vols) != 0 {
		t.Errorf("List of an empty store = %v, %v", vols, err)
	}
}

func TestMatchLabels(t *testing.T) {
	labels := map[string]string{"app": "todo", "tier": "", LabelAnonymous: ""}
	for _, tc := range []struct {
		name   string
		filter map[string]string
		want   bool
	}{
		{"no filter", nil, true},
		{"key", map[string]string{"app": ""}, true},
		{"key and value", map[string]string{"app": "todo"}, true},
		{"other value", map[string]string{"app": "blog"}, false},
		{"missing key", map[string]string{"env": ""}, false},
		{"empty value key", map[string]string{"tier": ""}, true},
		{"all of them", map[string]string{"app": "todo", "tier": ""}, true},
		{"one of them missing", map[string]string{"app": "todo", "env": "prod"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := matchLabels(labels, tc.filter); got != tc.want {
				t.Errorf("matchLabels(%v) = %v, want %v", tc.filter, got, tc.want)
			}
		})
	}
}

func TestIDs(t *testing.T) {
	var ids []string
	for _, id := range []string{"c", "a", "b", "a"} {
		ids, _ = addID(ids, id)
	}
	if !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Fatalf("addID: %v", ids)
	}
	ids, found := dropID(ids, "b")
	if !found || !slices.Equal(ids, []string{"a", "c"}) {
		t.Fatalf("dropID(b): %v %v", ids, found)
	}
	if _, found := dropID(ids, "x"); found {
		t.Fatal("dropID(x) found it")
	}
	ids, _ = dropID(ids, "a")
	ids, _ = dropID(ids, "c")
	if ids != nil {
		t.Fatalf("dropID of the last id: %#v, want nil (omitted from the record)", ids)
	}
}
