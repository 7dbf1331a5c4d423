package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/runtime/image"
)

func newImageCommand(g *globalOptions, s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image COMMAND",
		Short: "Manage images",
		Example: `  berth image pull busybox
  berth image ls
  berth image save -o app.tar app:latest`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newImageBuildCommand(g, s),
		newImagePullCommand(g, s),
		newImagePushCommand(g, s),
		newImageTagCommand(g, s),
		newImageLoadCommand(g, s),
		newImageSaveCommand(g, s),
		newImageImportCommand(g, s),
		newImageListCommand(g, s),
		newImageInspectCommand(g, s),
		newImageHistoryCommand(g, s),
		newImageRemoveCommand(g, s),
		newImagePruneCommand(g, s),
	)
	return cmd
}

func openImages(g *globalOptions) (*image.Local, error) {
	l, err := image.OpenLocal(g.root)
	if err != nil {
		return nil, err
	}
	// An image a container uses is kept, as Docker keeps it: its layers are the container's.
	l.ContainersUsing = func(id v1.Hash) ([]image.ImageUser, error) {
		cs, err := container.List(context.Background(), g.root)
		if err != nil {
			return nil, err
		}
		var users []image.ImageUser
		for _, c := range cs {
			if c.ImageID != id.String() {
				continue
			}
			u := image.ImageUser{ID: c.ID}
			if st, err := c.Status(); err == nil {
				u.Running = st.Status == container.StatusRunning || st.Status == container.StatusPaused || st.Status == container.StatusRestarting
			}
			users = append(users, u)
		}
		return users, nil
	}
	return l, nil
}

// openRef parses an image reference and opens the store it is looked up in.
func openRef(g *globalOptions, arg string) (image.Reference, *image.Local, error) {
	ref, err := image.ParseReference(arg)
	if err != nil {
		return image.Reference{}, nil, err
	}
	l, err := openImages(g)
	return ref, l, err
}

// progressFor renders transfers on w: bars on a terminal, plain lines elsewhere, nothing with -q.
func progressFor(w io.Writer, quiet bool) image.Progress {
	if quiet {
		return image.NoProgress{}
	}
	return image.NewDisplay(w, isTerminal(w))
}

type pullOptions struct {
	platform string
	quiet    bool
}

