package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/runtime/monitor"
)

type execOptions struct {
	detach      bool
	interactive bool
	tty         bool
	user        string
	workdir     string
	env         []string
	envFiles    []string
	privileged  bool
}

func newContainerExecCommand(g *globalOptions, s streams) *cobra.Command {
	o := &execOptions{}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Example: `  berth container exec web ls /app
  berth container exec -it web sh
  echo hi | berth container exec -i web cat`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError{cmd: cmd, err: fmt.Errorf("%q requires at least 2 arguments", cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return execInContainer(cmd.Context(), g, s, o, args)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.detach, "detach", "d", false, "Detached mode: run command in the background")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.StringVarP(&o.user, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	f.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	f.StringArrayVar(&o.envFiles, "env-file", nil, "Read in a file of environment variables")
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to the command")
	return cmd
}

func execInContainer(ctx context.Context, g *globalOptions, s streams, o *execOptions, args []string) error {
	if o.tty && o.interactive && !o.detach {
		if _, ok := terminalFd(s.in); !ok {
			return errors.New("the input device is not a TTY")
		}
	}
	c, err := container.Lookup(g.root, args[0])
	if err != nil {
		return err
	}
	eo := container.ExecOptions{
		Cmd: args[1:], User: o.user, WorkingDir: o.workdir, Privileged: o.privileged,
		Tty: o.tty && !o.detach, Detach: o.detach,
	}
	for _, file := range o.envFiles {
		env, err := readEnvFile(file)
		if err != nil {
			return err
		}
		eo.Env = append(eo.Env, env...)
	}
	eo.Env = append(eo.Env, withHostValues(o.env)...)
	if eo.Tty {
		if fd, ok := terminalFd(s.out); ok {
			eo.ConsoleSize = terminalSize(fd)
		}
	}
	stdio, err := newExecStdio(s, o.interactive && !o.detach, eo.Tty, o.detach)
	if err != nil {
		return err
	}
	defer stdio.close()
	sess, err := c.Exec(ctx, eo, stdio.files)
	stdio.started()
	if err != nil {
		var se *monitor.StartError
		if errors.As(err, &se) {
			code := 126
			if se.ExitCode == 127 {
				code = 127
			}
			return codedError{err: fmt.Errorf("exec failed: %w", err), code: code}
		}
		return err
	}
	defer sess.Close()
	if o.detach {
		return nil
	}
	var copied sync.WaitGroup
	if sess.Pty != nil {
		if fd, ok := terminalFd(s.in); ok && o.interactive {
			restore, err := makeRaw(fd)
			if err != nil {
				return fmt.Errorf("set the terminal to raw mode: %w", err)
			}
			defer restore()
		}
		if fd, ok := terminalFd(s.out); ok && resizeSignal != nil {
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, resizeSignal)
			defer signal.Stop(winch)
			go func() {
				for range winch {
					if sz := terminalSize(fd); sz[0] > 0 {
						_ = setTerminalSize(int(sess.Pty.Fd()), sz)
					}
				}
			}()
		}
		if o.interactive {
			go func() { _, _ = io.Copy(sess.Pty, s.in) }()
		}
		copied.Add(1)
		go func() {
			defer copied.Done()
			// Ends with EIO once the last holder of the terminal is gone.
			_, _ = io.Copy(s.out, sess.Pty)
		}()
	}
	// A signal to the CLI (Ctrl-C without a tty) ends the session, and the
	// monitor kills the process: nothing is left running in the container.
	stopOnSignal := context.AfterFunc(ctx, func() { sess.Close() })
	defer stopOnSignal()
	code, err := sess.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	waitAtMost(&copied, time.Second)
	stdio.wait()
	if code != 0 {
		return exitStatus(code)
	}
	return nil
}

// execStdio are the descriptors an exec's process gets: the CLI's own
// streams when they are files, else pipes copied to and from them.
type execStdio struct {
	files  []*os.File // stdin, stdout, stderr for the process; none with a tty
	given  []*os.File // closed once passed on: pipe ends, /dev/null
	copies sync.WaitGroup
}

func newExecStdio(s streams, stdin, tty, detach bool) (*execStdio, error) {
	x := &execStdio{}
	if tty {
		return x, nil
	}
	devnull := func() (*os.File, error) {
		f, err := os.Open(os.DevNull)
		if err == nil {
			x.given = append(x.given, f)
		}
		return f, err
	}
	if detach {
		for range 3 {
			f, err := devnull()
			if err != nil {
				x.close()
				return nil, err
			}
			x.files = append(x.files, f)
		}
		return x, nil
	}
	var in *os.File
	var err error
	switch f, ok := s.in.(*os.File); {
	case !stdin:
		in, err = devnull()
	case ok:
		in = f
	default:
		r, w, perr := os.Pipe()
		if perr != nil {
			x.close()
			return nil, perr
		}
		in, x.given = r, append(x.given, r)
		go func() {
			_, _ = io.Copy(w, s.in)
			w.Close()
		}()
	}
	if err != nil {
		x.close()
		return nil, err
	}
	x.files = append(x.files, in)
	for _, w := range []io.Writer{s.out, s.err} {
		if f, ok := w.(*os.File); ok {
			x.files = append(x.files, f)
			continue
		}
		r, pw, err := os.Pipe()
		if err != nil {
			x.close()
			return nil, err
		}
		x.files, x.given = append(x.files, pw), append(x.given, pw)
		x.copies.Add(1)
		go func() {
			defer x.copies.Done()
			defer r.Close()
			_, _ = io.Copy(w, r)
		}()
	}
	return x, nil
}

// started closes this process's copies of what was passed on.
func (x *execStdio) started() {
	for _, f := range x.given {
		f.Close()
	}
	x.given = nil
}

// wait waits for the output copies, which end when the process and all
// that share its output are gone.
func (x *execStdio) wait() { x.copies.Wait() }

func (x *execStdio) close() { x.started() }

// waitAtMost waits for wg, or d.
func waitAtMost(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}
