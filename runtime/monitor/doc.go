// Package monitor owns one container's monitor process and its state files.
//
// The CLI calls Start, which writes the container's Spec to
// <Bundle>/config.json and re-executes berth as "berth monitor <bundle>".
// That process (stage 1) starts the monitor proper again from
// /proc/self/exe and exits at once: a double fork, so the monitor is
// never a child of the CLI, is reparented to the nearest subreaper (PID 1
// on a host) when stage 1 exits, and outlives the CLI. Stage 1 runs in a
// new session (setsid) and the monitor is not its leader, so it can never
// acquire a controlling terminal. The monitor reports the container
// running (or its failure) on a pipe inherited from Start, then lives as
// long as the container.
//
// The monitor, in this order: creates the cgroup (runtime/cgroup); copies
// its own binary into a sealed memfd (CVE-2019-5736: the container can
// never reach berth's file); forks the init from /proc/self/fd/N with new
// mount, PID, UTS, IPC, cgroup and network namespaces; moves it into the
// cgroup (AddProc, or clone3 CLONE_INTO_CGROUP on cgroup v2 hosts) while
// the init still blocks reading its pid1.Config, so that no container code
// runs outside the cgroup; resets the init's oom_score_adj to 0 (the
// monitor itself runs at -1000 so that the OOM killer never picks it);
// brings up "lo" in the new network namespace (the monitor does it, from a
// thread it moves there and back, because pid1 does not touch networking
// and a container's netns otherwise has its loopback down); then writes
// the config on fd 3. The container's stdout and stderr are pipes the
// monitor copies into the json-file log <Bundle>/<ID>-json.log
// (runtime/jsonlog); stdin is /dev/null.
//
// # State
//
// <Bundle>/state.json holds State and is replaced atomically (temp file,
// fsync, rename) at each change: created, running, exited. The exit record
// is written only after the log is drained, the cgroup's OOM counter read
// and the cgroup deleted, so a caller that sees "exited" sees the whole
// log and no cgroup.
//
// # Control socket
//
// <RunDir>/monitor.sock (mode 0600) takes one JSON request per connection
// and answers one JSON line:
//
//	{"op":"state"}
//	{"op":"kill","signal":9}
//	{"op":"stop","timeout_ms":10000}
//
// stop sends Spec.StopSignal (SIGTERM by default) to the init, which
// forwards it to the workload, waits up to the timeout (a negative one
// waits for ever; none means Spec.StopTimeout, 10 s by default, Docker's)
// and then SIGKILLs the whole cgroup. Its answer comes once the init has
// exited. Signals go to the init's pid while the monitor has not reaped
// it (it waits with WNOWAIT first), so a recycled pid is never signalled.
//
// # When the monitor dies
//
// The init is started with PDEATHSIG SIGKILL from a thread that lives
// exactly as long as the init, so a monitor killed with SIGKILL takes its
// container with it (when a PID namespace's init dies the kernel kills
// the rest). This deliberately differs from conmon, where the container
// outlives its monitor: without its monitor a container has no log
// reader (a workload writing to its stdout pipe would get EPIPE), no
// control socket and no exit record, so it could not be managed anyway.
// Status then reports Status "exited", ExitCode 137 (the SIGKILL) and
// Error "monitor died"; Delete kills whatever may still be in the cgroup
// and removes it.
//
// # Not done here
//
// Terminals and attach, exec sessions, healthchecks, restart policies,
// DNS, netns setup beyond lo. The cgroup namespace is created by the
// clone, before the init is moved into its cgroup, so its root is the
// monitor's cgroup, not the container's (runtime.md 1.1 recommends an
// unshare in the init after the move, which pid1 does not do yet).
//
// The package never prints to the terminal: the monitor's stdio is
// /dev/null, the container's output goes to the json-file log, and the
// monitor's own failures go to State.Error and to Start's error.
package monitor
