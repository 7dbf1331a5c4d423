package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasAnExample walks the whole command tree: each command's --help shows an example.
func TestEveryCommandHasAnExample(t *testing.T) {
	root := newRootCommand(streams{in: strings.NewReader(""), out: &bytes.Buffer{}, err: &bytes.Buffer{}})
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		n++
		if c.Example == "" {
			t.Errorf("%q has no example in its help", c.CommandPath())
		}
		if c.Short == "" {
			t.Errorf("%q has no short description", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n < 8 {
		t.Errorf("walked %d commands, want at least root, config, version, help, completion and its shells", n)
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"help", []string{"--help"}, 0, ""},
		{"unknown command", []string{"nope"}, 1, `unknown command "nope" for "berth"`},
		{"unknown flag", []string{"--nope"}, 1, "unknown flag: --nope"},
		{"bad version format", []string{"version", "--format", "xml"}, 1, `unsupported format "xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := execute(tt.args, strings.NewReader(""), &out, &errOut)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errOut.String())
			}
			if tt.err != "" && !strings.HasPrefix(errOut.String(), tt.err) {
				t.Errorf("stderr %q, want it to start with %q", errOut.String(), tt.err)
			}
		})
	}
}
