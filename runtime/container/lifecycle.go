package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/berth-sh/berth/network"
	"github.com/berth-sh/berth/runtime/image"
	"github.com/berth-sh/berth/runtime/jsonlog"
	"github.com/berth-sh/berth/runtime/monitor"
)

// deleteTimeout bounds how long Remove waits for an exited container's
// monitor to finish its teardown.
const deleteTimeout = 10 * time.Second

// StartOptions are what a start needs beyond the container's record.
type StartOptions struct {
	// Attach: the caller attaches right after the start and must receive
	// the output from the very beginning (docker run in the foreground).
	Attach bool
	// ConsoleSize is a tty's initial [height, width].
	ConsoleSize [2]uint16
}

// Start starts the container's monitor, mounting the rootfs again if it is
// gone (after a reboot). Starting a running container does nothing, as in
// Docker. A workload that cannot be executed fails the start with a
// *monitor.StartError carrying Docker's exit code (126, 127).
func (c *Container) Start(ctx context.Context, l *image.Local) error {
	return c.StartWith(ctx, l, StartOptions{})
}

// StartWith is Start with options.
func (c *Container) StartWith(ctx context.Context, l *image.Local, so StartOptions) error {
	st, err := c.State()
	if err != nil {
		return err
	}
	if st.Status == StatusRunning || st.Status == StatusRestarting {
		return nil
	}
	if c.Incomplete {
		return invalidf("container %s was not completely created (the berth creating it was interrupted): remove it and create it again", c.Name)
	}
	if st.Status != StatusExited && monitor.Busy(c.bundle) {
		// A start is under way (another berth's, or one killed after it
		// started the monitor, which carries on): its outcome is this one's.
		return c.awaitStart(ctx)
	}
	if err := c.mount(ctx, l); err != nil {
		return err
	}
	spec, err := c.spec()
	if err != nil {
		return err
	}
	// A start that fails leaves the container created, off its networks
	// (as Docker releases the sandbox); the next start plugs it again.
	started := false
	defer func() {
		if !started {
			_ = c.unplugNetworks()
		}
	}()
	spec.AttachReplay = so.Attach
	spec.Init.ConsoleSize = so.ConsoleSize
	if c.Options.AutoRemove {
		// With no daemon, the monitor removes a --rm container once it has
		// exited, by running `berth container rm` in its own place; an
		// attached `run` takes that over when it is still there.
		cli, err := os.Executable()
		if err != nil {
			return fmt.Errorf("start %s: find berth's binary: %w", c.Name, err)
		}
		spec.OnExit = []string{cli, "--root", filepath.Dir(filepath.Dir(c.bundle)),
			"--run-root", filepath.Dir(filepath.Dir(c.RunDir)), "container", "rm", "-v", c.ID}
	}
	self, err := monitor.Binary()
	if err != nil {
		return fmt.Errorf("start %s: find berth's binary: %w", c.Name, err)
	}
	// Published ports are reserved before anything runs: a port in use
	// fails the start here, and the monitor holds the sockets from then on.
	var res *network.Reservation
	if specs := c.portSpecs(); len(specs) > 0 {
		res, err = network.Reserve(specs)
		if err != nil {
			var inUse *network.PortInUseError
			if errors.As(err, &inUse) {
				inUse.Holder = portHolder(filepath.Dir(filepath.Dir(c.bundle)), inUse)
			}
			if errors.Is(err, network.ErrInvalid) {
				return invalid(err)
			}
			return err
		}
		defer res.Close()
	}
	var held []*os.File
	if res != nil {
		// The rules go in before the workload runs: a CLI killed at any
		// point cannot leave a running container whose ports lead nowhere
		// (rules left by one killed before the start are the next start's,
		// or system gc's).
		held = res.Files
		if err := c.publish(res.Ports); err != nil {
			_ = c.unpublish()
			return fmt.Errorf("start %s: publish ports: %w", c.Name, err)
		}
	}
	if _, err := monitor.Start(ctx, self, spec, held...); err != nil {
		if res != nil {
			_ = c.unpublish()
		}
		var se *monitor.StartError
		if errors.As(err, &se) {
			return fmt.Errorf("failed to start container %s: %w", c.Name, err)
		}
		return fmt.Errorf("start %s: %w", c.Name, err)
	}
	started = true
	return nil
}

