package main

// berth cp: docker compose cp, docker cp on the containers of a service. It finds them as the
// other project commands do (compose_ops.go) and copies with the runtime's CopyFrom/CopyTo.

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/runtime/container"
)

type composeCopyOptions struct {
	copyOptions
	index int
	all   bool
}

func newComposeCopyCommand(g *globalOptions, s streams) *cobra.Command {
	o := &composeCopyOptions{}
	cmd := &cobra.Command{
		Use: `cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-
  berth cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH`,
		Short: "Copy files/folders between a service container and the local filesystem",
		Example: `  berth cp web:/etc/nginx/nginx.conf .
  berth cp --index 2 web:/var/log/app.log ./app-2.log
  berth cp ./config/. web:/etc/app`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return composeError(runComposeCopy(cmd.Context(), g, s, o, args[0], args[1]))
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.index, "index", 0, "Index of the container if service has multiple replicas")
	f.BoolVar(&o.all, "all", false, "Include containers created by the run command")
	f.BoolVarP(&o.followLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	f.BoolVarP(&o.archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	return cmd
}

func runComposeCopy(ctx context.Context, g *globalOptions, s streams, o *composeCopyOptions, source, destination string) error {
	service, srcPath, dstPath, toService, err := copyEnds(source, destination, "services", "unknown copy direction")
	if err != nil {
		return err
	}
	sc, err := openProject(ctx, g, s, nil)
	if err != nil {
		return err
	}
	cs, err := sc.copyTargets(service, o.index, o.all, toService)
	if err != nil {
		return err
	}
	stdin, done, err := rereadable(s.in, toService && srcPath == "-", len(cs))
	if err != nil {
		return err
	}
	defer done()
	// One container after the other: docker compose copies to them at once, which a single
	// standard input or output cannot serve.
	for _, c := range cs {
		sc.progress.event(c, "Copying")
		// docker compose names the container by its id in the daemon's messages.
		co := container.CopyOptions{FollowLink: o.followLink, Archive: o.archive, Ref: c.ID}
		if toService {
			in, err := stdin()
			if err != nil {
				return err
			}
			_, err = c.CopyTo(ctx, sc.engine.Images, srcPath, dstPath, co, in)
			if err != nil {
				return err
			}
		} else if _, err := c.CopyFrom(ctx, sc.engine.Images, srcPath, dstPath, co, s.out); err != nil {
			return err
		}
		sc.progress.event(c, "Copied")
	}
	return nil
}

// copyTargets are the containers compose cp copies to or from: container number index of
// the service when given (stopped or not), else all of the service's (with --all its `run`
// containers too), the first one only as a source.
func (sc *projectScope) copyTargets(service string, index int, all, to bool) ([]*container.Container, error) {
	if index > 0 {
		c, err := sc.containerNumber(service, index, true)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, fmt.Errorf("service %q is not running container #%d", service, index)
		}
		return []*container.Container{c}, nil
	}
	cs, err := sc.selected(selection{services: []string{service}, oneOff: all})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("no container found for service %q", service)
	}
	slices.SortStableFunc(cs, func(a, b *container.Container) int {
		if isOneOff(a) != isOneOff(b) {
			if isOneOff(a) {
				return 1
			}
			return -1
		}
		return numberOf(a) - numberOf(b)
	})
	if !to {
		return cs[:1], nil
	}
	return cs, nil
}

// rereadable makes standard input readable once per container when it carries the archive
// for several of them: a pipe can be read only once, so it is spooled to a temporary file.
func rereadable(in io.Reader, archive bool, n int) (func() (io.Reader, error), func(), error) {
	if !archive || n <= 1 {
		return func() (io.Reader, error) { return in, nil }, func() {}, nil
	}
	f, err := os.CreateTemp("", "berth-cp-*.tar")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		f.Close()
		os.Remove(f.Name())
	}
	if _, err := io.Copy(f, in); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("read the archive on standard input: %w", err)
	}
	return func() (io.Reader, error) {
		_, err := f.Seek(0, io.SeekStart)
		return f, err
	}, cleanup, nil
}
