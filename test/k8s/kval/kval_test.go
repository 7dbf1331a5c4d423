package kval

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestValidSetAccepted: the good fixture holds every supported kind and must
// pass whole, so kval does not reject what the apiserver accepts.
func TestValidSetAccepted(t *testing.T) {
	res, err := ValidateFile("testdata/valid/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, r := range res {
		kinds[r.Kind] = true
		if !r.OK() {
			t.Errorf("doc %d: %v", r.Doc, r)
		}
	}
	for gk := range strategies {
		if !kinds[gk.Kind] {
			t.Errorf("valid fixture has no %s", gk.Kind)
		}
	}
	if len(res) != 13 {
		t.Errorf("got %d results, want 13", len(res))
	}
}

// TestPrivilegedAllowed: kval assumes --allow-privileged=true.
func TestPrivilegedAllowed(t *testing.T) {
	res, err := ValidateFile("testdata/valid/privileged.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || !res[0].OK() {
		t.Fatalf("got %v", res)
	}
}

// TestInvalidRejected: every file in testdata/invalid holds one object the
// apiserver rejects and a "# want:" line with a piece of the server's error.
func TestInvalidRejected(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("only %d invalid fixtures", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok || want == "" {
				t.Fatalf("%s: first line must be '# want: <error text>'", f)
			}
			res, err := Validate(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 1 {
				t.Fatalf("got %d results, want 1", len(res))
			}
			if res[0].OK() {
				t.Fatalf("accepted %s/%s, want rejection containing %q", res[0].Kind, res[0].Name, want)
			}
			if got := res[0].Err.Error(); !strings.Contains(got, want) {
				t.Errorf("error %q\ndoes not contain %q", got, want)
			}
			if res[0].Kind == "" || res[0].Name == "" {
				t.Errorf("result does not name the object: %+v", res[0])
			}
		})
	}
}

// TestStream: results come one per non-empty document, in order, with their
// document numbers, and a bad document does not hide the good ones.
func TestStream(t *testing.T) {
	stream := `# leading comment only
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data: {k: v}
---
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b}
data: {"bad key": v}
---
apiVersion: v1
kind: Service
metadata: {name: c, namespace: other}
spec:
  clusterIP: 10.0.0.12
  ports: [{port: 80}]
`
	res, err := Validate([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		got = append(got, r.String())
	}
	if len(res) != 3 || !res[0].OK() || res[1].OK() || !res[2].OK() {
		t.Fatalf("got:\n%s", strings.Join(got, "\n"))
	}
	docs := []int{res[0].Doc, res[1].Doc, res[2].Doc}
	if !sort.IntsAreSorted(docs) || docs[0] != 2 || docs[1] != 3 || docs[2] != 4 {
		t.Errorf("doc numbers %v, want [2 3 4]", docs)
	}
	if res[2].Namespace != "other" || res[1].Name != "b" {
		t.Errorf("identity wrong: %+v %+v", res[1], res[2])
	}
	if !strings.HasPrefix(got[1], "REJECTED ConfigMap/b: ") {
		t.Errorf("String() = %q", got[1])
	}
}

// TestEmptyInput: comments only give no results; a missing file is an error.
func TestEmptyInput(t *testing.T) {
	res, err := Validate([]byte("# nothing\n---\n"))
	if err != nil || len(res) != 0 {
		t.Fatalf("got %v, %v; want no results", res, err)
	}
	if _, err := ValidateFile("testdata/does-not-exist.yaml"); err == nil {
		t.Fatal("missing file: no error")
	}
}
