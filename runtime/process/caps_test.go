package process

import (
	"slices"
	"strings"
	"testing"
)

// lastCapTest is CAP_CHECKPOINT_RESTORE, the newest capability; tests pass it
// explicitly so they do not depend on the running kernel.
const lastCapTest = 40

func TestCapabilitiesFor(t *testing.T) {
	defaults := sortedUnique(DefaultCapabilities())
	without := func(drop ...string) []string {
		var out []string
		for _, c := range defaults {
			if !slices.Contains(drop, c) {
				out = append(out, c)
			}
		}
		return out
	}
	with := func(add ...string) []string { return sortedUnique(append(slices.Clone(defaults), add...)) }
	all := capNames()
	allSorted := sortedUnique(all)
	allBut := func(drop ...string) []string {
		var out []string
		for _, c := range allSorted {
			if !slices.Contains(drop, c) {
				out = append(out, c)
			}
		}
		return out
	}
	tests := []struct {
		name       string
		add, drop  []string
		privileged bool
		lastCap    int
		want       []string
		wantErr    string
	}{
		{name: "defaults", want: defaults},
		{name: "add with prefix", add: []string{"CAP_NET_ADMIN"}, want: with("CAP_NET_ADMIN")},
		{name: "add without prefix lower case", add: []string{"sys_ptrace"}, want: with("CAP_SYS_PTRACE")},
		{name: "add mixed case", add: []string{"Cap_Sys_Admin"}, want: with("CAP_SYS_ADMIN")},
		{name: "add a default is harmless", add: []string{"chown"}, want: defaults},
		{name: "drop", drop: []string{"NET_RAW", "cap_mknod"}, want: without("CAP_NET_RAW", "CAP_MKNOD")},
		{name: "drop a non-default is harmless", drop: []string{"SYS_ADMIN"}, want: defaults},
		{name: "add and drop same name: add wins (moby applies add last)", add: []string{"NET_RAW"}, drop: []string{"NET_RAW"}, want: defaults},
		{name: "drop ALL keeps only adds", add: []string{"NET_BIND_SERVICE"}, drop: []string{"ALL"}, want: []string{"CAP_NET_BIND_SERVICE"}},
		{name: "drop all lower case", drop: []string{"all"}, want: nil},
		{name: "add ALL minus drops", add: []string{"ALL"}, drop: []string{"SYS_ADMIN"}, want: allBut("CAP_SYS_ADMIN")},
		{name: "add ALL beats drop ALL", add: []string{"all"}, drop: []string{"ALL"}, want: allSorted},
		{name: "add ALL limited by kernel", add: []string{"ALL"}, lastCap: 37, want: sortedUnique(all[:38])},
		{name: "privileged gets everything", privileged: true, want: allSorted},
		{name: "privileged ignores drops and bad names", privileged: true, drop: []string{"ALL", "FOO"}, want: allSorted},
		{name: "privileged on an older kernel", privileged: true, lastCap: 36, want: sortedUnique(all[:37])},
		{name: "unknown add", add: []string{"foo"}, wantErr: `cap_add: unknown capability: "CAP_FOO"`},
		{name: "unknown drop", drop: []string{"CAP_FOO"}, wantErr: `cap_drop: unknown capability: "CAP_FOO"`},
		{name: "not in this kernel", add: []string{"BPF"}, lastCap: 37, wantErr: `capability not supported by your kernel or not available in the current environment: "CAP_BPF"`},
		{name: "blank name is unknown", add: []string{""}, wantErr: `unknown capability: "CAP_"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			last := tt.lastCap
			if last == 0 {
				last = lastCapTest
			}
			got, err := CapabilitiesFor(last, tt.add, tt.drop, tt.privileged)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("caps = %v\nwant %v", got, tt.want)
			}
			if !slices.IsSorted(got) {
				t.Error("not sorted")
			}
		})
	}
}

func TestDefaultCapabilitiesAreDockers14(t *testing.T) {
	d := DefaultCapabilities()
	if len(d) != 14 || d[0] != "CAP_CHOWN" || d[13] != "CAP_AUDIT_WRITE" {
		t.Fatalf("defaults = %v", d)
	}
	for _, c := range d {
		if !slices.Contains(capNames(), c) {
			t.Errorf("%s not a known capability", c)
		}
	}
	d[0] = "changed"
	if DefaultCapabilities()[0] != "CAP_CHOWN" {
		t.Fatal("defaults are shared mutable state")
	}
}

func TestCapabilitiesOnThisKernel(t *testing.T) {
	last, err := LastCap()
	if err != nil {
		t.Skipf("no /proc/sys/kernel/cap_last_cap: %v", err)
	}
	got, err := Capabilities(nil, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	// Every capability the kernel knows that this process's bounding set holds.
	want := 0
	for n := range min(last, len(capNames())-1) + 1 {
		if inBoundingSet(n) {
			want++
		} else if slices.Contains(got, capNames()[n]) {
			t.Errorf("privileged has %s, which this process's bounding set lacks", capNames()[n])
		}
	}
	if len(got) != want {
		t.Errorf("privileged: %d caps, want %d (cap_last_cap %d)", len(got), want, last)
	}
	all, err := Capabilities([]string{"ALL"}, []string{"CHOWN"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != want-1 || slices.Contains(all, "CAP_CHOWN") {
		t.Errorf("cap_add ALL, cap_drop CHOWN: %d caps, want %d without CAP_CHOWN", len(all), want-1)
	}
}
