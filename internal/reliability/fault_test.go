package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/localpg"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// apps registers test apps on a daemon and keeps the ledger.
type apps struct {
	t   *testing.T
	c   *client.Client
	git *gitserver.Server
	led *ledger
}

func newApps(t *testing.T, c *client.Client) *apps {
	return &apps{t: t, c: c, git: gitserver.HTTP(t), led: newLedger()}
}

// add registers a new app named name whose build sleeps for buildSleep.
func (a *apps) add(name, buildSleep string) string {
	a.t.Helper()
	repo := gitserver.NewRepoFiles(a.t, name, appFiles(a.t, name, buildSleep))
	a.git.Add(repo)
	r, err := a.c.AddRepository(context.Background(), client.AddRepositoryRequest{GitURL: a.git.URL(repo)})
	if err != nil {
		a.t.Fatalf("register %s: %v", name, err)
	}
	a.led.repo(r.Slug)
	return r.Slug
}

// latestBuild waits until the repository has a build and returns it.
func latestBuild(t *testing.T, c *client.Client, slug string) *client.Build {
	t.Helper()
	var b *client.Build
	eventually(t, time.Minute, slug+" has a build", func() (bool, string) {
		r, err := c.Repository(context.Background(), slug)
		if err != nil {
			return false, err.Error()
		}
		if r.LatestBuild == nil {
			return false, "ingestion " + string(r.IngestStatus)
		}
		b, err = c.Build(context.Background(), r.LatestBuild.ID)
		return err == nil, "build not readable"
	})
	return b
}

// buildEnded waits until the build ended and returns it.
func buildEnded(t *testing.T, c *client.Client, id int64, within time.Duration) *client.Build {
	t.Helper()
	var b *client.Build
	eventually(t, within, "build ended", func() (bool, string) {
		var err error
		b, err = c.Build(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		return b.Status.Terminal(), string(b.Status)
	})
	return b
}

// launchRunning launches the app and waits until it runs.
func launchRunning(t *testing.T, c *client.Client, led *ledger, slug string) *client.Launch {
	t.Helper()
	ctx := context.Background()
	l, err := c.StartLaunch(ctx, slug, client.LaunchRequest{})
	led.launch(slug, err == nil)
	if err != nil {
		t.Fatalf("launch %s: %v", slug, err)
	}
	l, err = c.WaitLaunch(ctx, l.ID, time.Minute)
	if err != nil || l.Status != "running" {
		t.Fatalf("launch of %s: %+v %v", slug, l, err)
	}
	return l
}

// serves reports whether the app answers through the preview proxy.
func serves(base, slug string) (bool, string) {
	code, body, err := get(base + "/apps/" + slug + "/")
	if err != nil {
		return false, err.Error()
	}
	return code == http.StatusOK && strings.Contains(body, "hello from "+slug), body
}

func searchWorks(base string) (bool, string) {
	code, body, err := get(base + "/api/v1/search?q=")
	if err != nil {
		return false, err.Error()
	}
	return code == http.StatusOK, body
}

// TestDockerEngineOutage takes the Docker engine away from a running
// appstored (through dockerProxy: the engine is shared with other tests,
// so it is not restarted) for longer than a build's first retries, and
// brings it back: meanwhile /readyz says degraded and why, search,
// registration, ingestion and the previews of running apps keep working,
// builds wait queued and launches are refused with the reason; within 5 s
// of the engine's return appstored is ready and the waiting build runs, to
// success.
func TestDockerEngineOutage(t *testing.T) {
	testenv.Docker(t)
	gitserver.RequireGit(t)
	proxy := newDockerProxy(t)
	o := startBeforeOutage(t, []string{"DOCKER_HOST=" + proxy.host()})
	p, c, st, dataDir, a, before, first := o.p, o.c, o.st, o.dataDir, o.a, o.app, o.launch
	ctx := context.Background()
	since, err := c.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := watch(t, "events", c, since)

	proxy.Cut()
	cut := time.Now()
	o.awaitDegraded(t)
	if ok, why := serves(p.URL(), before); !ok {
		t.Errorf("the running app's preview while the engine API is down: %s", why)
	}
	// Ingestion needs no engine; the build it queues waits.
	during := a.add("during", "")
	waiting := latestBuild(t, c, during)
	// A new container needs the engine: refused, saying why.
	_, err = c.StartLaunch(ctx, before, client.LaunchRequest{Profile: "medium"})
	a.led.launch(before, false)
	if ae := apiError(err); ae == nil || ae.StatusCode != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "Docker") {
		t.Errorf("launch while Docker is down: %v, want 503 naming the Docker engine", err)
	}
	// Down for longer than the queue's first retries of the build.
	time.Sleep(time.Until(cut.Add(12 * time.Second)))
	if b, err := c.Build(ctx, waiting.ID); err != nil || b.Status != "queued" {
		t.Errorf("build waiting for the engine: %+v %v, want still queued", b, err)
	}

	proxy.Restore()
	back := time.Now()
	ready := o.awaitReady(t)
	started := w.waitFor(t, recoveryBound, "build.started", during)
	t.Logf("engine back: ready after %s, the waiting build started %s after", ready.Round(time.Millisecond), started.Time.Sub(back).Round(time.Millisecond))
	// The runner follows the engine's events again: a container killed
	// behind its back now is recorded at once.
	if err := docker(t).ContainerKill(ctx, first.ContainerID, "KILL"); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	died := w.waitFor(t, recoveryBound, "launch.failed", before)
	t.Logf("a container killed %s after the engine returned was recorded dead %s later",
		killed.Sub(back).Round(time.Millisecond), died.Time.Sub(killed).Round(time.Millisecond))
	if b := buildEnded(t, c, waiting.ID, 2*time.Minute); b.Status != "succeeded" {
		t.Errorf("the build that waited: %+v", b)
	}
	launchRunning(t, c, a.led, during)
	awaitSettled(t, st, time.Minute)
	checkFinalState(t, st, docker(t), runnerID(t, dataDir), p.URL(), a.led)
}

