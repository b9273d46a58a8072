package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
)

// TestStopMeansStopped: a launch stopped on request is not started again by
// requests to its preview, which answer a page that says so and how to
// launch it; an app never launched is not started by a request either.
func TestStopMeansStopped(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("calm", 0, runnertest.ImageOptions{})
	h.app("fresh", 0, runnertest.ImageOptions{})
	l := h.launch("calm", appclient.LaunchRequest{})
	if l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %+v", l)
	}
	stopped, err := h.api.StopLaunch(context.Background(), l.ID)
	if err != nil || stopped.StopReason != "user" {
		t.Fatalf("stop: %v %+v", err, stopped)
	}
	for i := 0; i < 3; i++ {
		resp, body := h.get(h.previewURL("calm", "/"))
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "stopped on request") ||
			!strings.Contains(body, "appstore launch calm") || !strings.Contains(body, "/app/calm") {
			t.Errorf("request %d after stop: %d %q", i, resp.StatusCode, body)
		}
	}
	resp, body := h.get(h.srv.URL+"/apps/calm/", "Accept", "text/html")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `<a href="`+h.srv.URL+`/app/calm">`) ||
		!strings.Contains(body, "<code>appstore launch calm</code>") {
		t.Errorf("browser after stop: %d %q", resp.StatusCode, body)
	}
	resp, body = h.get(h.previewURL("fresh", "/"))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "not been launched yet") {
		t.Errorf("never launched: %d %q", resp.StatusCode, body)
	}
	for _, slug := range []string{"calm", "fresh"} {
		if ls, _ := h.st.ListLaunches(context.Background(), storeFilter(slug)); len(ls) > 1 || slug == "fresh" && len(ls) != 0 {
			t.Errorf("%s: requests made launches: %+v", slug, ls)
		}
	}
	if cs := runnertest.Containers(t, h.docker, h.r.ID()); len(cs) != 0 {
		t.Errorf("%d containers after requests to stopped apps", len(cs))
	}
	// Launching again works, and serves.
	if l := h.launch("calm", appclient.LaunchRequest{}); l.Status != catalog.LaunchRunning {
		t.Fatalf("launch again: %+v", l)
	}
	if resp, _ := h.get(h.previewURL("calm", "/")); resp.StatusCode != 200 {
		t.Errorf("after launching again: %d", resp.StatusCode)
	}
}

// TestLaunchSaysWhatItDid: a second request joins the running launch
// (origin reused) and a shorter TTL is honoured; another profile starts a
// new launch that replaces the running one and says which.
func TestLaunchSaysWhatItDid(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("clock", 0, runnertest.ImageOptions{})
	ctx := context.Background()
	first, err := h.api.StartLaunch(ctx, "clock", appclient.LaunchRequest{})
	if err != nil || first.Origin != "created" || first.Replaces != nil {
		t.Fatalf("first launch: %v %+v", err, first)
	}
	first = h.waitStatus(first.ID, catalog.LaunchRunning, time.Minute)
	asked := time.Now()
	again, err := h.api.StartLaunch(ctx, "clock", appclient.LaunchRequest{TTL: "10s"})
	answered := time.Now()
	if err != nil || again.ID != first.ID || again.Origin != "reused" {
		t.Fatalf("again: %v %+v", err, again)
	}
	// 10 s from the request, whenever its answer came.
	if e := *again.ExpiresAt; e.Before(asked.Add(10*time.Second-time.Second)) || e.After(answered.Add(10*time.Second+time.Second)) {
		t.Errorf("--ttl 10s on a running launch: ends %v after the request, want 10s", e.Sub(asked))
	}
	// Back to an hour, so that the launch is still there to be replaced
	// however long the next one takes to start on a loaded machine.
	if _, err := h.api.StartLaunch(ctx, "clock", appclient.LaunchRequest{TTL: "1h"}); err != nil {
		t.Fatal(err)
	}
	bigger, err := h.api.StartLaunch(ctx, "clock", appclient.LaunchRequest{Profile: "medium"})
	if err != nil || bigger.ID == first.ID || bigger.Origin != "created" || bigger.Replaces == nil || *bigger.Replaces != first.ID {
		t.Fatalf("another profile: %v %+v", err, bigger)
	}
	h.waitStatus(bigger.ID, catalog.LaunchRunning, time.Minute)
	old := h.waitStatus(first.ID, catalog.LaunchStopped, 30*time.Second)
	if old.StopReason != "replaced" || !strings.Contains(old.ErrorMessage, fmt.Sprintf("replaced by launch %d", bigger.ID)) {
		t.Errorf("replaced launch: %q %q", old.StopReason, old.ErrorMessage)
	}
}

