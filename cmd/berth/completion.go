package main

import (
	"slices"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/compose"
)

// completeServices completes service names of the project the flags point at. Loading warnings
// are dropped: completion must never write to the terminal.
func completeServices(g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		p, err := quietLoad(cmd, g)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, n := range p.ServiceNames() {
			if !slices.Contains(args, n) {
				names = append(names, n)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func completeProfiles(g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		p, err := quietLoad(cmd, g)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return p.Profiles(), cobra.ShellCompDirectiveNoFileComp
	}
}

func quietLoad(cmd *cobra.Command, g *globalOptions) (*compose.Project, error) {
	logrus.SetLevel(logrus.ErrorLevel)
	lo := g.loadOptions(nil)
	lo.RenderOnly = true
	return compose.Load(cmd.Context(), lo)
}
