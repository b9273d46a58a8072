package reliability

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// newCatalog is a fresh, migrated database and the test's store on it.
func newCatalog(t *testing.T) (string, *store.Store) {
	t.Helper()
	db := testenv.Postgres(t)
	st := openStore(t, db)
	if _, err := store.Migrate(context.Background(), st.Pool(), nil); err != nil {
		t.Fatal(err)
	}
	return db, st
}

// TestRolesShareTheWork runs the two-host layout of docs/operations.md on
// one machine — one appstored with --roles api,runner, one with --roles
// worker — plus a second API process (--roles api), all on one PostgreSQL
// and one Redis. Registrations made through either API are ingested by the
// worker process only and built by the runner process only; every event,
// whichever process caused it, reaches the WebSockets of both API processes
// in the same order; the APIs answer throughout.
func TestRolesShareTheWork(t *testing.T) {
	testenv.Docker(t)
	gitserver.RequireGit(t)
	redis := testenv.StartRedis(t)
	db, st := newCatalog(t)
	const serviceToken = "svc-token-0123456789"
	common := []string{"--database-url", db, "--redis-url", redis.URL(), "--service-token", serviceToken, "--health-interval", "1h"}
	runnerDir, workerDir, apiDir := t.TempDir(), t.TempDir(), t.TempDir()
	cleanupDocker(t, runnerDir)
	front := newProc(t, "api+runner", nil, append(common, "--roles", "api,runner", "--data-dir", runnerDir)...)
	worker := newProc(t, "worker", nil, append(common, "--roles", "worker", "--data-dir", workerDir)...)
	api2 := newProc(t, "api", nil, append(common, "--roles", "api", "--data-dir", apiDir)...)
	for _, p := range []*proc{front, worker, api2} {
		p.startNoWait()
	}
	for _, p := range []*proc{front, worker, api2} {
		p.waitReady(time.Minute)
	}
	ctx := context.Background()

	// The worker serves its health, not the API, and says where the API is.
	if code, h := readyz(t, worker.URL()); code != http.StatusOK || !h.Checks["database"].OK || !h.Checks["queue"].OK {
		t.Errorf("worker /readyz: %d %+v", code, h)
	}
	if _, err := worker.Client().Repositories(ctx, client.ListRepositoriesOptions{}); !client.IsNotFound(err) || !strings.Contains(err.Error(), "without api") {
		t.Errorf("API call to the worker: %v, want a 404 that says it has no api role", err)
	}
	// Launches need the runner: the API-only process refuses with the reason.
	if _, err := api2.Client().StartLaunch(ctx, "nothing", client.LaunchRequest{}); err == nil || !strings.Contains(err.Error(), "no runner role") {
		t.Errorf("launch through the API-only process: %v", err)
	}

	since, err := front.Client().LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wFront := watch(t, "api+runner WebSocket", front.Client(), since)
	wAPI := watch(t, "api WebSocket", api2.Client(), since)

	// Both APIs are read all along; none of these requests may fail.
	stopReads := make(chan struct{})
	var reads, readErrs atomic.Int64
	var readErrMu sync.Mutex
	var firstReadErr error
	var readers sync.WaitGroup
	for _, p := range []*proc{front, api2} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			c := p.Client()
			for {
				select {
				case <-stopReads:
					return
				case <-time.After(50 * time.Millisecond):
				}
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := c.Search(rctx, client.SearchOptions{Query: "app"})
				cancel()
				reads.Add(1)
				if err != nil {
					readErrs.Add(1)
					readErrMu.Lock()
					if firstReadErr == nil {
						firstReadErr = fmt.Errorf("%s: %w", p.name, err)
					}
					readErrMu.Unlock()
				}
			}
		}()
	}

	// A service registered through one API is checked by the worker's
	// poller (woken through the event hub) and its health change comes
	// back to both APIs as an event.
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(health.Close)
	if _, _, err := front.Client().WithToken(serviceToken).CreateService(ctx, client.ServiceSpec{Slug: "probe", BaseURL: health.URL}); err != nil {
		t.Fatal(err)
	}

	// Apps registered alternately through both APIs.
	const apps = 4
	var repos []*gitserver.Repo
	for i := range apps {
		repos = append(repos, gitserver.NewRepoFiles(t, fmt.Sprintf("shared%d", i), appFiles(t, fmt.Sprintf("shared%d", i), "")))
	}
	git := gitserver.HTTP(t, repos...)
	var slugs []string
	for i, repo := range repos {
		c := []*proc{front, api2}[i%2].Client()
		r, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: git.URL(repo)})
		if err != nil {
			t.Fatal(err)
		}
		slugs = append(slugs, r.Slug)
	}
	for _, slug := range slugs {
		wAPI.waitFor(t, 2*time.Minute, "build.succeeded", slug)
	}
	wFront.waitFor(t, time.Minute, "service.updated", "probe")

	// A launch on the runner process, served by its preview proxy.
	l, err := front.Client().StartLaunch(ctx, slugs[0], client.LaunchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	wAPI.waitFor(t, time.Minute, "launch.running", slugs[0])
	if code, body, err := get(front.URL() + "/apps/" + slugs[0] + "/"); err != nil || code != http.StatusOK || !strings.Contains(body, "hello from shared0") {
		t.Errorf("preview through the runner process: %d %q %v", code, body, err)
	}
	if _, err := front.Client().StopLaunch(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	last := wFront.waitFor(t, time.Minute, "launch.stopped", slugs[0])
	wAPI.waitFor(t, time.Minute, "launch.stopped", slugs[0])

	close(stopReads)
	readers.Wait()
	if n := readErrs.Load(); n > 0 {
		t.Errorf("%d of %d reads of the APIs failed; first: %v", n, reads.Load(), firstReadErr)
	}

	// Who did what: ingestion only in the worker, builds only in the runner.
	ingested := map[string]bool{}
	for _, m := range worker.logLines("repository ingested") {
		ingested[fmt.Sprint(m["slug"])] = true
	}
	for _, p := range []*proc{front, api2} {
		if n := len(p.logLines("repository ingested")); n > 0 {
			t.Errorf("%s ingested %d repositories; only the worker should", p.name, n)
		}
	}
	runnerPid := ":" + strconv.Itoa(front.pid()) + ":"
	for _, slug := range slugs {
		if !ingested[slug] {
			t.Errorf("%s was not ingested by the worker process", slug)
		}
		var worker string
		var status catalog.BuildStatus
		if err := st.Pool().QueryRow(ctx, `SELECT b.worker, b.status FROM builds b JOIN repositories r ON r.id = b.repository_id WHERE r.slug = $1`, slug).Scan(&worker, &status); err != nil {
			t.Fatal(err)
		}
		if status != catalog.BuildSucceeded || !strings.Contains(worker, runnerPid) {
			t.Errorf("build of %s: %s by %q, want succeeded by the runner process (pid %d)", slug, status, worker, front.pid())
		}
	}
	// The service was checked by the worker's poller, the only one.
	if s, err := api2.Client().Service(ctx, "probe"); err != nil || s.Status != catalog.ServiceHealthy {
		t.Errorf("service after the worker's check: %+v %v", s, err)
	}

	// Both WebSockets saw the same events, in the same order, up to the
	// last one awaited; and among them events caused by each process.
	a, _ := wFront.snapshot()
	b, _ := wAPI.snapshot()
	cut := func(evs []client.Event) []client.Event {
		i := slices.IndexFunc(evs, func(e client.Event) bool { return e.ID == last.ID })
		return evs[:i+1]
	}
	a, b = cut(a), cut(b)
	if !slices.Equal(ids(a), ids(b)) {
		t.Errorf("the two API processes' streams differ:\n%s\n%s", summarize(a), summarize(b))
	}
	stored := 0
	for _, err := range front.Client().StoredEvents(ctx, client.EventsOptions{Since: since}) {
		if err != nil {
			t.Fatal(err)
		}
		stored++
		if stored == len(a) {
			break
		}
	}
	if stored != len(a) {
		t.Errorf("the streams carried %d events, the log holds at least %d", len(a), stored)
	}
	types := map[string]bool{}
	for _, e := range a {
		types[e.Type] = true
	}
	for _, want := range []string{
		"repository.created", "service.created", // caused by the API processes
		"ingestion.processing", "ingestion.ready", "service.updated", // by the worker
		"build.started", "build.succeeded", "launch.running", "launch.stopped", // by the runner
	} {
		if !types[want] {
			t.Errorf("no %s event on the streams", want)
		}
	}
	t.Logf("%d events crossed, %d reads of the APIs", len(a), reads.Load())
}
