package process

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// User is who the workload runs as.
type User struct {
	UID, GID uint32
	// AdditionalGids is what the init passes to setgroups: the primary GID
	// first, then the user's supplementary groups from /etc/group, then the
	// group_add entries, without duplicates, as Docker builds it.
	AdditionalGids []uint32
	// Home is the home directory from /etc/passwd, or "/".
	Home string
}

// maxID is the largest uid/gid Docker (moby/sys/user) accepts.
const maxID = 1<<31 - 1

// Error texts of moby/sys/user, which Docker shows verbatim.
var (
	ErrNoPasswdEntries = errors.New("no matching entries in passwd file")
	ErrNoGroupEntries  = errors.New("no matching entries in group file")
	ErrIDRange         = fmt.Errorf("uids and gids must be in range %d-%d", 0, maxID)
)

// maxIDFileSize bounds how much of an image's /etc/passwd or /etc/group is
// read, so a hostile image cannot make berth read gigabytes.
const maxIDFileSize = 16 << 20

// ResolveUser resolves spec ("", "name", "uid", "name:group", "uid:gid",
// ":group", ...) against the rootfs's /etc/passwd and /etc/group, plus
// groupAdd (compose group_add / docker run --group-add; names or numbers),
// with Docker's rules (moby/sys/user GetExecUser + GetAdditionalGroups):
//
//   - "" means uid 0, with root's passwd entry (home, groups) if there is one;
//   - a numeric uid or gid needs no entry; a name must have one;
//   - a numeric uid with no passwd entry gets gid 0 and home "/";
//   - supplementary groups come from /etc/group membership only when no
//     explicit group was given;
//   - a missing /etc/passwd or /etc/group is the same as an empty one.
//
// Files are read without following symlinks out of rootfs (openat2 with
// RESOLVE_IN_ROOT): a link to an absolute path resolves inside rootfs.
func ResolveUser(rootfs string, spec string, groupAdd []string) (User, error) {
	if err := checkRootfs(rootfs); err != nil {
		return User{}, err
	}
	passwd, err := readIDFile(rootfs, "/etc/passwd")
	if err != nil {
		return User{}, err
	}
	group, err := readIDFile(rootfs, "/etc/group")
	if err != nil {
		return User{}, err
	}
	return resolveUser(spec, groupAdd, passwd, group)
}

// checkRootfs makes sure rootfs itself is there, so that a missing rootfs is
// not mistaken for a rootfs without /etc/passwd (or without a command).
func checkRootfs(rootfs string) error {
	mode, err := statInRoot(rootfs, "/")
	if err != nil {
		return fmt.Errorf("container rootfs: %w", err)
	}
	if !mode.IsDir() {
		return fmt.Errorf("container rootfs %s is not a directory", rootfs)
	}
	return nil
}

// readIDFile returns nil (not an error) when the file does not exist, since
// images without /etc/passwd (scratch, distroless) are common and Docker runs
// them with numeric users.
func readIDFile(rootfs, name string) ([]byte, error) {
	data, err := readFileInRoot(rootfs, name, maxIDFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s of the container: %w", name, err)
	}
	return data, nil
}

type passwdEntry struct {
	name     string
	uid, gid int64
	home     string
}

type groupEntry struct {
	name    string
	gid     int64
	members []string
}

// splitUserSpec splits "user:group" at the first colon.
func splitUserSpec(spec string) (user, group string) {
	user, group, _ = strings.Cut(spec, ":")
	return user, group
}

// parseID parses a numeric uid/gid. Range is checked by the caller so that a
// number out of range gives Docker's range error, not "unknown user".
func parseID(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func inRange(id int64) bool { return id >= 0 && id <= maxID }

// lines yields the meaningful lines of a passwd/group file.
func lines(data []byte) []string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		// '#' comments are not in passwd(5) but some images have them; NIS
		// "+"/"-" lines name no local user.
		if l == "" || l[0] == '#' || l[0] == '+' || l[0] == '-' {
			continue
		}
		out = append(out, l)
	}
	return out
}

