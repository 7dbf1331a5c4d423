//go:build linux

package build

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/berth-sh/berth/network"
	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/runtime/monitor"
)

// removeTimeout bounds the removal of a build container once its step is over, interrupted or
// not.
const removeTimeout = 30 * time.Second

// runStep runs args in a container of st (whose image it writes to the store first: a container
// is made from a stored image) with the step's extra environment, and returns the container's
// changes as a layer. The container is removed however the step ends, Ctrl-C included.
func (b *builder) runStep(ctx context.Context, st *imageState, spec runSpec, out io.Writer) (_ *layerRef, err error) {
	known := b.local.Store.HasBlob(st.id())
	if _, err := st.write(ctx, b.txn); err != nil {
		return nil, err
	}
	if !known {
		if err := b.cache.markIntermediate(st); err != nil {
			return nil, err
		}
	}
	held, err := b.holdMounts(ctx, spec.mounts)
	if err != nil {
		return nil, err
	}
	// Released after the container is removed (deferred before its removal, so run after it).
	defer held.release()
	o := container.Options{
		Image:         st.id().String(),
		Cmd:           spec.args,
		EntrypointSet: true,
		Entrypoint:    []string{},
		Env:           spec.env,
		Health:        &container.HealthOptions{Disable: true},
		Labels:        map[string]string{"com.berth.build": "1"},
		Mounts:        held.mounts,
	}
	switch spec.netMode {
	case "none", "host":
		o.NetworkMode = spec.netMode
	default:
		o.Networks = []network.Attachment{{Network: network.DefaultNetwork}}
	}
	c, err := container.Create(ctx, b.local, b.o.Root, b.o.RunRoot, o)
	if err != nil {
		return nil, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), removeTimeout)
		defer cancel()
		if rerr := c.Remove(rctx, true, true); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if err := c.StartWith(ctx, b.local, container.StartOptions{Attach: true}); err != nil {
		var se *monitor.StartError
		if errors.As(err, &se) && se.ExitCode != 0 {
			fmt.Fprintln(out, oneLine(se))
			return nil, &RunError{Command: strings.Join(spec.args, " "), ExitCode: se.ExitCode}
		}
		return nil, err
	}
	a, err := c.Attach(ctx, monitor.AttachOptions{})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	type result struct {
		st  monitor.State
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := a.Stream(nil, out, out)
		done <- result{s, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		_ = c.Kill(context.Background(), syscall.SIGKILL)
		<-done
		return nil, context.Cause(ctx)
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.st.ExitCode != 0 {
		return nil, &RunError{Command: strings.Join(spec.args, " "), ExitCode: r.st.ExitCode}
	}
	lowers, err := st.lowers(ctx, b.local)
	if err != nil {
		return nil, err
	}
	upper := filepath.Join(c.Bundle(), "upper")
	var targets []string
	for _, m := range spec.mounts {
		targets = append(targets, m.target)
	}
	return writeLayer(ctx, b.txn, b.tmpDir, func(tw *tar.Writer) (int, error) {
		return diffUpper(upper, lowers, true, targets, tw)
	})
}
