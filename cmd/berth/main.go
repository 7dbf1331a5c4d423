// Command berth runs compose projects with its own container runtime and no daemon.
package main

import (
	"os"

	"github.com/berth-sh/berth/runtime/monitor"
)

func main() {
	// The monitor, the init and the workload are berth re-executed (when
	// berth-runtime is not installed beside it); they must never reach
	// cobra, whose flags and config would get in their way.
	if code, ok := monitor.Dispatch(os.Args); ok {
		os.Exit(code)
	}
	os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
