package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/berth-sh/berth/internal/hostcheck"
)

var checkResults = []hostcheck.Result{
	{Name: "root", OK: false, Detail: "running as uid 1000, not root", Fix: "run berth as root (sudo berth ...)"},
	{Name: "kernel", OK: true, Detail: "Linux 6.1.0 (berth needs 5.6 or newer)"},
	{Name: "overlayfs", OK: false, Detail: "cannot mount\nan overlay", Fix: ""},
}

func TestWriteChecks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		terminal bool
		want     string
	}{
		{name: "pipe", want: "" +
			"missing root       running as uid 1000, not root → run berth as root (sudo berth ...)\n" +
			"ok      kernel     Linux 6.1.0 (berth needs 5.6 or newer)\n" +
			"missing overlayfs  cannot mount an overlay\n"},
		{name: "terminal", terminal: true, want: "" +
			"✘ root       running as uid 1000, not root → run berth as root (sudo berth ...)\n" +
			"✔ kernel     Linux 6.1.0 (berth needs 5.6 or newer)\n" +
			"✘ overlayfs  cannot mount an overlay\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			writeChecks(&b, checkResults, tc.terminal)
			if b.String() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tc.want)
			}
		})
	}
}

func TestWriteChecksJSON(t *testing.T) {
	var b bytes.Buffer
	if err := writeChecksJSON(&b, checkResults); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(checkResults) {
		t.Fatalf("%d lines, want one per check:\n%s", len(lines), b.String())
	}
	if lines[1] != `{"Name":"kernel","OK":true,"Detail":"Linux 6.1.0 (berth needs 5.6 or newer)"}` {
		t.Errorf("a passing check: %s", lines[1])
	}
	var r hostcheck.Result
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil || r != checkResults[0] {
		t.Errorf("a failing check: %s (%v)", lines[0], err)
	}
}

func TestSystemCheckBadFormat(t *testing.T) {
	var out, errOut bytes.Buffer
	code := execute([]string{"system", "check", "--format", "yaml"}, strings.NewReader(""), &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), `unsupported format "yaml"`) || out.Len() != 0 {
		t.Errorf("--format yaml: code %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}