// TestRedeployWithoutAFailedRequest: a newer build of a launched app
// replaces its launch by itself; requests sent all along are all served
// (the new container answers before the old one stops), first by the old
// build, then by the new one. With redeploy off, the launch stays and is
// marked outdated.
func TestRedeployWithoutAFailedRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	repoID, _ := h.app("live", 0, runnertest.ImageOptions{Args: []string{"-name", "live-v1"}})
	old := h.launch("live", appclient.LaunchRequest{Profile: "medium"})
	if old.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %+v", old)
	}
	var (
		stop     atomic.Bool
		mu       sync.Mutex
		failures []string
		sawV1    atomic.Int64
		sawV2    atomic.Int64
		wg       sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		// Half the requests take 300 ms: some are in flight when the old
		// launch is stopped.
		path := "/"
		if w%2 == 1 {
			path = "/slow?d=300ms"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, err := h.web.Get(h.previewURL("live", path))
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				buf := make([]byte, 256)
				n, _ := resp.Body.Read(buf)
				resp.Body.Close()
				body := string(buf[:n])
				switch {
				case resp.StatusCode != 200:
					mu.Lock()
					failures = append(failures, resp.Status+" "+body)
					mu.Unlock()
				case strings.HasPrefix(body, "hello from live-v1"):
					sawV1.Add(1)
				case strings.HasPrefix(body, "hello from live-v2"):
					sawV2.Add(1)
				}
			}
		}()
	}
	waitFor(t, 10*time.Second, "requests served by v1", func() bool { return sawV1.Load() > 20 })
	tag, id := runnertest.Image(t, h.docker, runnertest.ImageOptions{Args: []string{"-name", "live-v2"}})
	v2 := runnertest.AddBuild(t, h.st, repoID, tag, id)
	waitFor(t, time.Minute, "requests served by v2", func() bool { return sawV2.Load() > 20 })
	replaced := h.waitStatus(old.ID, catalog.LaunchStopped, 30*time.Second)
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d requests failed during the redeploy, e.g. %q", len(failures), failures[0])
	}
	if replaced.StopReason != "replaced" {
		t.Errorf("old launch: %q %q", replaced.StopReason, replaced.ErrorMessage)
	}
	ls, _ := h.st.ListLaunches(context.Background(), store.LaunchFilter{Repository: "live", Active: true})
	if len(ls) != 1 || *ls[0].BuildID != v2 || ls[0].ResourceProfile != "medium" || ls[0].Outdated {
		t.Fatalf("active launches after the redeploy: %+v", ls)
	}
	current := ls[0]
	evs, err := h.st.Events(context.Background(), store.EventFilter{Topics: []string{"launch"}, Subject: "live"})
	if err != nil {
		t.Fatal(err)
	}
	marked := false
	for _, e := range evs {
		var d struct {
			LaunchID   int64 `json:"launch_id"`
			RedeployOf int64 `json:"redeploy_of"`
		}
		_ = json.Unmarshal(e.Data, &d)
		marked = marked || e.Type == "launch.starting" && d.LaunchID == current.ID && d.RedeployOf == old.ID
	}
	if !marked {
		t.Errorf("the redeploy's launch.starting does not name the launch it replaces")
	}

	// Manual: a newer build is only marked.
	off := false
	if _, err := h.api.UpdateRepository(context.Background(), "live", appclient.UpdateRepositoryRequest{Redeploy: &off}); err != nil {
		t.Fatal(err)
	}
	tag, id = runnertest.Image(t, h.docker, runnertest.ImageOptions{Args: []string{"-name", "live-v3"}})
	v3 := runnertest.AddBuild(t, h.st, repoID, tag, id)
	time.Sleep(time.Second) // ten sweeps
	got, err := h.api.Launch(context.Background(), current.ID)
	if err != nil || got.Status != catalog.LaunchRunning || !got.Outdated || got.LatestBuildID == nil || *got.LatestBuildID != v3 {
		t.Errorf("with redeploy off: %v %+v", err, got)
	}
	if _, body := h.get(h.previewURL("live", "/")); !strings.HasPrefix(body, "hello from live-v2") {
		t.Errorf("with redeploy off the preview serves %q", body)
	}
}

// TestRemoveStopsTheLaunches: removing an app stops its launches (warm
// container included) before the answer; no container is left.
func TestRemoveStopsTheLaunches(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("gone", 0, runnertest.ImageOptions{})
	if l := h.launch("gone", appclient.LaunchRequest{}); l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %+v", l)
	}
	if err := h.api.DeleteRepository(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	if cs := runnertest.Containers(t, h.docker, h.r.ID()); len(cs) != 0 {
		t.Errorf("%d containers of a removed app right after rm", len(cs))
	}
	if resp, _ := h.get(h.previewURL("gone", "/")); resp.StatusCode != http.StatusNotFound {
		t.Errorf("preview of a removed app: %d", resp.StatusCode)
	}
}
