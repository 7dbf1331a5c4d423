//go:build !linux

package seccomp

import mobyseccomp "github.com/moby/profiles/seccomp"

// Default returns nil: moby builds its default profile only on Linux, and Compile rejects a nil
// profile with a clear error.
func Default() *mobyseccomp.Seccomp { return nil }
