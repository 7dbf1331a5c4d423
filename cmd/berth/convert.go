package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/kube"
	"github.com/berth-sh/berth/runtime/image"
)

// convertFlags are the flags convert and deploy share: how a project maps to Kubernetes.
type convertFlags struct {
	namespace  string
	replicas   int
	volumeSize string
	publishAs  string
	strict     bool
	waitImage  string
}

func (f *convertFlags) bind(fs *pflag.FlagSet) {
	fs.StringVarP(&f.namespace, "namespace", "n", "", "Put every object in this namespace (and make it)")
	fs.IntVar(&f.replicas, "replicas", 0, "Replicas of every service (default: deploy.replicas or scale, else 1)")
	fs.StringVar(&f.volumeSize, "volume-size", "1Gi", "Storage each PersistentVolumeClaim asks for")
	fs.StringVar(&f.publishAs, "publish-as", kube.PublishLoadBalancer, "Service type for published ports: loadbalancer, nodeport or none")
	fs.BoolVar(&f.strict, "strict", false, "Fail when a field cannot be carried over, instead of warning")
	fs.StringVar(&f.waitImage, "wait-image", kube.DefaultWaitImage, "Image of the init containers that wait for dependencies")
}

// convertProject loads the project as docker compose renders it (berth's own runtime limits do
// not apply to a cluster) and converts it, warning on stderr about what is not carried over.
func convertProject(ctx context.Context, g *globalOptions, f *convertFlags, services []string) (*compose.Project, *kube.Result, error) {
	o := g.loadOptions(services)
	o.RenderOnly = true
	p, err := compose.Load(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	res, err := kube.Convert(p.Project, kube.Options{
		Namespace: f.namespace, Replicas: f.replicas, VolumeSize: f.volumeSize, PublishAs: f.publishAs,
		Strict: f.strict, WaitImage: f.waitImage, ImagePorts: localImagePorts(g),
	})
	if err != nil {
		return nil, nil, err
	}
	for _, w := range res.Warnings {
		logrus.Warn(w.String())
	}
	return p, res, nil
}

// localImagePorts reads the ports an image exposes from the local store, when it is there.
func localImagePorts(g *globalOptions) func(string) []string {
	var l *image.Local
	return func(ref string) []string {
		if l == nil {
			// Only a store that exists: converting must not make state.
			if _, err := os.Stat(filepath.Join(g.root, "images")); err != nil {
				return nil
			}
			var err error
			if l, err = openImages(g); err != nil {
				return nil
			}
		}
		in, err := l.Inspect(ref)
		if err != nil {
			return nil
		}
		var ports []string
		for p := range in.Config.ExposedPorts {
			ports = append(ports, p)
		}
		slices.Sort(ports)
		return ports
	}
}

func newConvertCommand(g *globalOptions, s streams) *cobra.Command {
	var f convertFlags
	var out string
	cmd := &cobra.Command{
		Use:   "convert [OPTIONS] [SERVICE...]",
		Short: "Convert the project to Kubernetes objects",
		Long: `Convert the project to Kubernetes objects: a Deployment per service (a StatefulSet for one
that owns named volumes), Services on the ports services reach each other on (and one for the
published ports), ConfigMaps, Secrets and PersistentVolumeClaims. Fields Kubernetes cannot say are
named in one warning per service; --strict makes them errors.`,
		Example: `  berth convert                      YAML on standard output
  berth convert -o k8s/ --namespace demo
  berth convert --publish-as nodeport web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, res, err := convertProject(cmd.Context(), g, &f, args)
			if err != nil {
				return err
			}
			return writeObjects(res.Objects, out, s.out)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "Write to this directory (one file per object) or .yaml file; default standard output")
	f.bind(cmd.Flags())
	return cmd
}

// writeObjects writes YAML to w, a .yaml/.yml file, or a directory of one file per object.
func writeObjects(objs []kube.Object, out string, w io.Writer) error {
	switch {
	case out == "" || out == "-":
		b, err := kube.YAML(objs)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case strings.HasSuffix(out, ".yaml") || strings.HasSuffix(out, ".yml"):
		b, err := kube.YAML(objs)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	default:
		if fi, err := os.Stat(out); err == nil && !fi.IsDir() {
			return fmt.Errorf("-o %s: exists and is not a directory", out)
		}
		_, err := kube.WriteDir(out, objs)
		return err
	}
}
