package monitor

import (
	"os"
	"path/filepath"

	"github.com/berth-sh/berth/runtime/pid1"
)

// RuntimeBinaryName is the runtime helper installed next to berth: the
// monitor, init and workload-exec modes alone, without the CLI's packages,
// whose initialisation (compose schemas, registries) would cost every
// container ~9 ms per process and several MB of memory per monitor.
const RuntimeBinaryName = "berth-runtime"

// Dispatch runs the runtime mode args[1] names (monitor, init or
// workload-exec) and reports whether args named one; the modes end the
// process themselves, or return the status to exit with. Both berth and
// berth-runtime call it first thing in main, before any flag parsing.
func Dispatch(args []string) (code int, ok bool) {
	if len(args) < 2 {
		return 0, false
	}
	switch args[1] {
	case MonitorArg:
		if len(args) > 2 {
			return RunMonitor(args[2]), true
		}
	case InitArg:
		return pid1.Main(), true
	case pid1.WorkloadExecArg:
		pid1.ExecWorkload() // does not return
		return 127, true
	}
	return 0, false
}

// Binary is the program that monitors run as: berth-runtime beside the
// running berth when it is there, otherwise berth itself, which has the
// same modes (a berth installed alone, by go install, still works).
func Binary() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	helper := filepath.Join(filepath.Dir(self), RuntimeBinaryName)
	if st, err := os.Stat(helper); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return helper, nil
	}
	return self, nil
}
