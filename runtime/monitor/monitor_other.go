//go:build !linux

package monitor

import (
	"github.com/berth-sh/berth/runtime/pid1"

	"context"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"syscall"
	"time"
)

func errOS(op string) error {
	return fmt.Errorf("monitor: %s: containers need Linux, this is %s: %w", op, goruntime.GOOS, ErrNotSupported)
}

// Start is not supported: containers exist only on Linux.
func Start(ctx context.Context, self string, spec Spec, held ...*os.File) (State, error) {
	return State{}, errOS("start")
}

// RunMonitor is not supported: containers exist only on Linux. It returns 1.
func RunMonitor(bundle string) int { return 1 }

// Status is not supported: containers exist only on Linux.
func Status(bundle string) (State, error) { return State{}, errOS("status") }

// Wait is not supported: containers exist only on Linux.
func Wait(ctx context.Context, bundle, runDir string) (State, error) {
	return State{}, errOS("wait")
}

// Stop is not supported: containers exist only on Linux.
func Stop(ctx context.Context, runDir string, timeout time.Duration) error { return errOS("stop") }

// StopKeeping is not supported: containers exist only on Linux.
func StopKeeping(ctx context.Context, runDir string, timeout time.Duration) error {
	return errOS("stop")
}

// Kill is not supported: containers exist only on Linux.
func Kill(ctx context.Context, runDir string, sig syscall.Signal) error { return errOS("kill") }

// Delete is not supported: containers exist only on Linux.
func Delete(bundle, runDir string) error { return errOS("delete") }

// AttachOptions choose what an attached client takes part in.
type AttachOptions struct {
	Stdin  bool
	Remove bool
}

// Attachment is a client's connection to a container's stdio.
type Attachment struct{}

// ErrDetached is returned by Stream when the client detached.
var ErrDetached = errors.New("detached from the container")

// Attach is not supported: containers exist only on Linux.
func Attach(ctx context.Context, runDir string, o AttachOptions) (*Attachment, error) {
	return nil, errOS("attach")
}

// Stream is not supported: containers exist only on Linux.
func (a *Attachment) Stream(stdin io.Reader, stdout, stderr io.Writer) (State, error) {
	return State{}, errOS("attach")
}

// Resize is not supported: containers exist only on Linux.
func (a *Attachment) Resize(height, width uint16) error { return errOS("attach") }

// Close is not supported: containers exist only on Linux.
func (a *Attachment) Close() error { return errOS("attach") }

// ExecSession is a client's exec.
type ExecSession struct{ Pty *os.File }

// Exec is not supported: containers exist only on Linux.
func Exec(ctx context.Context, runDir string, req pid1.ExecRequest, stdio []*os.File, detach bool) (*ExecSession, error) {
	return nil, errOS("exec")
}

// Wait is not supported: containers exist only on Linux.
func (s *ExecSession) Wait() (int, error) { return -1, errOS("exec") }

// Close is not supported: containers exist only on Linux.
func (s *ExecSession) Close() error { return errOS("exec") }

// UpdateDNS is not supported off Linux.
func UpdateDNS(ctx context.Context, runDir string, cfg *DNSConfig) error { return errOS("dns") }

// Busy is false off Linux.
func Busy(bundle string) bool { return false }
