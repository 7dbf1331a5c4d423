package seccomp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func writeProfile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadProfileErrorsNameFile(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"bad json", `{"defaultAction": "SCMP_ACT_ERRNO",`, "invalid JSON"},
		{"unknown default", `{"defaultAction": "SCMP_ACT_NOPE"}`, `unknown action "SCMP_ACT_NOPE"`},
		{"unknown rule action", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_MAYBE"}]}`, `syscalls[0] [read]: unknown action "SCMP_ACT_MAYBE"`},
		{"notify", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}`, "SCMP_ACT_NOTIFY is not supported"},
		{"unknown op", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}`, `unknown operator "SCMP_CMP_ABOUT"`},
		{"arg index", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}`, "argument index 6"},
		{"empty", `{}`, "no defaultAction"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeProfile(t, c.body)
			_, err := LoadProfile(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q: want the file name and %q", err, c.want)
			}
		})
	}
	if _, err := LoadProfile(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLoadProfileValid(t *testing.T) {
	path := writeProfile(t, `{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
		"syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}, {"name": "clone3", "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}`)
	p, err := LoadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compileFor(p, Options{KernelVersion: "6.1"}, "amd64"); err != nil {
		t.Fatal(err)
	}
}

// TestCompileUnsupportedAction: actions berth can't implement fail Compile with a clear error
// instead of being dropped, even when the profile was built in code rather than loaded.
func TestCompileUnsupportedAction(t *testing.T) {
	for _, c := range []struct {
		act  specs.LinuxSeccompAction
		want string
	}{
		{specs.ActNotify, "SCMP_ACT_NOTIFY is not supported"},
		{"SCMP_ACT_WHATEVER", `unknown action "SCMP_ACT_WHATEVER"`},
	} {
		p := &mobyseccomp.Seccomp{LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: specs.ActErrno}}
		p.Syscalls = []*mobyseccomp.Syscall{{LinuxSyscall: specs.LinuxSyscall{Names: []string{"getpid"}, Action: c.act}}}
		_, err := compileFor(p, Options{KernelVersion: "6.1"}, "amd64")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "getpid") {
			t.Errorf("%s: error %v, want %q naming the rule", c.act, err, c.want)
		}
	}
	p := &mobyseccomp.Seccomp{LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: specs.ActNotify}}
	if _, err := compileFor(p, Options{KernelVersion: "6.1"}, "amd64"); err == nil || !strings.Contains(err.Error(), "defaultAction") {
		t.Errorf("notify default: %v", err)
	}
	if _, err := compileFor(nil, Options{KernelVersion: "6.1"}, "amd64"); err == nil {
		t.Error("nil profile compiled")
	}
	if _, err := compileFor(&mobyseccomp.Seccomp{LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: specs.ActErrno}}, Options{KernelVersion: "6.1"}, "arm64"); err == nil || !strings.Contains(err.Error(), "arm64") {
		t.Errorf("arm64: %v", err)
	}
}
