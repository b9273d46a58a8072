package runner_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/cli"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
)

// TestMaxRunningRefusesAndSaysWhatRuns: with --max-running 2, a third app's
// launch is refused with 429 (code quota, CLI exit 6) naming what runs and
// how to stop it; a preview request that would wake a sleeping app is
// refused the same way, and a client that woke its allowance of apps is
// told to wait.
func TestMaxRunningRefusesAndSaysWhatRuns(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{MaxRunning: 2, IdleTimeout: 4 * time.Second, WakeBurst: 1, WakeInterval: time.Hour})
	for _, slug := range []string{"ant", "bee", "cat", "dog"} {
		h.app(slug, 0, runnertest.ImageOptions{})
	}
	ctx := context.Background()
	// ant and bee run, then sleep.
	for _, slug := range []string{"ant", "bee"} {
		if l := h.launch(slug, appclient.LaunchRequest{}); l.Status != catalog.LaunchRunning {
			t.Fatalf("launch %s: %+v", slug, l)
		}
	}
	for _, slug := range []string{"ant", "bee"} {
		waitFor(t, 30*time.Second, slug+" asleep", func() bool {
			ls, _ := h.st.ListLaunches(ctx, storeFilter(slug))
			return len(ls) > 0 && ls[0].Status == catalog.LaunchStopped && ls[0].StopReason == "idle"
		})
	}
	// cat and dog take the two places.
	for _, slug := range []string{"cat", "dog"} {
		if l := h.launch(slug, appclient.LaunchRequest{}); l.Status != catalog.LaunchRunning {
			t.Fatalf("launch %s: %+v", slug, l)
		}
	}
	// (A request keeps each awake for the idle timeout.)
	keepAwake := func() {
		for _, slug := range []string{"cat", "dog"} {
			if resp, _ := h.get(h.previewURL(slug, "/")); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", slug, resp.StatusCode)
			}
		}
	}
	keepAwake()
	// A third launch by the API: 429, what runs, what to do.
	_, err := h.api.StartLaunch(ctx, "ant", appclient.LaunchRequest{})
	var ae *appclient.APIError
	if !appclient.IsQuota(err) || cli.ExitCode(err) != cli.ExitQuota {
		t.Fatalf("launch past --max-running: %v (exit %d)", err, cli.ExitCode(err))
	}
	if ok := asAPIError(err, &ae); !ok || ae.StatusCode != http.StatusTooManyRequests {
		t.Errorf("status: %+v", ae)
	}
	for _, want := range []string{"--max-running 2", "cat (launch", "dog (launch", "appstore stop cat", "--evict-idle"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	// A relaunch of an app that runs is not refused.
	if l, err := h.api.StartLaunch(ctx, "cat", appclient.LaunchRequest{}); err != nil || l.Status != catalog.LaunchRunning || l.Origin != "reused" {
		t.Errorf("launch of a running app at the cap: %v %+v", err, l)
	}
	// A wake by a preview request: the same refusal, as a page.
	keepAwake()
	resp, body := h.get(h.previewURL("ant", "/"))
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "--max-running 2") {
		t.Errorf("wake past the cap: %d %q", resp.StatusCode, body)
	}
	// That client has used its one wake: the next is refused before any
	// launch is tried.
	resp, body = h.get(h.previewURL("bee", "/"))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "started too many apps") {
		t.Errorf("second wake of the client: %d %q", resp.StatusCode, body)
	}
	for _, slug := range []string{"ant", "bee"} {
		if ls, _ := h.st.ListLaunches(ctx, storeFilter(slug)); len(ls) != 1 {
			t.Errorf("%s has %d launches, want its first only: a refused wake starts nothing", slug, len(ls))
		}
	}
	if n := len(runnertest.Containers(t, h.docker, h.r.ID())); n != 2 {
		t.Errorf("%d containers, want 2", n)
	}
}

// TestEvictIdleMakesRoom: with --max-running-memory for two small launches
// and --evict-idle, a third launch puts the least recently used idle app to
// sleep (stop reason evicted), and a request to that app wakes it, putting
// the next least recently used one to sleep.
func TestEvictIdleMakesRoom(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{MaxRunningMemory: 600 << 20, EvictIdle: true})
	for _, slug := range []string{"elk", "fox", "gnu"} {
		h.app(slug, 0, runnertest.ImageOptions{})
	}
	ctx := context.Background()
	elk := h.launch("elk", appclient.LaunchRequest{})
	fox := h.launch("fox", appclient.LaunchRequest{})
	if elk.Status != catalog.LaunchRunning || fox.Status != catalog.LaunchRunning {
		t.Fatalf("launches: %+v %+v", elk, fox)
	}
	// elk is used after fox started: fox is the least recently used.
	if resp, _ := h.get(h.previewURL("elk", "/")); resp.StatusCode != http.StatusOK {
		t.Fatalf("elk: %d", resp.StatusCode)
	}
	gnu := h.launch("gnu", appclient.LaunchRequest{})
	if gnu.Status != catalog.LaunchRunning {
		t.Fatalf("launch past the memory cap with --evict-idle: %+v", gnu)
	}
	if l, _ := h.st.Launch(ctx, fox.ID); l.Status != catalog.LaunchStopped || l.StopReason != "evicted" || !strings.Contains(l.ErrorMessage, "make room for gnu") {
		t.Errorf("fox: %s %q %q, want stopped, evicted for gnu", l.Status, l.StopReason, l.ErrorMessage)
	}
	if l, _ := h.st.Launch(ctx, elk.ID); l.Status != catalog.LaunchRunning {
		t.Errorf("elk (used recently): %s, want running", l.Status)
	}
	// A request wakes fox; elk, now the least recently used, makes room.
	resp, body := h.get(h.previewURL("fox", "/"))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "hello from fox") {
		t.Errorf("wake of the evicted app: %d %q", resp.StatusCode, body)
	}
	if l, _ := h.st.Launch(ctx, elk.ID); l.Status != catalog.LaunchStopped || l.StopReason != "evicted" {
		t.Errorf("elk after fox woke: %s %q, want evicted", l.Status, l.StopReason)
	}
	if n := len(runnertest.Containers(t, h.docker, h.r.ID())); n != 2 {
		t.Errorf("%d containers, want 2 (the cap)", n)
	}
}

func asAPIError(err error, target **appclient.APIError) bool {
	e, ok := err.(*appclient.APIError)
	if ok {
		*target = e
	}
	return ok
}
