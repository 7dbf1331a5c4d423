package events

import (
	"fmt"
	"slices"
	"strings"
)

// Filter is docker events' --filter: values by key. An event passes when
// it matches every key given, and a key when the event matches any of its
// values (label: all of them), as Docker's daemon decides.
type Filter map[string][]string

// filterKeys are the keys Docker's events accept.
var filterKeys = []string{"config", "container", "daemon", "event", "image", "label", "network", "node", "plugin", "scope", "secret", "service", "type", "volume"}

// ParseFilter reads --filter values, "key=value" each, as Docker's CLI
// does (the key lowercased, both trimmed), refusing keys Docker's events
// do not know.
func ParseFilter(args []string) (Filter, error) {
	f := Filter{}
	for _, a := range args {
		if a == "" {
			continue
		}
		key, val, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value): %s", a)
		}
		key = strings.ToLower(strings.TrimSpace(key))
		if !slices.Contains(filterKeys, key) {
			return nil, fmt.Errorf("invalid filter '%s'", key)
		}
		f.Add(key, strings.TrimSpace(val))
	}
	return f, nil
}

// Add adds value to key's values.
func (f Filter) Add(key, value string) {
	if !slices.Contains(f[key], value) {
		f[key] = append(f[key], value)
	}
}

// fuzzyEvents are the actions that carry a suffix ("health_status:
// healthy", "exec_start: sh"): a filter naming one of them bare matches
// every action it begins.
var fuzzyEvents = []string{"health_status", "exec_create", "exec_start"}

// Match reports whether e passes the filter.
func (f Filter) Match(e Event) bool {
	event := f.exact("event", e.Action)
	for _, v := range f["event"] {
		if slices.Contains(fuzzyEvents, v) {
			event = f.fuzzy("event", e.Action)
			break
		}
	}
	if !event || !f.exact("type", e.Type) || !f.exact("scope", e.Scope) || !f.image(e) || !f.labels(e.Actor.Attributes) {
		return false
	}
	// Each of these keys names an object by id or name prefix, whatever
	// the event's type: container=web keeps only events whose actor is web.
	for _, key := range []string{"container", "network", "volume", "daemon", "plugin", "node", "service", "secret", "config"} {
		if !f.fuzzy(key, e.Actor.ID) && !f.fuzzy(key, e.Actor.Attributes["name"]) {
			return false
		}
	}
	return true
}

// exact: no values for key, or one equal to s.
func (f Filter) exact(key, s string) bool {
	vs := f[key]
	return len(vs) == 0 || slices.Contains(vs, s)
}

// fuzzy: no values for key, or one that s begins with.
func (f Filter) fuzzy(key, s string) bool {
	vs := f[key]
	if len(vs) == 0 {
		return true
	}
	for _, v := range vs {
		if strings.HasPrefix(s, v) {
			return true
		}
	}
	return false
}

// labels: every label value ("key" or "key=value") is among attrs.
func (f Filter) labels(attrs map[string]string) bool {
	for _, v := range f["label"] {
		k, want, hasValue := strings.Cut(v, "=")
		got, ok := attrs[k]
		if !ok || hasValue && got != want {
			return false
		}
	}
	return true
}

// image matches the actor's id and its image (a container's image
// attribute, an image's name) as given and without tag or digest.
func (f Filter) image(e Event) bool {
	name := e.Actor.Attributes["image"]
	if e.Type == TypeImage {
		name = e.Actor.Attributes["name"]
	}
	for _, s := range []string{e.Actor.ID, name, familiar(e.Actor.ID), familiar(name)} {
		if f.exact("image", s) {
			return true
		}
	}
	return false
}

// familiar is an image reference without its tag or digest, and without
// Docker Hub's domain and library/ (docker.io/library/busybox:1 is busybox).
func familiar(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	for _, hub := range []string{"docker.io/", "index.docker.io/"} {
		if rest, ok := strings.CutPrefix(ref, hub); ok {
			ref = rest
			if r, ok := strings.CutPrefix(ref, "library/"); ok && !strings.Contains(r, "/") {
				ref = r
			}
			break
		}
	}
	return ref
}
