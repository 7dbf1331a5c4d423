package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-sh/berth/network"
	"github.com/berth-sh/berth/runtime/image"
	"github.com/berth-sh/berth/runtime/monitor"
	"github.com/berth-sh/berth/runtime/process"
)

const (
	recordFile = "container.json"
	lockFile   = ".lock"
	// shortLen is the length of the short id Docker shows and uses as the hostname.
	shortLen = 12
	// maxSocketPath is sizeof(sockaddr_un.sun_path) minus the NUL; the
	// monitor refuses longer socket paths.
	maxSocketPath = 107
	// StatusCreated etc. are Docker's State.Status values berth reports.
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusRestarting = "restarting"
	StatusExited     = "exited"
)

var (
	// ErrInvalid is matched by every error about the user's input (image,
	// command, options): Docker exits 125 for those.
	ErrInvalid = errors.New("invalid container configuration")
	// ErrNotFound is matched by "No such container" errors.
	ErrNotFound = errors.New("no such container")
	// ErrRunning is matched when an operation needs a stopped container.
	ErrRunning = errors.New("container is running")
)

// invalidError keeps the user-facing message (Docker's words, which start
// with a capital) and matches ErrInvalid.
type invalidError struct {
	msg string
	err error
}

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Unwrap() error        { return e.err }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(err error) error {
	if err == nil {
		return nil
	}
	return &invalidError{msg: err.Error(), err: err}
}

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// notFoundError is Docker's "No such container: X", matching ErrNotFound.
type notFoundError struct{ name string }

func (e *notFoundError) Error() string        { return "No such container: " + e.name }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// Options are what the user asks for on top of the image (docker run's flags).
type Options struct {
	Name          string
	Image         string
	Entrypoint    []string `json:",omitempty"`
	EntrypointSet bool     `json:",omitempty"`
	Cmd           []string `json:",omitempty"`
	Env           []string `json:",omitempty"`
	WorkingDir    string   `json:",omitempty"`
	User          string   `json:",omitempty"`
	Hostname      string   `json:",omitempty"`
	Domainname    string   `json:",omitempty"`
	// Sysctls are namespaced kernel parameters (--sysctl, compose's
	// sysctls:), over Docker's defaults for a container's own network.
	Sysctls map[string]string `json:",omitempty"`
	// Memory in bytes, CPUs as a fraction, PidsLimit (-1 unlimited): Docker's meanings.
	Memory      int64    `json:",omitempty"`
	CPUs        float64  `json:",omitempty"`
	PidsLimit   int64    `json:",omitempty"`
	CapAdd      []string `json:",omitempty"`
	CapDrop     []string `json:",omitempty"`
	Privileged  bool     `json:",omitempty"`
	ReadOnly    bool     `json:",omitempty"`
	Ulimits     []string `json:",omitempty"` // "name=soft[:hard]"
	SecurityOpt []string `json:",omitempty"` // seccomp=unconfined|FILE, no-new-privileges[:true|false]
	StopSignal  string   `json:",omitempty"`
	// StopTimeout in seconds; nil means Docker's 10 (negative waits for ever).
	StopTimeout *int              `json:",omitempty"`
	Labels      map[string]string `json:",omitempty"`
	AutoRemove  bool              `json:",omitempty"`
	// OpenStdin keeps stdin open for attached clients (-i); StdinOnce
	// closes it when the first attached client is done with it.
	OpenStdin bool `json:",omitempty"`
	StdinOnce bool `json:",omitempty"`
	// Tty gives the container a pseudo-terminal (-t).
	Tty bool `json:",omitempty"`
	// Tmpfs maps a container path to tmpfs mount options (--tmpfs).
	Tmpfs map[string]string `json:",omitempty"`
	// LogDriver is "" or "json-file", the one berth has; LogOpts are its
	// options (max-size, max-file).
	LogDriver string            `json:",omitempty"`
	LogOpts   map[string]string `json:",omitempty"`
	// Restart is --restart: no, always, on-failure[:N], unless-stopped.
	Restart string `json:",omitempty"`
	// Health adjusts or replaces the image's healthcheck.
	Health *HealthOptions `json:",omitempty"`
	// Networks the container is on, the first one giving its default route
	// (--network, --network-alias, --ip). None: a namespace with only lo.
	Networks []network.Attachment `json:",omitempty"`
	// DNS servers, search domains and resolver options (--dns,
	// --dns-search, --dns-option).
	DNS        []string `json:",omitempty"`
	DNSSearch  []string `json:",omitempty"`
	DNSOptions []string `json:",omitempty"`
	// NetworkMode is Docker's --network host, none or container:<name|id>;
	// "" means Networks (or, without them, a namespace with only lo).
	NetworkMode string `json:",omitempty"`
	// ExtraHosts are "name:ip" lines for /etc/hosts (--add-host); the ip
	// "host-gateway" is the gateway of the container's first network.
	ExtraHosts []string `json:",omitempty"`
	// Mounts are the container's volumes, bind mounts and tmpfs mounts
	// (-v, --mount, compose's volumes:).
	Mounts []Mount `json:",omitempty"`
	// Secrets and Configs are compose's secrets and configs: files put
	// read-only in the container with their own owner and mode.
	Secrets []FileMount `json:",omitempty"`
	Configs []FileMount `json:",omitempty"`
	// VolumesFrom are containers whose mounts this one gets too,
	// "name[:ro|rw]" (--volumes-from, compose's volumes_from).
	VolumesFrom []string `json:",omitempty"`
	// Links are Docker's legacy links, "name[:alias]" (--link, compose's
	// links:): the other container answers to alias too, for this one
	// only.
	Links []string `json:",omitempty"`
	// Expose are ports the container exposes besides the image's ("80",
	// "53/udp", "8000-8010/tcp"; --expose, compose's expose:): documented,
	// and published with PublishAll.
	Expose []string `json:",omitempty"`
	// PublishAll publishes every port the image exposes on a free host
	// port (-P).
	PublishAll bool `json:",omitempty"`
	// Ports are published (-p); without Networks the container joins the
	// default network, as on Docker's default bridge.
	Ports []network.PortSpec `json:",omitempty"`
}

