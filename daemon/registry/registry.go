// Package registry is appstored's side of an image registry (--registry):
// where build images are pushed so that every Swarm node can pull them, the
// credentials for it (--registry-auth-file or the environment, never
// logged), and the registry's HTTP API for what the engine does not do:
// deleting the images that pruning retires.
package registry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/distribution/reference"
	dockerregistry "github.com/docker/docker/api/types/registry"
)

// Environment variables that carry the credentials when no file does.
const (
	EnvUsername = "APPSTORE_REGISTRY_USERNAME"
	EnvPassword = "APPSTORE_REGISTRY_PASSWORD"
)

// Registry is where images go: HOST[:PORT][/PREFIX], with credentials.
type Registry struct {
	// Host is host[:port].
	Host string
	// Prefix is a path inside the registry ("" or "team/apps").
	Prefix string
	// Insecure speaks plain HTTP to the registry's API. It is set for
	// loopback registries, which the Docker engine also reaches over HTTP.
	Insecure bool

	username, password string
}

// Parse reads --registry: HOST[:PORT][/PREFIX], e.g. registry.example.com,
// 127.0.0.1:5000 or registry.example.com/appstore. A scheme is refused: the
// engine decides it (HTTPS, or HTTP for loopback and configured insecure
// registries).
func Parse(s string) (*Registry, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("--registry %q: %s; want HOST[:PORT][/PREFIX], e.g. registry.example.com:5000/appstore", s, why)
	}
	if strings.Contains(s, "://") {
		return nil, bad("give no scheme (the Docker engine speaks HTTPS, or HTTP to 127.0.0.1)")
	}
	host, prefix, _ := strings.Cut(strings.TrimRight(s, "/"), "/")
	if host == "" || strings.ContainsAny(host, "@ ") {
		return nil, bad("no host")
	}
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		// Docker reads a first component without a dot or port as a
		// Docker Hub namespace, not a registry.
		return nil, bad("a registry host needs a dot or a port (localhost:5000, registry.internal)")
	}
	r := &Registry{Host: strings.ToLower(host), Prefix: prefix}
	// The whole repository name must be valid with a slug in it.
	if _, err := reference.ParseNormalizedNamed(r.Repository("app") + ":tag"); err != nil {
		return nil, bad(err.Error())
	}
	h := r.Host
	if i := strings.LastIndex(h, ":"); i > 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	r.Insecure = h == "localhost" || strings.HasPrefix(h, "127.") || h == "[::1]"
	return r, nil
}

// LoadCredentials sets the credentials: from file when given (one line
// "user:password", or a JSON object {"username": …, "password": …}), else
// from APPSTORE_REGISTRY_USERNAME and APPSTORE_REGISTRY_PASSWORD. Neither
// is required (an open registry). The values are never logged or put in
// errors.
func (r *Registry) LoadCredentials(file string, getenv func(string) string) error {
	if r == nil {
		if file != "" {
			return errors.New("--registry-auth-file needs --registry")
		}
		return nil
	}
	if file == "" {
		r.username, r.password = getenv(EnvUsername), getenv(EnvPassword)
		if (r.username == "") != (r.password == "") {
			return fmt.Errorf("registry credentials: set both %s and %s, or neither", EnvUsername, EnvPassword)
		}
		return nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("--registry-auth-file: %w", err)
	}
	text := strings.TrimSpace(string(b))
	if strings.HasPrefix(text, "{") {
		var v struct{ Username, Password string }
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return fmt.Errorf("--registry-auth-file %s: not a JSON object with username and password (the file's content is not shown)", file)
		}
		r.username, r.password = v.Username, v.Password
	} else {
		r.username, r.password, _ = strings.Cut(text, ":")
	}
	if r.username == "" || r.password == "" {
		return fmt.Errorf("--registry-auth-file %s: want one line user:password or {\"username\": …, \"password\": …} (the file's content is not shown)", file)
	}
	return nil
}

// SetCredentials sets the credentials directly (tests, embedding).
func (r *Registry) SetCredentials(username, password string) {
	r.username, r.password = username, password
}

// HasCredentials reports whether requests carry credentials.
func (r *Registry) HasCredentials() bool { return r != nil && r.username != "" }

// String is the registry as --registry names it; never the credentials.
func (r *Registry) String() string {
	if r == nil {
		return ""
	}
	if r.Prefix == "" {
		return r.Host
	}
	return r.Host + "/" + r.Prefix
}

// Repository is the registry repository of an app: HOST[/PREFIX]/appstore/<slug>.
func (r *Registry) Repository(slug string) string {
	return r.String() + "/appstore/" + slug
}

// Tagged is the reference an image of slug is pushed as.
func (r *Registry) Tagged(slug, tag string) string { return r.Repository(slug) + ":" + tag }

// Pinned is the reference of a pushed image by its digest: what launches
// run, so that a node pulls exactly the image that was built.
func Pinned(image, digest string) string {
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image + "@" + digest
}

// EngineAuth is the X-Registry-Auth value the engine takes for a push, a
// pull or a service (base64url JSON), "" without credentials.
func (r *Registry) EngineAuth() string {
	if !r.HasCredentials() {
		return ""
	}
	b, _ := json.Marshal(dockerregistry.AuthConfig{Username: r.username, Password: r.password, ServerAddress: r.Host})
	return base64.URLEncoding.EncodeToString(b)
}
