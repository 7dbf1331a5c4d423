package image

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// DockerHubServer is the key Docker stores Docker Hub credentials under.
const DockerHubServer = "https://index.docker.io/v1/"

// registryFor turns `berth login`'s SERVER argument into a registry, Docker Hub when empty.
func registryFor(server string) (name.Registry, string, error) {
	host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://"), "/")
	host, _, _ = strings.Cut(host, "/")
	if host == "" || host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" {
		reg, err := name.NewRegistry(name.DefaultRegistry)
		return reg, DockerHubServer, err
	}
	var opts []name.Option
	if isLoopback(host) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return name.Registry{}, "", fmt.Errorf("registry %q: %w", server, err)
	}
	return reg, host, nil
}

// Login checks user and password against the registry and, when they work, stores them where
// Docker does: ~/.docker/config.json ($DOCKER_CONFIG), or the credential helper it names. It
// returns the server key the credentials were stored under.
func Login(ctx context.Context, server, user, password string, rt http.RoundTripper) (string, error) {
	reg, key, err := registryFor(server)
	if err != nil {
		return "", err
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	auth := &authn.Basic{Username: user, Password: password}
	tr, err := transport.NewWithContext(ctx, reg, auth, rt, []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return "", fmt.Errorf("login %s: %w", key, err)
	}
	// A registry with basic auth is not asked anything by NewWithContext: ask it now.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr()), nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", fmt.Errorf("login %s: %w", key, err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return "", fmt.Errorf("login %s: unauthorized: incorrect username or password", key)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login %s: registry answered %s", key, resp.Status)
	}
	cf, err := config.Load(config.Dir())
	if err != nil {
		return "", fmt.Errorf("docker config: %w", err)
	}
	if err := cf.GetCredentialsStore(key).Store(types.AuthConfig{Username: user, Password: password, ServerAddress: key}); err != nil {
		return "", fmt.Errorf("storing credentials for %s: %w", key, err)
	}
	if err := cf.Save(); err != nil {
		return "", fmt.Errorf("docker config: %w", err)
	}
	return key, nil
}

// Logout removes the credentials stored for server and returns the key they were under.
func Logout(server string) (string, error) {
	_, key, err := registryFor(server)
	if err != nil {
		return "", err
	}
	cf, err := config.Load(config.Dir())
	if err != nil {
		return "", fmt.Errorf("docker config: %w", err)
	}
	if _, err := cf.GetAuthConfig(key); err != nil {
		return "", err
	}
	if err := cf.GetCredentialsStore(key).Erase(key); err != nil {
		return "", fmt.Errorf("removing credentials for %s: %w", key, err)
	}
	if err := cf.Save(); err != nil {
		return "", fmt.Errorf("docker config: %w", err)
	}
	return key, nil
}
