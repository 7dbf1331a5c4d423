//go:build !linux

package monitor

import (
	"context"
	"fmt"
	goruntime "runtime"
	"syscall"
	"time"
)

func errOS(op string) error {
	return fmt.Errorf("monitor: %s: containers need Linux, this is %s: %w", op, goruntime.GOOS, ErrNotSupported)
}

// Start is not supported: containers exist only on Linux.
func Start(ctx context.Context, self string, spec Spec) (State, error) {
	return State{}, errOS("start")
}

// RunMonitor is not supported: containers exist only on Linux. It returns 1.
func RunMonitor(bundle string) int { return 1 }

// Status is not supported: containers exist only on Linux.
func Status(bundle string) (State, error) { return State{}, errOS("status") }

// Wait is not supported: containers exist only on Linux.
func Wait(ctx context.Context, bundle string) (State, error) { return State{}, errOS("wait") }

// Stop is not supported: containers exist only on Linux.
func Stop(ctx context.Context, runDir string, timeout time.Duration) error { return errOS("stop") }

// Kill is not supported: containers exist only on Linux.
func Kill(ctx context.Context, runDir string, sig syscall.Signal) error { return errOS("kill") }

// Delete is not supported: containers exist only on Linux.
func Delete(bundle, runDir string) error { return errOS("delete") }
