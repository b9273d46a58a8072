package daemon_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/client/clienttest"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/builder"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// Builds end to end: the real appstored (API, queue, ingestion, build
// worker) on a real PostgreSQL and the real Docker engine.

// buildApp is the program of the test images: it greets, or sleeps for
// the duration given (a build step that takes a while).
const buildApp = `package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "sleep" {
		d, _ := time.ParseDuration(os.Args[2])
		fmt.Println("sleeping", d)
		time.Sleep(d)
	}
	fmt.Println("hello from the image")
}
`

// addForBuild registers repo through the API and returns it once its
// ingestion queued the first build (in the transaction that makes the
// repository ready).
func addForBuild(t *testing.T, c *client.Client, repo *gitserver.Repo) *client.Repository {
	t.Helper()
	r, err := c.AddRepository(context.Background(), client.AddRepositoryRequest{GitURL: repo.FileURL()})
	if err != nil {
		t.Fatal(err)
	}
	return waitRepo(t, c, r.Slug, "ingestion", func(r *client.Repository) bool { return r.LatestBuild != nil })
}

// appRepo is a Git repository of an app whose build runs dockerfileRun
// (e.g. ["/app", "sleep", "3s"]) as a RUN step.
func appRepo(t *testing.T, name, run string) *gitserver.Repo {
	t.Helper()
	testenv.Docker(t)
	gitserver.RequireGit(t)
	bin, err := os.ReadFile(testenv.StaticBinary(t, buildApp))
	if err != nil {
		t.Fatal(err)
	}
	return gitserver.NewRepoFiles(t, name, []gitserver.File{
		{Name: "app", Content: string(bin), Mode: 0o755},
		{Name: "Dockerfile", Content: "FROM scratch\nCOPY app /app\nRUN " + run + "\nEXPOSE 8080\nENTRYPOINT [\"/app\"]\n"},
	})
}

// waitBuild polls the build until it ended.
func waitBuild(t *testing.T, c *client.Client, id int64, within time.Duration) *client.Build {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		b, err := c.Build(context.Background(), id)
		if err == nil && b.Status.Terminal() {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("build %d not ended after %s: %+v %v", id, within, b, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRegisteredRepositoryIsBuilt(t *testing.T) {
	repo := appRepo(t, "built", `["/app"]`)
	d := daemontest.Start(t, daemon.Config{})
	c := &client.Client{BaseURL: d.URL}
	ctx := context.Background()

	_, h := readyz(t, d)
	if dc, ok := h.Checks["docker"]; !ok || !dc.OK || !dc.Optional {
		t.Errorf("readyz: want an optional, passing docker check: %+v", h)
	} else if !strings.HasPrefix(dc.Message, "builds use BuildKit of Docker engine ") {
		t.Errorf("readyz: the docker check does not say which builder builds use: %q", dc.Message)
	}

	r := addForBuild(t, c, repo)
	b := waitBuild(t, c, r.LatestBuild.ID, 2*time.Minute)
	if b.Status != catalog.BuildSucceeded || b.CommitSHA != repo.Head(t) || b.ImageTag != builder.ImageTag(r.Slug, b.CommitSHA) || b.Builder != builder.BuilderBuildKit {
		t.Fatalf("build: %+v", b)
	}
	var lines []string
	for l, err := range c.BuildLogs(ctx, b.ID, client.BuildLogOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l.Line)
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, " hello from the image") }) {
		t.Errorf("log lacks the RUN step's output: %q", lines)
	}

	// An explicit build of the same commit is served from the cache.
	again, err := c.CreateBuild(ctx, r.Slug, client.CreateBuildRequest{})
	if err != nil {
		t.Fatal(err)
	}
	again = waitBuild(t, c, again.ID, time.Minute)
	if !again.Cached || again.ImageID != b.ImageID {
		t.Errorf("rebuild: %+v, want cached from %s", again, b.ImageID)
	}
	list, err := c.Builds(ctx, r.Slug, client.ListBuildsOptions{})
	if err != nil || len(list.Builds) != 2 || list.Builds[0].ID != again.ID {
		t.Errorf("builds: %+v %v", list, err)
	}
	if r, err := c.Repository(ctx, r.Slug); err != nil || r.LatestBuild == nil || r.LatestBuild.ID != again.ID || !r.LatestBuild.Cached {
		t.Errorf("latest build of the repository: %+v %v", r.LatestBuild, err)
	}
}

