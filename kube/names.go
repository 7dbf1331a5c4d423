package kube

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// dnsLabel turns a compose name into a DNS-1035 label (what a Service's name must be, and what
// every other name convert makes is too): lower case, [a-z0-9-], starting with a letter, at most
// 63 characters.
func dnsLabel(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "x-" + s
	}
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	return s
}

// joinLabel is a DNS label made of parts, shortened from the front parts so the last survives.
func joinLabel(parts ...string) string {
	return dnsLabel(strings.Join(parts, "-"))
}

// configMapKey turns a file name into a valid ConfigMap/Secret key ([-._a-zA-Z0-9]+).
func configMapKey(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || s == "." || s == ".." || len(validation.IsConfigMapKey(s)) > 0 {
		s = "file"
	}
	return s
}

// registry hands out object names per kind, so two compose names that map to one Kubernetes
// name are an error naming both, never one object silently replacing another.
type registry struct {
	taken map[string]string // kind/name -> the compose thing that has it
}

// has says whether a kind/name is handed out already.
func (r *registry) has(kind, name string) bool { return r.taken[kind+"/"+name] != "" }

func (r *registry) claim(kind, name, owner string) error {
	if r.taken == nil {
		r.taken = map[string]string{}
	}
	key := kind + "/" + name
	if prev, ok := r.taken[key]; ok && prev != owner {
		return fmt.Errorf("%s and %s both become %s %q in Kubernetes: rename one", prev, owner, kind, name)
	}
	r.taken[key] = owner
	return nil
}

// dns1123Label is why name is not a DNS-1123 label, or "".
func dns1123Label(name string) string {
	return strings.Join(validation.IsDNS1123Label(name), "; ")
}
