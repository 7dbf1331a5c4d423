package hostcheck

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-sh/berth/network/firewall"
	"github.com/berth-sh/berth/runtime/cgroup"
	"github.com/berth-sh/berth/runtime/image"
)

// Run runs every check, in the order of Names, and returns one result each. The checks are
// independent: one failing does not stop the others.
func Run(ctx context.Context, o Options) []Result {
	return []Result{
		checkRoot(),
		checkKernel(),
		checkNamespaces(),
		checkOverlay(o.Root),
		checkCgroups(ctx),
		checkNftables(),
		checkLinks(),
	}
}

// rootFix is the advice for an error that comes from not being root.
const rootFix = "run berth as root (sudo berth ...)"

// fixFor returns rootFix when err is a permission error and berth is not root, else otherwise:
// most checks fail for a normal user only because they need root.
func fixFor(err error, otherwise string) string {
	if os.Geteuid() != 0 && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)) {
		return rootFix
	}
	return otherwise
}

// inScratchThread runs fn on a new locked OS thread that first unshares the namespaces in
// flags and dies after fn: the namespaces, and everything fn made in them, go with the thread
// and are never seen from the rest of the process or the host.
func inScratchThread(flags int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if flags != 0 {
			if err := unix.Unshare(flags); err != nil {
				errc <- os.NewSyscallError("unshare", err)
				return
			}
		}
		errc <- fn()
	}()
	return <-errc
}

func checkRoot() Result {
	r := Result{Name: CheckRoot}
	if uid := os.Geteuid(); uid != 0 {
		r.Detail = fmt.Sprintf("running as uid %d, not root: berth makes namespaces, mounts, cgroups, links and firewall rules", uid)
		r.Fix = rootFix
		return r
	}
	r.OK, r.Detail = true, "running as root"
	return r
}

func checkKernel() Result {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return Result{Name: CheckKernel, Detail: "uname: " + err.Error(), Fix: "berth needs Linux"}
	}
	return kernelResult(unix.ByteSliceToString(u.Release[:]))
}

// containerNamespaces are the namespaces every container gets, with the kernel option each needs.
var containerNamespaces = []struct {
	name, config string
	flag         int
}{
	{"mount", "CONFIG_NAMESPACES", unix.CLONE_NEWNS},
	{"pid", "CONFIG_PID_NS", unix.CLONE_NEWPID},
	{"net", "CONFIG_NET_NS", unix.CLONE_NEWNET},
	{"ipc", "CONFIG_IPC_NS", unix.CLONE_NEWIPC},
	{"uts", "CONFIG_UTS_NS", unix.CLONE_NEWUTS},
	{"cgroup", "CONFIG_CGROUPS", unix.CLONE_NEWCGROUP},
}

func checkNamespaces() Result {
	r := Result{Name: CheckNamespaces}
	var ok, fixes []string
	// The namespaces that failed, grouped by why, in the order of the first failure of each.
	var reasons []string
	failed := map[string][]string{}
	for _, ns := range containerNamespaces {
		err := inScratchThread(ns.flag, func() error { return nil })
		if err == nil {
			ok = append(ok, ns.name)
			continue
		}
		why := errors.Unwrap(err).Error()
		if failed[why] == nil {
			reasons = append(reasons, why)
		}
		failed[why] = append(failed[why], ns.name)
		var fix string
		switch {
		case errors.Is(err, unix.EINVAL):
			fix = "use a kernel built with " + ns.config
		case errors.Is(err, unix.ENOSPC):
			fix = fmt.Sprintf("raise the sysctl user.max_%s_namespaces", ns.name)
		case errors.Is(err, unix.EPERM) && os.Geteuid() == 0:
			fix = "allow unshare: berth cannot run inside a container or sandbox that forbids it"
		default:
			fix = fixFor(err, "check that the kernel allows unshare("+ns.name+")")
		}
		if !slices.Contains(fixes, fix) {
			fixes = append(fixes, fix)
		}
	}
	if len(reasons) > 0 {
		parts := make([]string, len(reasons))
		for i, why := range reasons {
			parts[i] = strings.Join(failed[why], ", ") + ": " + why
		}
		r.Detail = "cannot unshare " + strings.Join(parts, "; ")
		r.Fix = strings.Join(fixes, "; ")
		return r
	}
	r.OK, r.Detail = true, "can unshare "+strings.Join(ok, ", ")
	return r
}

