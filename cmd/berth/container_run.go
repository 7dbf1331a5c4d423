package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/runtime/monitor"
)

// codedError is a failure berth reports with an exit code of its own:
// docker run's 126 and 127 for a command that cannot be executed.
type codedError struct {
	err  error
	code int
}

func (e codedError) Error() string { return e.err.Error() }
func (e codedError) Unwrap() error { return e.err }

func newContainerRunCommand(g *globalOptions, s streams) *cobra.Command {
	o := &createOptions{}
	var detach bool
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Example: `  berth container run --rm busybox echo hello
  berth container run -it --rm busybox sh
  berth container run -d --name web -m 256m --cpus 0.5 app:latest`,
		Args: containerImageArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runContainer(cmd, g, s, o, detach, args)
		},
	}
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "Run container in background and print container ID")
	o.addFlags(cmd.Flags())
	return cmd
}

func runContainer(cmd *cobra.Command, g *globalOptions, s streams, o *createOptions, detach bool, args []string) error {
	ctx := cmd.Context()
	if o.tty && o.interactive && !detach {
		if _, ok := terminalFd(s.in); !ok {
			return container.Invalid(errors.New("the input device is not a TTY"))
		}
	}
	// docker run -i closes the container's stdin when the attached input ends.
	o.stdinOnce = o.interactive && !detach
	c, l, err := createContainer(ctx, g, s, o, cmd.Flags(), args)
	if err != nil {
		return err
	}
	so := container.StartOptions{Attach: !detach}
	if o.tty {
		if fd, ok := terminalFd(s.out); ok {
			so.ConsoleSize = terminalSize(fd)
		}
	}
	if err := c.StartWith(ctx, l, so); err != nil {
		if o.rm {
			_ = c.Remove(context.Background(), true)
		}
		var se *monitor.StartError
		if errors.As(err, &se) {
			code := 125
			if se.ExitCode == 126 || se.ExitCode == 127 {
				code = se.ExitCode
			}
			return codedError{err: err, code: code}
		}
		return err
	}
	if detach {
		fmt.Fprintln(s.out, c.ID)
		return nil
	}
	return runAttached(ctx, c, s, o)
}

// runAttached streams a started container's output (and the CLI's input
// with -i) until it exits, and returns its exit status. Without a tty,
// signals to the CLI are passed on to the container, as docker run's
// sig-proxy does; with one, Ctrl-C travels as input and reaches the
// container's foreground process through its terminal.
func runAttached(ctx context.Context, c *container.Container, s streams, o *createOptions) error {
	a, err := c.Attach(context.Background(), monitor.AttachOptions{Stdin: o.interactive, Remove: o.rm})
	if err != nil {
		return err
	}
	defer a.Close()
	var stdin io.Reader
	if o.interactive {
		stdin = s.in
	}
	if o.tty {
		if fd, ok := terminalFd(s.in); ok && o.interactive {
			restore, err := makeRaw(fd)
			if err != nil {
				return fmt.Errorf("set the terminal to raw mode: %w", err)
			}
			defer restore()
			stdin = &detachReader{r: s.in}
		}
		if fd, ok := terminalFd(s.out); ok && resizeSignal != nil {
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, resizeSignal)
			defer signal.Stop(winch)
			go func() {
				for range winch {
					if sz := terminalSize(fd); sz[0] > 0 {
						_ = a.Resize(sz[0], sz[1])
					}
				}
			}()
		}
	} else {
		sigs := make(chan os.Signal, 16)
		signal.Notify(sigs)
		defer signal.Stop(sigs)
		go proxySignals(c, sigs)
	}
	type result struct {
		st  monitor.State
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := a.Stream(stdin, s.out, s.err)
		done <- result{st, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		if !o.tty {
			// Signals are proxied: the container decides when it ends.
			r = <-done
			break
		}
		// With a tty nothing is proxied: the CLI leaves, the container runs on.
		return ctx.Err()
	}
	if errors.Is(r.err, monitor.ErrDetached) {
		return nil
	}
	if r.err != nil {
		return r.err
	}
	if o.rm {
		if err := c.Remove(context.Background(), true); err != nil {
			return err
		}
	}
	if r.st.ExitCode != 0 {
		return exitStatus(r.st.ExitCode)
	}
	return nil
}

// proxySignals passes the CLI's signals on to the container, except those
// that belong to the CLI's own plumbing.
func proxySignals(c *container.Container, sigs <-chan os.Signal) {
	for sig := range sigs {
		s, ok := sig.(syscall.Signal)
		if !ok || s == syscall.SIGCHLD || s == syscall.SIGPIPE || s == syscall.SIGURG || s == syscall.SIGWINCH {
			continue
		}
		_ = c.Kill(context.Background(), s)
	}
}

// detachReader passes input through until Docker's detach keys, ctrl-p
// ctrl-q, and then ends with monitor.ErrDetached. A ctrl-p not followed by
// ctrl-q is passed on.
type detachReader struct {
	r       io.Reader
	pending bool // a ctrl-p was held back
}

const (
	ctrlP = 0x10
	ctrlQ = 0x11
)

func (d *detachReader) Read(p []byte) (int, error) {
	if len(p) < 2 {
		return d.r.Read(p)
	}
	buf := make([]byte, len(p)-1)
	n, err := d.r.Read(buf)
	out := 0
	for i := 0; i < n; i++ {
		b := buf[i]
		if d.pending {
			d.pending = false
			if b == ctrlQ {
				return out, monitor.ErrDetached
			}
			p[out] = ctrlP
			out++
		}
		if b == ctrlP {
			d.pending = true
			continue
		}
		p[out] = b
		out++
	}
	return out, err
}
