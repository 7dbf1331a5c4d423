package main

import (
	"encoding/json"
	"fmt"
	goruntime "runtime"

	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=$(git describe --tags --always --dirty)".
var version = "dev"

type versionOptions struct {
	format string
	short  bool
}

func newVersionCommand(s streams) *cobra.Command {
	o := &versionOptions{}
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the berth version information",
		Example: `  berth version
  berth version --short
  berth version --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.short:
				fmt.Fprintln(s.out, version)
			case o.format == "json":
				b, err := json.Marshal(map[string]string{"version": version, "go": goruntime.Version(),
					"os": goruntime.GOOS, "arch": goruntime.GOARCH})
				if err != nil {
					return err
				}
				fmt.Fprintln(s.out, string(b))
			case o.format == "" || o.format == "pretty":
				fmt.Fprintf(s.out, "berth version %s (%s, %s/%s)\n", version, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
			default:
				return fmt.Errorf("unsupported format %q: use pretty or json", o.format)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&o.format, "format", "f", "", "Format the output. Values: [pretty | json]")
	cmd.Flags().BoolVar(&o.short, "short", false, "Shows only berth's version number")
	return cmd
}
