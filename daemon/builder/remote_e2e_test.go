package builder_test

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	dockerbuild "github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"

	"github.com/appstore-dev/appstore/daemon/builder"
	"github.com/appstore-dev/appstore/internal/testenv"
)

func randomToken(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// hostSecret is a service that listens on this host's loopback only, as
// the engine's own API, a database or an internal admin page do: a build
// must never reach it. It counts every request.
type hostSecret struct {
	*httptest.Server
	hits atomic.Int32
}

func newHostSecret(t *testing.T) *hostSecret {
	h := &hostSecret{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		io.WriteString(w, "the host's secret\n")
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hostSecret) port() string {
	u, _ := url.Parse(h.URL)
	return u.Port()
}

// requireRefused runs a build of df (BASE and PORT replaced) that must
// fail with an error holding every want, before any request reached the
// host's service.
func requireRefused(t *testing.T, e *env, name, df string, secret *hostSecret, want ...string) {
	t.Helper()
	df = strings.ReplaceAll(df, "PORT", secret.port())
	slug, _, _ := e.bbRepo(name, df, nil)
	b := e.buildFails(slug)
	for _, w := range want {
		if !strings.Contains(b.ErrorMessage, strings.ReplaceAll(w, "PORT", secret.port())) {
			t.Errorf("%s: error %q lacks %q", name, b.ErrorMessage, w)
		}
	}
	if n := secret.hits.Load(); n != 0 {
		t.Errorf("%s: %d requests reached the host's loopback service", name, n)
	}
	if strings.Contains(e.logText(b.ID), "the host's secret") {
		t.Errorf("%s: the build log carries the host's secret", name)
	}
}

// TestRemoteAddIsRefusedByDefault: ADD <url> fails naming the line and
// suggesting a RUN step, and nothing is fetched.
func TestRemoteAddIsRefusedByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{})
	secret := newHostSecret(t)
	requireRefused(t, e, "default", "FROM BASE\nRUN true\nADD http://127.0.0.1:PORT/token /token\n", secret,
		"Dockerfile line 3: ADD http://127.0.0.1:PORT/token", "remote sources are off (--build-allow-remote-add)", "RUN step", "wget")
	requireRefused(t, e, "git", "FROM BASE\nADD https://127.0.0.1:PORT/repo.git#main /src\n", secret,
		"Dockerfile line 2", "do not fetch Git remotes", "RUN step")
}

// TestRemoteAddBypassesAreRefused: with --build-allow-remote-add, each
// way a Dockerfile could make the build fetch from this host's loopback
// is refused before a request leaves: a host from an ARG, an ONBUILD ADD
// of a stage used as base, an ONBUILD trigger of a base image, a redirect
// from an admitted host, and addresses in short or numeric forms.
func TestRemoteAddBypassesAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, builder.Options{AllowRemoteAdd: true})
	secret := newHostSecret(t)

	t.Run("ARG-expanded host", func(t *testing.T) {
		requireRefused(t, e, "arg-host", "ARG H=127.0.0.1:PORT\nFROM BASE\nARG H\nADD http://${H}/x /a\n", secret,
			"Dockerfile line 4: ADD http://127.0.0.1:PORT/x /a", "127.0.0.1 is loopback")
	})
	t.Run("ONBUILD ADD in a base stage", func(t *testing.T) {
		requireRefused(t, e, "onbuild-stage", "FROM BASE AS base\nONBUILD ADD http://127.0.0.1:PORT/x /c\nFROM base\nRUN true\n", secret,
			"ADD http://127.0.0.1:PORT/x", "127.0.0.1 is loopback")
	})
	t.Run("ONBUILD trigger of a base image", func(t *testing.T) {
		base := buildOnbuildImage(t, e, "ADD http://127.0.0.1:"+secret.port()+"/x /c")
		requireRefused(t, e, "onbuild-image", "FROM "+base+"\nRUN true\n", secret,
			"ADD http://127.0.0.1:PORT/x", "127.0.0.1 is loopback")
	})
	t.Run("redirect from an admitted host", func(t *testing.T) {
		var followed atomic.Int32
		admitted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			followed.Add(1)
			http.Redirect(w, r, secret.URL+"/token", http.StatusFound)
		}))
		defer admitted.Close()
		w := newEnv(t, builder.Options{AllowRemoteAdd: true})
		builder.AdmitForTest(w.w, netip.MustParseAddrPort(admitted.Listener.Addr().String()))
		requireRefused(t, w, "redirect", "FROM BASE\nADD "+admitted.URL+"/file /file\n", secret,
			"Dockerfile line 2", "redirected to "+secret.URL+"/token", "127.0.0.1 is loopback")
		if followed.Load() != 1 {
			t.Errorf("the admitted host got %d requests, want 1", followed.Load())
		}
	})
	t.Run("127.1", func(t *testing.T) {
		requireRefused(t, e, "short-form", "FROM BASE\nADD http://127.1:PORT/x /x\n", secret,
			"Dockerfile line 2: ADD http://127.1:PORT/x", "short or numeric form")
	})
	t.Run("2130706433", func(t *testing.T) {
		requireRefused(t, e, "numeric", "FROM BASE\nADD http://2130706433:PORT/x /x\n", secret,
			"Dockerfile line 2: ADD http://2130706433:PORT/x", "short or numeric form")
	})
	t.Run("registry on loopback", func(t *testing.T) {
		requireRefused(t, e, "registry", "FROM 127.0.0.1:PORT/library/app:1\nRUN true\n", secret,
			"the registry 127.0.0.1:PORT", "127.0.0.1 is loopback")
	})
}

// TestAdmittedRemoteAddIsFetchedByAppstored: a URL written out in the
// Dockerfile, on a host the policy admits, is fetched by appstored and
// lands in the image as ADD would put it.
func TestAdmittedRemoteAddIsFetchedByAppstored(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "served by an admitted host\n")
	}))
	defer files.Close()
	e := newEnv(t, builder.Options{AllowRemoteAdd: true})
	builder.AdmitForTest(e.w, netip.MustParseAddrPort(files.Listener.Addr().String()))
	slug, _, _ := e.bbRepo("fetched", "FROM BASE\nADD "+files.URL+"/notes.txt /data/\nRUN cat /data/notes.txt && stat -c 'mode %a' /data/notes.txt\n", nil)
	b := e.buildOK(slug, true)
	e.logHas(b.ID, "Fetching "+files.URL+"/notes.txt for Dockerfile line 2", "served by an admitted host", "mode 600")
	if hits.Load() != 1 {
		t.Errorf("%d requests, want 1", hits.Load())
	}
}

// buildOnbuildImage builds a local image FROM the busybox base whose
// ONBUILD trigger is trigger, and returns its tag.
func buildOnbuildImage(t *testing.T, e *env, trigger string) string {
	t.Helper()
	tag := "appstore-test/onbuild:" + randomToken(t)
	df := "FROM " + testenv.BusyboxImage(t) + "\nONBUILD " + trigger + "\n"
	resp, err := e.docker.ImageBuild(e.ctx, tarOf(t, map[string]string{"Dockerfile": df}), dockerbuild.ImageBuildOptions{
		Tags: []string{tag}, Version: dockerbuild.BuilderV1, Remove: true})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var m struct{ Error string }
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if m.Error != "" {
			t.Fatal(m.Error)
		}
	}
	t.Cleanup(func() { _, _ = e.docker.ImageRemove(e.ctx, tag, image.RemoveOptions{Force: true}) })
	return tag
}

// tarOf packs files into a build context.
func tarOf(t *testing.T, files map[string]string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}