func checkOverlay(root string) Result {
	r := Result{Name: CheckOverlay}
	detail, err := tryOverlay(root)
	if err != nil {
		r.Detail = fmt.Sprintf("cannot mount an overlay under %s: %v", root, err)
		switch {
		case errors.Is(err, unix.ENODEV):
			r.Fix = "load the overlay module (modprobe overlay) or use a kernel with CONFIG_OVERLAY_FS"
		case errors.Is(err, unix.EINVAL):
			r.Fix = "put the state root (--root, BERTH_ROOT) on a file system that can hold an overlay's upper directory, such as ext4 or xfs (not overlayfs itself)"
		default:
			r.Fix = fixFor(err, "check that overlayfs works on the file system of "+root)
		}
		return r
	}
	r.OK, r.Detail = true, detail
	return r
}

// tryOverlay mounts an overlay of two lowers with an upper in a temporary directory under root,
// in a private mount namespace, checks that it merges and copies up, unmounts it and removes the
// directory (and root, when it made root and root is empty).
func tryOverlay(root string) (string, error) {
	madeRoot := false
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(root, 0o711); err != nil {
			return "", err
		}
		madeRoot = true
	}
	defer func() {
		if madeRoot {
			_ = os.Remove(root)
		}
	}()
	dir, err := os.MkdirTemp(root, ".hostcheck-overlay-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	p := func(name string) string { return filepath.Join(dir, name) }
	for _, d := range []string{"lower1", "lower2", "upper", "work", "merged"} {
		if err := os.Mkdir(p(d), 0o755); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(p("lower1/top"), []byte("top"), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(p("lower2/bottom"), []byte("bottom"), 0o644); err != nil {
		return "", err
	}
	err = inScratchThread(unix.CLONE_NEWNS, func() error {
		// The mount stays in this thread's namespace: nothing of it propagates to the host.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return os.NewSyscallError("making mounts private", err)
		}
		merged := p("merged")
		if err := image.MountOverlay([]string{p("lower1"), p("lower2")}, p("upper"), p("work"), merged); err != nil {
			return err
		}
		defer func() { _ = image.Unmount(merged) }()
		for name, want := range map[string]string{"top": "top", "bottom": "bottom"} {
			b, err := os.ReadFile(filepath.Join(merged, name))
			if err != nil {
				return fmt.Errorf("the merged directory: %w", err)
			}
			if string(b) != want {
				return fmt.Errorf("the merged directory shows %q in %s, want %q", b, name, want)
			}
		}
		if err := os.WriteFile(filepath.Join(merged, "bottom"), []byte("changed"), 0o644); err != nil {
			return fmt.Errorf("writing through the overlay: %w", err)
		}
		if b, err := os.ReadFile(p("upper/bottom")); err != nil || string(b) != "changed" {
			return fmt.Errorf("a write through the overlay did not reach the upper directory (%v)", err)
		}
		return image.Unmount(merged)
	})
	if err != nil {
		return "", err
	}
	return "mounted, wrote through and unmounted an overlay under " + root + " in a private mount namespace", nil
}

func checkCgroups(ctx context.Context) Result {
	r := Result{Name: CheckCgroups}
	mode := cgroup.Detect()
	if mode == cgroup.Unavailable {
		r.Detail = "no cgroup file system at /sys/fs/cgroup"
		r.Fix = "mount cgroup2 on /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup)"
		return r
	}
	have, err := controllers(mode)
	if err != nil {
		r.Detail = fmt.Sprintf("%s: listing controllers: %v", mode, err)
		r.Fix = fixFor(err, "check that /sys/fs/cgroup and /proc/self/cgroup are readable")
		return r
	}
	desc := fmt.Sprintf("%s, controllers %s", mode, strings.Join(have, " "))
	if len(have) == 0 {
		desc = fmt.Sprintf("%s, no controllers", mode)
	}
	if missing := missingControllers(have); len(missing) > 0 {
		r.Detail = desc + "; missing " + strings.Join(missing, ", ")
		r.Fix = "enable the " + strings.Join(missing, ", ") + " controllers (kernel command line cgroup_enable=..., or the cgroup mounts)"
		return r
	}
	// Limits as a container would have them, so that writing them is tried too.
	name := fmt.Sprintf("hostcheck-%d", os.Getpid())
	c, err := cgroup.Create(ctx, name, cgroup.Resources{Memory: 64 << 20, PidsLimit: 64})
	if err != nil {
		r.Detail = desc + "; cannot create a cgroup: " + err.Error()
		r.Fix = fixFor(err, "check that berth may create cgroups under /sys/fs/cgroup (it is not in a container with a read-only cgroup mount)")
		return r
	}
	if err := c.Delete(); err != nil {
		r.Detail = desc + "; created a cgroup but cannot remove it: " + err.Error()
		r.Fix = "remove the cgroup " + name + " under berth's parent by hand (rmdir)"
		return r
	}
	r.OK, r.Detail = true, desc+"; created and removed a cgroup with memory and pids limits"
	return r
}

// controllers lists the controllers berth can use: v2's at the root of the unified hierarchy,
// or the v1 hierarchies' on legacy and hybrid hosts.
func controllers(mode cgroup.Mode) ([]string, error) {
	if mode == cgroup.Unified {
		b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		if err != nil {
			return nil, err
		}
		return strings.Fields(string(b)), nil
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	return controllersFromProcCgroup(string(b)), nil
}

func checkNftables() Result {
	r := Result{Name: CheckNftables}
	// Read-only in the host's namespace: what berth reads before every change.
	owners, err := firewall.Owners()
	if err != nil {
		r.Detail = "cannot list berth's nftables rules: " + err.Error()
		r.Fix = fixFor(err, "use a kernel with nf_tables (CONFIG_NF_TABLES, modprobe nf_tables)")
		return r
	}
	// Writing is tried only where nobody else can see it: a new network namespace.
	err = inScratchThread(unix.CLONE_NEWNET, func() error {
		n := firewall.Network{Name: "hostcheck", Bridge: "berthchk0", Subnet: netip.MustParsePrefix("10.255.255.0/24")}
		if err := firewall.AddNetwork(n); err != nil {
			return err
		}
		got, err := firewall.Owners()
		if err != nil {
			return err
		}
		if !slices.Contains(got, firewall.NetworkOwner(n.Name)) {
			return fmt.Errorf("the rules just added are not listed (owners %v)", got)
		}
		return firewall.Flush()
	})
	if err != nil {
		r.Detail = "cannot create berth's nftables table in a scratch network namespace: " + err.Error()
		r.Fix = fixFor(err, "use a kernel with nf_tables, NAT and masquerade (CONFIG_NF_TABLES, CONFIG_NFT_NAT, CONFIG_NFT_MASQ, CONFIG_NFT_CT)")
		return r
	}
	r.OK = true
	r.Detail = fmt.Sprintf("listed berth's rules on the host (%d owners), created and removed berth's table in a scratch network namespace", len(owners))
	return r
}

func checkLinks() Result {
	r := Result{Name: CheckLinks}
	err := inScratchThread(unix.CLONE_NEWNET, func() error {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "berthchk0"}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("creating bridge %s: %w", br.Name, err)
		}
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "berthchk1"}, PeerName: "berthchk2"}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("creating veth pair %s/%s: %w", veth.Name, veth.PeerName, err)
		}
		if err := netlink.LinkSetMaster(veth, br); err != nil {
			return fmt.Errorf("attaching %s to bridge %s: %w", veth.Name, br.Name, err)
		}
		for _, l := range []netlink.Link{br, veth} {
			if err := netlink.LinkSetUp(l); err != nil {
				return fmt.Errorf("bringing %s up: %w", l.Attrs().Name, err)
			}
		}
		return nil
	})
	if err != nil {
		r.Detail = "in a scratch network namespace: " + err.Error()
		r.Fix = fixFor(err, "use a kernel with bridge and veth support (CONFIG_BRIDGE, CONFIG_VETH; modprobe bridge veth)")
		return r
	}
	r.OK, r.Detail = true, "created a bridge and a veth pair on it in a scratch network namespace"
	return r
}