func newImagePullCommand(g *globalOptions, s streams) *cobra.Command {
	o := &pullOptions{}
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Example: `  berth image pull busybox
  berth image pull --platform linux/arm64 localhost:5000/app:v1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, l, err := openRef(g, args[0])
			if err != nil {
				return err
			}
			_, err = l.Pull(cmd.Context(), ref, image.PullOptions{
				RemoteOptions: image.RemoteOptions{Progress: progressFor(s.out, o.quiet), UserAgent: "berth/" + version},
				Platform:      o.platform,
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(s.out, ref.String())
			return nil
		},
	}
	cmd.Flags().StringVar(&o.platform, "platform", "", "Set platform if server is multi-platform capable")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}

func newImagePushCommand(g *globalOptions, s streams) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:     "push [OPTIONS] NAME[:TAG]",
		Short:   "Upload an image to a registry",
		Example: `  berth image push localhost:5000/app:v1`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, l, err := openRef(g, args[0])
			if err != nil {
				return err
			}
			_, err = l.Push(cmd.Context(), ref, image.RemoteOptions{Progress: progressFor(s.out, quiet), UserAgent: "berth/" + version})
			if err == nil && quiet {
				fmt.Fprintln(s.out, ref.String())
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}

func newImageTagCommand(g *globalOptions, _ streams) *cobra.Command {
	return &cobra.Command{
		Use:     "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short:   "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Example: `  berth image tag app:latest localhost:5000/app:v1`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := openImages(g)
			if err != nil {
				return err
			}
			return l.Tag(cmd.Context(), args[0], args[1])
		},
	}
}

func newImageLoadCommand(g *globalOptions, s streams) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Example: `  berth image load -i app.tar
  gunzip -c app.tar.gz | berth image load`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in, closeIn, err := openInput(input, s.in)
			if err != nil {
				return err
			}
			defer closeIn()
			l, err := openImages(g)
			if err != nil {
				return err
			}
			loaded, err := l.Load(cmd.Context(), in)
			if err != nil {
				return fmt.Errorf("load: %w", err)
			}
			for _, li := range loaded {
				if quiet {
					continue
				}
				if len(li.Names) == 0 {
					fmt.Fprintf(s.out, "Loaded image ID: %s\n", li.ID)
				}
				for _, n := range li.Names {
					fmt.Fprintf(s.out, "Loaded image: %s\n", n)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

func newImageSaveCommand(g *globalOptions, s streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Example: `  berth image save -o app.tar app:latest
  berth image save app:latest | gzip > app.tar.gz`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var refs []image.Reference
			for _, a := range args {
				ref, err := image.ParseReference(a)
				if err != nil {
					return err
				}
				refs = append(refs, ref)
			}
			l, err := openImages(g)
			if err != nil {
				return err
			}
			if output == "" {
				if isTerminal(s.out) {
					return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
				return l.Save(cmd.Context(), s.out, refs)
			}
			return writeFileAtomic(output, func(w io.Writer) error { return l.Save(cmd.Context(), w, refs) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// openInput opens the file an archive is read from; "" means standard input.
func openInput(name string, stdin io.Reader) (io.Reader, func(), error) {
	if name == "" {
		return stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// writeFileAtomic writes path through a temp file renamed into place, so a failed save leaves no
// half-written archive under the name the user asked for.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".berth-save-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

type importOptions struct {
	changes []string
	message string
}

func newImageImportCommand(g *globalOptions, s streams) *cobra.Command {
	o := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Example: `  berth image import rootfs.tar debian:bookworm
  tar -C rootfs -c . | berth image import --change 'CMD ["/bin/sh"]' - mybase:1`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ref *image.Reference
			if len(args) == 2 {
				r, err := image.ParseReference(args[1])
				if err != nil {
					return err
				}
				ref = &r
			}
			file := args[0]
			if file == "-" {
				file = "" // standard input, as `docker import -` reads it
			} else if fi, err := os.Stat(file); err == nil && fi.IsDir() {
				return fmt.Errorf("import %s: a directory; import takes a tar archive of a root file system (tar -C %s -c . | berth image import - NAME)", file, file)
			}
			in, closeIn, err := openInput(file, s.in)
			if err != nil {
				return err
			}
			defer closeIn()
			l, err := openImages(g)
			if err != nil {
				return err
			}
			id, err := l.Import(cmd.Context(), in, ref, image.ImportOptions{Changes: o.changes, Message: o.message, Source: args[0]})
			if err != nil {
				return err
			}
			fmt.Fprintln(s.out, id)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&o.changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	cmd.Flags().StringVarP(&o.message, "message", "m", "", "Set commit message for imported image")
	return cmd
}

func newLoginCommand(_ *globalOptions, s streams) *cobra.Command {
	var user, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry",
		Long:  "Log in to a registry. Credentials are stored where Docker stores them (~/.docker/config.json or its credential helper).",
		Example: `  berth login -u me localhost:5000
  echo "$TOKEN" | berth login -u me --password-stdin ghcr.io`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			if passwordStdin {
				if password != "" {
					return fmt.Errorf("--password and --password-stdin are mutually exclusive")
				}
				b, err := io.ReadAll(s.in)
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			if user == "" || password == "" {
				return fmt.Errorf("login needs -u USERNAME and a password (-p or --password-stdin)")
			}
			if _, err := image.Login(cmd.Context(), server, user, password, nil); err != nil {
				return err
			}
			fmt.Fprintln(s.out, "Login Succeeded")
			return nil
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "Username")
	cmd.Flags().StringVarP(&password, "password", "p", "", "Password or Personal Access Token (PAT)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

func newLogoutCommand(_ *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:     "logout [SERVER]",
		Short:   "Log out from a registry",
		Example: `  berth logout localhost:5000`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			key, err := image.Logout(server)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.out, "Removing login credentials for %s\n", key)
			return nil
		},
	}
}
