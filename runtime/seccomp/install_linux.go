package seccomp

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SockFilter is one instruction of an assembled filter, the kernel's struct sock_filter.
type SockFilter = unix.SockFilter

// Install loads filter on the calling process with seccomp(SECCOMP_SET_MODE_FILTER,
// SECCOMP_FILTER_FLAG_TSYNC): every thread gets it, including Go runtime threads, so the calling
// goroutine need not be locked to its thread. It does not set no_new_privs: the kernel then
// requires CAP_SYS_ADMIN in the caller's user namespace, so the init either sets
// PR_SET_NO_NEW_PRIVS first (when the container asks for it) or installs before dropping
// capabilities. Everything the process does afterwards must pass the filter.
func Install(filter []SockFilter) error {
	if len(filter) == 0 || len(filter) > maxInstructions {
		return fmt.Errorf("seccomp: filter has %d instructions, want 1..%d", len(filter), maxInstructions)
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	goruntime.KeepAlive(filter)
	switch {
	case errors.Is(errno, unix.EACCES):
		return fmt.Errorf("seccomp: installing filter needs no_new_privs or CAP_SYS_ADMIN: %w", errno)
	case errno != 0:
		return fmt.Errorf("seccomp: installing filter: %w", errno)
	case r != 0:
		// With TSYNC a positive return is a thread that could not be synchronized (it runs
		// another filter or is in strict mode); nothing was installed.
		return fmt.Errorf("seccomp: installing filter: thread %d could not be synchronized", r)
	}
	return nil
}
