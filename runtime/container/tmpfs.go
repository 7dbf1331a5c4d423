package container

import (
	"sort"
	"strings"

	"github.com/berth-sh/berth/runtime/rootfs"
)

// ParseTmpfs reads docker run's --tmpfs values (PATH[:OPTIONS]) into the
// Options.Tmpfs map; bad values match ErrInvalid.
func ParseTmpfs(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range values {
		target, opts, _ := strings.Cut(v, ":")
		out[target] = opts
	}
	for target, opts := range out {
		if _, err := tmpfsMount(target, opts); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// tmpfsMounts are the container's --tmpfs mounts, parents before children.
func (c *Container) tmpfsMounts() ([]rootfs.Mount, error) {
	targets := make([]string, 0, len(c.Options.Tmpfs))
	for t := range c.Options.Tmpfs {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	var out []rootfs.Mount
	for _, t := range targets {
		m, err := tmpfsMount(t, c.Options.Tmpfs[t])
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
