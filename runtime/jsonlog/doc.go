// Package jsonlog owns Docker's json-file log format: writing a container's
// stdout and stderr as one JSON object per line, with Docker's size-based
// rotation, and reading those files back with tail, since/until and follow,
// as `docker logs` does.
//
// It must not know about containers: callers hand it a path and byte
// streams, and get entries back.
//
// File format (byte-compatible with moby's jsonfilelog driver):
//
//	{"log":"hello\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}
//
// Each complete line, with its "\n", is one entry. A line longer than 16 KiB
// is split into 16 KiB entries without "\n" (partials); all pieces of one
// line carry the time of its first piece, as Docker's copier does. Rotation
// renames <path> to <path>.1, <path>.1 to <path>.2 and so on, like Docker.
//
// Reading follows a file by polling (every 150 ms) instead of inotify: it
// works the same across processes, file systems and rotations, needs no
// goroutine or file descriptor besides the open log, and 150 ms of latency
// is invisible to a human reading `logs -f`.
package jsonlog
