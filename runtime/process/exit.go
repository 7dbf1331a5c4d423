package process

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"syscall"
)

// Exit codes of a workload that could not be started, as Docker reports them
// (moby's start-error translation) and as shells use them.
const (
	// ExitCannotExecute: the file exists but cannot be executed (EACCES,
	// a directory, no x bit, bad format).
	ExitCannotExecute = 126
	// ExitNotFound: no such command or file (also a missing interpreter or
	// dynamic loader, which execve reports as ENOENT).
	ExitNotFound = 127
	// ExitStartFailed: any other failure to start; Docker's default.
	ExitStartFailed = 128
)

// ExitCode turns a wait status into the exit code Docker reports: the exit
// status, or 128+signal for a killed process (as runc, conmon and shells do).
// A status that is neither (stopped, continued) gives -1.
func ExitCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	default:
		return -1
	}
}

// ExecError returns the exit code and the one-line message the init prints
// when starting path failed with err, in Docker/runc's words:
//
//   - a lookup error (*exec.Error, from LookPath or exec.LookPath) keeps Go's
//     text: exec: "foo": executable file not found in $PATH;
//   - an execve error gets runc's form: exec /app/run.sh: no such file or
//     directory (the usual sign of a CRLF shebang or a missing loader).
//
// Codes: 127 for not found (exec.ErrNotFound, ENOENT, ENOTDIR), 126 for found
// but not executable (EACCES, EPERM, EISDIR, ENOEXEC, ETXTBSY), 128 otherwise.
// A nil err gives 0 and "".
func ExecError(path string, err error) (code int, msg string) {
	if err == nil {
		return 0, ""
	}
	switch {
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		code = ExitNotFound
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EISDIR),
		errors.Is(err, syscall.ENOEXEC), errors.Is(err, syscall.ETXTBSY):
		code = ExitCannotExecute
	default:
		code = ExitStartFailed
	}
	var ee *exec.Error
	var pe *fs.PathError
	switch {
	case errors.As(err, &ee):
		msg = ee.Error()
	case errors.As(err, &pe) && pe.Op == "exec":
		msg = pe.Error()
	default:
		msg = fmt.Sprintf("exec %s: %v", path, err)
	}
	return code, msg
}
