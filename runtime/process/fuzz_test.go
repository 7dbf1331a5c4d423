package process

import (
	"strconv"
	"strings"
	"testing"
)

func FuzzParseUlimit(f *testing.F) {
	for _, s := range []string{"nofile=1024:2048", "nproc=-1", "core=unlimited", "stack=1:-1", "x", "nofile=1:2:3", "nofile=-1:5", "=", "nofile=+5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseUlimit(s)
		if err != nil {
			// Errors echo the input as Docker's do; nothing more to check.
			return
		}
		if r.Soft > r.Hard {
			t.Fatalf("%q: soft %d > hard %d", s, r.Soft, r.Hard)
		}
		if res, ok := rlimitResource(r.Name); !ok || res != r.Resource {
			t.Fatalf("%q: bad resource %+v", s, r)
		}
		// String is the docker run form and must parse back to the same limit.
		back, err := ParseUlimit(r.String())
		if err != nil || back != r {
			t.Fatalf("%q: round trip %q -> %+v, %v", s, r.String(), back, err)
		}
	})
}

func FuzzResolveUserSpec(f *testing.F) {
	f.Add("app:staff", "docker", testPasswd, testGroup)
	f.Add("1000", "", testPasswd, testGroup)
	f.Add(":0", "5", "", "")
	f.Add("root:", "wheel", "root:x:0:0::/root:\n", "wheel:x:10:root\n")
	f.Add("x:y:z", "-1", "x:x:1:1::/h:/bin/sh", "y:x:2:x")
	f.Fuzz(func(t *testing.T, spec, groupAdd, passwd, group string) {
		var add []string
		if groupAdd != "" {
			add = strings.Split(groupAdd, ",")
		}
		u, err := resolveUser(spec, add, []byte(passwd), []byte(group))
		if err != nil {
			return
		}
		if len(u.AdditionalGids) == 0 || u.AdditionalGids[0] != u.GID {
			t.Fatalf("%q: AdditionalGids %v must start with GID %d", spec, u.AdditionalGids, u.GID)
		}
		if u.Home == "" {
			t.Fatalf("%q: empty home", spec)
		}
		for _, id := range append([]uint32{u.UID}, u.AdditionalGids...) {
			if id > maxID {
				t.Fatalf("%q: id %d out of range", spec, id)
			}
		}
		userPart, groupPart := splitUserSpec(spec)
		// A numeric user is always that uid, whatever passwd says.
		if n, err := strconv.ParseInt(userPart, 10, 64); err == nil && int64(u.UID) != n {
			t.Fatalf("%q: uid %d, want %d", spec, u.UID, n)
		}
		if n, err := strconv.ParseInt(groupPart, 10, 64); err == nil && int64(u.GID) != n {
			t.Fatalf("%q: gid %d, want %d", spec, u.GID, n)
		}
		// Explicit group: no supplementary groups from /etc/group.
		if groupPart != "" && len(add) == 0 && len(u.AdditionalGids) != 1 {
			t.Fatalf("%q: explicit group but gids %v", spec, u.AdditionalGids)
		}
	})
}
