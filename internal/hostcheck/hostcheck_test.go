package hostcheck

import (
	"slices"
	"strings"
	"testing"
)

func TestKernelResult(t *testing.T) {
	for _, tc := range []struct {
		name, release string
		ok            bool
		detail, fix   string
	}{
		{name: "new", release: "6.18.44-fc-v669", ok: true, detail: "Linux 6.18.44-fc-v669 (berth needs 5.6 or newer)"},
		{name: "exactly the minimum", release: "5.6.0", ok: true},
		{name: "debian suffix", release: "5.10.0-28-amd64", ok: true},
		{name: "minor with suffix", release: "5.6-rc1", ok: true},
		{name: "old minor", release: "5.4.0-150-generic", detail: "Linux 5.4.0-150-generic is older than 5.6", fix: "upgrade the kernel to Linux 5.6 or newer"},
		{name: "old major", release: "4.19.0", fix: "upgrade"},
		{name: "garbage", release: "six", detail: `kernel release "six": want MAJOR.MINOR`, fix: "berth needs Linux 5.6 or newer"},
		{name: "no minor", release: "6.x", detail: "want MAJOR.MINOR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := kernelResult(tc.release)
			if r.Name != CheckKernel || r.OK != tc.ok || !strings.Contains(r.Detail, tc.detail) || !strings.Contains(r.Fix, tc.fix) {
				t.Errorf("kernelResult(%q) = %+v", tc.release, r)
			}
			if r.OK != (r.Fix == "") {
				t.Errorf("kernelResult(%q): OK %v with fix %q", tc.release, r.OK, r.Fix)
			}
		})
	}
}

func TestControllersFromProcCgroup(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{name: "hybrid", content: "9:name=systemd:/\n8:pids:/\n4:memory:/a/b\n2:cpu,cpuacct:/\n0::/\n", want: []string{"pids", "memory", "cpu", "cpuacct"}},
		{name: "unified only", content: "0::/user.slice\n", want: nil},
		{name: "paths with colons", content: "3:cpuset:/x:y\n", want: []string{"cpuset"}},
		{name: "empty", content: "", want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := controllersFromProcCgroup(tc.content); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if got := missingControllers([]string{"memory", "cpuset"}); !slices.Equal(got, []string{"cpu", "pids"}) {
		t.Errorf("missingControllers = %q", got)
	}
	if got := missingControllers([]string{"cpu", "memory", "pids", "io"}); got != nil {
		t.Errorf("missingControllers with all = %q", got)
	}
}

func TestAllOK(t *testing.T) {
	if !AllOK(nil) || !AllOK([]Result{{OK: true}}) || AllOK([]Result{{OK: true}, {OK: false}}) {
		t.Error("AllOK")
	}
}
