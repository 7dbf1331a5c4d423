package kube

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// maxConfigMap is what a ConfigMap or Secret may hold (etcd's object limit, less room for the rest).
const maxConfigMap = 1000 * 1024

// pod collects one pod's volumes with unique names.
type podVolumes struct {
	pod  *corev1.PodSpec
	ctr  *corev1.Container
	used map[string]bool
}

func (v *podVolumes) name(base string) string {
	n := dnsLabel(base)
	for i := 2; v.used[n]; i++ {
		n = joinLabel(base, fmt.Sprint(i))
	}
	v.used[n] = true
	return n
}

func (v *podVolumes) add(base string, src corev1.VolumeSource, m corev1.VolumeMount) {
	m.Name = v.name(base)
	v.pod.Volumes = append(v.pod.Volumes, corev1.Volume{Name: m.Name, VolumeSource: src})
	v.ctr.VolumeMounts = append(v.ctr.VolumeMounts, m)
}

// volumes carries the service's volumes, tmpfs, shm_size, configs and secrets as volumes.
func (c *converter) volumes(s types.ServiceConfig, pod *corev1.PodSpec, ctr *corev1.Container) error {
	pv := &podVolumes{pod: pod, ctr: ctr, used: map[string]bool{}}
	for i, v := range s.Volumes {
		m := corev1.VolumeMount{MountPath: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeVolume:
			if v.Volume != nil && v.Volume.Subpath != "" {
				m.SubPath = v.Volume.Subpath
			}
			if v.Source == "" {
				pv.add(fmt.Sprintf("anon-%d", i), corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}, m)
				continue
			}
			vc := c.p.Volumes[v.Source]
			switch {
			case bool(vc.External):
				claim := dnsLabel(vc.Name)
				c.extern["PersistentVolumeClaim/"+claim] = true
				c.note(s.Name, fmt.Sprintf("volume %s is external: PersistentVolumeClaim %q must exist", v.Source, claim))
				pv.add(v.Source, corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}, m)
			case c.owner[v.Source] == s.Name:
				m.Name = dnsLabel(v.Source)
				pv.used[m.Name] = true
				ctr.VolumeMounts = append(ctr.VolumeMounts, m)
			default:
				claim := dnsLabel(v.Source)
				if !c.names.has("PersistentVolumeClaim", claim) {
					if err := c.names.claim("PersistentVolumeClaim", claim, fmt.Sprintf("volume %q", v.Source)); err != nil {
						return err
					}
					c.claims = append(c.claims, c.claim(v.Source, corev1.ReadWriteMany))
					c.note("", fmt.Sprintf("volume %s is shared by several services: its claim asks for ReadWriteMany, which the cluster's storage must offer", v.Source))
				}
				pv.add(v.Source, corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}, m)
			}
			if vc.Driver != "" && vc.Driver != "local" {
				c.drop(s.Name, fmt.Sprintf("volumes.%s.driver %s", v.Source, vc.Driver))
			}
		case types.VolumeTypeBind:
			if err := c.bind(s, v, pv, m); err != nil {
				return err
			}
		case types.VolumeTypeTmpfs:
			ed := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
			if v.Tmpfs != nil && v.Tmpfs.Size > 0 {
				ed.SizeLimit = resource.NewQuantity(int64(v.Tmpfs.Size), resource.BinarySI)
			}
			pv.add(fmt.Sprintf("tmpfs-%d", i), corev1.VolumeSource{EmptyDir: ed}, m)
		default:
			c.drop(s.Name, fmt.Sprintf("volumes %s (type %s)", v.Target, v.Type))
		}
	}
	for i, t := range s.Tmpfs {
		target, _, _ := strings.Cut(t, ":")
		pv.add(fmt.Sprintf("tmpfs-t%d", i), corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}},
			corev1.VolumeMount{MountPath: target})
	}
	if s.ShmSize > 0 {
		pv.add("shm", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory,
			SizeLimit: resource.NewQuantity(int64(s.ShmSize), resource.BinarySI)}}, corev1.VolumeMount{MountPath: "/dev/shm"})
	}
	for _, r := range s.Configs {
		if err := c.fileRef(s, types.FileReferenceConfig(r), false, pv); err != nil {
			return err
		}
	}
	for _, r := range s.Secrets {
		if err := c.fileRef(s, types.FileReferenceConfig(r), true, pv); err != nil {
			return err
		}
	}
	if len(s.VolumesFrom) > 0 {
		c.drop(s.Name, "volumes_from")
	}
	return nil
}

