package seccomp

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// asm is a tiny label assembler: classic BPF jumps are relative and conditional ones reach at
// most 255 instructions, so the compiler emits symbolic forward jumps and asm lays them out,
// turning out-of-range conditional jumps into "jcond 0,1; ja T; ja F".
type asm struct {
	items  []item
	labels int
}

type label int

type itemKind int

const (
	kindIns   itemKind = iota // a plain instruction
	kindLabel                 // marks the position of label
	kindCond                  // conditional jump to jt/jf
	kindJa                    // unconditional jump to jt
)

type item struct {
	kind   itemKind
	ins    bpf.Instruction
	label  label
	cond   bpf.JumpTest
	k      uint32
	jt, jf label
	long   bool
}

func (a *asm) newLabel() label { a.labels++; return label(a.labels - 1) }

func (a *asm) mark(l label) { a.items = append(a.items, item{kind: kindLabel, label: l}) }

func (a *asm) ins(i bpf.Instruction) { a.items = append(a.items, item{kind: kindIns, ins: i}) }

func (a *asm) ret(k uint32) { a.ins(bpf.RetConstant{Val: k}) }

func (a *asm) load(off uint32) { a.ins(bpf.LoadAbsolute{Off: off, Size: 4}) }

func (a *asm) ja(l label) { a.items = append(a.items, item{kind: kindJa, jt: l}) }

// jump emits "if A <cond> k goto jt else goto jf". Only the kernel's native tests (eq, gt, ge,
// set) are used so that disassembly round-trips.
func (a *asm) jump(c bpf.JumpTest, k uint32, jt, jf label) {
	a.items = append(a.items, item{kind: kindCond, cond: c, k: k, jt: jt, jf: jf})
}

// program lays out the items. Every jump must go forward.
func (a *asm) program() ([]bpf.Instruction, error) {
	pos := make([]int, a.labels)
	for {
		n := 0
		for i := range pos {
			pos[i] = -1
		}
		at := make([]int, len(a.items))
		for i, it := range a.items {
			at[i] = n
			switch {
			case it.kind == kindLabel:
				pos[it.label] = n
			case it.kind == kindCond && it.long:
				n += 3
			default:
				n++
			}
		}
		grew := false
		for i := range a.items {
			it := &a.items[i]
			if it.kind != kindCond || it.long {
				continue
			}
			for _, l := range []label{it.jt, it.jf} {
				if pos[l] < 0 {
					return nil, fmt.Errorf("seccomp: internal error: label %d never placed", l)
				}
				if off := pos[l] - at[i] - 1; off > 255 {
					it.long, grew = true, true
				}
			}
		}
		if grew {
			continue
		}
		prog := make([]bpf.Instruction, 0, n)
		for i, it := range a.items {
			rel := func(l label, from int) (int, error) {
				off := pos[l] - from - 1
				if off < 0 {
					return 0, fmt.Errorf("seccomp: internal error: backward jump at %d", at[i])
				}
				return off, nil
			}
			switch it.kind {
			case kindIns:
				prog = append(prog, it.ins)
			case kindJa:
				off, err := rel(it.jt, at[i])
				if err != nil {
					return nil, err
				}
				prog = append(prog, bpf.Jump{Skip: uint32(off)})
			case kindCond:
				if it.long {
					t, err := rel(it.jt, at[i]+1)
					if err != nil {
						return nil, err
					}
					f, err := rel(it.jf, at[i]+2)
					if err != nil {
						return nil, err
					}
					prog = append(prog,
						bpf.JumpIf{Cond: it.cond, Val: it.k, SkipTrue: 0, SkipFalse: 1},
						bpf.Jump{Skip: uint32(t)},
						bpf.Jump{Skip: uint32(f)})
					continue
				}
				t, err := rel(it.jt, at[i])
				if err != nil {
					return nil, err
				}
				f, err := rel(it.jf, at[i])
				if err != nil {
					return nil, err
				}
				prog = append(prog, bpf.JumpIf{Cond: it.cond, Val: it.k, SkipTrue: uint8(t), SkipFalse: uint8(f)})
			}
		}
		return prog, nil
	}
}
