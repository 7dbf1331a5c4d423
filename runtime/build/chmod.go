package build

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// fileMode is COPY's and ADD's --chmod: the mode an entry gets from the mode it had.
type fileMode func(old fs.FileMode, isDir bool) fs.FileMode

// parseChmod reads --chmod as Dockerfile 1.14 does: an octal mode ("0755", with setuid, setgid
// and sticky bits), or symbolic clauses as chmod(1) writes them ("+x", "u=rwX,go=rX", "a-w").
// In a clause, no who means a (no umask applies), and X is x for directories and for files
// that already have an x bit.
func parseChmod(spec string) (fileMode, error) {
	if m, err := strconv.ParseUint(spec, 8, 32); err == nil {
		if m > 0o7777 {
			return nil, fmt.Errorf("invalid chmod parameter: %q", spec)
		}
		fixed := fs.FileMode(m & 0o777)
		if m&0o4000 != 0 {
			fixed |= fs.ModeSetuid
		}
		if m&0o2000 != 0 {
			fixed |= fs.ModeSetgid
		}
		if m&0o1000 != 0 {
			fixed |= fs.ModeSticky
		}
		return func(fs.FileMode, bool) fs.FileMode { return fixed }, nil
	}
	type clause struct {
		who   fs.FileMode // the u, g and o bits this clause touches, as 0o700|0o070|0o007
		op    byte
		perms string
	}
	var clauses []clause
	for _, part := range strings.Split(spec, ",") {
		i := 0
		var who fs.FileMode
		for ; i < len(part) && strings.IndexByte("ugoa", part[i]) >= 0; i++ {
			switch part[i] {
			case 'u':
				who |= 0o700
			case 'g':
				who |= 0o070
			case 'o':
				who |= 0o007
			case 'a':
				who |= 0o777
			}
		}
		if who == 0 {
			who = 0o777
		}
		if i >= len(part) || strings.IndexByte("+-=", part[i]) < 0 {
			return nil, fmt.Errorf("invalid chmod parameter: %q", spec)
		}
		op := part[i]
		perms := part[i+1:]
		if strings.Trim(perms, "rwxXst") != "" {
			return nil, fmt.Errorf("invalid chmod parameter: %q", spec)
		}
		clauses = append(clauses, clause{who: who, op: op, perms: perms})
	}
	return func(old fs.FileMode, isDir bool) fs.FileMode {
		mode := old & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		for _, c := range clauses {
			var bits fs.FileMode
			for _, p := range c.perms {
				switch p {
				case 'r':
					bits |= 0o444 & c.who
				case 'w':
					bits |= 0o222 & c.who
				case 'x':
					bits |= 0o111 & c.who
				case 'X':
					if isDir || mode&0o111 != 0 {
						bits |= 0o111 & c.who
					}
				case 's':
					if c.who&0o700 != 0 {
						bits |= fs.ModeSetuid
					}
					if c.who&0o070 != 0 {
						bits |= fs.ModeSetgid
					}
				case 't':
					bits |= fs.ModeSticky
				}
			}
			switch c.op {
			case '+':
				mode |= bits
			case '-':
				mode &^= bits
			case '=':
				mode &^= c.who
				if c.who&0o700 != 0 {
					mode &^= fs.ModeSetuid
				}
				if c.who&0o070 != 0 {
					mode &^= fs.ModeSetgid
				}
				mode |= bits
			}
		}
		return mode
	}, nil
}
