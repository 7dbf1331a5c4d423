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

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/runtime/container"
)

// Default state directories; --root/--run-root and BERTH_ROOT/BERTH_RUN_ROOT move them.
const (
	defaultRoot    = "/var/lib/berth"
	defaultRunRoot = "/run/berth"
)

// globalOptions are docker compose's project flags plus berth's state directories.
type globalOptions struct {
	files         []string
	projectName   string
	projectDir    string
	envFiles      []string
	profiles      []string
	compatibility bool
	dryRun        bool
	root          string
	runRoot       string
}

// loadOptions turns the global flags into compose loading options.
func (g *globalOptions) loadOptions(services []string) compose.Options {
	return compose.Options{
		Files:         g.files,
		ProjectName:   g.projectName,
		ProjectDir:    g.projectDir,
		EnvFiles:      g.envFiles,
		Profiles:      g.profiles,
		Services:      services,
		Compatibility: g.compatibility,
	}
}

type streams struct {
	in       io.Reader
	out, err io.Writer
}

func newRootCommand(s streams) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "berth [OPTIONS] COMMAND",
		Short: "Run compose projects with no daemon",
		Long: `berth runs multi-container applications described by compose files, as docker compose
does, with its own container runtime and no daemon: nothing runs when no container does.`,
		Example: `  berth config                  render the project found from the current directory
  berth -f compose.yaml -f compose.dev.yaml -p demo config --services
  berth version`,
		SilenceErrors:    true,
		SilenceUsage:     true,
		TraverseChildren: true,
		Args:             cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{cmd: cmd, err: err}
	})

	// As in docker compose, the project flags belong to the root and come before the command
	// (`berth -f a.yaml config`), so that commands keep their own short flags (`logs -f`).
	f := root.Flags()
	f.StringArrayVarP(&g.files, "file", "f", nil, "Compose configuration files (repeatable; - reads standard input)")
	f.StringVarP(&g.projectName, "project-name", "p", "", "Project name")
	f.StringVar(&g.projectDir, "project-directory", "", "Specify an alternate working directory\n(default: the path of the, first specified, Compose file)")
	f.StringArrayVar(&g.envFiles, "env-file", splitComma(os.Getenv("COMPOSE_ENV_FILES")), "Specify an alternate environment file")
	f.StringArrayVar(&g.profiles, "profile", nil, "Specify a profile to enable")
	f.BoolVar(&g.compatibility, "compatibility", false, "Run compose in backward compatibility mode")
	f.BoolVar(&g.dryRun, "dry-run", false, "Execute command in dry run mode (up and down: print the plan, change nothing)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if g.dryRun && cmd.Name() != "up" && cmd.Name() != "down" {
			return fmt.Errorf("--dry-run is not supported by berth for %s yet: only up and down print their plan", cmd.CommandPath())
		}
		return nil
	}

	// The state directories apply to every command, wherever they are written.
	pf := root.PersistentFlags()
	pf.StringVar(&g.root, "root", envOr("BERTH_ROOT", defaultRoot), "State directory (images, containers, volumes, networks) (env BERTH_ROOT)")
	pf.StringVar(&g.runRoot, "run-root", envOr("BERTH_RUN_ROOT", defaultRunRoot), "Runtime directory (sockets, network namespaces) (env BERTH_RUN_ROOT)")

	_ = root.RegisterFlagCompletionFunc("file", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	})
	_ = root.RegisterFlagCompletionFunc("project-directory", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	})
	_ = root.RegisterFlagCompletionFunc("profile", completeProfiles(g))

	root.AddCommand(
		newConfigCommand(g, s),
		newContainerCommand(g, s),
		newImageCommand(g, s),
		newNetworkCommand(g, s),
		newVolumeCommand(g, s),
		newUpCommand(g, s),
		newDownCommand(g, s),
		newPsCommand(g, s),
		newSystemCommand(g, s),
		newLoginCommand(g, s),
		newLogoutCommand(g, s),
		newVersionCommand(s),
	)
	root.AddCommand(composeOpsCommands(g, s)...)
	root.AddCommand(composeMoreCommands(g, s)...)
	addBuiltinExamples(root)
	return root
}

// addBuiltinExamples creates cobra's own help and completion commands now, rather than when they
// are first run, so that they carry examples like every other command.
func addBuiltinExamples(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = "  berth help config"
		case "completion":
			c.Example = `  source <(berth completion bash)
  berth completion zsh > "${fpath[1]}/_berth"`
			for _, sh := range c.Commands() {
				sh.Example = "  berth completion " + sh.Name()
			}
		}
	}
}

// execute runs berth with args and returns the process exit code. It is the one place where
// errors become messages and exit codes.
func execute(args []string, in io.Reader, out, errOut io.Writer) int {
	logrus.SetOutput(errOut)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root := newRootCommand(streams{in: in, out: out, err: errOut})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var status exitStatus
	if errors.As(err, &status) {
		return exitCode(err) // the container's own code: nothing of berth's to report
	}
	fmt.Fprintln(errOut, oneLine(err.Error()))
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintf(errOut, "See '%s --help'.\n", u.cmd.CommandPath())
	} else if strings.HasPrefix(err.Error(), "unknown command") {
		fmt.Fprintf(errOut, "See '%s --help'.\n", root.CommandPath())
	}
	return exitCode(err)
}

// exitCode maps error classes to exit codes. Every failure is 1, as in docker compose; a command
// stopped by a signal is 130. Container commands follow docker run: bad input (a flag, an image,
// a value) is 125, and a container's own exit code is passed on.
func exitCode(err error) int {
	var status exitStatus
	var u usageError
	var coded codedError
	switch {
	case errors.As(err, &status):
		return int(status)
	case errors.As(err, &coded):
		return coded.code
	case errors.Is(err, container.ErrInvalid):
		return 125
	case errors.As(err, &u) && u.cmd.Parent() != nil && u.cmd.Parent().Name() == "container":
		return 125
	case errors.Is(err, context.Canceled):
		return 130
	}
	return 1
}

// dockerMessage is an error in Docker's own words, which start with a capital letter.
type dockerMessage string

func (e dockerMessage) Error() string { return string(e) }

// usageError is a flag or argument error: the message is followed by a pointer to --help.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// oneLine keeps an error to a single line: errors from deep in a loader can carry newlines.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func splitComma(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' })
}