// fileRef mounts one config or secret: a ConfigMap or Secret per compose config or secret (made
// once, shared by the services using it), one file each, at the target compose uses: for a
// secret /run/secrets/<name>, for a config /<name>.
func (c *converter) fileRef(s types.ServiceConfig, r types.FileReferenceConfig, secret bool, pv *podVolumes) error {
	kind, field := "ConfigMap", "configs"
	var obj types.FileObjectConfig
	var ok bool
	if secret {
		kind, field = "Secret", "secrets"
		var sc types.SecretConfig
		sc, ok = c.p.Secrets[r.Source]
		obj = types.FileObjectConfig(sc)
	} else {
		var cc types.ConfigObjConfig
		cc, ok = c.p.Configs[r.Source]
		obj = types.FileObjectConfig(cc)
	}
	if !ok {
		return fmt.Errorf("%s %q is not defined in the project", field, r.Source)
	}
	target := r.Target
	switch {
	case target == "" && secret:
		target = "/run/secrets/" + r.Source
	case target == "":
		target = "/" + r.Source
	case secret && !path.IsAbs(target):
		target = "/run/secrets/" + target
	}
	name := dnsLabel(r.Source)
	key := configMapKey(r.Source)
	if bool(obj.External) {
		name = dnsLabel(obj.Name)
		c.extern[kind+"/"+name] = true
		c.note(s.Name, fmt.Sprintf("%s %s is external: %s %q must exist with a key %q", field, r.Source, kind, name, key))
	} else if !c.names.has(kind, name) {
		if err := c.names.claim(kind, name, fmt.Sprintf("%s %q", field, r.Source)); err != nil {
			return err
		}
		data, err := fileObjectData(obj, c.p)
		switch {
		case err != nil && obj.File != "" && errors.Is(err, fs.ErrNotExist):
			// Not here to copy: the cluster must have it, as for an external one.
			c.extern[kind+"/"+name] = true
			c.drop(s.Name, fmt.Sprintf("%s %s (its file %s does not exist here: %s %q must exist with a key %q)", field, r.Source, c.rel(obj.File), kind, name, key))
		case err != nil:
			return fmt.Errorf("%s %q: %s", field, r.Source, c.rel(err.Error()))
		default:
			c.data = append(c.data, c.dataObject(kind, name, "", map[string][]byte{key: data}))
		}
	}
	if r.UID != "" || r.GID != "" {
		c.drop(s.Name, fmt.Sprintf("%s %s uid/gid (use the pod's fsGroup)", field, r.Source))
	}
	item := corev1.KeyToPath{Key: key, Path: key}
	if r.Mode != nil {
		item.Mode = ptrTo(int32(*r.Mode))
	}
	var src corev1.VolumeSource
	if secret {
		src.Secret = &corev1.SecretVolumeSource{SecretName: name, Items: []corev1.KeyToPath{item}}
	} else {
		src.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Items: []corev1.KeyToPath{item}}
	}
	pv.add(strings.ToLower(kind)+"-"+r.Source, src, corev1.VolumeMount{MountPath: target, SubPath: key, ReadOnly: true})
	return nil
}

// fileObjectData is a config's or secret's content, from its file, inline content or variable.
func fileObjectData(obj types.FileObjectConfig, p *types.Project) ([]byte, error) {
	switch {
	case obj.Content != "":
		return []byte(obj.Content), nil
	case obj.Environment != "":
		v, ok := p.Environment[obj.Environment]
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", obj.Environment)
		}
		return []byte(v), nil
	case obj.File != "":
		b, err := os.ReadFile(obj.File)
		if err != nil {
			return nil, err
		}
		if len(b) > maxConfigMap {
			return nil, fmt.Errorf("%s is %d bytes, more than a Kubernetes object holds (%d)", obj.File, len(b), maxConfigMap)
		}
		return b, nil
	}
	return nil, fmt.Errorf("has no file, content or environment")
}

