package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
)

func TestLaunchServesThroughBothURLForms(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("dash", 0, runnertest.ImageOptions{})

	l := h.launch("dash", appclient.LaunchRequest{})
	if l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %s %s", l.Status, l.ErrorMessage)
	}
	if l.AppPort != runner.DefaultAppPort || l.HostPort == 0 || l.ContainerID == "" || l.StartedAt == nil {
		t.Errorf("launch %+v: want port 8080 (nothing else said), a host port and a container", l)
	}
	if want := "http://dash.localhost:" + h.port + "/"; l.PreviewURL != want {
		t.Errorf("preview URL %q, want %q", l.PreviewURL, want)
	}

	resp, body := h.get(h.previewURL("dash", "/"))
	if resp.StatusCode != 200 || body != "hello from dash on port 8080 path /\n" {
		t.Errorf("host form: %d %q", resp.StatusCode, body)
	}
	// The path fallback strips its prefix and says so.
	resp, body = h.get(h.srv.URL + "/apps/dash/headers?x=1")
	var hdr map[string]string
	if err := json.Unmarshal([]byte(body), &hdr); err != nil || resp.StatusCode != 200 {
		t.Fatalf("path form: %d %q %v", resp.StatusCode, body, err)
	}
	if hdr["Path"] != "/headers?x=1" || hdr["X-Forwarded-Prefix"] != "/apps/dash" || hdr["X-Forwarded-For"] != "127.0.0.1" ||
		hdr["X-Forwarded-Proto"] != "http" || hdr["X-Forwarded-Host"] != strings.TrimPrefix(h.srv.URL, "http://") {
		t.Errorf("headers seen by the app through /apps/dash/: %v", hdr)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("path form without the sandbox policy: %q", resp.Header.Get("Content-Security-Policy"))
	}
	_, body = h.get(h.previewURL("dash", "/headers"), "X-Forwarded-For", "6.6.6.6")
	if err := json.Unmarshal([]byte(body), &hdr); err != nil {
		t.Fatal(err)
	}
	if hdr["Host"] != "dash.localhost:"+h.port || hdr["X-Forwarded-Host"] != hdr["Host"] || hdr["X-Forwarded-For"] != "127.0.0.1" {
		t.Errorf("headers seen by the app through the host form (a client's X-Forwarded-For must not pass): %v", hdr)
	}
	// Redirects and cookies stay under the prefix.
	resp, _ = h.get(h.srv.URL + "/apps/dash/redirect")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/apps/dash/target" {
		t.Errorf("redirect through the path form: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if c := resp.Header.Get("Set-Cookie"); !strings.Contains(c, "Path=/apps/dash/") {
		t.Errorf("cookie through the path form: %q", c)
	}
	resp, _ = h.get(h.previewURL("dash", "/redirect"))
	if resp.Header.Get("Location") != "/target" {
		t.Errorf("redirect through the host form: Location %q", resp.Header.Get("Location"))
	}
	resp, _ = h.get(h.srv.URL + "/apps/dash")
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "/apps/dash/" {
		t.Errorf("/apps/dash: %d %q, want a redirect to /apps/dash/", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A preview host of another domain is not ours.
	resp, _ = h.get(strings.Replace(h.previewURL("dash", "/"), "localhost", "example.com", 1))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("dash.example.com: %d, want the API guard's 403", resp.StatusCode)
	}

	// Launching again joins the running launch.
	again, err := h.api.StartLaunch(context.Background(), "dash", appclient.LaunchRequest{TTL: "2h"})
	if err != nil || again.ID != l.ID || again.Status != catalog.LaunchRunning {
		t.Fatalf("second launch: %v %+v", err, again)
	}
	if again.ExpiresAt.Sub(*l.ExpiresAt) < 50*time.Minute {
		t.Errorf("second launch with ttl 2h did not extend the expiry: %v then %v", l.ExpiresAt, again.ExpiresAt)
	}
	// The proxy's request times reach the database in batches.
	waitFor(t, 5*time.Second, "last_request_at", func() bool {
		got, err := h.st.Launch(context.Background(), l.ID)
		return err == nil && got.LastRequestAt != nil
	})

	stopped, err := h.api.StopLaunch(context.Background(), l.ID)
	if err != nil || stopped.Status != catalog.LaunchStopped || stopped.StoppedAt == nil {
		t.Fatalf("stop: %v %+v", err, stopped)
	}
	if cs := runnertest.Containers(t, h.docker, h.r.ID()); len(cs) != 0 {
		t.Errorf("containers after stop: %d", len(cs))
	}
	want := []string{"launch.starting", "launch.running", "launch.stopping", "launch.stopped"}
	if got := h.eventTypes("dash"); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	list, err := h.api.Launches(context.Background(), appclient.ListLaunchesOptions{Repository: "dash"})
	if err != nil || len(list.Launches) != 1 || list.Launches[0].Status != catalog.LaunchStopped {
		t.Errorf("list: %v %+v", err, list)
	}
	if active, _ := h.api.Launches(context.Background(), appclient.ListLaunchesOptions{Active: true}); len(active.Launches) != 0 {
		t.Errorf("active launches after stop: %+v", active.Launches)
	}
}

