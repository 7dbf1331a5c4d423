package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"testing"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

// This file holds the reference interpreter: it evaluates the profile as resolved by moby itself
// (GetDefaultProfile / LoadProfile, i.e. setupSeccomp on this host) directly on a seccomp_data,
// written without the compiler's resolution, intervals or jump logic. Only the syscall tables
// are shared; TestSyscallTables checks those.

type seccompData struct {
	nr, arch uint32
	args     [6]uint64
}

// Test-local spellings of the kernel constants, so the interpreter doesn't borrow the
// compiler's.
const (
	tKillProcess uint32 = 0x80000000
	tErrno       uint32 = 0x00050000
	tAllow       uint32 = 0x7fff0000
	tX32Bit      uint32 = 1 << 30
)

var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

var allCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

func specFor(caps []string) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
}

type interpreter struct {
	ls     *specs.LinuxSeccomp
	arches []specs.Arch
}

func newInterpreter(t testing.TB, ls *specs.LinuxSeccomp) *interpreter {
	t.Helper()
	if ls == nil {
		t.Fatal("moby resolved the profile to nil")
	}
	in := &interpreter{ls: ls, arches: []specs.Arch{specs.ArchX86_64}}
	in.arches = append(in.arches, ls.Architectures...)
	return in
}

func interpAction(a specs.LinuxSeccompAction, errnoRet *uint) uint32 {
	e := uint32(1)
	if errnoRet != nil {
		e = uint32(*errnoRet)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return 0
	case specs.ActKillProcess:
		return 0x80000000
	case specs.ActTrap:
		return 0x00030000
	case specs.ActErrno:
		return 0x00050000 + e
	case specs.ActTrace:
		return 0x7ff00000 + e
	case specs.ActLog:
		return 0x7ffc0000
	case specs.ActAllow:
		return 0x7fff0000
	}
	panic("interpreter: action " + string(a))
}

func (in *interpreter) eval(d seccompData) uint32 {
	var arch specs.Arch
	var table map[string]uint32
	switch {
	case d.arch == 0xc000003e && d.nr&tX32Bit != 0:
		arch, table = specs.ArchX32, sysnumX32
	case d.arch == 0xc000003e:
		arch, table = specs.ArchX86_64, sysnumX86_64
	case d.arch == 0x40000003:
		arch, table = specs.ArchX86, sysnumX86
	default:
		return tKillProcess
	}
	if !slices.Contains(in.arches, arch) {
		return tKillProcess
	}
	def := interpAction(in.ls.DefaultAction, in.ls.DefaultErrnoRet)

	// runc's ENOSYS stub: above the highest number the profile names on this ABI.
	stub := def != tAllow && def != 0x7ffc0000 && def&0xffff0000 != 0x7ff00000 && def != tErrno+38
	highest, any := uint32(0), false
	for _, s := range in.ls.Syscalls {
		for _, n := range s.Names {
			if nr, ok := table[n]; ok {
				any = true
				if nr > highest {
					highest = nr
				}
			}
		}
	}
	if stub && any && d.nr > highest {
		return tErrno + 38
	}

	is32 := arch != specs.ArchX86_64
	for _, s := range in.ls.Syscalls {
		act := interpAction(s.Action, s.ErrnoRet)
		if act == def {
			continue
		}
		named := false
		for _, n := range s.Names {
			if nr, ok := table[n]; ok && nr == d.nr {
				named = true
			}
		}
		if !named {
			continue
		}
		if matches(s.Args, d.args, is32) {
			return act
		}
	}
	return def
}

func matches(conds []specs.LinuxSeccompArg, args [6]uint64, is32 bool) bool {
	if len(conds) == 0 {
		return true
	}
	seen := map[uint]bool{}
	repeated := false
	for _, c := range conds {
		repeated = repeated || seen[c.Index]
		seen[c.Index] = true
	}
	for _, c := range conds {
		ok := holds(c, args[c.Index], is32)
		if repeated && ok {
			return true
		}
		if !repeated && !ok {
			return false
		}
	}
	return !repeated
}

func holds(c specs.LinuxSeccompArg, x uint64, is32 bool) bool {
	v, v2 := c.Value, c.ValueTwo
	if is32 {
		x, v, v2 = x&0xffffffff, v&0xffffffff, v2&0xffffffff
	}
	switch c.Op {
	case specs.OpNotEqual:
		return x != v
	case specs.OpLessThan:
		return x < v
	case specs.OpLessEqual:
		return x <= v
	case specs.OpEqualTo:
		return x == v
	case specs.OpGreaterEqual:
		return x >= v
	case specs.OpGreaterThan:
		return x > v
	case specs.OpMaskedEqual:
		return x&v == v2
	}
	panic("interpreter: op " + string(c.Op))
}

