// Package registrytest serves a real OCI registry (the CNCF distribution
// registry, in memory) in the test process, on 127.0.0.1: the Docker engine
// treats registries on 127.0.0.0/8 as insecure, so it pushes to and pulls
// from one over plain HTTP without being configured. Deletes are enabled,
// as an operator's registry must have them for pruning.
package registrytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// Options shape a test registry.
type Options struct {
	// Username and Password, when set, make the registry ask for them
	// (htpasswd basic authentication).
	Username, Password string
	// Addr is where to listen (default 127.0.0.1:0). A swarm task on
	// another address of this host would need 0.0.0.0.
	Addr string
}

// Registry is a running test registry.
type Registry struct {
	// Host is host:port, what a --registry flag or an image reference names.
	Host string
	srv  *http.Server
}

// Serve starts a registry that lives until the test ends.
func Serve(t testing.TB, opts Options) *Registry {
	t.Helper()
	// The registry logs through logrus, every probe for a blob it does not
	// have yet as an error: the tests read its answers instead.
	logrus.SetOutput(io.Discard)
	cfg := &configuration.Configuration{}
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	cfg.Storage = configuration.Storage{
		"inmemory": configuration.Parameters{},
		"delete":   configuration.Parameters{"enabled": true},
	}
	// What a registry's YAML configuration defaults to (the struct's zero
	// values allow no entries at all).
	cfg.Catalog.MaxEntries = 1000
	cfg.Tags.MaxTags = 1000
	var secret [16]byte
	_, _ = rand.Read(secret[:])
	cfg.HTTP.Secret = hex.EncodeToString(secret[:])
	if opts.Username != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(opts.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "htpasswd")
		if err := os.WriteFile(path, []byte(opts.Username+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "appstore-test", "path": path}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	app := handlers.NewApp(ctx, cfg)
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: app}
	go func() { _ = srv.Serve(ln) }()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	r := &Registry{Host: "127.0.0.1:" + port, srv: srv}
	t.Cleanup(func() {
		_ = srv.Close()
		cancel()
	})
	return r
}