func TestWebSocketThroughTheProxy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("chat", 0, runnertest.ImageOptions{})
	if l := h.launch("chat", appclient.LaunchRequest{}); l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %+v", l)
	}
	for _, u := range []string{
		"ws://chat.localhost:" + h.port + "/ws",
		strings.Replace(h.srv.URL, "http", "ws", 1) + "/apps/chat/ws",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: h.web})
		if err != nil {
			cancel()
			t.Fatalf("dial %s: %v", u, err)
		}
		c.SetReadLimit(1 << 20)
		for _, msg := range []string{"hello", strings.Repeat("x", 70000)} {
			if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			_, got, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "echo: "+msg {
				t.Errorf("%s: echo of %d bytes is %d bytes", u, len(msg), len(got))
			}
		}
		c.Close(websocket.StatusNormalClosure, "")
		cancel()
	}
}

func TestAppPortFromRepositoryImageOrDefault(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("declared", 9123, runnertest.ImageOptions{Args: []string{"-name", "declared"}})
	h.app("exposed", 0, runnertest.ImageOptions{Args: []string{"-name", "exposed"}, Expose: []int{7000}})
	for slug, port := range map[string]string{"declared": "9123", "exposed": "7000"} {
		l := h.launch(slug, appclient.LaunchRequest{})
		if l.Status != catalog.LaunchRunning || l.AppPort == 0 {
			t.Fatalf("%s: %+v", slug, l)
		}
		resp, body := h.get(h.previewURL(slug, "/env"))
		if resp.StatusCode != 200 || !strings.Contains(body, `"PORT=`+port+`"`) {
			t.Errorf("%s: %d, env %s, want PORT=%s", slug, resp.StatusCode, body, port)
		}
		ins, err := h.docker.ContainerInspect(context.Background(), l.ContainerID)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ins.Config.ExposedPorts[natPort(port)]; !ok {
			t.Errorf("%s: exposed ports %v", slug, ins.Config.ExposedPorts)
		}
	}
}

func TestCrashAtStartFailsWithExitCodeAndOutput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("broken", 0, runnertest.ImageOptions{Args: []string{"-mode", "crash"}})
	l := h.launch("broken", appclient.LaunchRequest{})
	if l.Status != catalog.LaunchFailed || l.ExitCode == nil || *l.ExitCode != 3 {
		t.Fatalf("launch of a crashing app: %s exit %v: %s", l.Status, l.ExitCode, l.ErrorMessage)
	}
	for _, want := range []string{"exited with code 3 before it was ready", "fatal: DATABASE_URL is not set"} {
		if !strings.Contains(l.ErrorMessage, want) {
			t.Errorf("error %q does not say %q", l.ErrorMessage, want)
		}
	}
	if cs := runnertest.Containers(t, h.docker, h.r.ID()); len(cs) != 0 {
		t.Errorf("the crashed container was kept: %d", len(cs))
	}
	if got, want := h.eventTypes("broken"), []string{"launch.starting", "launch.failed"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	// A request to the preview of a crashed app tells why, and does not
	// start it again.
	for i := 0; i < 2; i++ {
		resp, body := h.get(h.previewURL("broken", "/"))
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "DATABASE_URL") || !strings.Contains(body, "appstore launch broken") {
			t.Errorf("request %d to a crashed app: %d %q", i, resp.StatusCode, body)
		}
	}
	all, _ := h.st.ListLaunches(context.Background(), storeFilter("broken"))
	if len(all) != 1 {
		t.Errorf("%d launches, want 1 (requests do not start a failed app)", len(all))
	}
}

