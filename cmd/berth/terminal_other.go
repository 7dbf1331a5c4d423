//go:build !linux

package main

import (
	"errors"
	"io"
	"os"
)

// isTerminal is false off Linux, where berth only renders plain progress lines.
func isTerminal(io.Writer) bool { return false }

// terminalFd is never a terminal off Linux.
func terminalFd(any) (int, bool) { return 0, false }

// makeRaw is not supported off Linux.
func makeRaw(int) (func(), error) { return nil, errors.New("raw terminal mode needs Linux") }

// terminalSize is unknown off Linux.
func terminalSize(int) [2]uint16 { return [2]uint16{} }

// resizeSignal is not watched off Linux.
var resizeSignal os.Signal = nil

// setTerminalSize is not supported off Linux.
func setTerminalSize(int, [2]uint16) error { return errors.New("terminals need Linux") }
