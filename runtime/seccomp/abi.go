package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Kernel ABI constants (include/uapi/linux/seccomp.h, audit.h). They are spelled out here
// rather than taken from x/sys/unix so that the compiler also builds on other OSes.
const (
	retKillThread  = 0x00000000
	retKillProcess = 0x80000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
	retDataMask    = 0x0000ffff

	auditArchX86_64 = 0xc000003e
	auditArchI386   = 0x40000003

	// x32SyscallBit marks x32 syscall numbers, which arrive with AUDIT_ARCH_X86_64.
	x32SyscallBit = 0x40000000

	errnoEPERM  = 1
	errnoENOSYS = 38
	maxErrno    = 4095

	// Offsets in struct seccomp_data (little endian): nr u32, arch u32, ip u64, args [6]u64.
	offNr   = 0
	offArch = 4
	offArgs = 16
	maxArgs = 6

	// maxInstructions is the kernel's BPF_MAXINSNS.
	maxInstructions = 4096
)

// badArchAction is what a syscall from an ABI the profile does not list gets. libseccomp's
// default is to kill the thread; killing the whole process avoids leaving a half-dead one.
const badArchAction = retKillProcess

// abi is one syscall ABI the filter can tell apart.
type abi struct {
	arch      specs.Arch
	auditArch uint32
	nrs       map[string]uint32
	// args32: the kernel takes 32-bit arguments, so only the low halves are compared.
	args32 bool
}

// abis lists the ABIs berth can filter; x32 shares AUDIT_ARCH_X86_64 with x86_64 and is told
// apart by x32SyscallBit in the syscall number.
var abis = [...]abi{
	{arch: specs.ArchX86_64, auditArch: auditArchX86_64, nrs: sysnumX86_64},
	{arch: specs.ArchX32, auditArch: auditArchX86_64, nrs: sysnumX32, args32: true},
	{arch: specs.ArchX86, auditArch: auditArchI386, nrs: sysnumX86, args32: true},
}

// host describes a Go architecture: the libseccomp name moby's rule arch filters compare
// against, and the native ABI.
type host struct {
	name   string
	native specs.Arch
}

func hostFor(goarch string) (host, error) {
	switch goarch {
	case "amd64":
		return host{name: "amd64", native: specs.ArchX86_64}, nil
	case "386":
		return host{name: "x86", native: specs.ArchX86}, nil
	}
	return host{}, fmt.Errorf("seccomp: architecture %s is not supported (only amd64 and 386 have syscall tables)", goarch)
}