// packet lays out seccomp_data for x/net/bpf's VM, which loads 32-bit words big endian: each
// little-endian word of the kernel's struct is stored big endian at its offset, so the VM reads
// the same values the kernel's BPF would.
func packet(d seccompData) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], d.nr)
	binary.BigEndian.PutUint32(b[4:], d.arch)
	for i, a := range d.args {
		binary.BigEndian.PutUint32(b[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(b[20+8*i:], uint32(a>>32))
	}
	return b
}

func run(t testing.TB, vm *bpf.VM, d seccompData) uint32 {
	t.Helper()
	r, err := vm.Run(packet(d))
	if err != nil {
		t.Fatalf("vm: %v", err)
	}
	return uint32(r)
}

func newVM(t testing.TB, prog []bpf.Instruction) *bpf.VM {
	t.Helper()
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("NewVM: %v", err)
	}
	if _, err := Assemble(prog); err != nil {
		t.Fatal(err)
	}
	return vm
}

// interesting collects argument values around every constant of the profile.
func interesting(ls *specs.LinuxSeccomp) []uint64 {
	vals := []uint64{0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xffffffff, 1 << 32, 1<<32 | 2, 1<<63 | 2, ^uint64(0), 0xffffffff00000000}
	for af := uint64(0); af < 50; af++ {
		vals = append(vals, af)
	}
	for _, s := range ls.Syscalls {
		for _, a := range s.Args {
			for _, v := range []uint64{a.Value, a.ValueTwo} {
				vals = append(vals, v-1, v, v+1, v|1<<32, v^0xffffffff00000000)
			}
			if a.Op == specs.OpMaskedEqual {
				for bit := 0; bit < 64; bit++ {
					if a.Value&(1<<bit) != 0 {
						vals = append(vals, a.ValueTwo^1<<bit, 1<<bit)
					}
				}
			}
		}
	}
	return vals
}

// inputs generates seccomp_data for every known syscall of each ABI with boundary and random
// arguments, unknown numbers, foreign arch values and x32-bit flips.
func inputs(ls *specs.LinuxSeccomp, rng *rand.Rand, perSyscall int) []seccompData {
	vals := interesting(ls)
	pick := func() uint64 {
		if rng.Intn(4) == 0 {
			return rng.Uint64() >> uint(rng.Intn(64))
		}
		return vals[rng.Intn(len(vals))]
	}
	conditional := map[string]bool{}
	for _, s := range ls.Syscalls {
		for _, n := range s.Names {
			conditional[n] = conditional[n] || len(s.Args) > 0
		}
	}
	var out []seccompData
	tables := []struct {
		arch uint32
		m    map[string]uint32
	}{{0xc000003e, sysnumX86_64}, {0xc000003e, sysnumX32}, {0x40000003, sysnumX86}}
	for _, tb := range tables {
		names := make([]string, 0, len(tb.m))
		for n := range tb.m {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			nr := tb.m[n]
			out = append(out, seccompData{nr: nr, arch: tb.arch})
			if !conditional[n] && rng.Intn(32) != 0 {
				continue // arguments can't matter; the one input above checks the number
			}
			for _, v := range vals {
				out = append(out, seccompData{nr: nr, arch: tb.arch, args: [6]uint64{v, v, v, v, v, v}})
			}
			for i := 0; i < perSyscall; i++ {
				d := seccompData{nr: nr, arch: tb.arch}
				for j := range d.args {
					d.args[j] = pick()
				}
				out = append(out, d)
				d.nr ^= tX32Bit // the same number under the other x86_64 ABI
				out = append(out, d)
			}
		}
		for _, nr := range []uint32{467, 470, 471, 500, 511, 548, 1000, 0x3fffffff, 0x40000000 | 1000, 0x7fffffff, 0x80000000, 0x80000001, 0xc0000001, 0xffffffff, rng.Uint32(), rng.Uint32()} {
			out = append(out, seccompData{nr: nr, arch: tb.arch})
		}
	}
	for _, arch := range []uint32{0, 0x3e, 0xc00000b7, 0x40000028, 0x80000016, rng.Uint32()} {
		out = append(out, seccompData{nr: 39, arch: arch}, seccompData{nr: 20, arch: arch})
	}
	return out
}

