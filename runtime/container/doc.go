// Package container keeps Docker-like container records on top of
// runtime/monitor: what `berth container run|create|start|ls|stop|kill|rm|
// logs|inspect|wait|pause|unpause|top|stats|restart` work on. A pause is
// the cgroup's freezer and nothing else (ops.go).
//
// A container is a directory $ROOT/containers/<id> (the monitor's bundle)
// holding berth's own record, container.json (name, image, creation time,
// the user's options and the process resolved from them), the monitor's
// config.json and state.json, the json-file log, and the overlay rootfs
// (rootfs/, upper/, work/). The run dir, $RUN/containers/<id>, holds the
// monitor's socket.
//
// Everything that can be checked is checked by Create, before any process
// exists: the image, the command, the user, capabilities, ulimits, the
// seccomp profile and the resource values. Those failures match ErrInvalid
// so that the CLI can exit 125 as Docker does. Start builds the monitor's
// Spec from the record, so a container starts again the same way.
//
// There is no daemon: a container started with AutoRemove and detached is
// removed by the next List that sees it exited (a foreground run removes
// it itself).
//
// Not done here: terminals, stdin, exec, networks beyond lo, volumes and
// bind mounts, restart policies, healthchecks, host devices for
// --privileged.
package container