// awaitStart waits for the start another process began: nil once the
// container runs, its failure when it does not.
func (c *Container) awaitStart(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		st, err := c.State()
		if err != nil {
			return err
		}
		switch st.Status {
		case StatusRunning, StatusRestarting, StatusPaused:
			return nil
		case StatusExited:
			if st.Error != "" {
				return fmt.Errorf("failed to start container %s: %s", c.Name, st.Error)
			}
			return nil // it ran, and ended already
		}
		if !monitor.Busy(c.bundle) {
			return fmt.Errorf("start %s: the monitor of a start under way died before the container ran", c.Name)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("start %s: waiting for a start under way: %w", c.Name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Attach connects to the running container's stdio.
func (c *Container) Attach(ctx context.Context, o monitor.AttachOptions) (*monitor.Attachment, error) {
	a, err := monitor.Attach(ctx, c.RunDir, o)
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", c.Name, err)
	}
	return a, nil
}

// Stop sends the stop signal and SIGKILLs after timeout (nil: the
// container's --stop-timeout, else 10 s; negative waits for ever). It
// returns once the container has exited; a stopped container is no error.
func (c *Container) Stop(ctx context.Context, timeout *time.Duration) error {
	t := c.stopTimeout()
	if timeout != nil {
		t = *timeout
	}
	if err := monitor.Stop(ctx, c.RunDir, t); err != nil {
		return fmt.Errorf("stop %s: %w", c.Name, err)
	}
	// As with Docker, a stopped container publishes nothing and holds no
	// volume mounted.
	return errors.Join(c.unpublish(), c.unmountVolumes())
}

// Kill sends sig to the container's workload (through its init).
func (c *Container) Kill(ctx context.Context, sig syscall.Signal) error {
	st, err := c.State()
	if err != nil {
		return err
	}
	if st.Status == StatusRestarting {
		return refusal(ErrNotRunning, "Container %s is restarting, wait until the container is running", c.ID)
	}
	if st.Status != StatusRunning {
		return fmt.Errorf("cannot kill container: %s: container %s is not running", c.Name, c.ID)
	}
	if err := monitor.Kill(ctx, c.RunDir, sig); err != nil {
		return fmt.Errorf("kill %s: %w", c.Name, err)
	}
	return nil
}

// Wait blocks until the container has exited and returns its final state.
func (c *Container) Wait(ctx context.Context) (monitor.State, error) {
	return monitor.Wait(ctx, c.bundle, c.RunDir)
}

// Remove deletes the container: its monitor state and cgroup, the rootfs
// mount and every file. A running container needs force, which kills it.
func (c *Container) Remove(ctx context.Context, force, removeVolumes bool) error {
	st, err := c.State()
	if err != nil {
		return err
	}
	if st.Status == StatusRunning || st.Status == StatusRestarting {
		if !force {
			return fmt.Errorf("cannot remove container \"/%s\": %w: stop the container before removing or force remove", c.Name, ErrRunning)
		}
		if err := monitor.Kill(ctx, c.RunDir, syscall.SIGKILL); err != nil && !errors.Is(err, monitor.ErrNotRunning) {
			return fmt.Errorf("remove %s: %w", c.Name, err)
		}
		if _, err := c.Wait(ctx); err != nil {
			return fmt.Errorf("remove %s: %w", c.Name, err)
		}
	}
	if err := c.clearExited(ctx); err != nil {
		return fmt.Errorf("remove %s: %w", c.Name, err)
	}
	if err := errors.Join(c.unpublish(), c.unplugNetworks(), c.releaseVolumes(removeVolumes)); err != nil {
		return fmt.Errorf("remove %s: %w", c.Name, err)
	}
	if err := image.Unmount(c.rootfsPath()); err != nil {
		return fmt.Errorf("remove %s: %w", c.Name, err)
	}
	if err := os.RemoveAll(c.bundle); err != nil {
		return fmt.Errorf("remove %s: %w", c.Name, err)
	}
	c.event("destroy")
	return nil
}

// clearExited removes the monitor's state of an exited container (its
// cgroup, state.json, run dir). The monitor records "exited" just before
// its last cleanup, so it may still be finishing: Delete refuses until it is
// gone, and is retried for up to deleteTimeout.
func (c *Container) clearExited(ctx context.Context) error {
	deadline := time.Now().Add(deleteTimeout)
	for {
		err := monitor.Delete(c.bundle, c.RunDir)
		if err == nil || !errors.Is(err, monitor.ErrRunning) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// LogOptions are docker logs' flags.
type LogOptions struct {
	Follow     bool
	Tail       int // negative: all
	Timestamps bool
	Since      time.Time
	Until      time.Time
}

// Logs writes the container's log, stdout entries to out and stderr ones
// to errOut. With Follow it returns once the container has exited and its
// whole log is written, or when ctx ends.
func (c *Container) Logs(ctx context.Context, o LogOptions, out, errOut io.Writer) error {
	var (
		last  time.Time
		atEnd int // entries delivered with Time == last
	)
	write := func(e jsonlog.Entry) error {
		w := out
		if e.Stream == "stderr" {
			w = errOut
		}
		if e.Time.Equal(last) {
			atEnd++
		} else {
			last, atEnd = e.Time, 1
		}
		_, err := w.Write(jsonlog.Format(e, o.Timestamps))
		return err
	}
	ro := jsonlog.ReadOptions{Tail: o.Tail, Since: o.Since, Until: o.Until}
	st, err := c.State()
	if err != nil {
		return err
	}
	if !o.Follow || st.Status != StatusRunning {
		return ignoreMissing(jsonlog.Read(ctx, c.logPath(), ro, write))
	}
	// Follow until the container exits, then read once more from the last
	// entry delivered: the reader polls, so the last lines may not have
	// been seen when the exit is.
	started := time.Now()
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		if _, err := c.Wait(fctx); err == nil {
			cancel()
		}
	}()
	ro.Follow = true
	err = jsonlog.Read(fctx, c.logPath(), ro, write)
	cancel()
	<-exited
	if err != nil || ctx.Err() != nil {
		return ignoreMissing(err)
	}
	ro.Follow = false
	skip := 0
	switch {
	case !last.IsZero():
		ro.Since, ro.Tail, skip = last, -1, atEnd
	case o.Tail >= 0:
		// Nothing was delivered: only entries written while following are new.
		ro.Tail = -1
		if ro.Since.Before(started) {
			ro.Since = started
		}
	}
	return ignoreMissing(jsonlog.Read(ctx, c.logPath(), ro, func(e jsonlog.Entry) error {
		if skip > 0 && e.Time.Equal(ro.Since) {
			skip--
			return nil
		}
		skip = 0
		return write(e)
	}))
}

// ignoreMissing: a container that never started has no log yet.
func ignoreMissing(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
