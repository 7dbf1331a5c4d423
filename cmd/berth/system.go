package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/runtime/container"
)

func newSystemCommand(g *globalOptions, s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "system COMMAND",
		Short:   "Manage berth",
		Example: `  berth system gc`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSystemGCCommand(g, s), newSystemEventsCommand(g, s), newSystemCheckCommand(g, s))
	return cmd
}

func newSystemGCCommand(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:     "gc",
		Short:   "Remove what a crash left behind: network namespaces, links, rules, leases and volume users with no owner",
		Example: `  berth system gc`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openNetworks(g)
			if err != nil {
				return err
			}
			owner := func(id string) (bool, bool) {
				c, err := container.Lookup(g.root, id)
				if err != nil || c.ID != id {
					return false, false
				}
				st, err := c.State()
				if err != nil {
					return true, false
				}
				return true, st.Status == container.StatusRunning || st.Status == container.StatusRestarting
			}
			rep, err := store.GC(g.runRoot, owner)
			users, verr := gcVolumes(g, owner)
			fmt.Fprintf(s.out, "Removed %d endpoints, %d links, %d network namespaces, %d rule owners, %d volume users\n", rep.Endpoints, rep.Links, rep.NetNS, rep.Rules, users)
			return errors.Join(err, verr)
		},
	}
}

// gcVolumes forgets the volume users and mounts of containers that are
// gone (a crash between create and rm), so that the volumes can be
// removed and pruned again, and unmounts driver_opts volumes no running
// container has. It returns how many users it forgot.
func gcVolumes(g *globalOptions, owner func(id string) (exists, running bool)) (int, error) {
	vols, err := openVolumes(g)
	if err != nil {
		return 0, err
	}
	all, err := vols.List()
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, v := range all {
		for _, id := range v.Users {
			if exists, _ := owner(id); !exists {
				errs = append(errs, vols.Release(v.Name, id))
				n++
			}
		}
		for _, id := range v.Mounts {
			if exists, running := owner(id); !exists || !running {
				errs = append(errs, vols.Unmount(v.Name, id))
			}
		}
	}
	return n, errors.Join(errs...)
}
