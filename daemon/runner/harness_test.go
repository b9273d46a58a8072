package runner_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	appclient "github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
)

// harness is a runner on a fresh catalog and the real engine, served the way
// appstored serves it: preview routes first, then the API with the launch
// routes.
type harness struct {
	t      testing.TB
	st     *store.Store
	docker *client.Client
	r      *runner.Runner
	srv    *httptest.Server
	api    *appclient.Client
	// web reaches any host name (dash.localhost) at the server, as a
	// browser resolving *.localhost to loopback does.
	web  *http.Client
	port string
	cfg  runner.Config
}

// beforeRun, when given, is called with the runner before it runs.
func newHarness(t testing.TB, cfg runner.Config, beforeRun ...func(*runner.Runner)) *harness {
	t.Helper()
	cli := runnertest.Docker(t)
	st := cfg.Store // another runner of the same catalog
	if st == nil {
		st = storetest.New(t)
	}
	h := &harness{t: t, st: st, docker: cli}
	var b [4]byte
	_, _ = rand.Read(b[:])
	if cfg.ID == "" { // else: a runner restarted with its id
		cfg.ID = "test-" + hex.EncodeToString(b[:])
	}
	cfg.Store = st
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.AppConfig != nil {
		cfg.AppConfig.Store = st
	}
	cfg.BaseURL = func() string { return h.srv.URL }
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = 100 * time.Millisecond
	}
	r, err := runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	h.cfg = cfg
	runnertest.CleanupContainers(t, cli, r.ID())
	if cfg.Runtime == runner.RuntimeSwarm {
		// The caller made the swarm (runnertest.Swarm) for all its subtests.
		runnertest.CleanupServices(t, cli, r.ID())
	}

	launches := &api.Launches{Store: st, Runner: r}
	h.srv = httptest.NewServer((&api.Server{Store: st, Logger: cfg.Logger, Guard: &api.Guard{Loopback: true}, Launches: launches, Previews: r.Preview,
		Repositories: &api.Repositories{StopLaunches: r.StopRepository}, AppConfig: &api.AppConfig{Store: st, Service: cfg.AppConfig}}).Handler())
	_, h.port, _ = net.SplitHostPort(h.srv.Listener.Addr().String())
	addr := h.srv.Listener.Addr().String()
	h.web = &http.Client{
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	h.api = &appclient.Client{BaseURL: h.srv.URL}

	for _, f := range beforeRun {
		f(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.Init(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		closeCtx, c := context.WithTimeout(context.Background(), time.Minute)
		defer c()
		if err := r.Close(closeCtx); err != nil {
			t.Errorf("close runner: %v", err)
		}
		h.srv.Close()
		// Close removed every container, or every Swarm service, whose
		// task containers the swarm agent then removes on its own time
		// (seconds on a loaded machine). Nothing else would remove a
		// container Close left behind.
		deadline := time.Now().Add(30 * time.Second)
		for {
			left := runnertest.Containers(t, cli, r.ID())
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%d containers left 30s after Close", len(left))
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return h
}

// app builds an image with the test app and registers it as slug.
func (h *harness) app(slug string, port int, opts runnertest.ImageOptions) (repoID, buildID int64) {
	h.t.Helper()
	if len(opts.Args) == 0 {
		opts.Args = []string{"-name", slug}
	}
	tag, id := runnertest.Image(h.t, h.docker, opts)
	repoID, buildID = runnertest.App(h.t, h.st, slug, tag, id, port)
	if h.cfg.Registry != nil {
		// As the build worker does with --registry: Swarm runs it by digest.
		runnertest.Push(h.t, h.docker, h.st, h.cfg.Registry, buildID, slug, tag)
	}
	return repoID, buildID
}

// previewURL is http://<slug>.localhost:<port><path>.
func (h *harness) previewURL(slug, path string) string {
	return "http://" + slug + ".localhost:" + h.port + path
}

// launch starts slug and waits until it leaves starting.
func (h *harness) launch(slug string, req appclient.LaunchRequest) *catalog.Launch {
	h.t.Helper()
	ctx := context.Background()
	l, err := h.api.StartLaunch(ctx, slug, req)
	if err != nil {
		h.t.Fatalf("launch %s: %v", slug, err)
	}
	l, err = h.api.WaitLaunch(ctx, l.ID, 2*time.Minute)
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

func (h *harness) get(url string, header ...string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.web.Do(req)
	if err != nil {
		h.t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStatus polls the launch until it has status, and returns it.
func (h *harness) waitStatus(id int64, status catalog.LaunchStatus, d time.Duration) *catalog.Launch {
	h.t.Helper()
	var l *catalog.Launch
	waitFor(h.t, d, "launch status "+string(status), func() bool {
		var err error
		l, err = h.st.Launch(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		return l.Status == status
	})
	return l
}

func (h *harness) eventTypes(slug string) []string {
	h.t.Helper()
	evs, err := h.st.Events(context.Background(), store.EventFilter{Topics: []string{"launch"}, Subject: slug})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// eventActors lists the launch events of slug as "type actor" strings, a
// stop's with its reason ("launch.stopped idle appstored:idle"), in order.
func (h *harness) eventActors(slug string) []string {
	h.t.Helper()
	evs, err := h.st.Events(context.Background(), store.EventFilter{Topics: []string{"launch"}, Subject: slug})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		var data struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(e.Data, &data)
		s := e.Type
		if data.Reason != "" {
			s += " " + data.Reason
		}
		out = append(out, s+" "+e.Actor)
	}
	return out
}

// testLogger writes the runner's log through t.Log, so that it shows with a
// failure.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func natPort(p string) nat.Port { return nat.Port(p + "/tcp") }

func storeFilter(slug string) store.LaunchFilter { return store.LaunchFilter{Repository: slug} }

func storeFilterWarm(runnerID string, warm *bool) store.LaunchFilter {
	return store.LaunchFilter{Runner: runnerID, Warm: warm, Active: true}
}

func summary(labels map[string]string) container.Summary { return container.Summary{Labels: labels} }

func newRepoInput(t *testing.T, slug string) store.NewRepository {
	u, err := giturl.Parse("https://git.example.com/test/" + slug + ".git")
	if err != nil {
		t.Fatal(err)
	}
	return store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: slug}
}

func storeFilterWarmSlug(slug string, warm *bool) store.LaunchFilter {
	return store.LaunchFilter{Repository: slug, Warm: warm, Limit: 1}
}

func itoa(n int) string { return strconv.Itoa(n) }
