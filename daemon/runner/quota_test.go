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
	h := newHarness(t, runner.Config{MaxRunning: 2, IdleTimeout: 6 * time.Second, WakeBurst: 1, WakeInterval: time.Hour})
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
	// cat and dog take the two places. (A request keeps each awake for
	// the idle timeout: cat gets one as soon as it runs, so that it does
	// not fall asleep while a loaded machine starts dog.)
	keepAwake := func(slugs ...string) {
		for _, slug := range slugs {
			if resp, _ := h.get(h.previewURL(slug, "/")); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", slug, resp.StatusCode)
			}
		}
	}
	for _, slug := range []string{"cat", "dog"} {
		if l := h.launch(slug, appclient.LaunchRequest{}); l.Status != catalog.LaunchRunning {
			t.Fatalf("launch %s: %+v", slug, l)
		}
		keepAwake("cat")
	}
	keepAwake("cat", "dog")
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
	keepAwake("cat", "dog")
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

// TestCatalogMaxRunningAcrossTwoRunners: two runners share one catalogue
// with --catalog-max-running 2 (and the default per-runner cap). One app
// runs on each; a third launch is refused by either runner with 429, naming
// both apps and the other's runner; once one stops, the next launch
// through either runner is admitted. Two launches racing for that place
// through the two runners: exactly one is admitted.
func TestCatalogMaxRunningAcrossTwoRunners(t *testing.T) {
	t.Parallel()
	a := newHarness(t, runner.Config{CatalogMaxRunning: 2})
	b := newHarness(t, runner.Config{Store: a.st, CatalogMaxRunning: 2})
	for _, slug := range []string{"hen", "ibis", "jay", "kea"} {
		a.app(slug, 0, runnertest.ImageOptions{})
	}
	ctx := context.Background()
	hen := a.launch("hen", appclient.LaunchRequest{})
	ibis := b.launch("ibis", appclient.LaunchRequest{})
	if hen.Status != catalog.LaunchRunning || ibis.Status != catalog.LaunchRunning {
		t.Fatalf("launches: %+v %+v", hen, ibis)
	}
	for _, h := range []*harness{a, b} {
		_, err := h.api.StartLaunch(ctx, "jay", appclient.LaunchRequest{})
		if !appclient.IsQuota(err) || cli.ExitCode(err) != cli.ExitQuota {
			t.Fatalf("third launch through %s: %v (exit %d)", h.r.ID(), err, cli.ExitCode(err))
		}
		other := b.r.ID()
		if h == b {
			other = a.r.ID()
		}
		for _, want := range []string{"--catalog-max-running 2", "in this catalogue", "hen (launch", "ibis (launch", "runner " + other} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("refusal through %s %q does not say %q", h.r.ID(), err, want)
			}
		}
	}
	if ls, _ := a.st.ListLaunches(ctx, storeFilter("jay")); len(ls) != 0 {
		t.Errorf("refused launches recorded %d rows", len(ls))
	}
	// A relaunch of a running app is admitted at the cap.
	if l, err := b.api.StartLaunch(ctx, "ibis", appclient.LaunchRequest{}); err != nil || l.Origin != "reused" {
		t.Errorf("relaunch of ibis at the cap: %v %+v", err, l)
	}
	// One place frees: jay and kea race for it through the two runners.
	if _, err := a.api.StopLaunch(ctx, hen.ID); err != nil {
		t.Fatal(err)
	}
	type result struct {
		l   *catalog.Launch
		err error
	}
	results := make(chan result, 2)
	for i, h := range []*harness{a, b} {
		slug := []string{"jay", "kea"}[i]
		go func() {
			l, err := h.api.StartLaunch(ctx, slug, appclient.LaunchRequest{})
			results <- result{l, err}
		}()
	}
	var won *catalog.Launch
	refused := 0
	for range 2 {
		r := <-results
		switch {
		case r.err == nil:
			won = r.l
		case appclient.IsQuota(r.err):
			refused++
		default:
			t.Fatalf("racing launch: %v", r.err)
		}
	}
	if won == nil || refused != 1 {
		t.Fatalf("racing for the last place: admitted %+v, %d refused; want one of each", won, refused)
	}
	winner := a
	if won.Runner == b.r.ID() {
		winner = b
	}
	if l, err := winner.api.WaitLaunch(ctx, won.ID, 2*time.Minute); err != nil || l.Status != catalog.LaunchRunning {
		t.Fatalf("the admitted launch: %v %+v", err, l)
	}
	running := 0
	for _, h := range []*harness{a, b} {
		running += len(runnertest.Containers(t, h.docker, h.r.ID()))
	}
	if running != 2 {
		t.Errorf("%d containers on the two runners, want 2 (the catalogue's cap)", running)
	}
}
