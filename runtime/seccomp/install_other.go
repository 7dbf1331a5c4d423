//go:build !linux

package seccomp

import (
	"fmt"
	goruntime "runtime"
)

// SockFilter is one instruction of an assembled filter, laid out like Linux's struct
// sock_filter, so that compiling and assembling also work (and are tested) off Linux.
type SockFilter struct {
	Code uint16
	Jt   uint8
	Jf   uint8
	K    uint32
}

// Install fails: seccomp exists only on Linux.
func Install(filter []SockFilter) error {
	return fmt.Errorf("seccomp: not supported on %s", goruntime.GOOS)
}