// resolved is what Create worked out from the image and Options; Start
// runs exactly this, so a restart does not depend on the image changing.
type resolved struct {
	Args         []string
	Env          []string
	Cwd          string
	User         process.User
	Hostname     string
	Capabilities []string
	Rlimits      []process.Rlimit `json:",omitempty"`
	NoNewPrivs   bool             `json:",omitempty"`
	// Seccomp is the profile as JSON (Docker's format); empty is unconfined.
	Seccomp    json.RawMessage `json:",omitempty"`
	StopSignal int             `json:",omitempty"`
	// ImageEntrypoint and ImageCmd are kept for inspect's Config.
	ImageEntrypoint []string `json:",omitempty"`
	ImageCmd        []string `json:",omitempty"`
	// ImageExposed are the image's EXPOSE ports ("80/tcp").
	ImageExposed []string `json:",omitempty"`
	// ImageHealth is the image's HEALTHCHECK.
	ImageHealth *HealthOptions `json:",omitempty"`
}

// Container is one container's record (container.json).
type Container struct {
	ID       string
	Name     string
	Created  time.Time
	ImageID  string // sha256:..., the config digest
	Manifest string // the manifest digest the rootfs is stacked from
	RunDir   string
	Options  Options
	Process  resolved
	// Published are the ports as bound at the last start (free host ports
	// taken), for `port` and inspect.
	Published []network.PortSpec `json:",omitempty"`
	// Incomplete marks the first record Create writes to take the name:
	// a creator killed before it finished leaves the container with it,
	// and such a container can only be removed.
	Incomplete bool `json:",omitempty"`

	bundle string
	// first is where published ports go, found by the last spec().
	first *firstEndpoint
}

