// Command berth-runtime is berth's container runtime helper: the monitor,
// init and workload-exec modes of berth without its CLI. berth starts it
// from beside its own binary; it is not run by hand.
package main

import (
	"fmt"
	"os"

	"github.com/berth-sh/berth/runtime/monitor"
)

func main() {
	if code, ok := monitor.Dispatch(os.Args); ok {
		os.Exit(code)
	}
	fmt.Fprintln(os.Stderr, "berth-runtime: berth's container runtime helper, started by berth; run berth instead")
	os.Exit(2)
}
