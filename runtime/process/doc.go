// Package process owns turning an image config plus the user's overrides into
// the process spec of a container's workload: argv (entrypoint + command),
// environment, working directory, user and groups, rlimits, capabilities and
// namespaced sysctls, with Docker's rules and Docker's error texts.
//
// It also knows how the init reports a failed exec (exit codes 126/127 and
// the messages Docker shows) and how a wait status becomes an exit code.
//
// Everything here is a pure function of its inputs, except the few helpers
// that read a container rootfs or /proc (ResolveUser, LookPath, LastCap,
// NrOpen, HostRlimit). The package must not start, signal or wait for
// processes: the init and the monitor do that with what this package returns.
//
// Files inside a container rootfs are read with openat2(RESOLVE_IN_ROOT) on
// Linux, so an absolute or ".." symlink planted by an image (for example
// /etc/passwd -> /host/file) resolves inside the rootfs and never reaches a
// host file. On other systems those helpers return errors.ErrUnsupported.
package process
