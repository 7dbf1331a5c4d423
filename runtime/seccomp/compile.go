package seccomp

import (
	"fmt"
	goruntime "runtime"
	"slices"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

// Options say what a profile is resolved against.
type Options struct {
	// Capabilities is the container's bounding set, e.g. "CAP_CHOWN"; it decides the profile's
	// Includes/Excludes caps rules. Nil means no capabilities.
	Capabilities []string
	// KernelVersion ("6.18.44", "4.8", ...) decides minKernel rules; empty means the running
	// kernel (uname), which only Linux has.
	KernelVersion string
}

// Compile resolves p for o and the host architecture (runtime.GOARCH: amd64 covers x86_64,
// i386 and x32 as the profile's archMap lists them; 386 covers i386) and compiles it into a
// seccomp BPF program over struct seccomp_data.
//
// The program returns: for ABIs the profile does not list, SECCOMP_RET_KILL_PROCESS; for
// numbers above the highest syscall the resolved profile names on that ABI, ERRNO(ENOSYS)
// (unless the default action is ALLOW, LOG, TRACE or ERRNO(ENOSYS)); otherwise the action of the
// first matching rule, or the default action. SCMP_ACT_NOTIFY, listenerPath and unknown actions
// or operators are errors. The profile's flags are not applied: Install always uses TSYNC only.
func Compile(p *mobyseccomp.Seccomp, o Options) ([]bpf.Instruction, error) {
	return compileFor(p, o, goruntime.GOARCH)
}

func compileFor(p *mobyseccomp.Seccomp, o Options, goarch string) ([]bpf.Instruction, error) {
	pol, err := resolveFor(p, o, goarch)
	if err != nil {
		return nil, err
	}
	return generate(pol)
}

func resolveFor(p *mobyseccomp.Seccomp, o Options, goarch string) (*policy, error) {
	h, err := hostFor(goarch)
	if err != nil {
		return nil, err
	}
	release := o.KernelVersion
	if release == "" {
		if release, err = hostKernelRelease(); err != nil {
			return nil, err
		}
	}
	kv, err := parseKernelVersion(release)
	if err != nil {
		return nil, err
	}
	return resolve(p, h, o.Capabilities, kv)
}

// leaf is what a range of syscall numbers leads to: a return value, or a block of argument
// checks.
type leaf struct {
	ret     uint32
	block   label
	isBlock bool
}

type interval struct {
	lo   uint32
	leaf leaf
}

// chain is the argument-check block for one syscall: rules tried in order, then fallback.
type chain struct {
	rules    []int // indices into policy.rules, all conditional
	fallback uint32
	args32   bool
}

type generator struct {
	a      asm
	pol    *policy
	blocks map[string]label
	chains []chain
	labels []label
}

func generate(pol *policy) ([]bpf.Instruction, error) {
	g := &generator{pol: pol, blocks: map[string]label{}}
	a := &g.a
	has := func(abi *abi) bool { return slices.Contains(pol.arches, abi.arch) }
	x8664, x32, i386 := &abis[0], &abis[1], &abis[2]

	a.load(offArch)
	sec64, sec32 := a.newLabel(), a.newLabel()
	if has(x8664) || has(x32) {
		n := a.newLabel()
		a.jump(bpf.JumpEqual, auditArchX86_64, sec64, n)
		a.mark(n)
	}
	if has(i386) {
		n := a.newLabel()
		a.jump(bpf.JumpEqual, auditArchI386, sec32, n)
		a.mark(n)
	}
	a.ret(badArchAction)

	if has(x8664) || has(x32) {
		a.mark(sec64)
		a.load(offNr)
		lx32, lnative := a.newLabel(), a.newLabel()
		// The kernel tells x32 from x86_64 by this bit alone (like runc's ENOSYS stub).
		a.jump(bpf.JumpBitsSet, x32SyscallBit, lx32, lnative)
		for _, s := range []struct {
			l   label
			abi *abi
		}{{lnative, x8664}, {lx32, x32}} {
			a.mark(s.l)
			if has(s.abi) {
				g.tree(s.abi)
			} else {
				a.ret(badArchAction)
			}
		}
	}
	if has(i386) {
		a.mark(sec32)
		a.load(offNr)
		g.tree(i386)
	}
	for i, c := range g.chains {
		a.mark(g.labels[i])
		g.emitChain(c)
	}
	prog, err := a.program()
	if err != nil {
		return nil, err
	}
	if len(prog) > maxInstructions {
		return nil, fmt.Errorf("seccomp: compiled filter has %d instructions, more than the kernel's %d", len(prog), maxInstructions)
	}
	return prog, nil
}

// tree emits a binary search over syscall number intervals for one ABI; A holds the number.
func (g *generator) tree(abi *abi) {
	pol := g.pol
	perNr := map[uint32][]int{}
	for ri, r := range pol.rules {
		for _, name := range r.names {
			nr, ok := abi.nrs[name]
			if !ok {
				continue // not a syscall of this ABI (libseccomp and runc skip it too)
			}
			if l := perNr[nr]; len(l) == 0 || l[len(l)-1] != ri {
				perNr[nr] = append(l, ri)
			}
		}
	}
	top, found := uint32(0), false
	for _, name := range pol.named {
		if nr, ok := abi.nrs[name]; ok {
			top, found = max(top, nr), true
		}
	}

	var iv []interval
	add := func(lo uint32, l leaf) {
		if n := len(iv); n > 0 && iv[n-1].lo == lo {
			iv = iv[:n-1]
		}
		if n := len(iv); n > 0 && iv[n-1].leaf == l {
			return
		}
		iv = append(iv, interval{lo, l})
	}
	def := leaf{ret: pol.defaultAction}
	add(0, def)
	nrs := make([]uint32, 0, len(perNr))
	for nr := range perNr {
		nrs = append(nrs, nr)
	}
	slices.Sort(nrs)
	for _, nr := range nrs {
		add(nr, g.leafFor(perNr[nr], abi.args32))
		if nr < ^uint32(0) {
			add(nr+1, def)
		}
	}
	if pol.enosys && found && top < ^uint32(0) {
		add(top+1, leaf{ret: retErrno | errnoENOSYS})
	}
	g.bst(iv)
}

// leafFor decides one syscall: the first unconditional rule ends the list, as nothing after it
// can match.
func (g *generator) leafFor(rules []int, args32 bool) leaf {
	c := chain{fallback: g.pol.defaultAction, args32: args32}
	for _, ri := range rules {
		r := g.pol.rules[ri]
		if len(r.alts) == 0 {
			c.fallback = r.action
			break
		}
		c.rules = append(c.rules, ri)
	}
	if len(c.rules) == 0 {
		return leaf{ret: c.fallback}
	}
	key := fmt.Sprint(c.rules, c.fallback, c.args32)
	l, ok := g.blocks[key]
	if !ok {
		l = g.a.newLabel()
		g.blocks[key] = l
		g.chains = append(g.chains, c)
		g.labels = append(g.labels, l)
	}
	return leaf{block: l, isBlock: true}
}

func (g *generator) bst(iv []interval) {
	a := &g.a
	if len(iv) == 1 {
		if iv[0].leaf.isBlock {
			a.ja(iv[0].leaf.block)
		} else {
			a.ret(iv[0].leaf.ret)
		}
		return
	}
	mid := len(iv) / 2
	left, right := a.newLabel(), a.newLabel()
	a.jump(bpf.JumpGreaterOrEqual, iv[mid].lo, right, left)
	a.mark(left)
	g.bst(iv[:mid])
	a.mark(right)
	g.bst(iv[mid:])
}

// emitChain emits the argument checks of one syscall. Every path ends in a return, so no later
// code ever sees an argument word in A where it expects a syscall number.
func (g *generator) emitChain(c chain) {
	a := &g.a
	for _, ri := range c.rules {
		r := g.pol.rules[ri]
		for _, alt := range r.alts {
			fail := a.newLabel()
			for _, cd := range alt {
				g.emitCond(cd, c.args32, fail)
			}
			a.ret(r.action)
			a.mark(fail)
		}
	}
	a.ret(c.fallback)
}

// emitCond falls through when cd holds and jumps to fail otherwise. Arguments are 64-bit little
// endian, so the high word is at +4; it decides unless equal, then the low word decides.
func (g *generator) emitCond(cd cond, args32 bool, fail label) {
	a := &g.a
	lo := uint32(offArgs + 8*cd.index)
	hi := lo + 4
	pass := a.newLabel()
	val := cd.value
	if cd.op == specs.OpMaskedEqual {
		val = cd.valueTwo
	}
	vlo, vhi := uint32(val), uint32(val>>32)
	mlo, mhi := uint32(cd.value), uint32(cd.value>>32)

	// hiEqual continues to the low word when the high words are equal; above/below say where
	// a greater or smaller high word leads.
	hiCompare := func(above, below label) {
		a.load(hi)
		c1, c2 := a.newLabel(), a.newLabel()
		a.jump(bpf.JumpGreaterThan, vhi, above, c1)
		a.mark(c1)
		a.jump(bpf.JumpEqual, vhi, c2, below)
		a.mark(c2)
	}
	switch cd.op {
	case specs.OpEqualTo, specs.OpNotEqual:
		ok, bad := pass, fail
		if cd.op == specs.OpNotEqual {
			ok, bad = fail, pass
		}
		if !args32 {
			a.load(hi)
			c := a.newLabel()
			a.jump(bpf.JumpEqual, vhi, c, bad)
			a.mark(c)
		}
		a.load(lo)
		a.jump(bpf.JumpEqual, vlo, ok, bad)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		if !args32 {
			hiCompare(pass, fail)
		}
		a.load(lo)
		test := bpf.JumpGreaterThan
		if cd.op == specs.OpGreaterEqual {
			test = bpf.JumpGreaterOrEqual
		}
		a.jump(test, vlo, pass, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		if !args32 {
			hiCompare(fail, pass)
		}
		a.load(lo)
		// lo < v  <=>  !(lo >= v);  lo <= v  <=>  !(lo > v)
		test := bpf.JumpGreaterOrEqual
		if cd.op == specs.OpLessEqual {
			test = bpf.JumpGreaterThan
		}
		a.jump(test, vlo, fail, pass)
	case specs.OpMaskedEqual:
		if !args32 {
			a.load(hi)
			a.ins(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mhi})
			c := a.newLabel()
			a.jump(bpf.JumpEqual, vhi, c, fail)
			a.mark(c)
		}
		a.load(lo)
		a.ins(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mlo})
		a.jump(bpf.JumpEqual, vlo, pass, fail)
	default:
		panic("seccomp: operator not validated: " + string(cd.op)) // resolve rejects unknown ops
	}
	a.mark(pass)
}
