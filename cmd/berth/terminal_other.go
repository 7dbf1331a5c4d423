//go:build !linux

package main

import "io"

// isTerminal is false off Linux, where berth only renders plain progress lines.
func isTerminal(io.Writer) bool { return false }
