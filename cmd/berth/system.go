package main

import (
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
	cmd.AddCommand(newSystemGCCommand(g, s))
	return cmd
}

func newSystemGCCommand(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:     "gc",
		Short:   "Remove what a crash left behind: network namespaces, links, rules and leases with no owner",
		Example: `  berth system gc`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openNetworks(g)
			if err != nil {
				return err
			}
			rep, err := store.GC(g.runRoot, func(id string) (bool, bool) {
				c, err := container.Lookup(g.root, id)
				if err != nil || c.ID != id {
					return false, false
				}
				st, err := c.State()
				if err != nil {
					return true, false
				}
				return true, st.Status == container.StatusRunning || st.Status == container.StatusRestarting
			})
			fmt.Fprintf(s.out, "Removed %d endpoints, %d links, %d network namespaces, %d rule owners\n", rep.Endpoints, rep.Links, rep.NetNS, rep.Rules)
			return err
		},
	}
}