// Bundle is the container's state directory, $ROOT/containers/<id>.
func (c *Container) Bundle() string { return c.bundle }

func (c *Container) logPath() string    { return filepath.Join(c.bundle, c.ID+"-json.log") }
func (c *Container) rootfsPath() string { return filepath.Join(c.bundle, "rootfs") }

// ShortID is the first 12 hex digits of the id, as Docker shows it.
func (c *Container) ShortID() string { return c.ID[:shortLen] }

func containersDir(root string) string { return filepath.Join(root, "containers") }

// validName is Docker's container name rule.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

func newID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// runDir is $RUN/containers/<id>, or <id>'s short form when the full one
// would make the monitor's socket path too long for sockaddr_un.
func runDir(runRoot, id string) string {
	d := filepath.Join(runRoot, "containers", id)
	if len(filepath.Join(d, "monitor.sock")) > maxSocketPath {
		d = filepath.Join(runRoot, "containers", id[:shortLen])
	}
	return d
}

// lock takes the containers directory's lock, which makes name checks and
// record creation atomic between concurrent CLIs.
func lock(root string) (func(), error) {
	dir := containersDir(root)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// Create makes a container from o without starting it: record, overlay
// rootfs, and the resolved process. Bad input matches ErrInvalid.
func Create(ctx context.Context, l *image.Local, root, runRoot string, o Options) (*Container, error) {
	// Said first: elsewhere the checks below would fail on a missing /proc instead.
	if goruntime.GOOS != "linux" {
		return nil, fmt.Errorf("containers need Linux, this is %s: %w", goruntime.GOOS, monitor.ErrNotSupported)
	}
	if o.Name != "" && !validName.MatchString(o.Name) {
		return nil, invalidf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name)
	}
	res, err := checkOptions(o)
	if err != nil {
		return nil, err
	}
	if err := checkNetworkMode(root, o); err != nil {
		return nil, err
	}
	if _, err := ExposedPorts(o.Expose); err != nil {
		return nil, err
	}
	if err := checkMounts(o.Mounts); err != nil {
		return nil, err
	}
	for _, f := range o.Secrets {
		if err := f.check("secret"); err != nil {
			return nil, err
		}
	}
	for _, f := range o.Configs {
		if err := f.check("config"); err != nil {
			return nil, err
		}
	}
	for _, l := range o.Links {
		name, _, _ := strings.Cut(l, ":")
		if _, err := Lookup(root, name); err != nil {
			// Docker's words.
			return nil, invalidf("could not get container for %s", name)
		}
	}
	for _, h := range o.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if _, err := netip.ParseAddr(ip); !ok || name == "" || err != nil && ip != "host-gateway" {
			return nil, invalidf("invalid argument %q for \"--add-host\" flag: bad format for add-host: %q", h, h)
		}
	}
	if len(o.Ports) > 0 && len(o.Networks) == 0 && o.NetworkMode == "" {
		o.Networks = []network.Attachment{{Network: network.DefaultNetwork}}
	}
	if len(o.Networks) > 0 {
		store, err := network.OpenStore(root)
		if err != nil {
			return nil, err
		}
		if o.Networks[0].Network == network.DefaultNetwork && len(o.Networks) == 1 {
			if _, err := store.EnsureDefault(); err != nil {
				return nil, err
			}
		}
		for _, a := range o.Networks {
			if _, err := store.Get(a.Network); err != nil {
				return nil, invalid(err)
			}
		}
	}
	si, err := l.Resolve(o.Image)
	if err != nil {
		if errors.Is(err, image.ErrNotFound) {
			return nil, invalidf("Unable to find image '%s' locally", o.Image)
		}
		return nil, invalid(err)
	}
	img, err := l.Store.Image(si.Manifest.Digest)
	if err != nil {
		return nil, err
	}
	cfgFile, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	c := &Container{
		ID: id, Name: o.Name, Created: time.Now().UTC(), ImageID: si.ID.String(),
		Manifest: si.Manifest.Digest.String(), RunDir: runDir(runRoot, id), Options: o,
		bundle: filepath.Join(containersDir(root), id),
	}
	if c.Name == "" {
		c.Name = c.ShortID()
	}
	if err := c.reserve(root); err != nil {
		return nil, err
	}
	// From here on a failure must leave nothing: the half-made container is
	// removed, its mount first.
	ok := false
	defer func() {
		if !ok {
			_ = image.Unmount(c.rootfsPath())
			_ = os.RemoveAll(c.bundle)
		}
	}()
	if err := c.mount(ctx, l); err != nil {
		return nil, err
	}
	hostname := o.Hostname
	switch {
	case hostname != "":
	case o.NetworkMode == "host":
		// As Docker: the host's name, the host's network.
		if h, err := os.Hostname(); err == nil {
			hostname = h
		}
	case strings.HasPrefix(o.NetworkMode, "container:"):
		if other, err := Lookup(root, strings.TrimPrefix(o.NetworkMode, "container:")); err == nil {
			hostname = other.Process.Hostname
		}
	}
	if hostname == "" {
		hostname = c.ShortID()
	}
	p, err := process.Resolve(c.rootfsPath(), cfgFile.Config, process.Overrides{
		Entrypoint: o.Entrypoint, EntrypointSet: o.EntrypointSet,
		Cmd: o.Cmd, CmdSet: len(o.Cmd) > 0,
		Env: o.Env, WorkingDir: o.WorkingDir, User: o.User, Hostname: hostname, Tty: o.Tty,
	})
	if err != nil {
		return nil, invalid(err)
	}
	res.Args, res.Env, res.Cwd, res.User, res.Hostname = p.Args, p.Env, p.Cwd, p.User, hostname
	res.ImageEntrypoint, res.ImageCmd = cfgFile.Config.Entrypoint, cfgFile.Config.Cmd
	if raw, err := img.RawConfigFile(); err == nil {
		res.ImageHealth = imageHealth(raw)
	}
	for p := range cfgFile.Config.ExposedPorts {
		res.ImageExposed = append(res.ImageExposed, p)
	}
	sort.Strings(res.ImageExposed)
	if o.PublishAll && len(res.ImageExposed)+len(o.Expose) > 0 && len(c.Options.Networks) == 0 && c.Options.NetworkMode == "" {
		// -P publishes on the default network, as -p does.
		c.Options.Networks = []network.Attachment{{Network: network.DefaultNetwork}}
		store, err := network.OpenStore(root)
		if err != nil {
			return nil, err
		}
		if _, err := store.EnsureDefault(); err != nil {
			return nil, err
		}
	}
	if res.StopSignal == 0 && cfgFile.Config.StopSignal != "" {
		sig, err := ParseSignal(cfgFile.Config.StopSignal)
		if err != nil {
			return nil, invalidf("image stop signal: %v", err)
		}
		res.StopSignal = int(sig)
	}
	c.Process = res
	if _, err := c.seccompFilter(); err != nil {
		return nil, err
	}
	vols, err := c.volumeStore()
	if err != nil {
		return nil, err
	}
	var imageVolumes []string
	for v := range cfgFile.Config.Volumes {
		imageVolumes = append(imageVolumes, v)
	}
	sort.Strings(imageVolumes)
	c.Options.Mounts = slices.Clone(c.Options.Mounts)
	if err := c.mountsFrom(root); err != nil {
		return nil, err
	}
	if err := c.claimVolumes(vols, imageVolumes); err != nil {
		return nil, err
	}
	c.Incomplete = false
	if err := c.save(); err != nil {
		_ = c.releaseVolumes(true)
		return nil, err
	}
	ok = true
	c.event("create")
	return c, nil
}