// parsePasswd skips malformed lines instead of reading a bad uid as 0 (which
// moby/sys/user does): a typo must never turn into root.
func parsePasswd(data []byte) []passwdEntry {
	var out []passwdEntry
	for _, l := range lines(data) {
		f := strings.Split(l, ":")
		if len(f) < 4 {
			continue
		}
		uid, ok1 := parseID(f[2])
		gid, ok2 := parseID(f[3])
		if !ok1 || !ok2 || !inRange(uid) || !inRange(gid) {
			continue
		}
		e := passwdEntry{name: f[0], uid: uid, gid: gid}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	}
	return out
}

func parseGroup(data []byte) []groupEntry {
	var out []groupEntry
	for _, l := range lines(data) {
		f := strings.Split(l, ":")
		if len(f) < 3 {
			continue
		}
		gid, ok := parseID(f[2])
		if !ok || !inRange(gid) {
			continue
		}
		e := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 {
			for _, m := range strings.Split(f[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					e.members = append(e.members, m)
				}
			}
		}
		out = append(out, e)
	}
	return out
}

// resolveUser is ResolveUser on file contents; nil means the file is missing.
func resolveUser(spec string, groupAdd []string, passwd, group []byte) (User, error) {
	userArg, groupArg := splitUserSpec(spec)
	uidArg, uidNumeric := parseID(userArg)
	gidArg, gidNumeric := parseID(groupArg)

	var uid, gid int64
	home := "/"
	matchedName := ""
	found := false
	for _, e := range parsePasswd(passwd) {
		var match bool
		switch {
		case userArg == "":
			match = e.uid == 0
		case uidNumeric:
			// A numeric user is always a uid, never a name.
			match = e.uid == uidArg
		default:
			match = e.name == userArg
		}
		if match {
			// First match wins, as in libc.
			uid, gid, matchedName, found = e.uid, e.gid, e.name, true
			if e.home != "" {
				home = e.home
			}
			break
		}
	}
	if !found && userArg != "" {
		if !uidNumeric {
			return User{}, fmt.Errorf("unable to find user %s: %w", userArg, ErrNoPasswdEntries)
		}
		if !inRange(uidArg) {
			return User{}, fmt.Errorf("user %s: %w", userArg, ErrIDRange)
		}
		uid = uidArg
	}

	groups := parseGroup(group)
	var sgids []int64
	if groupArg != "" {
		gfound := false
		for _, g := range groups {
			if (gidNumeric && g.gid == gidArg) || (!gidNumeric && g.name == groupArg) {
				gid, gfound = g.gid, true
				break
			}
		}
		if !gfound {
			if !gidNumeric {
				return User{}, fmt.Errorf("unable to find group %s: %w", groupArg, ErrNoGroupEntries)
			}
			if !inRange(gidArg) {
				return User{}, fmt.Errorf("group %s: %w", groupArg, ErrIDRange)
			}
			gid = gidArg
		}
	} else if matchedName != "" {
		// Supplementary groups only in the implicit form: "user:group" asks
		// for exactly that group.
		for _, g := range groups {
			for _, m := range g.members {
				if m == matchedName {
					sgids = append(sgids, g.gid)
					break
				}
			}
		}
	}

	added, err := additionalGroups(groupAdd, groups)
	if err != nil {
		return User{}, err
	}

	u := User{UID: uint32(uid), GID: uint32(gid), Home: home}
	seen := make(map[int64]bool)
	for _, g := range append(append([]int64{gid}, sgids...), added...) {
		if !seen[g] {
			seen[g] = true
			u.AdditionalGids = append(u.AdditionalGids, uint32(g))
		}
	}
	return u, nil
}

// additionalGroups resolves group_add entries: a group name or gid from
// /etc/group, else a bare number.
func additionalGroups(names []string, groups []groupEntry) ([]int64, error) {
	var out []int64
	for _, ag := range names {
		resolved := false
		for _, g := range groups {
			if g.name == ag || strconv.FormatInt(g.gid, 10) == ag {
				out = append(out, g.gid)
				resolved = true
				break
			}
		}
		if resolved {
			continue
		}
		n, numeric := parseID(ag)
		if !numeric {
			return nil, fmt.Errorf("unable to find group %s: %w", ag, ErrNoGroupEntries)
		}
		if !inRange(n) {
			return nil, fmt.Errorf("group_add %s: %w", ag, ErrIDRange)
		}
		out = append(out, n)
	}
	return out, nil
}