func differential(t *testing.T, prog []bpf.Instruction, in *interpreter, data []seccompData) {
	t.Helper()
	vm := newVM(t, prog)
	bad := 0
	for _, d := range data {
		got, want := run(t, vm, d), in.eval(d)
		if got != want {
			bad++
			if bad <= 10 {
				t.Errorf("nr %#x arch %#x args %#x: filter %#x, interpreter %#x", d.nr, d.arch, d.args, got, want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d inputs differ", bad, len(data))
	}
}

// TestDefaultProfileDifferential compares the compiled default profile with the interpreter
// for several capability sets.
func TestDefaultProfileDifferential(t *testing.T) {
	for _, c := range []struct {
		name string
		caps []string
	}{
		{"docker", dockerCaps},
		{"docker+SYS_ADMIN", append(slices.Clone(dockerCaps), "CAP_SYS_ADMIN")},
		{"all", allCaps},
		{"none", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			ls, err := mobyseccomp.GetDefaultProfile(specFor(c.caps))
			if err != nil {
				t.Fatal(err)
			}
			prog, err := Compile(Default(), Options{Capabilities: c.caps})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d instructions", len(prog))
			rng := rand.New(rand.NewSource(1))
			data := inputs(ls, rng, 4)
			differential(t, prog, newInterpreter(t, ls), data)
		})
	}
}

// TestRandomProfilesDifferential covers what the default profile doesn't use: every operator
// with 64-bit values, MASKED_EQ with a non-zero value, repeated and multiple argument indices,
// all actions and errnos, shadowing rules, arch lists, caps filters.
func TestRandomProfilesDifferential(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	pool := []string{"read", "getpid", "socket", "socketcall", "clone", "personality", "chown32", "arch_prctl",
		"rt_sigaction", "ioctl", "keyctl", "mmap", "mmap2", "open_tree", "removexattrat", "uselib", "no_such_call", "pwritev2"}
	ops := []specs.LinuxSeccompOperator{specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
		specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual}
	values := []uint64{0, 1, 2, 40, 0xff, 0x7E020000, 0xffffffff, 1 << 32, 1<<32 | 40, 0xffffffff00000000, ^uint64(0), 1 << 63}
	actions := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKillProcess, specs.ActKill, specs.ActTrap, specs.ActLog, specs.ActTrace}
	uintp := func(u uint) *uint { return &u }
	for i := 0; i < 150; i++ {
		p := &mobyseccomp.Seccomp{}
		p.DefaultAction = actions[rng.Intn(len(actions))]
		if p.DefaultAction == specs.ActErrno && rng.Intn(2) == 0 {
			p.DefaultErrnoRet = uintp([]uint{1, 38, 13}[rng.Intn(3)])
		}
		switch rng.Intn(3) {
		case 0:
			var subs []specs.Arch
			for _, a := range []specs.Arch{specs.ArchX86, specs.ArchX32} {
				if rng.Intn(2) == 0 {
					subs = append(subs, a)
				}
			}
			p.ArchMap = []mobyseccomp.Architecture{{Arch: specs.ArchAARCH64}, {Arch: specs.ArchX86_64, SubArches: subs}}
		case 1:
			p.Architectures = []specs.Arch{specs.ArchX86, specs.ArchARM}
		}
		for r := rng.Intn(8) + 1; r > 0; r-- {
			s := &mobyseccomp.Syscall{}
			for n := rng.Intn(3) + 1; n > 0; n-- {
				s.Names = append(s.Names, pool[rng.Intn(len(pool))])
			}
			s.Action = actions[rng.Intn(len(actions))]
			if (s.Action == specs.ActErrno || s.Action == specs.ActTrace) && rng.Intn(2) == 0 {
				s.ErrnoRet = uintp(uint(rng.Intn(100)))
			}
			for a := rng.Intn(4); a > 0; a-- {
				s.Args = append(s.Args, specs.LinuxSeccompArg{
					Index: uint(rng.Intn(3)), Op: ops[rng.Intn(len(ops))],
					Value: values[rng.Intn(len(values))], ValueTwo: values[rng.Intn(len(values))],
				})
			}
			switch rng.Intn(6) {
			case 0:
				s.Includes = &mobyseccomp.Filter{Caps: []string{"CAP_SYS_ADMIN"}}
			case 1:
				s.Excludes = &mobyseccomp.Filter{Caps: []string{"CAP_SYS_ADMIN"}, Arches: []string{"s390x"}}
			case 2:
				s.Includes = &mobyseccomp.Filter{Arches: []string{"x86"}}
			case 3:
				s.Includes = &mobyseccomp.Filter{MinKernel: &mobyseccomp.KernelVersion{Kernel: 4, Major: 8}}
			case 4:
				s.Excludes = &mobyseccomp.Filter{MinKernel: &mobyseccomp.KernelVersion{Kernel: 99, Major: 0}}
			}
			p.Syscalls = append(p.Syscalls, s)
		}
		body, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		caps := []string(nil)
		if rng.Intn(2) == 0 {
			caps = []string{"CAP_SYS_ADMIN"}
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			ls, err := mobyseccomp.LoadProfile(string(body), specFor(caps))
			if err != nil {
				t.Fatal(err)
			}
			var mine mobyseccomp.Seccomp
			if err := json.Unmarshal(body, &mine); err != nil {
				t.Fatal(err)
			}
			prog, err := Compile(&mine, Options{Capabilities: caps})
			if err != nil {
				t.Fatalf("%v\nprofile: %s", err, body)
			}
			differential(t, prog, newInterpreter(t, ls), inputs(ls, rand.New(rand.NewSource(int64(i))), 2))
			if t.Failed() {
				t.Logf("profile: %s", body)
			}
		})
	}
}
