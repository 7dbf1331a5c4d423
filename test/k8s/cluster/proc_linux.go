package cluster

import "syscall"

// sysProcAttr puts a component in its own process group (stopped as a
// group) and kills it if the test process dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
