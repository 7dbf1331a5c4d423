//go:build !linux

package pid1

import (
	"fmt"
	"os"
	"runtime"

	"github.com/berth-sh/berth/runtime/process"
)

// Main is the init mode's entry point; containers exist only on Linux.
func Main() int { return Run(Config{}) }

// Run is not supported: containers exist only on Linux.
func Run(Config) int {
	fmt.Fprintf(os.Stderr, "berth init: not supported on %s\n", runtime.GOOS)
	return process.ExitStartFailed
}

// ExecWorkload is not supported: containers exist only on Linux.
func ExecWorkload() {
	fmt.Fprintf(os.Stderr, "berth: workload-exec is not supported on %s\n", runtime.GOOS)
	os.Exit(process.ExitStartFailed)
}