// TestSlowerThanTheStartupTimeoutFails: an app that does not listen within
// the startup timeout fails with its output. The timeout counts from the
// container's start and leaves a loaded machine time to run the app's first
// line (the message quotes it); the app would listen only after a minute,
// so a launch that ends failed within it was ended by the timeout.
func TestSlowerThanTheStartupTimeoutFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{StartupTimeout: 5 * time.Second})
	h.app("sloth", 0, runnertest.ImageOptions{Args: []string{"-name", "sloth", "-delay", "1m"}})
	l := h.launch("sloth", appclient.LaunchRequest{})
	if l.Status != catalog.LaunchFailed || !strings.Contains(l.ErrorMessage, "did not answer on port 8080 within 5s") ||
		!strings.Contains(l.ErrorMessage, "sloth starting") {
		t.Fatalf("slow app: %s: %s", l.Status, l.ErrorMessage)
	}
	waitFor(t, 10*time.Second, "container removal", func() bool { return len(runnertest.Containers(t, h.docker, h.r.ID())) == 0 })
}

func TestTCPOnlyAppIsReady(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{StartupTimeout: 20 * time.Second})
	h.app("raw", 0, runnertest.ImageOptions{Args: []string{"-mode", "tcp"}})
	if l := h.launch("raw", appclient.LaunchRequest{}); l.Status != catalog.LaunchRunning {
		t.Fatalf("a TCP server that never speaks HTTP: %s %s", l.Status, l.ErrorMessage)
	}
}

func TestOutOfMemoryFailsWithTheReason(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("hog", 0, runnertest.ImageOptions{})
	l := h.launch("hog", appclient.LaunchRequest{Profile: "small"})
	if l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %+v", l)
	}
	resp, _ := h.web.Get(h.previewURL("hog", "/alloc?mb=600"))
	if resp != nil {
		resp.Body.Close()
	}
	l = h.waitStatus(l.ID, catalog.LaunchFailed, 30*time.Second)
	if !strings.Contains(l.ErrorMessage, "memory limit of 256 MiB") || !strings.Contains(l.ErrorMessage, "allocating 600 MiB") ||
		l.ExitCode == nil || *l.ExitCode != 137 {
		t.Errorf("OOM: exit %v: %s", l.ExitCode, l.ErrorMessage)
	}
	waitFor(t, 10*time.Second, "container removal", func() bool { return len(runnertest.Containers(t, h.docker, h.r.ID())) == 0 })
}

func TestAppThatExitsWhileRunningFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("quitter", 0, runnertest.ImageOptions{})
	l := h.launch("quitter", appclient.LaunchRequest{})
	resp, _ := h.get(h.previewURL("quitter", "/exit?code=5"))
	if resp.StatusCode != 200 {
		t.Fatalf("exit request: %d", resp.StatusCode)
	}
	l = h.waitStatus(l.ID, catalog.LaunchFailed, 20*time.Second)
	if l.ExitCode == nil || *l.ExitCode != 5 || !strings.Contains(l.ErrorMessage, "exited with code 5 while running") || !strings.Contains(l.ErrorMessage, "exiting with 5 on request") {
		t.Errorf("exit while running: %v %s", l.ExitCode, l.ErrorMessage)
	}
}

func TestTTLExpires(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("brief", 0, runnertest.ImageOptions{})
	// The time to live counts from the request: it leaves a loaded
	// machine time to start the app before it runs out.
	l := h.launch("brief", appclient.LaunchRequest{TTL: "10s"})
	if l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %+v", l)
	}
	l = h.waitStatus(l.ID, catalog.LaunchExpired, 40*time.Second)
	if !strings.Contains(l.ErrorMessage, "time to live of 10s ran out") {
		t.Errorf("expired: %q", l.ErrorMessage)
	}
	if cs := runnertest.Containers(t, h.docker, h.r.ID()); len(cs) != 0 {
		t.Errorf("containers after expiry: %d", len(cs))
	}
	want := []string{"launch.starting", "launch.running", "launch.stopping", "launch.expired"}
	if got := h.eventTypes("brief"); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestIdleAppSleepsAndWakesOnRequest(t *testing.T) {
	t.Parallel()
	// The idle timeout leaves a loaded machine seconds between the launch
	// and the first request and between two requests; the requests span
	// more than it.
	h := newHarness(t, runner.Config{IdleTimeout: 3 * time.Second, BrowserWait: 100 * time.Millisecond})
	h.app("nap", 0, runnertest.ImageOptions{Args: []string{"-name", "nap", "-delay", "1500ms"}})
	first := h.launch("nap", appclient.LaunchRequest{})
	if first.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %+v", first)
	}
	// Requests keep it awake.
	for i := 0; i < 7; i++ {
		if resp, _ := h.get(h.previewURL("nap", "/")); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if l, _ := h.st.Launch(context.Background(), first.ID); l.Status != catalog.LaunchRunning {
		t.Fatalf("stopped while in use: %s %s", l.Status, l.ErrorMessage)
	}
	slept := h.waitStatus(first.ID, catalog.LaunchStopped, 30*time.Second)
	if !strings.Contains(slept.ErrorMessage, "idle for 3s") {
		t.Errorf("idle stop: %q", slept.ErrorMessage)
	}
	// A browser gets the page that retries while the app starts ...
	resp, body := h.get(h.previewURL("nap", "/"), "Accept", "text/html,application/xhtml+xml")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Starting nap") || !strings.Contains(body, `http-equiv="refresh"`) || resp.Header.Get("Retry-After") == "" {
		t.Errorf("browser during wake: %d %q", resp.StatusCode, body)
	}
	// ... another client waits and is served.
	resp, body = h.get(h.previewURL("nap", "/"))
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from nap") {
		t.Fatalf("wake: %d %q", resp.StatusCode, body)
	}
	ls, _ := h.st.ListLaunches(context.Background(), storeFilter("nap"))
	if len(ls) != 2 || ls[0].Status != catalog.LaunchRunning || ls[0].ID == first.ID {
		t.Errorf("launches after wake: %+v, want one new running launch", ls)
	}
}

func TestWarmPoolAttachesAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{WarmPool: 1, WarmInterval: 200 * time.Millisecond})
	repoID, _ := h.app("hot", 0, runnertest.ImageOptions{})
	h.app("cold", 0, runnertest.ImageOptions{Args: []string{"-name", "cold"}})
	if _, err := h.st.Pool().Exec(context.Background(), `UPDATE repositories SET launch_count = 100 WHERE slug = 'cold'`); err != nil {
		t.Fatal(err)
	}
	// The tag wins over the launch count.
	if _, err := h.api.UpdateRepository(context.Background(), "hot", appclient.UpdateRepositoryRequest{AddTags: []string{"warm:true"}}); err != nil {
		t.Fatal(err)
	}
	warm := h.waitWarm(repoID)
	start := time.Now()
	l, err := h.api.StartLaunch(context.Background(), "hot", appclient.LaunchRequest{TTL: "10m"})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != warm.ID || l.Status != catalog.LaunchRunning || l.Warm || l.ExpiresAt == nil {
		t.Fatalf("launch of a warm app: %+v, want warm launch %d attached and running", l, warm.ID)
	}
	if took > time.Second {
		t.Errorf("attaching took %v", took)
	}
	if resp, body := h.get(h.previewURL("hot", "/")); resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from hot") {
		t.Errorf("attached app: %d %q", resp.StatusCode, body)
	}
	// The pool makes a new warm container for the app.
	next := h.waitWarm(repoID)
	if next.ID == warm.ID {
		t.Errorf("pool did not replenish")
	}
	for _, w := range h.warmLaunches() {
		if w.Repository != "hot" {
			t.Errorf("warm container of %s, want only hot (pool of 1, tagged first)", w.Repository)
		}
	}
}

func (h *harness) warmLaunches() []catalog.Launch {
	warm := true
	ls, err := h.st.ListLaunches(context.Background(), storeFilterWarm(h.r.ID(), &warm))
	if err != nil {
		h.t.Fatal(err)
	}
	return ls
}

func (h *harness) waitWarm(repoID int64) catalog.Launch {
	h.t.Helper()
	var got catalog.Launch
	waitFor(h.t, 30*time.Second, "a running warm container", func() bool {
		for _, l := range h.warmLaunches() {
			if l.RepositoryID == repoID && l.Status == catalog.LaunchRunning {
				got = l
				return true
			}
		}
		return false
	})
	return got
}

