package seccomp

import mobyseccomp "github.com/moby/profiles/seccomp"

// Default returns Docker's default profile (moby's DefaultProfile), a fresh copy each call.
func Default() *mobyseccomp.Seccomp { return mobyseccomp.DefaultProfile() }
