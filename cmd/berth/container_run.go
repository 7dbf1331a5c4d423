package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
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
			_ = c.Remove(context.Background(), true, true)
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
// with -i) until it exits, and returns its exit status.
func runAttached(ctx context.Context, c *container.Container, s streams, o *createOptions) error {
	keys, err := parseDetachKeys(o.detachKeys)
	if err != nil {
		return err
	}
	a, err := c.Attach(context.Background(), monitor.AttachOptions{Stdin: o.interactive, Remove: o.rm})
	if err != nil {
		return err
	}
	defer a.Close()
	st, err := streamContainer(ctx, c, a, s, streamOptions{stdin: o.interactive, tty: o.tty, sigProxy: !o.tty, detachKeys: keys})
	if errors.Is(err, monitor.ErrDetached) {
		return nil
	}
	if err != nil {
		return err
	}
	if o.rm {
		if err := c.Remove(context.Background(), true, true); err != nil {
			return err
		}
	}
	if st.ExitCode != 0 {
		return exitStatus(st.ExitCode)
	}
	return nil
}

// streamOptions say how the CLI takes part in an attached container.
type streamOptions struct {
	stdin      bool
	tty        bool
	sigProxy   bool
	detachKeys []byte
}

// streamContainer copies between the CLI and an attachment until the
// container exits (its final state) or the user detaches (ErrDetached).
// With a tty the CLI's terminal is raw and its size followed; with
// sigProxy the CLI's signals are passed on to the container, as docker
// run's and attach's sig-proxy does; Ctrl-C on a tty travels as input.
func streamContainer(ctx context.Context, c *container.Container, a *monitor.Attachment, s streams, o streamOptions) (monitor.State, error) {
	var stdin io.Reader
	if o.stdin {
		stdin = s.in
	}
	if o.tty {
		if fd, ok := terminalFd(s.in); ok && o.stdin {
			restore, err := makeRaw(fd)
			if err != nil {
				return monitor.State{}, fmt.Errorf("set the terminal to raw mode: %w", err)
			}
			defer restore()
			stdin = &detachReader{r: s.in, keys: o.detachKeys}
		}
		if fd, ok := terminalFd(s.out); ok && resizeSignal != nil {
			if sz := terminalSize(fd); sz[0] > 0 {
				_ = a.Resize(sz[0], sz[1])
			}
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
	}
	if o.sigProxy {
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
	select {
	case r := <-done:
		return r.st, r.err
	case <-ctx.Done():
		if o.sigProxy {
			// Signals are proxied: the container decides when it ends.
			r := <-done
			return r.st, r.err
		}
		// Nothing is proxied: the CLI leaves, the container runs on.
		return monitor.State{}, ctx.Err()
	}
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

// detachReader passes input through until the detach keys (Docker's
// default ctrl-p ctrl-q) and then ends with monitor.ErrDetached. A partial
// sequence that does not go on is passed on.
type detachReader struct {
	r       io.Reader
	keys    []byte
	matched int // keys matched so far, held back
}

func (d *detachReader) Read(p []byte) (int, error) {
	if len(d.keys) == 0 {
		d.keys = defaultDetachKeys
	}
	if len(p) <= len(d.keys) {
		return d.r.Read(p)
	}
	buf := make([]byte, len(p)-len(d.keys))
	n, err := d.r.Read(buf)
	out := 0
	for _, b := range buf[:n] {
		if b == d.keys[d.matched] {
			d.matched++
			if d.matched == len(d.keys) {
				return out, monitor.ErrDetached
			}
			continue
		}
		// Not the sequence after all: what was held back is input.
		out += copy(p[out:], d.keys[:d.matched])
		d.matched = 0
		if b == d.keys[0] {
			d.matched = 1
			continue
		}
		p[out] = b
		out++
	}
	return out, err
}

// defaultDetachKeys are Docker's: ctrl-p ctrl-q.
var defaultDetachKeys = []byte{0x10, 0x11}

// parseDetachKeys reads --detach-keys as Docker does: a comma-separated
// list of single characters and ctrl-<x> (x a letter or one of @[\]^_).
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return defaultDetachKeys, nil
	}
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			keys = append(keys, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			c := strings.ToLower(k)[5]
			switch {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case c == '@':
				keys = append(keys, 0)
			case c >= '[' && c <= '_':
				keys = append(keys, c-'['+27)
			default:
				return nil, container.Invalid(dockerMessage("Invalid detach keys (" + s + ") provided"))
			}
		default:
			return nil, container.Invalid(dockerMessage("Invalid detach keys (" + s + ") provided"))
		}
	}
	return keys, nil
}
