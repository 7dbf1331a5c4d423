package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/compose"
	"github.com/berth-sh/berth/kube"
	"github.com/berth-sh/berth/runtime/image"
)

// deployOptions are deploy's own flags; the mapping flags are convert's.
type deployOptions struct {
	convert     convertFlags
	kubeconfig  string
	context     string
	push        bool
	noWait      bool
	waitTimeout time.Duration
	down        bool
	volumes     bool
}

func newDeployCommand(g *globalOptions, s streams) *cobra.Command {
	var o deployOptions
	cmd := &cobra.Command{
		Use:   "deploy [OPTIONS] [SERVICE...]",
		Short: "Deploy the project to Kubernetes, or take it down",
		Long: `Deploy the project to the Kubernetes cluster of the current kubeconfig context: the objects
berth convert makes are applied with server-side apply (field manager "berth"), then deploy waits
until workloads have rolled out, claims are bound and Services have ready endpoints, and names
what is stuck when they do not. Services built here (build:) need an image: name the cluster can
pull; --push builds and pushes them first.

deploy --down removes what deploy made; like down, it keeps PersistentVolumeClaims (and a
namespace berth made) unless -v is given.`,
		Example: `  berth deploy
  berth deploy --push --namespace demo
  berth deploy --context staging web
  berth deploy --down -v`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.volumes && !o.down:
				return usageError{cmd, errors.New("--volumes (-v) only goes with --down")}
			case o.down && o.push:
				return usageError{cmd, errors.New("--push and --down cannot be combined")}
			case o.down && len(args) > 0:
				return usageError{cmd, errors.New("--down removes the whole project: it takes no SERVICE")}
			case o.waitTimeout <= 0:
				return usageError{cmd, fmt.Errorf("--wait-timeout %s: must be positive", o.waitTimeout)}
			}
			if o.down {
				return composeError(deployDown(cmd.Context(), g, s, &o))
			}
			return composeError(deployUp(cmd.Context(), g, s, &o, args))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "Path to the kubeconfig file (default $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&o.context, "context", "", "Kubeconfig context to use (default: its current context)")
	f.BoolVar(&o.push, "push", false, "Build the images of services with build: and push them before deploying")
	f.BoolVar(&o.noWait, "no-wait", false, "Return once applied, without waiting for rollouts")
	f.DurationVar(&o.waitTimeout, "wait-timeout", kube.DefaultWaitTimeout, "How long to wait for rollouts (and, with --down, removal)")
	f.BoolVar(&o.down, "down", false, "Remove the project's objects from the cluster")
	f.BoolVarP(&o.volumes, "volumes", "v", false, "With --down: also remove PersistentVolumeClaims and the namespace berth made")
	o.convert.bind(f)
	return cmd
}

func deployUp(ctx context.Context, g *globalOptions, s streams, o *deployOptions, services []string) error {
	// The kubeconfig first: a deploy that cannot go anywhere should not build or push.
	cluster, err := kube.LoadCluster(o.kubeconfig, o.context)
	if err != nil {
		return err
	}
	p, res, err := convertProject(ctx, g, &o.convert, services)
	if err != nil {
		return err
	}
	if err := checkDeployImages(p.Project); err != nil {
		return err
	}
	if o.push {
		if err := buildAndPush(ctx, g, s, p.Project); err != nil {
			return err
		}
	}
	return kube.Apply(ctx, cluster.Config, res.Objects, kube.ApplyOptions{
		Namespace: cluster.Namespace, Out: s.err, Marks: isTerminal(s.err),
		NoWait: o.noWait, WaitTimeout: o.waitTimeout,
	})
}

// checkDeployImages refuses services built here that name no image: a cluster has nothing to pull.
func checkDeployImages(p *types.Project) error {
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		svc := p.Services[name]
		if svc.Build != nil && svc.Image == "" {
			return fmt.Errorf("service %q is built here (build:) but names no image: a cluster must pull it from a registry: set image: (e.g. registry.example.com/%s:1) and deploy with --push", name, name)
		}
	}
	return nil
}

// buildAndPush builds every service with a build section into its image: name and pushes it, as
// `berth build` then `berth push` would.
func buildAndPush(ctx context.Context, g *globalOptions, s streams, p *types.Project) error {
	l, err := openImages(g)
	if err != nil {
		return err
	}
	for _, name := range buildOrder(p) {
		svc := p.Services[name]
		if svc.Build == nil {
			continue
		}
		ref, err := image.ParseReference(svc.Image)
		if err != nil {
			return fmt.Errorf("service %q: %w", name, err)
		}
		if err := serviceBuild(ctx, g, s.err, composeBuildOptions{}, p, svc, svc.Image); err != nil {
			return fmt.Errorf("service %q: %w", name, err)
		}
		fmt.Fprintf(s.err, " Image %s  Built\n", svc.Image)
		if err := pushServiceImage(ctx, l, s, name, ref, false); err != nil {
			return fmt.Errorf("service %q: push %s: %w", name, svc.Image, err)
		}
	}
	return nil
}

func deployDown(ctx context.Context, g *globalOptions, s streams, o *deployOptions) error {
	cluster, err := kube.LoadCluster(o.kubeconfig, o.context)
	if err != nil {
		return err
	}
	// As down: the file names the project unless -p does, and with -p it may be missing.
	lo := g.loadOptions(nil)
	lo.RenderOnly = true
	p, err := compose.Load(ctx, lo)
	name := g.projectName
	if name == "" {
		if err != nil {
			return err
		}
		name = p.Name
	}
	ns := o.convert.namespace
	if ns == "" {
		ns = cluster.Namespace
	}
	return kube.Teardown(ctx, cluster.Config, name, ns, kube.TeardownOptions{
		Volumes: o.volumes, Out: s.err, Marks: isTerminal(s.err), Timeout: o.waitTimeout,
	})
}