// engineOutage is an appstored with one app built and running, about to
// lose its Docker engine (TestDockerEngineOutage, TestDockerdRestart).
type engineOutage struct {
	p       *proc
	c       *client.Client
	st      *store.Store
	dataDir string
	a       *apps
	app     string         // built and launched before the outage
	launch  *client.Launch // its running launch
}

// startBeforeOutage starts appstored (with env) on a new catalog, builds
// the app "before" and launches it.
func startBeforeOutage(t *testing.T, env []string) *engineOutage {
	t.Helper()
	db, st := newCatalog(t)
	o := &engineOutage{st: st, dataDir: t.TempDir()}
	cleanupDocker(t, o.dataDir)
	o.p = newProc(t, "appstored", env, "--database-url", db, "--data-dir", o.dataDir)
	o.p.start()
	o.c = o.p.Client()
	o.a = newApps(t, o.c)
	o.app = o.a.add("before", "")
	if b := buildEnded(t, o.c, latestBuild(t, o.c, o.app).ID, 2*time.Minute); b.Status != "succeeded" {
		t.Fatalf("build before the outage: %+v", b)
	}
	o.launch = launchRunning(t, o.c, o.a.led, o.app)
	return o
}

// awaitDegraded waits until /readyz says degraded, naming the engine, and
// checks that search still answers.
func (o *engineOutage) awaitDegraded(t *testing.T) {
	t.Helper()
	eventually(t, recoveryBound, "/readyz degraded, naming the engine", func() (bool, string) {
		code, h := readyz(t, o.p.URL())
		d := h.Checks["docker"]
		return code == http.StatusOK && h.Status == "degraded" && !d.OK && strings.Contains(d.Message, "Docker engine"), jsonString(h)
	})
	if ok, why := searchWorks(o.p.URL()); !ok {
		t.Errorf("search while the Docker engine is away: %s", why)
	}
}

// awaitReady waits until /readyz says ok again (within recoveryBound) and
// returns how long that took.
func (o *engineOutage) awaitReady(t *testing.T) time.Duration {
	t.Helper()
	return eventually(t, recoveryBound, "/readyz ok after the engine returned", func() (bool, string) {
		code, h := readyz(t, o.p.URL())
		return code == http.StatusOK && h.Status == "ok", jsonString(h)
	})
}

