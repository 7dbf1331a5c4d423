package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-sh/berth/network"
	"github.com/berth-sh/berth/runtime/container"
)

func newNetworkCommand(g *globalOptions, s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network COMMAND",
		Short: "Manage networks",
		Example: `  berth network create todo-app
  berth network ls`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newNetworkCreateCommand(g, s),
		newNetworkListCommand(g, s),
		newNetworkInspectCommand(g, s),
		newNetworkRemoveCommand(g, s),
		newNetworkConnectCommand(g, s),
		newNetworkDisconnectCommand(g, s),
		newNetworkPruneCommand(g, s),
	)
	return cmd
}

func openNetworks(g *globalOptions) (*network.Store, error) { return network.OpenStore(g.root) }

// keyValues reads repeated KEY=VALUE flags into a map (labels, driver options).
func keyValues(flag string, list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid %s %q: KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

func newNetworkCreateCommand(g *globalOptions, s streams) *cobra.Command {
	var o network.Options
	var labels, opts, subnets, gateways []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Example: `  berth network create todo-app
  berth network create --subnet 172.28.0.0/16 --internal backend`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if err := splitFamilies("subnet", subnets, &o.Subnet, &o.Subnet6); err != nil {
				return err
			}
			if err := splitFamilies("gateway", gateways, &o.Gateway, &o.Gateway6); err != nil {
				return err
			}
			if o.Labels, err = keyValues("label", labels); err != nil {
				return err
			}
			if o.DriverOpts, err = keyValues("option", opts); err != nil {
				return err
			}
			store, err := openNetworks(g)
			if err != nil {
				return err
			}
			n, err := store.Create(args[0], o)
			if err != nil {
				return err
			}
			fmt.Fprintln(s.out, n.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Driver, "driver", "d", network.DriverBridge, "Driver to manage the Network")
	f.StringArrayVar(&subnets, "subnet", nil, "Subnet in CIDR format that represents a network segment (one IPv4, one IPv6)")
	f.StringArrayVar(&gateways, "gateway", nil, "IPv4 or IPv6 Gateway for the master subnet")
	f.BoolVar(&o.EnableIPv6, "ipv6", false, "Enable or disable IPv6 networking")
	f.BoolVar(&o.Internal, "internal", false, "Restrict external access to the network")
	f.BoolVar(&o.Attachable, "attachable", false, "Enable manual container attachment")
	f.StringArrayVar(&labels, "label", nil, "Set metadata on a network")
	f.StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	return cmd
}

// splitFamilies sorts the values of a repeatable --subnet or --gateway flag
// into the IPv4 and the IPv6 one, as Docker takes one of each.
func splitFamilies(flag string, values []string, v4, v6 *string) error {
	for _, v := range values {
		addr, _, _ := strings.Cut(v, "/")
		dst := v4
		if strings.Contains(addr, ":") {
			dst = v6
		}
		if *dst != "" {
			return fmt.Errorf("--%s: more than one %s of a family (%s and %s): berth takes one IPv4 and one IPv6", flag, flag, *dst, v)
		}
		*dst = v
	}
	return nil
}

// networkRow is one line of `network ls`, with Docker's JSON field names.
type networkRow struct {
	ID, Name, Driver, Scope, IPv6, Internal, Labels, CreatedAt string
}

func newNetworkListCommand(g *globalOptions, s streams) *cobra.Command {
	var quiet bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Example: `  berth network ls
  berth network ls -q`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openNetworks(g)
			if err != nil {
				return err
			}
			keep, err := networkFilter(filters)
			if err != nil {
				return err
			}
			all, err := store.List()
			if err != nil {
				return err
			}
			var rows []networkRow
			for _, n := range all {
				if !keep(n) {
					continue
				}
				rows = append(rows, networkRow{
					ID: n.ID[:12], Name: n.Name, Driver: n.Driver, Scope: "local", IPv6: fmt.Sprint(n.EnableIPv6),
					Internal: fmt.Sprint(n.Internal), Labels: joinLabels(n.Labels),
					CreatedAt: n.Created.Format("2006-01-02 15:04:05 -0700 MST"),
				})
			}
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(s.out, r.ID)
				}
				return nil
			}
			return printListing(s.out, format, rows, func(tw io.Writer) {
				fmt.Fprintln(tw, "NETWORK ID\tNAME\tDRIVER\tSCOPE")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Name, r.Driver, r.Scope)
				}
			})
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, `Provide filter values (e.g. "driver=bridge")`)
	cmd.Flags().StringVar(&format, "format", "", "Format output: table or json")
	return cmd
}

// networkFilter turns `network ls --filter` values into a predicate, as Docker's: name (a
// substring), id (a prefix), driver, label (k or k=v) and type (builtin, custom); values of one
// key are alternatives, different keys must all hold.
func networkFilter(filters []string) (func(*network.Network) bool, error) {
	byKey := map[string][]func(*network.Network) bool{}
	for _, f := range filters {
		key, val, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value): %s", f)
		}
		var pred func(*network.Network) bool
		switch key {
		case "name":
			pred = func(n *network.Network) bool { return strings.Contains(n.Name, val) }
		case "id":
			pred = func(n *network.Network) bool { return strings.HasPrefix(n.ID, val) }
		case "driver":
			pred = func(n *network.Network) bool { return n.Driver == val }
		case "label":
			k, lv, withValue := strings.Cut(val, "=")
			pred = func(n *network.Network) bool {
				got, ok := n.Labels[k]
				return ok && (!withValue || got == lv)
			}
		case "type":
			if val != "custom" && val != "builtin" {
				return nil, fmt.Errorf("invalid filter: 'type'='%s'", val)
			}
			pred = func(n *network.Network) bool { return (n.Name == network.DefaultNetwork) == (val == "builtin") }
		default:
			return nil, fmt.Errorf("invalid filter '%s'", key)
		}
		byKey[key] = append(byKey[key], pred)
	}
	return func(n *network.Network) bool {
		for _, preds := range byKey {
			if !slices.ContainsFunc(preds, func(p func(*network.Network) bool) bool { return p(n) }) {
				return false
			}
		}
		return true
	}, nil
}

