// Package engine converges a compose project on this machine (design.md, Packages): it plans
// what to create, recreate and remove, then does it. This file maps a project's volumes,
// secrets and configs to what the runtime mounts, and makes the project's volumes.
package engine

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-sh/berth/runtime/container"
	"github.com/berth-sh/berth/volumes"
)

// ErrInvalid is matched by every error about the project's content.
var ErrInvalid = errors.New("invalid project")

type projectError struct{ msg string }

func (e *projectError) Error() string        { return e.msg }
func (e *projectError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &projectError{msg: fmt.Sprintf(format, args...)}
}

// Compose's labels on what it makes (docker/compose pkg/api/labels.go).
const (
	LabelProject = "com.docker.compose.project"
	LabelVolume  = "com.docker.compose.volume"
	LabelVersion = "com.docker.compose.version"
)

// ComposeVersion is the compose version berth's labels claim to follow.
const ComposeVersion = "2.40.0"

// Mounts are what a service's containers mount: volumes, binds and tmpfs, and the files of its
// secrets and configs.
type Mounts struct {
	Mounts  []container.Mount
	Tmpfs   map[string]string
	Secrets []container.FileMount
	Configs []container.FileMount
}

// ServiceMounts maps service s of project p (loaded, paths resolved against the project
// directory) to the runtime's mounts: a named volume becomes the project's volume name
// (`<project>_<key>`, or an external volume's own name), a volume without a source an
// anonymous one, a bind keeps compose's create_host_path, and secrets and configs become files
// with compose's defaults (/run/secrets/<name> and /<name>, mode 0444).
func ServiceMounts(p *types.Project, s types.ServiceConfig) (Mounts, error) {
	var out Mounts
	for _, v := range s.Volumes {
		m, err := serviceMount(p, s.Name, v)
		if err != nil {
			return Mounts{}, err
		}
		out.Mounts = append(out.Mounts, m)
	}
	if len(s.Tmpfs) > 0 {
		tmpfs, err := container.ParseTmpfs(s.Tmpfs)
		if err != nil {
			return Mounts{}, invalidf("service %q: tmpfs: %v", s.Name, err)
		}
		out.Tmpfs = tmpfs
	}
	for _, ref := range s.Secrets {
		def, ok := p.Secrets[ref.Source]
		if !ok {
			return Mounts{}, invalidf("service %q refers to undefined secret %s", s.Name, ref.Source)
		}
		f, err := fileMount(p, s.Name, "secret", types.FileReferenceConfig(ref), types.FileObjectConfig(def),
			container.DefaultSecretTarget(ref.Source, ref.Target))
		if err != nil {
			return Mounts{}, err
		}
		out.Secrets = append(out.Secrets, f)
	}
	for _, ref := range s.Configs {
		def, ok := p.Configs[ref.Source]
		if !ok {
			return Mounts{}, invalidf("service %q refers to undefined config %s", s.Name, ref.Source)
		}
		target := ref.Target
		switch {
		case target == "":
			target = "/" + ref.Source
		case !path.IsAbs(target):
			target = "/" + target
		}
		f, err := fileMount(p, s.Name, "config", types.FileReferenceConfig(ref), types.FileObjectConfig(def), path.Clean(target))
		if err != nil {
			return Mounts{}, err
		}
		out.Configs = append(out.Configs, f)
	}
	return out, nil
}

// serviceMount maps one entry of a service's volumes.
func serviceMount(p *types.Project, service string, v types.ServiceVolumeConfig) (container.Mount, error) {
	m := container.Mount{Type: v.Type, Target: v.Target, ReadOnly: v.ReadOnly}
	switch v.Type {
	case types.VolumeTypeVolume:
		if v.Source != "" {
			def, ok := p.Volumes[v.Source]
			if !ok {
				return m, invalidf("service %q refers to undefined volume %s: invalid compose project", service, v.Source)
			}
			m.Source = def.Name
			if m.Source == "" {
				m.Source = p.Name + "_" + v.Source
			}
		}
		if v.Volume != nil {
			m.NoCopy, m.SubPath = v.Volume.NoCopy, v.Volume.Subpath
		}
	case types.VolumeTypeBind:
		m.Source = v.Source
		m.CreateHostPath = true
		if v.Bind != nil {
			m.CreateHostPath = bool(v.Bind.CreateHostPath)
			m.Propagation = v.Bind.Propagation
			switch v.Bind.Recursive {
			case "", "enabled":
			case "disabled":
				m.NonRecursive = true
			default:
				return m, invalidf("service %q: volume %s: bind.recursive %q is not supported by berth (enabled, disabled)", service, v.Target, v.Bind.Recursive)
			}
		}
	case types.VolumeTypeTmpfs:
		if v.Tmpfs != nil {
			m.TmpfsSize, m.TmpfsMode = int64(v.Tmpfs.Size), v.Tmpfs.Mode
		}
	default:
		return m, invalidf("service %q: volume %s: type %q is not supported by berth (volume, bind, tmpfs)", service, v.Target, v.Type)
	}
	if err := container.CheckMount(m); err != nil {
		return m, invalidf("service %q: %v", service, err)
	}
	return m, nil
}

// fileMount maps one secret or config of a service.
func fileMount(p *types.Project, service, kind string, ref types.FileReferenceConfig, def types.FileObjectConfig, target string) (container.FileMount, error) {
	f := container.FileMount{Name: ref.Source, Target: target, Mode: 0o444}
	switch {
	case bool(def.External):
		return f, invalidf("service %q: %s %s is external: external %ss belong to swarm, which berth does not run", service, kind, ref.Source, kind)
	case def.File != "":
		f.File = def.File
	case def.Environment != "":
		v, ok := p.Environment[def.Environment]
		if !ok {
			return f, invalidf("service %q: %s %s: environment variable %s is not set", service, kind, ref.Source, def.Environment)
		}
		f.Content = []byte(v)
	default:
		f.Content = []byte(def.Content)
	}
	for _, id := range []struct {
		s   string
		dst *int
		key string
	}{{ref.UID, &f.UID, "uid"}, {ref.GID, &f.GID, "gid"}} {
		if id.s == "" {
			continue
		}
		n, err := strconv.Atoi(id.s)
		if err != nil || n < 0 {
			return f, invalidf("service %q: %s %s: %s %q is not a number", service, kind, ref.Source, id.key, id.s)
		}
		*id.dst = n
	}
	if ref.Mode != nil {
		f.Mode = uint32(*ref.Mode)
	}
	return f, nil
}

// EnsureVolumes makes the project's volumes that are missing, with compose's labels, and
// checks that its external ones exist. It returns the names it created.
func EnsureVolumes(store *volumes.Store, p *types.Project) ([]string, error) {
	var created []string
	for _, key := range slices.Sorted(maps.Keys(p.Volumes)) {
		def := p.Volumes[key]
		name := resourceName(p, def.Name, key)
		if def.External {
			if _, err := store.Get(name); err != nil {
				if errors.Is(err, volumes.ErrNotFound) {
					// docker compose's words.
					return created, invalidf("external volume %q not found", name)
				}
				return created, err
			}
			continue
		}
		labels := map[string]string{LabelProject: p.Name, LabelVolume: key, LabelVersion: ComposeVersion}
		maps.Copy(labels, def.Labels)
		v, made, err := store.Create(name, volumes.Options{Driver: def.Driver, Labels: labels, DriverOpts: def.DriverOpts})
		if err != nil {
			return created, invalidf("volume %q: %v", key, err)
		}
		if made {
			created = append(created, v.Name)
		}
	}
	return created, nil
}
