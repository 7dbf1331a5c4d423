package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/runtime/monitor"
)

func newContainerAttachCommand(g *globalOptions, s streams) *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Example: `  berth container attach web
  berth container attach --detach-keys ctrl-a,d shell`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := parseDetachKeys(detachKeys)
			if err != nil {
				return err
			}
			c, err := container.Lookup(g.root, args[0])
			if err != nil {
				return err
			}
			st, err := c.Status()
			if err != nil {
				return err
			}
			switch st.Status {
			case container.StatusRunning:
			case container.StatusPaused:
				return dockerMessage("You cannot attach to a paused container, unpause it first")
			default:
				return dockerMessage("You cannot attach to a stopped container, start it first")
			}
			stdin := c.Options.OpenStdin && !noStdin
			if c.Options.Tty && stdin {
				if _, ok := terminalFd(s.in); !ok {
					return errors.New("the input device is not a TTY")
				}
			}
			a, err := c.Attach(cmd.Context(), monitor.AttachOptions{Stdin: stdin})
			if err != nil {
				return err
			}
			defer a.Close()
			final, err := streamContainer(cmd.Context(), c, a, s, streamOptions{
				stdin: stdin, tty: c.Options.Tty, sigProxy: sigProxy && !c.Options.Tty, detachKeys: keys,
			})
			if errors.Is(err, monitor.ErrDetached) {
				// Docker's words, and its exit code 1.
				return errors.New("read escape sequence")
			}
			if err != nil {
				return err
			}
			if final.ExitCode != 0 {
				return exitStatus(final.ExitCode)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	f.BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	f.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}
