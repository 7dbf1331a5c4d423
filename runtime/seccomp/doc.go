// Package seccomp compiles seccomp profiles (Docker's default profile from
// github.com/moby/profiles/seccomp, or a JSON profile file as `security_opt: seccomp=FILE`
// names) into classic BPF, and installs the result on the calling process.
//
// It owns three steps and nothing else:
//
//   - Resolving a profile for one container, exactly as moby's setupSeccomp does: rules are kept
//     or dropped by their Includes/Excludes capabilities (against the bounding set in Options),
//     minimum kernel version and host architecture, and the profile's archMap picks the ABIs.
//   - Compiling the resolved rules into one filter for every x86 ABI of the host (x86_64, i386
//     and x32 on amd64; i386 on 386), with runc's semantics: syscall numbers above the highest
//     one the profile names get ENOSYS so that newer syscalls fall back, rules whose action
//     equals the default action are dropped, and repeated conditions on one argument are ORed.
//   - Installing the filter with SECCOMP_FILTER_FLAG_TSYNC so every thread of the process gets it.
//
// It must not decide policy (which profile, which capabilities, whether to set no_new_privs:
// those belong to the runtime's init), must not set PR_SET_NO_NEW_PRIVS itself (that would break
// setuid binaries in containers that did not ask for it), and must not drop or change
// capabilities. It keeps no state between calls.
//
// Rule semantics (the same in the compiler and in the tests' reference interpreter): for a
// syscall, the rules naming it are tried in profile order and the first one whose conditions
// hold decides; a rule without conditions always holds. Conditions of one rule are ANDed,
// unless an argument index repeats in the rule, in which case each condition becomes its own
// rule (ORed), as runc does. The 32-bit ABIs (i386, x32) compare only the low 32 bits of
// arguments and values, as libseccomp does; x86_64 compares all 64 bits.
//
// Syscall tables are generated (zsysnum.go, by mksysnum.go); names unknown on an ABI are skipped.
package seccomp

//go:generate go run mksysnum.go
