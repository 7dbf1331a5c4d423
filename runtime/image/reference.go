package image

import (
	"fmt"
	"net"
	"strings"

	dref "github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
)

// Reference is an image reference as Docker reads it: `mysql` is docker.io/library/mysql:latest,
// `localhost:5000/app` is a registry on this machine, `app@sha256:...` pins a digest.
type Reference struct {
	named dref.Named
	// Remote is the same reference for go-containerregistry's registry client.
	Remote name.Reference
}

// ParseReference parses s with Docker's rules (lower-case repository, docker.io/library for bare
// names, :latest when neither tag nor digest is given). The error says what is wrong with s in
// Docker's words: `invalid reference format: ...`.
func ParseReference(s string) (Reference, error) {
	if strings.TrimSpace(s) == "" {
		return Reference{}, fmt.Errorf("invalid reference format: empty image name")
	}
	named, err := dref.ParseNormalizedNamed(s)
	if err != nil {
		return Reference{}, fmt.Errorf("%q: %w", s, err)
	}
	named = dref.TagNameOnly(named)
	// Docker talks plain HTTP to registries on 127.0.0.0/8 and ::1 (its default insecure-registry
	// list); go-containerregistry only knows localhost and 127.0.0.1 by itself.
	opts := []name.Option{name.StrictValidation}
	if isLoopback(dref.Domain(named)) {
		opts = append(opts, name.Insecure)
	}
	remote, err := name.ParseReference(named.String(), opts...)
	if err != nil {
		return Reference{}, fmt.Errorf("invalid reference format: %q: %w", s, err)
	}
	return Reference{named: named, Remote: remote}, nil
}

// String is the fully qualified form stored in berth's references:
// docker.io/library/mysql:latest.
func (r Reference) String() string { return r.named.String() }

// Familiar is the short form Docker shows: mysql:latest, localhost:5000/app:v1.
func (r Reference) Familiar() string { return dref.FamiliarString(r.named) }

// Repository is the name without tag or digest, familiar form: mysql, localhost:5000/app.
func (r Reference) Repository() string { return dref.FamiliarName(r.named) }

// Tag is the tag, or "" for a digest reference.
func (r Reference) Tag() string {
	if t, ok := r.named.(dref.Tagged); ok {
		return t.Tag()
	}
	return ""
}

// Digest is the pinned digest, or "" for a tag reference.
func (r Reference) Digest() string {
	if d, ok := r.named.(dref.Digested); ok {
		return d.Digest().String()
	}
	return ""
}

// Domain is the registry host: docker.io, localhost:5000.
func (r Reference) Domain() string { return dref.Domain(r.named) }

// Path is the repository path inside the registry: library/mysql.
func (r Reference) Path() string { return dref.Path(r.named) }

// WithTag is the same repository with another tag.
func (r Reference) WithTag(tag string) (Reference, error) {
	return ParseReference(r.named.Name() + ":" + tag)
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
