package process

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultPath is the PATH a container gets when neither the image nor the
// user sets one (moby's defaultUnixPathEnv).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultEnv is the environment the Docker daemon puts under every Linux
// container (CreateDaemonEnvironment): PATH, HOSTNAME when hostname is not
// empty, and TERM=xterm with a tty.
func DefaultEnv(hostname string, tty bool) []string {
	env := []string{"PATH=" + DefaultPath}
	if hostname != "" {
		env = append(env, "HOSTNAME="+hostname)
	}
	if tty {
		env = append(env, "TERM=xterm")
	}
	return env
}

// Env is EnvWith with only the default PATH as defaults.
func Env(imageEnv, overrides []string) []string {
	return EnvWith([]string{"PATH=" + DefaultPath}, imageEnv, overrides)
}

// EnvWith builds the workload's environment exactly in Docker's order:
//
//  1. the daemon merges the user's env with the image's: the user's entries
//     first, in their order, then every image entry whose key the user did
//     not give;
//  2. that list is laid over defaults (DefaultEnv): a key already in defaults
//     is replaced in place (so PATH stays first), a new key is appended, and
//     an entry with no "=" ("FOO", docker run -e FOO with FOO unset on the
//     client) removes the key altogether;
//  3. duplicates left over are removed keeping the last value, at the
//     position of that last occurrence, as runc's prepareEnv does.
//
// Later wins by key throughout. Validate user input with ValidateEnv first.
func EnvWith(defaults, imageEnv, overrides []string) []string {
	merged := append([]string{}, overrides...)
	userKeys := make(map[string]bool, len(overrides))
	for _, kv := range overrides {
		userKeys[envKey(kv)] = true
	}
	for _, kv := range imageEnv {
		if !userKeys[envKey(kv)] {
			merged = append(merged, kv)
		}
	}

	out := append([]string{}, defaults...)
	index := make(map[string]int, len(out))
	for i, kv := range out {
		index[envKey(kv)] = i
	}
	removed := make(map[int]bool)
	for _, kv := range merged {
		key, _, hasValue := strings.Cut(kv, "=")
		i, inDefaults := index[key]
		switch {
		case !hasValue && inDefaults:
			removed[i] = true
		case !hasValue:
			// Unset of a key that is not a default: the daemon drops it.
		case inDefaults:
			out[i] = kv
			delete(removed, i)
		default:
			out = append(out, kv)
		}
	}
	kept := out[:0]
	for i, kv := range out {
		if !removed[i] {
			kept = append(kept, kv)
		}
	}
	return dedupEnv(kept)
}

// dedupEnv keeps the last occurrence of each key, where it stands.
func dedupEnv(env []string) []string {
	seen := make(map[string]bool, len(env))
	rev := make([]string, 0, len(env))
	for i := len(env) - 1; i >= 0; i-- {
		k := envKey(env[i])
		if seen[k] {
			continue
		}
		seen[k] = true
		rev = append(rev, env[i])
	}
	out := make([]string, len(rev))
	for i, kv := range rev {
		out[len(rev)-1-i] = kv
	}
	return out
}

func envKey(kv string) string {
	k, _, _ := strings.Cut(kv, "=")
	return k
}

// lookupEnv returns the value of the last entry for key.
func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		k, v, ok := strings.Cut(env[i], "=")
		if ok && k == key {
			return v, true
		}
	}
	return "", false
}

// WithHome returns env with HOME set to home ("/" when home is empty) unless
// env already has a non-empty HOME. An empty HOME counts as absent and is
// dropped, as runc does: a workload with HOME="" misbehaves in ways nobody
// asked for.
func WithHome(env []string, home string) []string {
	if v, ok := lookupEnv(env, "HOME"); ok && v != "" {
		return append([]string{}, env...)
	}
	if home == "" {
		home = "/"
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if envKey(kv) != "HOME" {
			out = append(out, kv)
		}
	}
	return append(out, "HOME="+home)
}

// ValidateEnv refuses entries the kernel or the daemon would refuse: an
// empty name ("=foo" or "") and a NUL byte anywhere. An entry without "="
// is allowed: it means "unset" (see EnvWith).
func ValidateEnv(env []string) error {
	var errs []error
	for _, kv := range env {
		key, _, _ := strings.Cut(kv, "=")
		switch {
		case key == "":
			errs = append(errs, fmt.Errorf("invalid environment variable: %s", kv))
		case strings.IndexByte(kv, 0) >= 0:
			errs = append(errs, fmt.Errorf("invalid environment variable %q: contains nul byte (\\x00)", key))
		}
	}
	return errors.Join(errs...)
}