// reserve checks the name under the lock and creates the bundle with a
// first record, so that a concurrent Create sees the name taken.
func (c *Container) reserve(root string) error {
	c.Incomplete = true
	unlock, err := lock(root)
	if err != nil {
		return err
	}
	defer unlock()
	all, err := list(root)
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.Name == c.Name {
			return invalidf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", c.Name, o.ID)
		}
	}
	if err := os.MkdirAll(c.bundle, 0o700); err != nil {
		return err
	}
	return c.save()
}

// mount stacks the image's layers with the container's upper and work
// directories at rootfs/, unless they are already mounted there.
func (c *Container) mount(ctx context.Context, l *image.Local) error {
	target := c.rootfsPath()
	for _, d := range []string{"upper", "work", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(c.bundle, d), 0o755); err != nil {
			return err
		}
	}
	if isMountPoint(target) {
		return nil
	}
	h, err := v1.NewHash(c.Manifest)
	if err != nil {
		return err
	}
	if err := l.MountRootfs(ctx, h, filepath.Join(c.bundle, "upper"), filepath.Join(c.bundle, "work"), target); err != nil {
		return fmt.Errorf("mount the rootfs of %s: %w", c.ShortID(), err)
	}
	return nil
}

// isMountPoint compares the device of dir with its parent's: the overlay
// is a file system of its own.
func isMountPoint(dir string) bool {
	a, err := os.Stat(dir)
	if err != nil {
		return false
	}
	b, err := os.Stat(filepath.Dir(dir))
	if err != nil {
		return false
	}
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev != sb.Dev
}

