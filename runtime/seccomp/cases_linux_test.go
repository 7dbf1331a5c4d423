package seccomp

import (
	"encoding/binary"
	"slices"
	"testing"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

type specsArg = specs.LinuxSeccompArg

const (
	archX86_64 = 0xc000003e
	archI386   = 0x40000003
	ePERM      = tErrno + 1
	eNOSYS     = tErrno + 38
)

func compileDefault(t testing.TB, caps []string, goarch string) []bpf.Instruction {
	t.Helper()
	prog, err := compileFor(Default(), Options{Capabilities: caps}, goarch)
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// TestDefaultProfileCases pins Docker's behaviour on the cases that matter, independent of
// the interpreter.
func TestDefaultProfileCases(t *testing.T) {
	docker := newVM(t, compileDefault(t, dockerCaps, "amd64"))
	admin := newVM(t, compileDefault(t, append(slices.Clone(dockerCaps), "CAP_SYS_ADMIN"), "amd64"))
	x := func(name string) uint32 { return sysnumX86_64[name] }
	i := func(name string) uint32 { return sysnumX86[name] }
	x32 := func(name string) uint32 { return sysnumX32[name] }
	for _, c := range []struct {
		name string
		vm   *bpf.VM
		d    seccompData
		want uint32
	}{
		{"socket(AF_INET)", docker, seccompData{nr: x("socket"), arch: archX86_64, args: [6]uint64{2, 1}}, tAllow},
		{"socket(AF_INET6)", docker, seccompData{nr: x("socket"), arch: archX86_64, args: [6]uint64{10, 1}}, tAllow},
		{"socket(AF_VSOCK)", docker, seccompData{nr: x("socket"), arch: archX86_64, args: [6]uint64{40, 1}}, ePERM},
		{"socket(AF_ALG)", docker, seccompData{nr: x("socket"), arch: archX86_64, args: [6]uint64{38, 5}}, ePERM},
		{"socket(1<<32|AF_INET)", docker, seccompData{nr: x("socket"), arch: archX86_64, args: [6]uint64{1<<32 | 2}}, ePERM},
		{"clone(CLONE_NEWUSER)", docker, seccompData{nr: x("clone"), arch: archX86_64, args: [6]uint64{0x10000000 | 0x11}}, ePERM},
		{"clone(SIGCHLD|VM)", docker, seccompData{nr: x("clone"), arch: archX86_64, args: [6]uint64{0x100 | 0x11}}, tAllow},
		{"clone3", docker, seccompData{nr: x("clone3"), arch: archX86_64}, eNOSYS},
		{"personality(0)", docker, seccompData{nr: x("personality"), arch: archX86_64}, tAllow},
		{"personality(0xffffffff)", docker, seccompData{nr: x("personality"), arch: archX86_64, args: [6]uint64{0xffffffff}}, tAllow},
		{"personality(5)", docker, seccompData{nr: x("personality"), arch: archX86_64, args: [6]uint64{5}}, ePERM},
		{"unshare", docker, seccompData{nr: x("unshare"), arch: archX86_64, args: [6]uint64{0x20000}}, ePERM},
		{"mount", docker, seccompData{nr: x("mount"), arch: archX86_64}, ePERM},
		{"keyctl", docker, seccompData{nr: x("keyctl"), arch: archX86_64}, ePERM},
		{"chroot (CAP_SYS_CHROOT)", docker, seccompData{nr: x("chroot"), arch: archX86_64}, tAllow},
		{"getpid", docker, seccompData{nr: x("getpid"), arch: archX86_64}, tAllow},
		{"nr 1000", docker, seccompData{nr: 1000, arch: archX86_64}, eNOSYS},
		{"open_tree_attr (not in profile, above its highest)", docker, seccompData{nr: 467, arch: archX86_64}, eNOSYS},
		{"foreign arch", docker, seccompData{nr: 39, arch: 0xc00000b7}, tKillProcess},
		{"admin unshare", admin, seccompData{nr: x("unshare"), arch: archX86_64, args: [6]uint64{0x20000}}, tAllow},
		{"admin clone3", admin, seccompData{nr: x("clone3"), arch: archX86_64}, tAllow},
		{"admin clone(CLONE_NEWUSER)", admin, seccompData{nr: x("clone"), arch: archX86_64, args: [6]uint64{0x10000000}}, tAllow},
		{"admin mount", admin, seccompData{nr: x("mount"), arch: archX86_64}, tAllow},
		{"admin keyctl", admin, seccompData{nr: x("keyctl"), arch: archX86_64}, ePERM},
		// i386
		{"i386 getpid", docker, seccompData{nr: i("getpid"), arch: archI386}, tAllow},
		{"i386 socket(AF_INET)", docker, seccompData{nr: i("socket"), arch: archI386, args: [6]uint64{2}}, tAllow},
		{"i386 socket(AF_VSOCK)", docker, seccompData{nr: i("socket"), arch: archI386, args: [6]uint64{40}}, ePERM},
		{"i386 socket(1<<32|AF_INET), low word only", docker, seccompData{nr: i("socket"), arch: archI386, args: [6]uint64{1<<32 | 2}}, tAllow},
		{"i386 socketcall (allowed unconditionally by the profile)", docker, seccompData{nr: i("socketcall"), arch: archI386, args: [6]uint64{1}}, tAllow},
		{"i386 clone(CLONE_NEWUSER)", docker, seccompData{nr: i("clone"), arch: archI386, args: [6]uint64{0x10000000}}, ePERM},
		{"i386 clone3", docker, seccompData{nr: i("clone3"), arch: archI386}, eNOSYS},
		{"i386 personality(0xffffffff)", docker, seccompData{nr: i("personality"), arch: archI386, args: [6]uint64{0xffffffff}}, tAllow},
		{"i386 personality(5)", docker, seccompData{nr: i("personality"), arch: archI386, args: [6]uint64{5}}, ePERM},
		{"i386 keyctl", docker, seccompData{nr: i("keyctl"), arch: archI386}, ePERM},
		{"i386 unshare", docker, seccompData{nr: i("unshare"), arch: archI386}, ePERM},
		{"i386 modify_ldt", docker, seccompData{nr: i("modify_ldt"), arch: archI386}, tAllow},
		{"i386 nr 1000", docker, seccompData{nr: 1000, arch: archI386}, eNOSYS},
		{"admin i386 unshare", admin, seccompData{nr: i("unshare"), arch: archI386}, tAllow},
		// x32
		{"x32 getpid", docker, seccompData{nr: x32("getpid"), arch: archX86_64}, tAllow},
		{"x32 rt_sigaction", docker, seccompData{nr: x32("rt_sigaction"), arch: archX86_64}, tAllow},
		{"x32 socket(AF_VSOCK)", docker, seccompData{nr: x32("socket"), arch: archX86_64, args: [6]uint64{40}}, ePERM},
		{"x32 socket(AF_INET)", docker, seccompData{nr: x32("socket"), arch: archX86_64, args: [6]uint64{2}}, tAllow},
		{"x32 clone3", docker, seccompData{nr: x32("clone3"), arch: archX86_64}, eNOSYS},
		{"x32 keyctl", docker, seccompData{nr: x32("keyctl"), arch: archX86_64}, ePERM},
		{"x32 64-bit-only rt_sigaction number", docker, seccompData{nr: tX32Bit | 13, arch: archX86_64}, ePERM},
		{"x32 nr 1000", docker, seccompData{nr: tX32Bit | 1000, arch: archX86_64}, eNOSYS},
		{"admin x32 unshare", admin, seccompData{nr: x32("unshare"), arch: archX86_64}, tAllow},
	} {
		if got := run(t, c.vm, c.d); got != c.want {
			t.Errorf("%s: got %#x, want %#x", c.name, got, c.want)
		}
	}
}

// TestMinKernel: ptrace is only in the profile from kernel 4.8 on (minKernel), so on an older
// kernel it gets the default action.
func TestMinKernel(t *testing.T) {
	for _, c := range []struct {
		kernel string
		want   uint32
	}{{"4.4.0-generic", ePERM}, {"4.8", tAllow}, {"6.18.44", tAllow}} {
		prog, err := compileFor(Default(), Options{Capabilities: dockerCaps, KernelVersion: c.kernel}, "amd64")
		if err != nil {
			t.Fatal(err)
		}
		if got := run(t, newVM(t, prog), seccompData{nr: sysnumX86_64["ptrace"], arch: archX86_64}); got != c.want {
			t.Errorf("kernel %s: ptrace %#x, want %#x", c.kernel, got, c.want)
		}
	}
	if _, err := compileFor(Default(), Options{KernelVersion: "six"}, "amd64"); err == nil {
		t.Error("bad kernel version accepted")
	}
}

// TestHost386: on a 386 host Docker's archMap has no entry, so only i386 is filtered and 64-bit
// syscalls get the bad-arch action.
func TestHost386(t *testing.T) {
	vm := newVM(t, compileDefault(t, dockerCaps, "386"))
	for _, c := range []struct {
		d    seccompData
		want uint32
	}{
		{seccompData{nr: sysnumX86["getpid"], arch: archI386}, tAllow},
		{seccompData{nr: sysnumX86["keyctl"], arch: archI386}, ePERM},
		{seccompData{nr: sysnumX86["modify_ldt"], arch: archI386}, tAllow},
		{seccompData{nr: sysnumX86_64["getpid"], arch: archX86_64}, tKillProcess},
	} {
		if got := run(t, vm, c.d); got != c.want {
			t.Errorf("nr %d arch %#x: %#x, want %#x", c.d.nr, c.d.arch, got, c.want)
		}
	}
}

// TestLongJumps forces conditional jumps beyond 255 instructions so the assembler's
// far-jump form is exercised.
func TestLongJumps(t *testing.T) {
	p := &mobyseccomp.Seccomp{}
	p.DefaultAction = "SCMP_ACT_ERRNO"
	var names []string
	for n := range sysnumX86_64 {
		names = append(names, n)
	}
	slices.Sort(names)
	for k, n := range names {
		s := &mobyseccomp.Syscall{}
		s.Names = []string{n}
		s.Action = "SCMP_ACT_ALLOW"
		if k%2 == 0 {
			s.Args = append(s.Args, argEQ(uint64(k)))
		}
		p.Syscalls = append(p.Syscalls, s)
	}
	prog, err := compileFor(p, Options{KernelVersion: "6.1"}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) < 600 {
		t.Fatalf("only %d instructions; the test no longer needs long jumps", len(prog))
	}
	vm := newVM(t, prog)
	for k, n := range names {
		nr := sysnumX86_64[n]
		want := uint32(tAllow)
		args := [6]uint64{uint64(k) + 1}
		if k%2 == 0 {
			want = ePERM
		}
		if got := run(t, vm, seccompData{nr: nr, arch: archX86_64, args: args}); got != want {
			t.Errorf("%s: %#x, want %#x", n, got, want)
		}
		if got := run(t, vm, seccompData{nr: nr, arch: archX86_64, args: [6]uint64{uint64(k)}}); got != tAllow {
			t.Errorf("%s with matching arg: %#x", n, got)
		}
	}
}

func FuzzCompiledMatchesInterpreter(f *testing.F) {
	caps := [][]string{dockerCaps, append(slices.Clone(dockerCaps), "CAP_SYS_ADMIN")}
	var vms []*bpf.VM
	var ins []*interpreter
	for _, c := range caps {
		ls, err := mobyseccomp.GetDefaultProfile(specFor(c))
		if err != nil {
			f.Fatal(err)
		}
		vms = append(vms, newVM(f, compileDefault(f, c, "amd64")))
		ins = append(ins, newInterpreter(f, ls))
	}
	seed := func(nr, arch uint32, args ...uint64) []byte {
		b := make([]byte, 64)
		binary.LittleEndian.PutUint32(b, nr)
		binary.LittleEndian.PutUint32(b[4:], arch)
		for i, a := range args {
			binary.LittleEndian.PutUint64(b[16+8*i:], a)
		}
		return b
	}
	f.Add(seed(41, archX86_64, 2, 1), false)
	f.Add(seed(41, archX86_64, 40, 1), false)
	f.Add(seed(56, archX86_64, 0x10000011), false)
	f.Add(seed(56, archX86_64, 0x10000011), true)
	f.Add(seed(135, archX86_64, 0xffffffff), false)
	f.Add(seed(435, archX86_64), false)
	f.Add(seed(359, archI386, 2), false)
	f.Add(seed(120, archI386, 0x20000), false)
	f.Add(seed(0x40000000|41, archX86_64, 10), true)
	f.Add(seed(1000, archX86_64), false)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, raw []byte, admin bool) {
		b := make([]byte, 64)
		copy(b, raw)
		d := seccompData{nr: binary.LittleEndian.Uint32(b), arch: binary.LittleEndian.Uint32(b[4:])}
		for i := range d.args {
			d.args[i] = binary.LittleEndian.Uint64(b[16+8*i:])
		}
		k := 0
		if admin {
			k = 1
		}
		if got, want := run(t, vms[k], d), ins[k].eval(d); got != want {
			t.Fatalf("nr %#x arch %#x args %#x: filter %#x, interpreter %#x", d.nr, d.arch, d.args, got, want)
		}
	})
}

func argEQ(v uint64) (a specsArg) { a.Index, a.Value, a.Op = 0, v, "SCMP_CMP_EQ"; return a }
