//go:build !linux

package memtrim

import "time"

// Delay is how long a runtime process runs before it calls Text.
const Delay = 2 * time.Second

// Text does nothing off Linux, where berth runs no containers.
func Text() {}
