package registry_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/daemon/registry"
	"github.com/appstore-dev/appstore/internal/registrytest"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000":                  "127.0.0.1:5000",
		"registry.example.com/team/apps/": "registry.example.com/team/apps",
		"localhost:5000/x":                "localhost:5000/x",
		"Registry.Example.com":            "registry.example.com",
	} {
		r, err := registry.Parse(in)
		if err != nil || r.String() != want {
			t.Errorf("Parse(%q) = %v, %v; want %s", in, r, err, want)
		}
	}
	if r, _ := registry.Parse("127.0.0.1:5000"); !r.Insecure || r.Repository("dash") != "127.0.0.1:5000/appstore/dash" {
		t.Errorf("loopback registry: %+v %s", r, r.Repository("dash"))
	}
	if r, _ := registry.Parse("registry.example.com/p"); r.Insecure || r.Tagged("dash", "abc") != "registry.example.com/p/appstore/dash:abc" {
		t.Errorf("remote registry: %+v", r)
	}
	if r, err := registry.Parse(""); r != nil || err != nil {
		t.Errorf("no registry: %v %v", r, err)
	}
	for _, bad := range []string{"https://registry.example.com", "myregistry", "registry.example.com/UPPER", "user@host.com"} {
		if _, err := registry.Parse(bad); err == nil || !strings.Contains(err.Error(), "HOST[:PORT][/PREFIX]") {
			t.Errorf("Parse(%q): %v, want an error that says the form", bad, err)
		}
	}
}

func TestPinned(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000/appstore/dash:abc": "127.0.0.1:5000/appstore/dash@sha256:1",
		"127.0.0.1:5000/appstore/dash":     "127.0.0.1:5000/appstore/dash@sha256:1",
	} {
		if got := registry.Pinned(in, "sha256:1"); got != want {
			t.Errorf("Pinned(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCredentialsFromFileOrEnvironmentAndNeverInErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noEnv := func(string) string { return "" }
	auth := func(r *registry.Registry) map[string]string {
		b, err := base64.URLEncoding.DecodeString(r.EngineAuth())
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		_ = json.Unmarshal(b, &m)
		return m
	}
	for name, content := range map[string]string{"line": "bob:pa:ss\n", "json": `{"username": "bob", "password": "pa:ss"}`} {
		r, _ := registry.Parse("127.0.0.1:5000")
		if err := r.LoadCredentials(write(name, content), noEnv); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if a := auth(r); a["username"] != "bob" || a["password"] != "pa:ss" || a["serveraddress"] != "127.0.0.1:5000" {
			t.Errorf("%s: engine auth %v", name, a)
		}
	}
	r, _ := registry.Parse("127.0.0.1:5000")
	env := map[string]string{registry.EnvUsername: "eve", registry.EnvPassword: "from-env"}
	if err := r.LoadCredentials("", func(k string) string { return env[k] }); err != nil || auth(r)["password"] != "from-env" {
		t.Errorf("environment: %v %v", err, auth(r))
	}
	r, _ = registry.Parse("127.0.0.1:5000")
	if err := r.LoadCredentials("", noEnv); err != nil || r.HasCredentials() || r.EngineAuth() != "" {
		t.Errorf("an open registry: %v", err)
	}
	for _, bad := range []string{"only-a-user-secretvalue", `{"username": "x", "password": ""} secretvalue`, ":secretvalue"} {
		r, _ := registry.Parse("127.0.0.1:5000")
		err := r.LoadCredentials(write("bad", bad), noEnv)
		if err == nil || strings.Contains(err.Error(), "secretvalue") {
			t.Errorf("file %q: %v (an error, without the file's content)", bad, err)
		}
	}
	if err := (*registry.Registry)(nil).LoadCredentials("x", noEnv); err == nil {
		t.Error("--registry-auth-file without --registry was accepted")
	}
}

// The registry's API for pruning, against a real registry with
// authentication.
func TestDigestAndDeleteAgainstARealRegistry(t *testing.T) {
	srv := registrytest.Serve(t, registrytest.Options{Username: "u", Password: "right"})
	r, _ := registry.Parse(srv.Host)
	ctx := context.Background()
	if _, err := r.Digest(ctx, "dash", "latest"); err == nil || !strings.Contains(err.Error(), "refused the credentials") {
		t.Errorf("without credentials: %v", err)
	}
	r.SetCredentials("u", "wrong")
	if _, err := r.Digest(ctx, "dash", "latest"); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong credentials: %v", err)
	}
	r.SetCredentials("u", "right")
	if _, err := r.Digest(ctx, "dash", "latest"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("unknown manifest: %v, want ErrNotFound", err)
	}
	if err := r.Delete(ctx, "dash", "sha256:"+strings.Repeat("0", 64)); err != nil {
		t.Errorf("deleting what is gone: %v", err)
	}
}
