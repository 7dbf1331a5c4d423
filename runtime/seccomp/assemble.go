package seccomp

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// Assemble encodes a program from Compile into the kernel's struct sock_filter form.
func Assemble(prog []bpf.Instruction) ([]SockFilter, error) {
	if len(prog) == 0 || len(prog) > maxInstructions {
		return nil, fmt.Errorf("seccomp: filter has %d instructions, want 1..%d", len(prog), maxInstructions)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("seccomp: assembling filter: %w", err)
	}
	out := make([]SockFilter, len(raw))
	for i, r := range raw {
		out[i] = SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return out, nil
}
