//go:build !linux

package memtrim

// Text does nothing off Linux, where berth runs no containers.
func Text() {}