func TestCancelThroughTheAPI(t *testing.T) {
	repo := appRepo(t, "cancelled", `["/app", "sleep", "5m"]`)
	d := daemontest.Start(t, daemon.Config{})
	c := &client.Client{BaseURL: d.URL}
	ctx := context.Background()
	r := addForBuild(t, c, repo)
	id := r.LatestBuild.ID
	// Follow the log until the long step runs.
	fctx, stop := context.WithTimeout(ctx, 2*time.Minute)
	defer stop()
	for l, err := range c.BuildLogs(fctx, id, client.BuildLogOptions{Follow: true}) {
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(l.Line, " sleeping ") {
			break
		}
	}
	start := time.Now()
	b, err := c.CancelBuild(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != catalog.BuildRunning && b.Status != catalog.BuildCancelled {
		t.Errorf("cancel answered %s", b.Status)
	}
	// The step sleeps five minutes: a build ended within the wait was
	// stopped by the cancel.
	b = waitBuild(t, c, id, time.Minute)
	if b.Status != catalog.BuildCancelled {
		t.Errorf("after cancel: %s after %s (%q)", b.Status, time.Since(start), b.ErrorMessage)
	}
}

// TestBuildSurvivesADaemonCrash kills appstored (SIGKILL) in the middle of
// a build: the next appstored's reconciler takes the build back once its
// lease ran out and builds it to the end; nothing stays running.
func TestBuildSurvivesADaemonCrash(t *testing.T) {
	repo := appRepo(t, "crash", `["/app", "sleep", "3s"]`)
	bin := testenv.Binary(t, "./cmd/appstored")
	db := testenv.Postgres(t)
	data := t.TempDir()
	st, err := store.Open(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	first := testenv.StartAppstored(t, bin, "--database-url", db, "--data-dir", data)
	ctx := context.Background()
	waitFor := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %s waiting for %s", within, what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	c1 := &client.Client{BaseURL: first.URL}
	r, err := c1.AddRepository(ctx, client.AddRepositoryRequest{GitURL: repo.FileURL()})
	if err != nil {
		t.Fatal(err)
	}
	slug := r.Slug
	var id int64
	waitFor("the build to run its long step", 2*time.Minute, func() bool {
		builds, _, err := st.ListBuilds(ctx, slug, store.BuildListOptions{Limit: 1})
		if err != nil || len(builds) == 0 || builds[0].Status != catalog.BuildRunning {
			return false
		}
		id = builds[0].ID
		lines, err := st.BuildLogs(ctx, id, 0, 1000)
		for _, l := range lines {
			if strings.Contains(l.Line, " sleeping ") {
				return true
			}
		}
		return false
	})
	first.Kill()

	second := clienttest.StartAppstored(t, bin, "--database-url", db, "--data-dir", data)
	c := second.Client()
	b := waitBuild(t, c, id, 90*time.Second)
	if b.Status != catalog.BuildSucceeded || b.Attempts != 2 {
		t.Fatalf("build after the crash: %s after %d attempts (%q)", b.Status, b.Attempts, b.ErrorMessage)
	}
	evs, err := st.Events(ctx, store.EventFilter{Subject: slug, Topics: []string{"build"}})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if !slices.Contains(types, "build.requeued") || types[len(types)-1] != "build.succeeded" {
		t.Errorf("build events %v", types)
	}
	if code := httpStatus(t, second.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("readyz %d", code)
	}
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A follower of a build log must not hold up shutdown: the stream ends
// when the daemon stops, and the client resumes it elsewhere.
func TestShutdownEndsBuildLogFollowers(t *testing.T) {
	gitserver.RequireGit(t)
	// No runner: the build stays queued, so its log never ends by itself.
	d, err := daemon.Start(context.Background(), daemon.Config{
		DatabaseURL: testenv.Postgres(t), DataDir: t.TempDir(), Addr: "127.0.0.1:0",
		Roles: []string{daemon.RoleAPI, daemon.RoleWorker},
	})
	if err != nil {
		t.Fatal(err)
	}
	repo := gitserver.NewRepo(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	c := &client.Client{BaseURL: d.URL}
	ctx := context.Background()
	r := addForBuild(t, c, repo)
	// The answer's header comes once the handler follows the log.
	resp, err := http.Get(d.URL + "/api/v1/builds/" + strconv.FormatInt(r.LatestBuild.ID, 10) + "/logs?follow=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		ended <- err
	}()
	// A follower never ends by itself: a shutdown that waited for it
	// would run out of its context's time and say so.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := d.Shutdown(sctx); err != nil {
		t.Errorf("shutdown with a log follower: %v", err)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Error("the follower's stream did not end")
	}
}

func TestBuildNetworkHostIsRefused(t *testing.T) {
	for _, network := range []string{"host", "container:abc"} {
		_, err := daemon.Start(context.Background(), daemon.Config{
			DatabaseURL: testenv.Postgres(t), DataDir: t.TempDir(), Addr: "127.0.0.1:0", BuildNetwork: network,
		})
		if err == nil || !strings.Contains(err.Error(), "--build-network "+network+": refused") {
			t.Errorf("--build-network %s: %v", network, err)
		}
	}
}