func (c *Container) save() error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(c.bundle, recordFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func load(bundle string) (*Container, error) {
	b, err := os.ReadFile(filepath.Join(bundle, recordFile))
	if err != nil {
		return nil, err
	}
	var c Container
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(bundle, recordFile), err)
	}
	c.bundle = bundle
	return &c, nil
}

// list reads every record, oldest first; directories without one (being
// removed) are skipped.
func list(root string) ([]*Container, error) {
	ents, err := os.ReadDir(containersDir(root))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		c, err := load(filepath.Join(containersDir(root), e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// List returns every container, newest first as `docker ps` shows them.
// Exited containers that asked for AutoRemove are removed instead: with no
// daemon, nobody else is there to do it for a detached one.
func List(ctx context.Context, root string) ([]*Container, error) {
	all, err := list(root)
	if err != nil {
		return nil, err
	}
	var out []*Container
	for i := len(all) - 1; i >= 0; i-- {
		c := all[i]
		if c.Options.AutoRemove {
			if st, err := c.State(); err == nil && st.Status == StatusExited {
				if err := c.Remove(ctx, false, true); err == nil {
					continue
				}
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// Lookup finds a container by name, full id or unambiguous id prefix, as
// Docker does (a name wins over a prefix).
func Lookup(root, nameOrID string) (*Container, error) {
	all, err := list(root)
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(nameOrID, "/")
	var byPrefix []*Container
	for _, c := range all {
		if c.ID == nameOrID || c.Name == name {
			return c, nil
		}
		if nameOrID != "" && strings.HasPrefix(c.ID, nameOrID) {
			byPrefix = append(byPrefix, c)
		}
	}
	switch len(byPrefix) {
	case 1:
		return byPrefix[0], nil
	case 0:
		return nil, &notFoundError{name: nameOrID}
	default:
		return nil, fmt.Errorf("multiple containers found with provided prefix: %s", nameOrID)
	}
}

// State is the monitor's state, or "created" for a container never started.
func (c *Container) State() (monitor.State, error) {
	st, err := monitor.Status(c.bundle)
	if errors.Is(err, fs.ErrNotExist) {
		return monitor.State{Status: StatusCreated}, nil
	}
	return st, err
}

// Invalid marks err as bad input from the user (matching ErrInvalid),
// keeping its message: for checks the CLI makes itself, such as sizes.
func Invalid(err error) error { return invalid(err) }
