package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/runtime/container"
)

// copyOptions are docker cp's flags (and compose cp's, which adds --index and --all).
type copyOptions struct {
	followLink bool
	archive    bool
	quiet      bool
}

func newContainerCopyCommand(g *globalOptions, s streams) *cobra.Command {
	o := &copyOptions{}
	cmd := &cobra.Command{
		Use: `cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
  berth container cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`,
		Short: "Copy files/folders between a container and the local filesystem",
		Long: `Copy files/folders between a container and the local filesystem

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout.`,
		Example: `  berth container cp web:/etc/nginx/nginx.conf .
  berth container cp ./site/. web:/usr/share/nginx/html
  tar -c -C build . | berth container cp - web:/app`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError{cmd: cmd, err: fmt.Errorf("%q requires exactly 2 arguments", cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("quiet") {
				// As docker cp: no summary line unless a terminal shows it.
				o.quiet = !isTerminal(s.out)
			}
			return runContainerCopy(cmd.Context(), g, s, o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.followLink, "follow-link", "L", false, "Always follow symlinks in SRC_PATH")
	f.BoolVarP(&o.archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

func runContainerCopy(ctx context.Context, g *globalOptions, s streams, o *copyOptions, source, destination string) error {
	ref, srcPath, dstPath, toContainer, err := copyEnds(source, destination, "containers", "must specify at least one container source")
	if err != nil {
		return err
	}
	c, err := container.Lookup(g.root, ref)
	if err != nil {
		return err
	}
	l, err := openImages(g)
	if err != nil {
		return err
	}
	co := container.CopyOptions{FollowLink: o.followLink, Archive: o.archive, Ref: ref}
	var res container.CopyResult
	if toContainer {
		res, err = c.CopyTo(ctx, l, srcPath, dstPath, co, s.in)
	} else {
		res, err = c.CopyFrom(ctx, l, srcPath, dstPath, co, s.out)
	}
	// As docker cp: nothing after a stream to stdout.
	if err == nil && !o.quiet && (toContainer || dstPath != "-") {
		fmt.Fprintf(s.err, "Successfully copied %s to %s\n", units.HumanSizeWithPrecision(float64(res.Size), 3), res.Dest)
	}
	return err
}

// copyEnds reads cp's SOURCE and DESTINATION as Docker does: exactly one of them names a
// container (or a service: what says which in the errors), which ref is, with the two paths;
// toContainer says the copy goes into it.
func copyEnds(source, destination, what, noneMsg string) (ref, srcPath, dstPath string, toContainer bool, err error) {
	if source == "" {
		return "", "", "", false, errors.New("source can not be empty")
	}
	if destination == "" {
		return "", "", "", false, errors.New("destination can not be empty")
	}
	srcRef, srcPath := splitCopyArg(source)
	dstRef, dstPath := splitCopyArg(destination)
	switch {
	case srcRef != "" && dstRef != "":
		return "", "", "", false, fmt.Errorf("copying between %s is not supported", what)
	case dstRef != "":
		return dstRef, srcPath, dstPath, true, nil
	case srcRef == "":
		return "", "", "", false, errors.New(noneMsg)
	}
	return srcRef, srcPath, dstPath, false, nil
}

// splitCopyArg splits a cp argument into a container (or service) and a path, as Docker's
// splitCpArg: an absolute path, a path without ':' and one starting with '.' are local (so
// that ./file:name.txt is a file), anything else is NAME:PATH.
func splitCopyArg(arg string) (name, p string) {
	if filepath.IsAbs(arg) || strings.HasPrefix(arg, string(os.PathSeparator)) {
		return "", arg
	}
	name, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(name, ".") {
		return "", arg
	}
	return name, p
}