func TestContainersAreHardened(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("safe", 0, runnertest.ImageOptions{})
	l := h.launch("safe", appclient.LaunchRequest{Profile: "medium"})
	if l.Status != catalog.LaunchRunning || l.ResourceProfile != "medium" {
		t.Fatalf("launch: %+v", l)
	}
	ins, err := h.docker.ContainerInspect(context.Background(), l.ContainerID)
	if err != nil {
		t.Fatal(err)
	}
	hc := ins.HostConfig
	if !slices.Equal([]string(hc.CapDrop), []string{"ALL"}) || len(hc.CapAdd) != 0 {
		t.Errorf("capabilities: drop %v add %v", hc.CapDrop, hc.CapAdd)
	}
	if !slices.Contains(hc.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("security options %v", hc.SecurityOpt)
	}
	if _, ok := ins.NetworkSettings.Networks[runner.DefaultNetwork]; !ok || len(ins.NetworkSettings.Networks) != 1 {
		t.Errorf("networks %v, want only the apps' own %q (TestLaunchConformance/*/AppsCannotReachEachOther)", ins.NetworkSettings.Networks, runner.DefaultNetwork)
	}
	if hc.Privileged || len(hc.Binds) != 0 || len(hc.Mounts) != 0 || len(ins.Mounts) != 0 || hc.NetworkMode.IsHost() || hc.PidMode.IsHost() || hc.IpcMode.IsHost() {
		t.Errorf("privileged %v binds %v mounts %v %v network %s pid %s ipc %s", hc.Privileged, hc.Binds, hc.Mounts, ins.Mounts, hc.NetworkMode, hc.PidMode, hc.IpcMode)
	}
	if hc.Memory != 512<<20 || hc.MemorySwap != 512<<20 || hc.NanoCPUs != 1e9 || hc.PidsLimit == nil || *hc.PidsLimit != 256 {
		t.Errorf("limits: memory %d swap %d cpus %d pids %v", hc.Memory, hc.MemorySwap, hc.NanoCPUs, hc.PidsLimit)
	}
	for port, bs := range hc.PortBindings {
		for _, b := range bs {
			if b.HostIP != "127.0.0.1" {
				t.Errorf("%s published on %q", port, b.HostIP)
			}
		}
	}
	labels := ins.Config.Labels
	if labels[runner.LabelManaged] != "true" || labels[runner.LabelRunner] != h.r.ID() || labels[runner.LabelRepository] != "safe" || runnertest.LaunchLabel(summary(labels)) != l.ID {
		t.Errorf("labels %v", labels)
	}
	// And from the inside.
	_, body := h.get(h.previewURL("safe", "/whoami"))
	var who map[string]string
	if err := json.Unmarshal([]byte(body), &who); err != nil {
		t.Fatalf("whoami: %q", body)
	}
	if who["CapEff"] != "0000000000000000" || who["CapBnd"] != "0000000000000000" || who["NoNewPrivs"] != "1" || who["docker.sock"] != "false" {
		t.Errorf("inside the container: %v", who)
	}
}

func TestLaunchRequestsAreChecked(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{Limits: runner.Limits{Memory: 512 << 20}})
	h.app("dash", 0, runnertest.ImageOptions{})
	if _, err := h.st.CreateRepository(context.Background(), newRepoInput(t, "unbuilt")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		slug string
		req  appclient.LaunchRequest
		is   error
		msg  string
	}{
		{"nope", appclient.LaunchRequest{}, catalog.ErrNotFound, `repository "nope" not found`},
		{"unbuilt", appclient.LaunchRequest{}, catalog.ErrConflict, "no build of unbuilt yet: it is still being ingested"},
		{"dash", appclient.LaunchRequest{Profile: "huge"}, catalog.ErrInvalid, `unknown profile "huge": want one of small, medium, large`},
		{"dash", appclient.LaunchRequest{Profile: "large"}, catalog.ErrInvalid, "memory 1 GiB > --max-memory 512 MiB on this daemon; choose one of small, medium"},
		{"dash", appclient.LaunchRequest{TTL: "soon"}, catalog.ErrInvalid, `"soon" is not a duration`},
		{"dash", appclient.LaunchRequest{TTL: "1000h"}, catalog.ErrInvalid, "longer than this daemon allows"},
	}
	for _, c := range cases {
		_, err := h.api.StartLaunch(ctx, c.slug, c.req)
		if !errors.Is(err, c.is) || err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("launch %s %+v: %v, want %v saying %q", c.slug, c.req, err, c.is, c.msg)
		}
	}
	if ls, _ := h.st.ListLaunches(ctx, storeFilter("")); len(ls) != 0 {
		t.Errorf("refused requests left launches: %+v", ls)
	}
	if _, err := h.api.StopLaunch(ctx, 424242); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("stop of an unknown launch: %v", err)
	}
}

