package container

import (
	"os"
	"path"
)

// FileMount is one compose secret or config: a file put read-only in the
// container, with its own owner and mode, whatever the source's are.
type FileMount struct {
	// Name is the secret's or config's name.
	Name string
	// Target is the absolute path in the container.
	Target string
	// File is the host file it comes from (compose's file:), read at each
	// start; Content is used when File is empty (environment:, content:).
	File    string `json:",omitempty"`
	Content []byte `json:",omitempty"`
	// UID and GID own the file in the container; Mode is its permission
	// bits (0: compose's default 0444).
	UID  int
	GID  int
	Mode uint32
}

// DefaultSecretTarget is where a secret goes without a target, as with
// Docker: /run/secrets/<name>; a relative target goes below /run/secrets.
func DefaultSecretTarget(name, target string) string {
	switch {
	case target == "":
		return "/run/secrets/" + name
	case path.IsAbs(target):
		return path.Clean(target)
	default:
		return path.Join("/run/secrets", target)
	}
}

// check refuses a file mount that cannot be made.
func (f FileMount) check(kind string) error {
	switch {
	case f.Name == "":
		return invalidf("%s: no name", kind)
	case !path.IsAbs(f.Target) || path.Clean(f.Target) == "/":
		return invalidf("%s %s: target %q is not an absolute file path", kind, f.Name, f.Target)
	case f.UID < 0 || f.GID < 0:
		return invalidf("%s %s: negative uid or gid", kind, f.Name)
	case f.Mode > 0o7777:
		return invalidf("%s %s: mode %o is not a file mode", kind, f.Name, f.Mode)
	}
	if f.File != "" {
		if fi, err := os.Stat(f.File); err != nil || fi.IsDir() {
			return invalidf("%s %s: file %s is not a readable file", kind, f.Name, f.File)
		}
	}
	return nil
}
