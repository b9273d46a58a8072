package builder_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/builder"
	"github.com/appstore-dev/appstore/daemon/registry"
	"github.com/appstore-dev/appstore/internal/registrytest"
)

// lockedBuffer collects the worker's log across goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A build pushes its image to the registry with the credentials, records
// the digest the registry has, and says so in its log; pruning deletes
// superseded images there by the engine's keep policy. The password is in
// no log.
func TestBuildPushesToTheRegistryAndPruningDeletesThere(t *testing.T) {
	t.Parallel()
	const user, password = "builder", "s3cret-registry-password"
	srv := registrytest.Serve(t, registrytest.Options{Username: user, Password: password})
	reg, err := registry.Parse(srv.Host + "/team")
	if err != nil {
		t.Fatal(err)
	}
	reg.SetCredentials(user, password)
	var daemonLog lockedBuffer
	e := newEnv(t, builder.Options{Registry: reg, KeepImages: 1, PruneGrace: -1,
		Logger: slog.New(slog.NewTextHandler(&daemonLog, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	slug, repoID, repo := e.repo("pushed", e.files(map[string]string{"Dockerfile": okDockerfile}))

	first := e.buildOK(slug, false)
	commit := repo.Head(t)
	if want := srv.Host + "/team/appstore/" + slug + ":" + commit[:12]; first.RegistryImage != want {
		t.Errorf("registry image %q, want %q", first.RegistryImage, want)
	}
	if !strings.HasPrefix(first.ImageDigest, "sha256:") {
		t.Fatalf("no digest recorded: %+v", first)
	}
	got, err := reg.Digest(e.ctx, slug, commit[:12])
	if err != nil || got != first.ImageDigest {
		t.Fatalf("the registry has %q (%v) under the tag, the build recorded %q", got, err, first.ImageDigest)
	}
	log := e.logText(first.ID)
	for _, want := range []string{"Pushing " + first.RegistryImage + " to " + srv.Host, ": Pushed\n", "Pushed " + srv.Host + "/team/appstore/" + slug + "@" + first.ImageDigest} {
		if !strings.Contains(log, want) {
			t.Errorf("build log lacks %q:\n%s", want, log)
		}
	}
	// The registry's name is taken off the engine again: the image keeps
	// one tag, which engine pruning removes by id.
	img, err := e.docker.ImageInspect(e.ctx, first.ImageID)
	if err != nil {
		t.Fatal(err)
	}
	if len(img.RepoTags) != 1 || img.RepoTags[0] != first.ImageTag {
		t.Errorf("image tags after the push: %v, want only %s", img.RepoTags, first.ImageTag)
	}

	// A newer build supersedes the first: pruning (keep 1) deletes the
	// first from the registry and forgets its digest; the newest stays.
	e.ingested(repoID, repo.Commit(t, map[string]string{"version.txt": "2"}, "next"), "Dockerfile", ".")
	second := e.buildOK(slug, false)
	if second.ImageDigest == "" || second.ImageDigest == first.ImageDigest {
		t.Fatalf("second build's digest %q (first %q)", second.ImageDigest, first.ImageDigest)
	}
	if err := e.w.Prune(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Digest(e.ctx, slug, first.ImageDigest); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("the superseded image is still in the registry: %v", err)
	}
	if _, err := reg.Digest(e.ctx, slug, second.ImageDigest); err != nil {
		t.Errorf("the newest image is gone from the registry: %v", err)
	}
	b, err := e.st.Build(context.Background(), first.ID)
	if err != nil || b.ImageDigest != "" || b.Status != catalog.BuildSucceeded {
		t.Errorf("the pruned build still names its digest: %+v %v", b, err)
	}
	// Removing the app takes its images out of the registry at the next
	// pruning (its builds, and so their digests, went with it).
	if err := e.st.DeleteRepository(e.ctx, slug); err != nil {
		t.Fatal(err)
	}
	if err := e.w.Prune(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Digest(e.ctx, slug, second.ImageDigest); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("an image of a removed app is still in the registry: %v\n%s", err, daemonLog.String())
	}
	for what, text := range map[string]string{"build logs": log + e.logText(second.ID), "daemon log": daemonLog.String()} {
		if strings.Contains(text, password) {
			t.Errorf("the registry password is in the %s", what)
		}
	}
}

// Wrong credentials fail the build with the registry's answer, never the
// password.
func TestPushWithWrongCredentialsFailsTheBuild(t *testing.T) {
	t.Parallel()
	srv := registrytest.Serve(t, registrytest.Options{Username: "builder", Password: "right-password"})
	reg, err := registry.Parse(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	reg.SetCredentials("builder", "wrong-password-xyz")
	e := newEnv(t, builder.Options{Registry: reg, MaxAttempts: 1})
	slug, _, _ := e.repo("refused", e.files(map[string]string{"Dockerfile": okDockerfile}))
	b := e.buildFails(slug)
	if !strings.Contains(b.ErrorMessage, "push") {
		t.Fatalf("build %s: %q, want failed on the push", b.Status, b.ErrorMessage)
	}
	if strings.Contains(b.ErrorMessage+e.logText(b.ID), "wrong-password-xyz") {
		t.Errorf("the password is in the build's error or log")
	}
}