// dataObject is a ConfigMap (text in data, the rest in binaryData) or an Opaque Secret.
func (c *converter) dataObject(kind, name, svc string, files map[string][]byte) Object {
	if kind == "Secret" {
		return &corev1.Secret{TypeMeta: typeMeta("v1", "Secret"), ObjectMeta: c.meta(name, svc), Type: corev1.SecretTypeOpaque, Data: files}
	}
	cm := &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: c.meta(name, svc)}
	for k, b := range files {
		if utf8.Valid(b) {
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			cm.Data[k] = string(b)
		} else {
			if cm.BinaryData == nil {
				cm.BinaryData = map[string][]byte{}
			}
			cm.BinaryData[k] = b
		}
	}
	return cm
}

// bind carries a bind mount of a file, or of a read-only directory small enough, as a ConfigMap
// (the host's later changes are not seen); other host paths are host data a cluster does not
// have, and are dropped.
func (c *converter) bind(s types.ServiceConfig, v types.ServiceVolumeConfig, pv *podVolumes, m corev1.VolumeMount) error {
	fi, err := os.Stat(v.Source)
	switch {
	case err != nil:
		c.drop(s.Name, fmt.Sprintf("volumes %s:%s (bind of a path that does not exist here)", c.rel(v.Source), v.Target))
		return nil
	case !fi.IsDir() && !fi.Mode().IsRegular():
		c.drop(s.Name, fmt.Sprintf("volumes %s:%s (bind of a socket or device)", c.rel(v.Source), v.Target))
		return nil
	case fi.IsDir() && !v.ReadOnly:
		c.drop(s.Name, fmt.Sprintf("volumes %s:%s (a writable bind of a host directory: use a named volume)", c.rel(v.Source), v.Target))
		return nil
	}
	files := map[string][]byte{}
	var items []corev1.KeyToPath
	total := 0
	if fi.IsDir() {
		err = filepath.WalkDir(v.Source, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if !d.Type().IsRegular() {
				return fmt.Errorf("%s is not a regular file", p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(v.Source, p)
			key := configMapKey(strings.ReplaceAll(filepath.ToSlash(rel), "/", "_"))
			if _, dup := files[key]; dup {
				return fmt.Errorf("two files become key %s", key)
			}
			total += len(b)
			if total > maxConfigMap || len(files) >= 200 {
				return fmt.Errorf("more than a Kubernetes object holds")
			}
			files[key] = b
			items = append(items, corev1.KeyToPath{Key: key, Path: filepath.ToSlash(rel)})
			return nil
		})
		if err != nil {
			c.drop(s.Name, fmt.Sprintf("volumes %s:%s (%v)", c.rel(v.Source), v.Target, c.rel(err.Error())))
			return nil
		}
	} else {
		b, err := os.ReadFile(v.Source)
		if err != nil || len(b) > maxConfigMap {
			c.drop(s.Name, fmt.Sprintf("volumes %s:%s (unreadable or more than a Kubernetes object holds)", c.rel(v.Source), v.Target))
			return nil
		}
		key := configMapKey(filepath.Base(v.Source))
		files[key] = b
		m.SubPath = key
	}
	name := joinLabel(c.serviceName[s.Name], filepath.Base(v.Source))
	for i := 2; c.names.has("ConfigMap", name); i++ {
		name = joinLabel(c.serviceName[s.Name], filepath.Base(v.Source), fmt.Sprint(i))
	}
	if err := c.names.claim("ConfigMap", name, fmt.Sprintf("bind %q of service %q", c.rel(v.Source), s.Name)); err != nil {
		return err
	}
	c.data = append(c.data, c.dataObject("ConfigMap", name, s.Name, files))
	if !v.ReadOnly {
		c.note(s.Name, fmt.Sprintf("bind %s is a read-only copy in ConfigMap %q (writes and later host changes are not shared)", c.rel(v.Source), name))
	}
	m.ReadOnly = true
	pv.add("bind-"+filepath.Base(v.Source), corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: name}, Items: items}}, m)
	return nil
}

// rel shows a path (or paths in a message) relative to the project directory, as the file
// names it, so messages do not depend on where the project is.
func (c *converter) rel(p string) string {
	if c.p.WorkingDir == "" {
		return p
	}
	if p == c.p.WorkingDir {
		return "."
	}
	return strings.ReplaceAll(p, c.p.WorkingDir+string(filepath.Separator), "./")
}