// apiError is the daemon's error answer in err, or nil.
func apiError(err error) *client.APIError {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRedisRestartMidQueue runs the two-host layout on Redis (an api+runner
// process, a worker process) with a backlog of builds and restarts Redis in
// the middle of it, without persistence: every task Redis held is lost.
// Meanwhile the API is degraded but answers (search, registrations), the
// worker says it is down; within 5 s of Redis's return both are ready and
// the work resumes, and in the end every registration (one made during the
// outage included) is ingested and every build succeeded.
func TestRedisRestartMidQueue(t *testing.T) {
	testenv.Docker(t)
	gitserver.RequireGit(t)
	redis := testenv.StartRedis(t)
	db, st := newCatalog(t)
	runnerDir, workerDir := t.TempDir(), t.TempDir()
	cleanupDocker(t, runnerDir)
	common := []string{"--database-url", db, "--redis-url", redis.URL()}
	front := newProc(t, "api+runner", nil, append(common, "--roles", "api,runner", "--data-dir", runnerDir, "--build-concurrency", "1")...)
	worker := newProc(t, "worker", nil, append(common, "--roles", "worker", "--data-dir", workerDir)...)
	front.startNoWait()
	worker.start()
	front.waitReady(time.Minute)
	c := front.Client()
	ctx := context.Background()
	since, err := c.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := watch(t, "events", c, since)
	a := newApps(t, c)

	// A backlog: builds of 2 s each, one at a time.
	const backlog = 5
	for i := range backlog {
		a.add(fmt.Sprintf("backlog%d", i), "2s")
	}
	w.waitFor(t, time.Minute, "build.started", "")
	redis.Stop()
	down := time.Now()
	var queued int
	_ = st.Pool().QueryRow(ctx, `SELECT count(*) FROM builds WHERE status = 'queued'`).Scan(&queued)
	t.Logf("Redis stopped with %d builds queued", queued)

	code, h := readyz(t, front.URL())
	if q := h.Checks["queue"]; code != http.StatusOK || h.Status != "degraded" || q.OK || !strings.Contains(q.Message, redis.Addr()) {
		t.Errorf("API's /readyz without Redis: %d %s", code, jsonString(h))
	}
	if code, h := readyz(t, worker.URL()); code != http.StatusServiceUnavailable || h.Checks["queue"].OK {
		t.Errorf("worker's /readyz without Redis: %d %s", code, jsonString(h))
	}
	if ok, why := searchWorks(front.URL()); !ok {
		t.Errorf("search without Redis: %s", why)
	}
	late := a.add("late", "")
	time.Sleep(time.Until(down.Add(5 * time.Second)))

	redis.Start()
	back := time.Now()
	for _, p := range []*proc{front, worker} {
		eventually(t, recoveryBound, p.name+" ready after Redis returned", func() (bool, string) {
			code, h := readyz(t, p.URL())
			return code == http.StatusOK && h.Status == "ok", jsonString(h)
		})
	}
	ingest := w.waitFor(t, recoveryBound, "ingestion.processing", late)
	build := w.waitForAfter(t, recoveryBound, "build.started", back)
	t.Logf("Redis back: the registration made meanwhile was picked up %s after, the next build started %s after",
		ingest.Time.Sub(back).Round(time.Millisecond), build.Time.Sub(back).Round(time.Millisecond))
	if lag := ingest.Time.Sub(back); lag > recoveryBound {
		t.Errorf("ingestion resumed %s after Redis returned", lag)
	}
	if lag := build.Time.Sub(back); lag > recoveryBound {
		t.Errorf("builds resumed %s after Redis returned", lag)
	}
	awaitSettled(t, st, 2*time.Minute)
	checkFinalState(t, st, docker(t), runnerID(t, runnerDir), front.URL(), a.led)
}

// TestPostgresRestart stops the PostgreSQL server under appstored (a cluster
// of the test's own, stopped with a fast shutdown and started again on the
// same data directory) while a build runs and an ingestion is under way.
// Meanwhile /healthz answers, /readyz says the database is down, API calls
// are refused with 503 and a message that says so, and running apps stay
// served; within 5 s of the server's return appstored is ready again with
// its event stream, the interrupted work finishes and nothing is lost.
func TestPostgresRestart(t *testing.T) {
	testenv.Docker(t)
	gitserver.RequireGit(t)
	testenv.RequirePostgresBinaries(t)
	ctx := context.Background()
	pgDir := t.TempDir()
	pgOpts := localpg.Options{DataDir: pgDir, NoSync: true}
	pg, err := localpg.Start(ctx, pgOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = pg.Stop(context.Background())
		_ = localpg.Remove(context.Background(), pgOpts)
	})
	if err := pg.CreateDatabase(ctx, "appstore"); err != nil {
		t.Fatal(err)
	}
	db := pg.URL("appstore")
	testenv.RemoveCatalogImages(t, db) // before the cluster stops
	st := openStore(t, db)
	if _, err := store.Migrate(ctx, st.Pool(), nil); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	cleanupDocker(t, dataDir)
	p := newProc(t, "appstored", nil, "--database-url", db, "--data-dir", dataDir)
	p.start()
	c := p.Client()
	a := newApps(t, c)

	steady := a.add("steady", "")
	if b := buildEnded(t, c, latestBuild(t, c, steady).ID, 2*time.Minute); b.Status != "succeeded" {
		t.Fatalf("build before the outage: %+v", b)
	}
	launchRunning(t, c, a.led, steady)
	since, err := c.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := watch(t, "events", c, since)

	// A build in its RUN step and an ingestion under way when the server stops.
	inflight := a.add("inflight", "4s")
	w.waitFor(t, time.Minute, "build.started", inflight)
	pending := a.add("pending", "")
	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	down := time.Now()

	if code, _, err := get(p.URL() + "/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("/healthz without the database: %d %v", code, err)
	}
	code, h := readyz(t, p.URL())
	if d := h.Checks["database"]; code != http.StatusServiceUnavailable || h.Status != "down" || d.OK || d.Message == "" {
		t.Errorf("/readyz without the database: %d %s", code, jsonString(h))
	}
	_, err = c.Search(ctx, client.SearchOptions{Query: "steady"})
	if ae := apiError(err); ae == nil || ae.StatusCode != http.StatusServiceUnavailable || !strings.Contains(ae.Message, "database") {
		t.Errorf("search without the database: %v, want 503 saying the database is unavailable", err)
	}
	_, err = c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://example.com/acme/never.git"})
	if ae := apiError(err); ae == nil || ae.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("registration without the database: %v, want 503", err)
	}
	if ok, why := serves(p.URL(), steady); !ok {
		t.Errorf("the running app's preview without the database: %s", why)
	}
	time.Sleep(time.Until(down.Add(6 * time.Second)))

	if pg, err = localpg.Start(ctx, pgOpts); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	ready := eventually(t, recoveryBound, "/readyz ok (database and event stream) after PostgreSQL returned", func() (bool, string) {
		code, h := readyz(t, p.URL())
		return code == http.StatusOK && h.Status == "ok", jsonString(h)
	})
	t.Logf("PostgreSQL back: ready after %s", ready.Round(time.Millisecond))
	if ok, why := searchWorks(p.URL()); !ok {
		t.Errorf("search after PostgreSQL returned: %s", why)
	}
	w.waitFor(t, 2*time.Minute, "ingestion.ready", pending)
	w.waitFor(t, 2*time.Minute, "build.succeeded", inflight)
	w.waitFor(t, 2*time.Minute, "build.succeeded", pending)
	// Work computed during the outage is recorded once the server is back,
	// and jobs that could not claim wait for it: nothing waits for a lease
	// to run out (30 s for ingestion).
	awaitSettled(t, st, 20*time.Second)
	t.Logf("settled %s after PostgreSQL returned", time.Since(back).Round(time.Millisecond))
	checkFinalState(t, st, docker(t), runnerID(t, dataDir), p.URL(), a.led)
}
