package process

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"syscall"
	"testing"
)

func TestExitCode(t *testing.T) {
	// Linux wait status encoding: exit code in bits 8-15, signal in 0-6,
	// 0x7f in the low byte for a stopped child.
	tests := []struct {
		ws   syscall.WaitStatus
		want int
	}{
		{0, 0},
		{1 << 8, 1},
		{42 << 8, 42},
		{126 << 8, 126},
		{127 << 8, 127},
		{255 << 8, 255},
		{syscall.WaitStatus(syscall.SIGKILL), 137},
		{syscall.WaitStatus(syscall.SIGTERM), 143},
		{syscall.WaitStatus(syscall.SIGINT) | 0x80, 130}, // with core dump flag
		{syscall.WaitStatus(syscall.SIGSTOP)<<8 | 0x7f, -1},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.ws); got != tt.want {
			t.Errorf("ExitCode(%#x) = %d, want %d", uint32(tt.ws), got, tt.want)
		}
	}
}

func TestExecError(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		err      error
		wantCode int
		wantMsg  string
	}{
		{"nil", "x", nil, 0, ""},
		{"not in PATH", "foo", &exec.Error{Name: "foo", Err: exec.ErrNotFound}, 127, `exec: "foo": executable file not found in $PATH`},
		{"absolute missing", "/nope", &exec.Error{Name: "/nope", Err: &fs.PathError{Op: "stat", Path: "/nope", Err: syscall.ENOENT}}, 127, `exec: "/nope": stat /nope: no such file or directory`},
		{"lookup permission", "/etc/passwd", &exec.Error{Name: "/etc/passwd", Err: fs.ErrPermission}, 126, `exec: "/etc/passwd": permission denied`},
		{"lookup directory", "/bin", &exec.Error{Name: "/bin", Err: syscall.EISDIR}, 126, `exec: "/bin": is a directory`},
		{"execve ENOENT (bad shebang)", "/run.sh", syscall.ENOENT, 127, "exec /run.sh: no such file or directory"},
		{"execve EACCES", "/data", syscall.EACCES, 126, "exec /data: permission denied"},
		{"execve EPERM", "/x", syscall.EPERM, 126, "exec /x: operation not permitted"},
		{"execve ENOEXEC", "/arm64bin", syscall.ENOEXEC, 126, "exec /arm64bin: exec format error"},
		{"execve ENOTDIR", "/a/b", syscall.ENOTDIR, 127, "exec /a/b: not a directory"},
		{"execve ETXTBSY", "/x", syscall.ETXTBSY, 126, "exec /x: text file busy"},
		{"execve E2BIG", "/x", syscall.E2BIG, 128, "exec /x: argument list too long"},
		{"runc-style PathError", "/x", &fs.PathError{Op: "exec", Path: "/x", Err: syscall.ENOENT}, 127, "exec /x: no such file or directory"},
		{"wrapped", "/x", fmt.Errorf("start: %w", syscall.EACCES), 126, "exec /x: start: permission denied"},
		{"other", "/x", errors.New("boom"), 128, "exec /x: boom"},
	}
	for _, tt := range tests {
		code, msg := ExecError(tt.path, tt.err)
		if code != tt.wantCode || msg != tt.wantMsg {
			t.Errorf("%s: ExecError = %d %q, want %d %q", tt.name, code, msg, tt.wantCode, tt.wantMsg)
		}
	}
}
