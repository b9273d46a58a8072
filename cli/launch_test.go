package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/cli"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/client/clienttest"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// appstoreTTY runs the CLI in process as on a terminal, with env.
func appstoreTTY(t *testing.T, env map[string]string, args ...string) run {
	t.Helper()
	ios, out, errOut := cli.TestStreams("")
	ios.SetTTY(false, true, false)
	code := cli.Main(context.Background(), cli.NewFactory(ios, func(k string) string { return env[k] }), args)
	return run{code, out.String(), errOut.String()}
}

// TestLaunchPsStopLogsAgainstAppstored drives launch, ps, stop and logs
// --app against the real daemon, real PostgreSQL and real containers.
func TestLaunchPsStopLogsAgainstAppstored(t *testing.T) {
	cli_ := runnertest.Docker(t)
	db := testenv.Postgres(t)
	dataDir := t.TempDir()
	d := clienttest.StartAppstored(t, testenv.Binary(t, "./cmd/appstored"),
		"--database-url", db, "--data-dir", dataDir, "--startup-timeout", "20s")
	runnerID, err := os.ReadFile(filepath.Join(dataDir, "runner-id"))
	if err != nil {
		t.Fatal(err)
	}
	runnertest.CleanupContainers(t, cli_, strings.TrimSpace(string(runnerID)))
	st, err := store.Open(context.Background(), db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tag, id := runnertest.Image(t, cli_, runnertest.ImageOptions{Args: []string{"-name", "dash"}})
	runnertest.App(t, st, "dash", tag, id, 0)
	ctag, cid := runnertest.Image(t, cli_, runnertest.ImageOptions{Args: []string{"-mode", "crash"}})
	runnertest.App(t, st, "broken", ctag, cid, 0)

	// In a pipe, launch prints the preview URL only, once the app answers.
	// It learns that from the event stream: the daemon's long poll
	// (?wait=) is refused on this path.
	streamOnly, longPolls := withoutLongPoll(t, d.URL)
	r := appstoreIn(t, streamOnly, "", "launch", "dash", "--ttl", "30m")
	port := d.URL[strings.LastIndex(d.URL, ":")+1:]
	if r.code != 0 || r.stdout != "http://dash.localhost:"+port+"/\n" || longPolls.Load() != 0 {
		t.Fatalf("launch: %+v, %d long polls", r, longPolls.Load())
	}
	req, _ := http.NewRequest(http.MethodGet, d.URL+"/", nil)
	req.Host = "dash.localhost:" + port
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello from dash") {
		t.Errorf("preview URL: %d %q", resp.StatusCode, body)
	}

	// On a terminal it says more and opens the browser ($BROWSER).
	opened := filepath.Join(t.TempDir(), "opened")
	browser := filepath.Join(t.TempDir(), "browser")
	if err := os.WriteFile(browser, []byte("#!/bin/sh\nprintf '%s' \"$1\" > "+opened+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r = appstoreTTY(t, map[string]string{cli.EnvURL: d.URL, cli.EnvNoColor: "1", "BROWSER": browser}, "launch", "dash")
	if r.code != 0 || !strings.Contains(r.stdout, "dash is already running at http://dash.localhost:"+port+"/") || !strings.Contains(r.stdout, "/apps/dash/") ||
		!strings.Contains(r.stdout, "reused launch") || !strings.Contains(r.stdout, "expiry now") {
		t.Errorf("launch on a terminal of a running app: %+v", r)
	}
	waitForFile(t, opened, "http://dash.localhost:"+port+"/")
	r = appstoreTTY(t, map[string]string{cli.EnvURL: d.URL, cli.EnvNoColor: "1", "BROWSER": "/nonexistent/browser"}, "launch", "dash", "--no-open")
	if r.code != 0 || strings.Contains(r.stderr, "Could not open") {
		t.Errorf("launch --no-open: %+v", r)
	}

	r = appstoreIn(t, d.URL, "", "launch", "dash", "--json")
	var l client.Launch
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil || r.code != 0 || l.Status != catalog.LaunchRunning || l.Repository != "dash" {
		t.Fatalf("launch --json: %v %+v", err, r)
	}

	r = appstoreIn(t, d.URL, "", "ps")
	fields := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\t")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || len(fields) != 10 || fields[1] != "dash" || fields[2] != "running" || fields[4] != l.PreviewURL || fields[9] != "local" {
		t.Errorf("ps: %+v", r)
	}
	if r = appstoreIn(t, d.URL, "", "ps", "-q"); r.stdout != strings.TrimSpace(fields[0])+"\n" {
		t.Errorf("ps -q: %+v", r)
	}

	// stop completes the apps that run, not every app.
	if r = appstoreIn(t, d.URL, "", "__complete", "stop", ""); !strings.Contains(r.stdout, "dash\tlaunch ") || strings.Contains(r.stdout, "broken") {
		t.Errorf("stop completion: %+v", r)
	}
	// ps names the build.
	if fields[7] != strconv.FormatInt(*l.BuildID, 10) || fields[8] != "" {
		t.Errorf("ps build fields: %q", fields)
	}

	// The app's output, stdout and stderr apart.
	r = appstoreIn(t, d.URL, "", "logs", "dash", "--app")
	if r.code != 0 || !strings.Contains(r.stdout, "dash starting (mode serve)\n") || !strings.Contains(r.stdout, "dash listening on 8080\n") {
		t.Errorf("logs --app: %+v", r)
	}

	// A crashing app: exit 1 with the reason and its output (launch.failed
	// on the stream ends the wait).
	r = appstoreIn(t, streamOnly, "", "launch", "broken")
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "exited with code 3") || !strings.Contains(r.stderr, "DATABASE_URL is not set") || r.stdout != "" || longPolls.Load() != 0 {
		t.Errorf("launch of a crashing app: %+v, %d long polls", r, longPolls.Load())
	}
	r = appstoreIn(t, d.URL, "", "logs", "broken", "--app")
	if r.code != cli.ExitNotFound || !strings.Contains(r.stderr, "failed") {
		t.Errorf("logs --app of a failed launch: %+v", r)
	}
	if _, err := st.CreateRepository(context.Background(), store.NewRepository{GitURL: "https://git.example.com/t/unbuilt.git", GitURLKey: "git.example.com/t/unbuilt", Name: "unbuilt"}); err != nil {
		t.Fatal(err)
	}
	r = appstoreIn(t, d.URL, "", "launch", "unbuilt")
	if r.code != cli.ExitConflict || !strings.Contains(r.stderr, "no build of unbuilt yet: it is still being ingested") {
		t.Errorf("launch of an unbuilt app: %+v", r)
	}
	if r = appstoreIn(t, d.URL, "", "launch", "nope"); r.code != cli.ExitNotFound {
		t.Errorf("launch nope: %+v", r)
	}

	// By launch id, then (launched again) by slug.
	r = appstoreIn(t, d.URL, "", "stop", strconv.FormatInt(l.ID, 10), "-q")
	if r.code != 0 || r.stdout != strconv.FormatInt(l.ID, 10)+"\n" {
		t.Errorf("stop %d -q: %+v", l.ID, r)
	}
	if got, err := d.Client().Launch(context.Background(), l.ID); err != nil || got.Status != catalog.LaunchStopped {
		t.Errorf("launch %d after stop by id: %+v %v", l.ID, got, err)
	}
	if r = appstoreIn(t, d.URL, "", "launch", "dash", "-q"); r.code != 0 {
		t.Fatalf("launch dash again: %+v", r)
	}
	r = appstoreIn(t, d.URL, "", "stop", "dash", "--json")
	var stopped []client.Launch
	if err := json.Unmarshal([]byte(r.stdout), &stopped); err != nil || r.code != 0 || len(stopped) != 1 || stopped[0].Status != catalog.LaunchStopped {
		t.Errorf("stop dash: %v %+v", err, r)
	}
	if r = appstoreIn(t, d.URL, "", "stop", "dash"); r.code != 0 || !strings.Contains(r.stderr, "dash is not running") {
		t.Errorf("stop of a stopped app: %+v", r)
	}
	if r = appstoreIn(t, d.URL, "", "stop", "nope"); r.code != cli.ExitNotFound {
		t.Errorf("stop nope: %+v", r)
	}
	if r = appstoreIn(t, d.URL, "", "ps"); r.code != 0 || r.stdout != "" {
		t.Errorf("ps after stop: %+v", r)
	}
	r = appstoreIn(t, d.URL, "", "ps", "--all", "--app", "dash")
	if r.code != 0 || !strings.Contains(r.stdout, "\tstopped\t") || !strings.Contains(r.stdout, "stopped on request") {
		t.Errorf("ps --all: %+v", r)
	}

	// rm stops what runs before it answers, and the prompt says so.
	if r = appstoreIn(t, d.URL, "", "launch", "dash", "-q"); r.code != 0 {
		t.Fatalf("launch dash before rm: %+v", r)
	}
	ios, out, _ := cli.TestStreams("y\n")
	ios.SetTTY(true, true, true)
	code := cli.Main(context.Background(), cli.NewFactory(ios, func(k string) string {
		return map[string]string{cli.EnvURL: d.URL, cli.EnvNoColor: "1"}[k]
	}), []string{"rm", "dash"})
	if code != 0 || !strings.Contains(out.String(), "dash is running (launch ") || !strings.Contains(out.String(), "rm stops it") ||
		!strings.Contains(out.String(), "✓ Removed dash (stopped launch ") {
		t.Errorf("rm of a running app: exit %d\n%s", code, out)
	}
	if cs := runnertest.Containers(t, cli_, strings.TrimSpace(string(runnerID))); len(cs) != 0 {
		t.Errorf("%d containers of the removed app right after rm", len(cs))
	}
}

func waitForFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q (%v), want %q", path, b, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// withoutLongPoll serves the daemon at target through a reverse proxy
// (WebSocket upgrades included) that refuses GET /api/v1/launches/{id}?wait=
// with a 500 and counts those requests: a launch that waits through it must
// follow the event stream.
func withoutLongPoll(t *testing.T, target string) (string, *atomic.Int64) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	var refused atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/launches/") && r.URL.Query().Has("wait") {
			refused.Add(1)
			http.Error(w, `{"error":{"code":"internal","message":"long poll refused by the test"}}`, http.StatusInternalServerError)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &refused
}