func TestNewBuildReplacesTheRunningLaunch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	repoID, _ := h.app("dash", 0, runnertest.ImageOptions{})
	old := h.launch("dash", appclient.LaunchRequest{})
	tag, id := runnertest.Image(t, h.docker, runnertest.ImageOptions{Args: []string{"-name", "dash-v2"}})
	runnertest.AddBuild(t, h.st, repoID, tag, id)
	l := h.launch("dash", appclient.LaunchRequest{})
	if l.ID == old.ID || l.Status != catalog.LaunchRunning {
		t.Fatalf("launch after a new build: %+v", l)
	}
	if _, body := h.get(h.previewURL("dash", "/")); !strings.HasPrefix(body, "hello from dash-v2") {
		t.Errorf("preview serves %q, want the new build", body)
	}
	replaced := h.waitStatus(old.ID, catalog.LaunchStopped, 20*time.Second)
	if !strings.Contains(replaced.ErrorMessage, "replaced by launch") {
		t.Errorf("old launch: %q", replaced.ErrorMessage)
	}
}

func TestAppLogs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("talker", 0, runnertest.ImageOptions{})
	l := h.launch("talker", appclient.LaunchRequest{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var lines []string
	for line, err := range h.api.LaunchLogs(ctx, l.ID, appclient.LaunchLogsOptions{Follow: true}) {
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line.Stream+": "+line.Line)
		if line.Time.IsZero() {
			t.Errorf("line without time: %+v", line)
		}
		if len(lines) == 2 {
			// Output produced while following arrives.
			h.get(h.previewURL("talker", "/alloc?mb=1"))
		}
		if strings.Contains(line.Line, "allocating 1 MiB") {
			break
		}
	}
	if len(lines) < 3 || lines[0] != "stdout: talker starting (mode serve)" {
		t.Errorf("logs: %q", lines)
	}
}

// TestDaemonWiresPreviewsBeforeTheGuard runs the runner inside appstored
// (in process) with a preview domain that is not a loopback name: its hosts
// reach the apps, while the API's Host check still refuses foreign names.
func TestDaemonWiresPreviewsBeforeTheGuard(t *testing.T) {
	t.Parallel()
	docker := runnertest.Docker(t)
	st, dbURL := storetest.NewWithURL(t)
	dataDir := t.TempDir()
	d, err := daemon.Start(context.Background(), daemon.Config{
		DatabaseURL: dbURL, DataDir: dataDir, Addr: "127.0.0.1:0",
		PreviewDomain: "apps.test", StartupTimeout: 30 * time.Second, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := os.ReadFile(filepath.Join(dataDir, "runner-id"))
	if err != nil {
		t.Fatal(err)
	}
	runnertest.CleanupContainers(t, docker, strings.TrimSpace(string(id)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	tag, imageID := runnertest.Image(t, docker, runnertest.ImageOptions{})
	runnertest.App(t, st, "dash", tag, imageID, 0)
	api := &appclient.Client{BaseURL: d.URL}
	l, err := api.StartLaunch(context.Background(), "dash", appclient.LaunchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	port := d.URL[strings.LastIndex(d.URL, ":")+1:]
	if l.PreviewURL != "http://dash.apps.test:"+port+"/" {
		t.Errorf("preview URL %q", l.PreviewURL)
	}
	get := func(host string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, d.URL+"/", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The request waits for the app, which is starting.
	if code, body := get("dash.apps.test:" + port); code != 200 || !strings.HasPrefix(body, "hello from") {
		t.Errorf("preview host: %d %q", code, body)
	}
	if code, _ := get("dash.evil.example:" + port); code != http.StatusForbidden {
		t.Errorf("foreign host: %d, want 403 from the API guard", code)
	}
	h, err := api.Ready(context.Background())
	if err != nil || !h.Checks["runner"].OK {
		t.Errorf("readyz: %v %+v", err, h)
	}
}

func TestConcurrentStopsEndOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runner.Config{})
	h.app("dash", 0, runnertest.ImageOptions{})
	l := h.launch("dash", appclient.LaunchRequest{})
	if l.Status != catalog.LaunchRunning {
		t.Fatalf("launch: %+v", l)
	}
	results := make(chan *catalog.Launch, 4)
	for i := 0; i < 4; i++ {
		go func() {
			got, err := h.api.StopLaunch(context.Background(), l.ID)
			if err != nil {
				t.Error(err)
			}
			results <- got
		}()
	}
	for i := 0; i < 4; i++ {
		if got := <-results; got == nil || got.Status != catalog.LaunchStopped {
			t.Errorf("a concurrent stop answered %+v, want stopped", got)
		}
	}
	want := []string{"launch.starting", "launch.running", "launch.stopping", "launch.stopped"}
	if got := h.eventTypes("dash"); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}
