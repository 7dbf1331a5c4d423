package seccomp

import (
	"errors"
	"fmt"
	"slices"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cond is one argument comparison of a rule.
type cond struct {
	index           uint
	op              specs.LinuxSeccompOperator
	value, valueTwo uint64
}

// rule is a resolved profile rule. alts are ORed, the conds of one alt ANDed; no alts means the
// rule always matches.
type rule struct {
	names  []string
	action uint32
	alts   [][]cond
}

// policy is a profile resolved for one capability set, kernel and host.
type policy struct {
	defaultAction uint32
	arches        []specs.Arch // ABIs the filter covers, native first
	rules         []rule       // profile order, rules whose action is the default dropped
	// named lists every syscall the resolved profile names, dropped rules included: runc's
	// ENOSYS threshold is the highest of them per ABI.
	named []string
	// enosys: numbers above the threshold get ENOSYS. Off when the default already lets
	// syscalls through or answers ENOSYS itself (runc's patchbpf does the same).
	enosys bool
}

// resolve applies moby's setupSeccomp rules to p without modifying it.
func resolve(p *mobyseccomp.Seccomp, h host, caps []string, kernel kernelVersion) (*policy, error) {
	if p == nil {
		return nil, errors.New("seccomp: nil profile")
	}
	if p.DefaultAction == "" {
		if len(p.Syscalls) == 0 {
			return nil, errors.New("seccomp: profile has no defaultAction and no syscalls, which Docker treats as unconfined; do not compile it")
		}
		return nil, errors.New("seccomp: profile has no defaultAction")
	}
	if len(p.Architectures) != 0 && len(p.ArchMap) != 0 {
		return nil, errors.New("seccomp: profile specifies both architectures and archMap")
	}
	if len(p.LinuxSeccomp.Syscalls) != 0 {
		return nil, errors.New("seccomp: profile sets LinuxSeccomp.Syscalls, which the profile format overrides; use Syscalls")
	}
	if p.ListenerPath != "" {
		return nil, errors.New("seccomp: listenerPath (seccomp agents) is not supported")
	}
	def, err := convertAction(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp: defaultAction: %w", err)
	}
	pol := &policy{defaultAction: def, arches: []specs.Arch{h.native}}
	pol.enosys = !(def == retAllow || def == retLog || def&^retDataMask == retTrace || def == retErrno|errnoENOSYS)

	listed := p.Architectures
	for _, a := range p.ArchMap {
		if a.Arch == h.native {
			listed = append([]specs.Arch{a.Arch}, a.SubArches...)
			break
		}
	}
	for _, a := range listed {
		// Arches this package has no table for can't occur on an x86 kernel; skip them.
		if !slices.Contains(pol.arches, a) && abiFor(a) != nil {
			pol.arches = append(pol.arches, a)
		}
	}

	for i, s := range p.Syscalls {
		if s == nil {
			continue
		}
		names, err := syscallNames(i, s)
		if err != nil {
			return nil, fmt.Errorf("seccomp: %w", err)
		}
		keep, err := applies(s, h, caps, kernel)
		if err != nil {
			return nil, fmt.Errorf("seccomp: syscalls[%d] %v: %w", i, names, err)
		}
		if !keep {
			continue
		}
		r, err := convertRule(s.LinuxSyscall, names)
		if err != nil {
			return nil, fmt.Errorf("seccomp: syscalls[%d] %v: %w", i, names, err)
		}
		pol.named = append(pol.named, names...)
		// libseccomp refuses rules equal to the default action, and runc skips them; doing the
		// same keeps such a rule from shadowing a later one for the same syscall.
		if r.action != def {
			pol.rules = append(pol.rules, r)
		}
	}
	return pol, nil
}

// applies reports whether moby keeps rule s for this host, capability set and kernel.
func applies(s *mobyseccomp.Syscall, h host, caps []string, kernel kernelVersion) (bool, error) {
	if ex := s.Excludes; ex != nil {
		if slices.Contains(ex.Arches, h.name) {
			return false, nil
		}
		for _, c := range ex.Caps {
			if slices.Contains(caps, c) {
				return false, nil
			}
		}
		if ex.MinKernel != nil && kernel.atLeast(*ex.MinKernel) {
			return false, nil
		}
	}
	if in := s.Includes; in != nil {
		if len(in.Arches) > 0 && !slices.Contains(in.Arches, h.name) {
			return false, nil
		}
		for _, c := range in.Caps {
			if !slices.Contains(caps, c) {
				return false, nil
			}
		}
		if in.MinKernel != nil && !kernel.atLeast(*in.MinKernel) {
			return false, nil
		}
	}
	return true, nil
}

func convertRule(s specs.LinuxSyscall, names []string) (rule, error) {
	r := rule{names: names}
	var err error
	if s.ErrnoRet != nil && s.Action != specs.ActErrno && s.Action != specs.ActTrace {
		return r, fmt.Errorf("errnoRet is only valid with %s or %s, not %s", specs.ActErrno, specs.ActTrace, s.Action)
	}
	if r.action, err = convertAction(s.Action, s.ErrnoRet); err != nil {
		return r, err
	}
	var conds []cond
	var perIndex [maxArgs]int
	repeated := false
	for _, a := range s.Args {
		if a.Index >= maxArgs {
			return r, fmt.Errorf("argument index %d out of range 0..%d", a.Index, maxArgs-1)
		}
		switch a.Op {
		case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
			specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
		default:
			return r, fmt.Errorf("unknown operator %q", a.Op)
		}
		perIndex[a.Index]++
		repeated = repeated || perIndex[a.Index] > 1
		conds = append(conds, cond{index: a.Index, op: a.Op, value: a.Value, valueTwo: a.ValueTwo})
	}
	switch {
	case len(conds) == 0:
	case repeated:
		// runc's old behaviour, kept because profiles rely on it: one rule per condition.
		for _, c := range conds {
			r.alts = append(r.alts, []cond{c})
		}
	default:
		r.alts = [][]cond{conds}
	}
	return r, nil
}

// convertAction maps a profile action to a SECCOMP_RET_* value. ERRNO and TRACE default to
// EPERM like runc.
func convertAction(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	errno := uint32(errnoEPERM)
	if errnoRet != nil {
		if *errnoRet > maxErrno {
			return 0, fmt.Errorf("errnoRet %d out of range 0..%d", *errnoRet, maxErrno)
		}
		errno = uint32(*errnoRet)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActTrap:
		return retTrap, nil
	case specs.ActErrno:
		return retErrno | errno, nil
	case specs.ActTrace:
		return retTrace | errno, nil
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActLog:
		return retLog, nil
	case specs.ActNotify:
		return 0, fmt.Errorf("action %s is not supported: berth has no seccomp agent to pass the listener to", a)
	case "":
		return 0, errors.New("action missing")
	}
	return 0, fmt.Errorf("unknown action %q", a)
}

func abiFor(a specs.Arch) *abi {
	for i := range abis {
		if abis[i].arch == a {
			return &abis[i]
		}
	}
	return nil
}
