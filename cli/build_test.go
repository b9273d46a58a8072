package cli_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/cli"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// buildsDaemon serves the real builds API on a real catalog, without a
// build worker: tests play the worker through the store, so that the
// CLI's waiting and following are tested line by line.
type buildsDaemon struct {
	t   *testing.T
	st  *store.Store
	url string
}

// newBuildsDaemon starts the builds API; ready, when given, answers /readyz.
func newBuildsDaemon(t *testing.T, ready ...func(context.Context) client.Health) *buildsDaemon {
	t.Helper()
	st := storetest.New(t)
	s := &api.Server{Store: st, Guard: &api.Guard{Loopback: true}, Builds: &api.Builds{PollInterval: 20 * time.Millisecond}}
	if len(ready) > 0 {
		s.Ready = ready[0]
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &buildsDaemon{t: t, st: st, url: srv.URL}
}

func (d *buildsDaemon) repo(name string) string {
	d.t.Helper()
	ctx := context.Background()
	r, err := d.st.CreateRepository(ctx, store.NewRepository{GitURL: "https://example.com/x/" + name + ".git", GitURLKey: "example.com/x/" + name, Name: name})
	if err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.st.Pool().Exec(ctx, `UPDATE repositories SET ingest_status = 'ready', last_commit_sha = $2,
		dockerfile_path = 'Dockerfile', context_path = '.' WHERE id = $1`, r.ID, strings.Repeat("c0ffee", 6)+"abcd"); err != nil {
		d.t.Fatal(err)
	}
	return r.Slug
}

// work waits for a queued build of slug, then claims it, logs lines and
// ends it with o, pausing between steps so that followers see it live.
func (d *buildsDaemon) work(slug string, o store.BuildOutcome, lines ...string) {
	ctx := context.Background()
	var id int64
	for deadline := time.Now().Add(30 * time.Second); ; {
		page, _, err := d.st.ListBuilds(ctx, slug, store.BuildListOptions{Limit: 1})
		if err == nil && len(page) == 1 && page[0].Status == catalog.BuildQueued {
			id = page[0].ID
			break
		}
		if time.Now().After(deadline) {
			d.t.Errorf("no queued build of %s", slug)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, _, err := d.st.ClaimBuild(ctx, id, "fake", time.Minute); err != nil {
		d.t.Error(err)
		return
	}
	var n int64
	for _, l := range lines {
		time.Sleep(30 * time.Millisecond)
		n += int64(len(l)) + 1
		if err := d.st.AppendBuildLog(ctx, id, []string{l}, n, false); err != nil {
			d.t.Error(err)
			return
		}
	}
	if o.Status == catalog.BuildSucceeded {
		o.ImageTag, o.ImageID = "appstore/"+slug+":c0ffeec0ffee", "sha256:"+strings.Repeat("1", 64)
	}
	if _, err := d.st.FinishBuild(ctx, id, "fake", o); err != nil {
		d.t.Error(err)
	}
}

func TestBuildWaitStreamsTheLogAndExitsWithTheResult(t *testing.T) {
	d := newBuildsDaemon(t)
	slug := d.repo("dash")

	go d.work(slug, store.BuildOutcome{Status: catalog.BuildSucceeded}, "Step 1/2 : FROM scratch", "Step 2/2 : COPY app /app")
	r := appstoreIn(t, d.url, "", "build", slug, "--wait")
	if r.code != cli.ExitOK || r.stdout != "Step 1/2 : FROM scratch\nStep 2/2 : COPY app /app\n" {
		t.Errorf("build --wait (succeeded): %+v", r)
	}

	go d.work(slug, store.BuildOutcome{Status: catalog.BuildFailed, Error: "Step 2/2 : RUN [\"/fail\"]: exit code 1\nboom"},
		"Step 1/2 : FROM scratch", "Step 2/2 : RUN [\"/fail\"]", "boom")
	r = appstoreIn(t, d.url, "", "build", slug, "--wait", "--no-cache")
	if r.code != cli.ExitError || !strings.Contains(r.stdout, "boom\n") ||
		!strings.Contains(r.stderr, "error: build #2 of dash failed: Step 2/2 : RUN [\"/fail\"]: exit code 1") {
		t.Errorf("build --wait (failed): %+v", r)
	}

	// --json: the log goes to stderr, the final build to stdout.
	go d.work(slug, store.BuildOutcome{Status: catalog.BuildSucceeded, Builder: "buildkit"}, "only line")
	r = appstoreIn(t, d.url, "", "build", slug, "--wait", "--json")
	var b client.Build
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil || r.code != 0 || b.Status != catalog.BuildSucceeded || b.ImageTag == "" || !strings.Contains(r.stderr, "only line") {
		t.Errorf("build --wait --json: %+v (%v)", r, err)
	}
	// Which builder ran: in the build's JSON and in show.
	if b.Builder != "buildkit" {
		t.Errorf("build --wait --json: builder %q, want buildkit", b.Builder)
	}
	if r := appstoreIn(t, d.url, "", "show", slug); r.code != cli.ExitOK || !strings.Contains(r.stdout, "#3 succeeded") || !strings.Contains(r.stdout, "with BuildKit") {
		t.Errorf("show does not say which builder made the latest build: %+v", r)
	}

	go d.work(slug, store.BuildOutcome{Status: catalog.BuildCancelled, Error: "cancelled by request after 1s"})
	r = appstoreIn(t, d.url, "", "build", slug, "-w", "-q")
	if r.code != cli.ExitError || r.stdout != "4\n" || !strings.Contains(r.stderr, "build #4 of dash was cancelled: cancelled by request") {
		t.Errorf("build -w -q (cancelled): %+v", r)
	}

	// Without --wait: the id, at once.
	r = appstoreIn(t, d.url, "", "build", slug)
	if r.code != 0 || r.stdout != "5\n" {
		t.Errorf("build: %+v", r)
	}
	r = appstoreIn(t, d.url, "", "build", "nope")
	if r.code != cli.ExitNotFound {
		t.Errorf("build of a missing repository: %+v", r)
	}
}

// TestBuildWaitSaysItWaitsForTheEngine: a build queued while the daemon's
// Docker engine does not answer has no log yet; build --wait says why
// nothing happens (with the daemon's advice), then follows the build once it
// runs. With the engine up, no such note.
func TestBuildWaitSaysItWaitsForTheEngine(t *testing.T) {
	const down = "Docker engine not reachable at unix:///nowhere.sock: start dockerd or set DOCKER_HOST"
	var engineUp atomic.Bool
	// The fake worker claims the build only once the CLI asked about the
	// engine: a claim before it would leave nothing queued to wait for.
	asked := make(chan struct{}, 1)
	d := newBuildsDaemon(t, func(context.Context) client.Health {
		select {
		case asked <- struct{}{}:
		default:
		}
		return client.Health{Status: "degraded", Checks: map[string]client.HealthCheck{
			"database": {OK: true},
			"docker":   {OK: engineUp.Load(), Message: map[bool]string{false: down}[engineUp.Load()], Optional: true},
		}}
	})
	slug := d.repo("dash")

	go func() {
		<-asked
		d.work(slug, store.BuildOutcome{Status: catalog.BuildSucceeded}, "Step 1/1 : FROM scratch")
	}()
	r := appstoreIn(t, d.url, "", "build", slug, "--wait")
	if r.code != cli.ExitOK || r.stdout != "Step 1/1 : FROM scratch\n" || !strings.Contains(r.stderr, "Build #1 waits for the Docker engine: "+down+"\n") {
		t.Errorf("build --wait with the engine down: %+v", r)
	}

	engineUp.Store(true)
	go d.work(slug, store.BuildOutcome{Status: catalog.BuildSucceeded}, "Step 1/1 : FROM scratch")
	r = appstoreIn(t, d.url, "", "build", slug, "--wait")
	if r.code != cli.ExitOK || strings.Contains(r.stderr, "waits for") {
		t.Errorf("build --wait with the engine up: %+v", r)
	}
}

func TestLogsAndBuilds(t *testing.T) {
	d := newBuildsDaemon(t)
	slug := d.repo("notes")
	r := appstoreIn(t, d.url, "", "logs", slug)
	if r.code != cli.ExitNotFound || !strings.Contains(r.stderr, "notes has no builds yet") || strings.Contains(r.stderr, ": not found") {
		t.Errorf("logs without builds: %+v", r)
	}

	go d.work(slug, store.BuildOutcome{Status: catalog.BuildFailed, Error: "Step 1/1 : RUN x: exit code 2\nwhy"}, "Step 1/1 : RUN x", "why")
	r = appstoreIn(t, d.url, "", "build", slug)
	id := strings.TrimSpace(r.stdout)
	// -f follows the running build to its end; the exit code is its result.
	r = appstoreIn(t, d.url, "", "logs", slug, "-f")
	if r.code != cli.ExitError || r.stdout != "Step 1/1 : RUN x\nwhy\n" || !strings.Contains(r.stderr, "exit code 2") {
		t.Errorf("logs -f: %+v", r)
	}
	r = appstoreIn(t, d.url, "", "logs", id, "--json")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var l client.LogLine
	if err := json.Unmarshal([]byte(lines[0]), &l); err != nil || len(lines) != 2 || l.Line != "Step 1/1 : RUN x" || strconv.FormatInt(l.BuildID, 10) != id {
		t.Errorf("logs --json: %+v (%v)", r, err)
	}
	if r := appstoreIn(t, d.url, "", "logs", "0"); r.code != cli.ExitUsage {
		t.Errorf("logs 0: %+v", r)
	}
	if r := appstoreIn(t, d.url, "", "logs", "Not_A_Slug"); r.code != cli.ExitUsage {
		t.Errorf("logs of a bad argument: %+v", r)
	}

	go d.work(slug, store.BuildOutcome{Status: catalog.BuildSucceeded}, "ok")
	appstoreIn(t, d.url, "", "build", slug, "--wait")
	// A queued build shows without result.
	appstoreIn(t, d.url, "", "build", slug)

	r = appstoreIn(t, d.url, "", "builds", slug)
	rows := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(rows) != 3 {
		t.Fatalf("builds: %+v", r)
	}
	for i, want := range [][]string{{"3", "queued", "", ""}, {"2", "succeeded", "appstore/notes:c0ffeec0ffee"}, {"1", "failed", "Step 1/1 : RUN x: exit code 2"}} {
		f := strings.Split(rows[i], "\t")
		if len(f) != 6 || f[0] != want[0] || f[1] != want[1] || f[5] != want[len(want)-1] || len(f[2]) != 40 {
			t.Errorf("row %d: %q, want id %s status %s result %q", i, f, want[0], want[1], want[len(want)-1])
		}
		if _, err := time.Parse(time.RFC3339, f[4]); err != nil {
			t.Errorf("row %d: queued %q is not RFC 3339", i, f[4])
		}
	}
	r = appstoreIn(t, d.url, "", "builds", slug, "-L", "1", "-q")
	if r.stdout != "3\n" {
		t.Errorf("builds -L 1 -q: %+v", r)
	}
	r = appstoreIn(t, d.url, "", "builds", slug, "--jq", ".[].status")
	if r.stdout != "queued\nsucceeded\nfailed\n" {
		t.Errorf("builds --jq: %+v", r)
	}
}

// TestAddWaitFollowsTheBuild registers repositories with --wait on the
// real appstored with every role: the wait goes through ingestion and
// the build, whose log streams on standard error.
func TestAddWaitFollowsTheBuild(t *testing.T) {
	testenv.Docker(t)
	gitserver.RequireGit(t)
	bin, err := os.ReadFile(testenv.StaticBinary(t, "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"built by the test\") }\n"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(context.Background(), daemon.Config{
		DatabaseURL: testenv.Postgres(t), DataDir: t.TempDir(), Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	app := gitserver.File{Name: "app", Content: string(bin), Mode: 0o755}
	// The nonce makes the engine run RUN again whatever its layer cache
	// holds from earlier runs, so that its output is in the log.
	nonce := gitserver.File{Name: "nonce", Content: strconv.FormatInt(time.Now().UnixNano(), 10)}
	good := gitserver.NewRepoFiles(t, "shiny", []gitserver.File{app, nonce,
		{Name: "Dockerfile", Content: "FROM scratch\nCOPY nonce /nonce\nCOPY app /app\nRUN [\"/app\"]\nENTRYPOINT [\"/app\"]\n"}})
	bad := gitserver.NewRepoFiles(t, "broken", []gitserver.File{app,
		{Name: "Dockerfile", Content: "FROM scratch\nCOPY missing /missing\n"}})

	r := cmd(t, d.URL, false, "add", good.FileURL(), "--wait")
	if r.code != 0 || r.stdout != "shiny\n" {
		t.Fatalf("add --wait: %+v", r)
	}
	if !inOrder(r.stderr, `^shiny  ready +ingested`, `^shiny  building +build #1 at [0-9a-f]{12}$`, `^shiny  \| Building shiny at [0-9a-f]{12} with BuildKit`,
		`^shiny  \| #\d+ \[1/3\] COPY nonce /nonce$`, `^shiny  \| #\d+ [0-9.]+ built by the test$`, `^shiny  succeeded +appstore/shiny:[0-9a-f]{12} \(`) {
		t.Errorf("add --wait output:\n%s", r.stderr)
	}

	r = cmd(t, d.URL, false, "add", bad.FileURL(), "--wait", "--json")
	var repos []client.Repository
	if err := json.Unmarshal([]byte(r.stdout), &repos); err != nil || r.code != cli.ExitError || len(repos) != 1 ||
		repos[0].LatestBuild == nil || repos[0].LatestBuild.Status != catalog.BuildFailed {
		t.Fatalf("add --wait of a repository whose build fails: %+v (%v)", r, err)
	}
	if !strings.Contains(r.stderr, "error: build #2 of broken failed: [1/1] COPY missing /missing (Dockerfile line 2): ") || !strings.Contains(r.stderr, "not found") {
		t.Errorf("the build's failure is not reported:\n%s", r.stderr)
	}
}

func TestCancel(t *testing.T) {
	d := newBuildsDaemon(t)
	slug := d.repo("cancelme")
	ctx := context.Background()

	// A queued build is cancelled at once, by slug.
	r := appstoreIn(t, d.url, "", "build", slug)
	queued := strings.TrimSpace(r.stdout)
	r = appstoreIn(t, d.url, "", "cancel", slug)
	if r.code != cli.ExitOK || r.stdout != "Build #"+queued+" of cancelme cancelled\n" {
		t.Errorf("cancel of a queued build: %+v", r)
	}
	// It has ended: a second cancel is a conflict and says why.
	r = appstoreIn(t, d.url, "", "cancel", queued)
	if r.code != cli.ExitConflict || !strings.Contains(r.stderr, "nothing to cancel") {
		t.Errorf("cancel of an ended build: %+v", r)
	}

	// A running build: the request is recorded and the answer says so.
	running := func() int64 {
		t.Helper()
		r := appstoreIn(t, d.url, "", "build", slug, "--no-cache")
		id, err := strconv.ParseInt(strings.TrimSpace(r.stdout), 10, 64)
		if err != nil {
			t.Fatalf("build: %+v", r)
		}
		if _, _, err := d.st.ClaimBuild(ctx, id, "fake", time.Minute); err != nil {
			t.Fatal(err)
		}
		return id
	}
	id := running()
	r = appstoreIn(t, d.url, "", "cancel", strconv.FormatInt(id, 10), "--json")
	var b client.Build
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil || r.code != 0 || b.Status != catalog.BuildRunning || !b.CancelRequested {
		t.Fatalf("cancel --json of a running build: %+v (%v)", r, err)
	}
	if _, err := d.st.FinishBuild(ctx, id, "fake", store.BuildOutcome{Status: catalog.BuildCancelled, Error: "cancelled by request"}); err != nil {
		t.Fatal(err)
	}

	// --wait waits until the worker has stopped it.
	id = running()
	go func() {
		// The worker notices the request (only cancel sets it) and stops
		// the build.
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if bb, err := d.st.Build(ctx, id); err == nil && bb.CancelRequested {
				break
			}
		}
		if _, err := d.st.FinishBuild(ctx, id, "fake", store.BuildOutcome{Status: catalog.BuildCancelled, Error: "cancelled by request"}); err != nil {
			t.Error(err)
		}
	}()
	r = appstoreIn(t, d.url, "", "cancel", slug, "--wait", "-q")
	if r.code != cli.ExitOK || r.stdout != strconv.FormatInt(id, 10)+"\n" {
		t.Errorf("cancel --wait -q: %+v", r)
	}
	if bb, err := d.st.Build(ctx, id); err != nil || bb.Status != catalog.BuildCancelled {
		t.Errorf("after cancel --wait: %+v (%v)", bb, err)
	}

	if r := appstoreIn(t, d.url, "", "cancel", "nope"); r.code != cli.ExitNotFound {
		t.Errorf("cancel of a missing repository: %+v", r)
	}
}
