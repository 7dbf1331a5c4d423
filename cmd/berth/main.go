// Command berth runs compose projects with its own container runtime and no daemon.
package main

import (
	"os"

	"github.com/berth-sh/berth/runtime/monitor"
	"github.com/berth-sh/berth/runtime/pid1"
)

func main() {
	// The monitor, the init and the workload are berth re-executed; they must
	// never reach cobra, whose flags and config would get in their way.
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case monitor.MonitorArg:
			if len(os.Args) > 2 {
				os.Exit(monitor.RunMonitor(os.Args[2]))
			}
		case monitor.InitArg:
			os.Exit(pid1.Main())
		case pid1.WorkloadExecArg:
			pid1.ExecWorkload()
		}
	}
	os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
