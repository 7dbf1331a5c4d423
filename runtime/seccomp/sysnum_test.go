package seccomp

import "testing"

// TestSyscallTables checks a few numbers against the kernel's syscall_64.tbl / syscall_32.tbl,
// so a generator change that shifts or mislabels entries fails.
func TestSyscallTables(t *testing.T) {
	for _, c := range []struct {
		table string
		m     map[string]uint32
		name  string
		want  uint32
	}{
		{"x86_64", sysnumX86_64, "read", 0},
		{"x86_64", sysnumX86_64, "socket", 41},
		{"x86_64", sysnumX86_64, "clone", 56},
		{"x86_64", sysnumX86_64, "keyctl", 250},
		{"x86_64", sysnumX86_64, "unshare", 272},
		{"x86_64", sysnumX86_64, "clone3", 435},
		{"x86_64", sysnumX86_64, "removexattrat", 466},
		{"i386", sysnumX86, "exit", 1},
		{"i386", sysnumX86, "getpid", 20},
		{"i386", sysnumX86, "socketcall", 102},
		{"i386", sysnumX86, "personality", 136},
		{"i386", sysnumX86, "keyctl", 288},
		{"i386", sysnumX86, "unshare", 310},
		{"i386", sysnumX86, "socket", 359},
		{"i386", sysnumX86, "clone3", 435},
		{"x32", sysnumX32, "read", 0x40000000},
		{"x32", sysnumX32, "socket", 0x40000000 + 41},
		{"x32", sysnumX32, "rt_sigaction", 0x40000000 + 512},
		{"x32", sysnumX32, "ioctl", 0x40000000 + 514},
		{"x32", sysnumX32, "pwritev2", 0x40000000 + 547},
		{"x32", sysnumX32, "clone3", 0x40000000 + 435},
	} {
		if got, ok := c.m[c.name]; !ok || got != c.want {
			t.Errorf("%s %s = %d (present %v), want %d", c.table, c.name, got, ok, c.want)
		}
	}
	// Names that don't exist on an ABI must be absent, not zero.
	for _, c := range []struct {
		m    map[string]uint32
		name string
	}{{sysnumX86_64, "socketcall"}, {sysnumX86_64, "chown32"}, {sysnumX86, "newfstatat"}, {sysnumX32, "uselib"}, {sysnumX32, "set_thread_area"}} {
		if nr, ok := c.m[c.name]; ok {
			t.Errorf("%s present as %d", c.name, nr)
		}
	}
}