// networkInspection is Docker's network inspect object, the fields berth has.
type networkInspection struct {
	Name       string
	ID         string `json:"Id"`
	Created    string
	Scope      string
	Driver     string
	EnableIPv6 bool
	IPAM       struct {
		Driver  string
		Options map[string]string
		Config  []map[string]string
	}
	Internal   bool
	Attachable bool
	Ingress    bool
	Containers map[string]networkEndpoint
	Options    map[string]string
	Labels     map[string]string
}

type networkEndpoint struct {
	Name        string
	MacAddress  string
	IPv4Address string
	IPv6Address string
}

func inspectNetwork(n *network.Network) networkInspection {
	in := networkInspection{
		Name: n.Name, ID: n.ID, Created: n.Created.Format("2006-01-02T15:04:05.999999999Z07:00"), Scope: "local",
		Driver: n.Driver, EnableIPv6: n.EnableIPv6, Internal: n.Internal, Attachable: n.Attachable,
		Containers: map[string]networkEndpoint{}, Options: n.Options, Labels: n.Labels,
	}
	in.IPAM.Driver, in.IPAM.Options = "default", map[string]string{}
	in.IPAM.Config = []map[string]string{{"Subnet": n.IPv4.Prefix.String(), "Gateway": n.IPv4.Gateway.String()}}
	if n.IPv6 != nil {
		in.IPAM.Config = append(in.IPAM.Config, map[string]string{"Subnet": n.IPv6.Prefix.String(), "Gateway": n.IPv6.Gateway.String()})
	}
	if in.Options == nil {
		in.Options = map[string]string{}
	}
	if in.Labels == nil {
		in.Labels = map[string]string{}
	}
	for id, ep := range n.Endpoints {
		e := networkEndpoint{Name: ep.Name, MacAddress: ep.MAC,
			IPv4Address: fmt.Sprintf("%s/%d", ep.IPv4, n.IPv4.Prefix.Bits())}
		if ep.IPv6.IsValid() && n.IPv6 != nil {
			e.IPv6Address = fmt.Sprintf("%s/%d", ep.IPv6, n.IPv6.Prefix.Bits())
		}
		in.Containers[id] = e
	}
	return in
}

func newNetworkInspectCommand(g *globalOptions, s streams) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "inspect NETWORK [NETWORK...]",
		Short:   "Display detailed information on one or more networks",
		Example: `  berth network inspect todo-app`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openNetworks(g)
			if err != nil {
				return err
			}
			out := []networkInspection{}
			var errs []error
			for _, a := range args {
				n, err := store.Get(a)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, inspectNetwork(n))
			}
			if err := printInspect(s.out, format, out); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}

func newNetworkRemoveCommand(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Example: `  berth network rm todo-app`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openNetworks(g)
			if err != nil {
				return err
			}
			var errs []error
			for _, a := range args {
				if err := store.Remove(a); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(s.out, a)
			}
			return errors.Join(errs...)
		},
	}
}

func newNetworkConnectCommand(g *globalOptions, s streams) *cobra.Command {
	var a network.Attachment
	cmd := &cobra.Command{
		Use:     "connect [OPTIONS] NETWORK CONTAINER",
		Short:   "Connect a container to a network",
		Example: `  berth network connect --alias db backend mysql`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := container.Lookup(g.root, args[1])
			if err != nil {
				return err
			}
			a.Network = args[0]
			return c.Connect(a)
		},
	}
	cmd.Flags().StringArrayVar(&a.Aliases, "alias", nil, "Add network-scoped alias for the container")
	cmd.Flags().StringVar(&a.IPv4, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	cmd.Flags().StringVar(&a.IPv6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	return cmd
}

func newNetworkDisconnectCommand(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:     "disconnect NETWORK CONTAINER",
		Short:   "Disconnect a container from a network",
		Example: `  berth network disconnect backend mysql`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := container.Lookup(g.root, args[1])
			if err != nil {
				return err
			}
			return c.Disconnect(args[0])
		},
	}
}

func newNetworkPruneCommand(g *globalOptions, s streams) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "prune [OPTIONS]",
		Short:   "Remove all unused networks",
		Example: `  berth network prune -f`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force {
				fmt.Fprint(s.out, "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ")
				if !confirmed(s.in) {
					return nil
				}
			}
			store, err := openNetworks(g)
			if err != nil {
				return err
			}
			all, err := store.List()
			if err != nil {
				return err
			}
			var removed []string
			var errs []error
			for _, n := range all {
				if len(n.Endpoints) > 0 {
					continue
				}
				if err := store.Remove(n.Name); err != nil {
					errs = append(errs, err)
					continue
				}
				removed = append(removed, n.Name)
			}
			if len(removed) > 0 {
				fmt.Fprintln(s.out, "Deleted Networks:")
				for _, n := range removed {
					fmt.Fprintln(s.out, n)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}
