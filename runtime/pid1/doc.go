// Package pid1 owns being PID 1 of a container and starting its workload.
//
// The berth binary runs Run in its init mode, as the first process of new
// mount, PID, UTS and IPC namespaces (plus a cgroup and a network namespace)
// that its caller, the per-container monitor, created with clone flags. Run
// must never run in the host's namespaces: it mounts, pivots the root,
// writes sysctls and, when the workload ends, SIGKILLs every other process
// it can see. It refuses to start unless it is PID 1 of a PID namespace
// other than the initial one, and rootfs.Prepare refuses the host's mount
// and UTS namespaces.
//
// # Handing over the configuration
//
// The caller writes Config as JSON on an inherited file descriptor, ConfigFD
// (3, the first of exec.Cmd.ExtraFiles), and closes its end; Main reads it,
// closes the descriptor and calls Run. Run returns the status the init
// process must exit with.
//
// # Order of the init's steps (and why)
//
//  1. Refuse unless PID 1 of a new PID namespace; make the init not dumpable,
//     so that no process of the container can open /proc/1/exe, /proc/1/fd
//     or /proc/1/mem (CVE-2019-5736: the init is berth's own binary).
//  2. Register for every signal before anything is started, so that none
//     sent to the container between now and the workload's start is lost:
//     with a handler installed, the kernel delivers to a namespace's PID 1.
//  3. Sysctls, through the host's /proc/sys, before rootfs.Prepare: Prepare
//     makes /proc/sys read-only and is single-shot, so they cannot be written
//     afterwards. A /proc/sys file acts on the namespaces of the writer, which
//     are already the container's. They are checked again here with
//     process.CheckSysctlsIn against the namespaces actually found, so a
//     net.* key is refused when the init shares the host's network namespace.
//  4. rootfs.Prepare, with Config.Hostname as the hostname (set in the new UTS
//     namespace before pivot_root). Afterwards the root is the container's
//     and the cwd is its "/".
//  5. The working directory is created when missing (0755, root-owned, as
//     Docker's SetupWorkingDirectory does). This happens after pivot_root, so
//     every path, symlinks included, resolves inside the container. With a
//     read-only root a missing working directory is an error: the caller has
//     to create it in the image's writable layer first.
//  6. The workload is started as the init's child. Go cannot run code between
//     fork and exec, so the child is berth itself, re-executed from
//     /proc/self/exe (the sealed memfd copy the init was started from, see
//     design.md) with argv[1] = WorkloadExecArg and an empty environment; its
//     spec arrives as JSON on fd 3 (a pipe). main.go dispatches that mode to
//     ExecWorkload, which applies the process settings on one locked thread
//     and execve's the workload from that thread, so the workload is the
//     init's direct child and its PID is the one the init waits for.
//  7. As PID 1: every child is reaped (orphaned grandchildren included),
//     every catchable signal except SIGCHLD and SIGURG (the Go runtime's
//     preemption signal) is forwarded to the workload, and when the workload
//     has exited everything left in the namespace is SIGKILLed and reaped.
//     The exit status is the workload's: its code, or 128+signal.
//
// # Order of the workload's steps (ExecWorkload)
//
// Not dumpable; spec read and its fd closed; umask (Docker's 0022 unless
// Config.Umask); rlimits (while still root, so that hard limits may be
// raised; they apply to the workload only, never to the init, so a tiny
// nofile cannot break reaping); chdir to the working directory as root,
// retried after the user switch when root is refused (root-squashed
// volumes); bounding set reduced to Config.Capabilities with
// PR_CAPBSET_DROP and the ambient set cleared; PR_SET_KEEPCAPS, setgroups,
// setresgid, setresuid (on all threads); the cwd checked to be reachable
// from the root (CVE-2024-21626); capset on the exact sets: permitted =
// effective = the capabilities, inheritable empty (plus CAP_SYS_ADMIN in
// effective only when a seccomp filter must be loaded without
// no_new_privs, since the kernel then requires it); no_new_privs when asked;
// the executable looked up in the container's PATH (process.LookPath);
// every fd above 2 marked close-on-exec with close_range(2); the seccomp
// filter installed last (TSYNC), so that a filter denying capset, setuid
// or prctl cannot break the setup; then execve. execve recomputes the
// capability sets from the bounding set as Docker's workloads get them:
// root gets the capabilities, any other user gets none in effective and
// permitted.
//
// Failures to start are written to stderr with Docker's words and give
// Docker's codes (process.ExecError): 127 for a missing command, 126 for one
// that cannot be executed, 128 for anything else, including setup errors of
// the init itself.
//
// Not done here: terminals (setsid, the controlling tty and a foreground
// process group, which is why the workload stays in the init's process
// group), exec sessions and healthcheck probes (the monitor's socketpair),
// AppArmor/SELinux, the session keyring, user namespaces.
package pid1
