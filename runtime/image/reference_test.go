package image

import (
	"strings"
	"testing"
)

func TestParseReference(t *testing.T) {
	tests := []struct {
		in, full, familiar, repo, registry, scheme string
	}{
		{"mysql", "docker.io/library/mysql:latest", "mysql:latest", "mysql", "index.docker.io", "https"},
		{"mysql:8.4", "docker.io/library/mysql:8.4", "mysql:8.4", "mysql", "index.docker.io", "https"},
		{"bitnami/redis", "docker.io/bitnami/redis:latest", "bitnami/redis:latest", "bitnami/redis", "index.docker.io", "https"},
		{"docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36", "busybox", "index.docker.io", "https"},
		{"localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest", "localhost:5000/app", "localhost:5000", "http"},
		{"127.0.0.1:5000/team/app:v1", "127.0.0.1:5000/team/app:v1", "127.0.0.1:5000/team/app:v1", "127.0.0.1:5000/team/app", "127.0.0.1:5000", "http"},
		{"127.8.9.10:5000/app:v1", "127.8.9.10:5000/app:v1", "127.8.9.10:5000/app:v1", "127.8.9.10:5000/app", "127.8.9.10:5000", "http"},
		{"ghcr.io/org/app:v2", "ghcr.io/org/app:v2", "ghcr.io/org/app:v2", "ghcr.io/org/app", "ghcr.io", "https"},
		{"busybox@sha256:" + strings.Repeat("a", 64), "docker.io/library/busybox@sha256:" + strings.Repeat("a", 64), "busybox@sha256:" + strings.Repeat("a", 64), "busybox", "index.docker.io", "https"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseReference(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.String() != tt.full || r.Familiar() != tt.familiar || r.Repository() != tt.repo {
				t.Errorf("got %q %q %q, want %q %q %q", r.String(), r.Familiar(), r.Repository(), tt.full, tt.familiar, tt.repo)
			}
			if got := r.Remote.Context().RegistryStr(); got != tt.registry {
				t.Errorf("registry = %q, want %q", got, tt.registry)
			}
			if got := r.Remote.Context().Scheme(); got != tt.scheme {
				t.Errorf("scheme = %q, want %q", got, tt.scheme)
			}
		})
	}
}

func TestParseReferenceErrors(t *testing.T) {
	for _, in := range []string{"", "MySQL", "app:", "app:bad tag", "-app", "a@sha256:short", "UPPER/case:1"} {
		t.Run(in, func(t *testing.T) {
			_, err := ParseReference(in)
			if err == nil {
				t.Fatal("parsed, want an error")
			}
			if !strings.Contains(err.Error(), "invalid reference format") {
				t.Errorf("err = %q, want Docker's `invalid reference format`", err)
			}
		})
	}
}
