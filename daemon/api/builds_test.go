package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/events"
	"github.com/appstore-dev/appstore/daemon/queue/queuetest"
)

type buildsAPI struct {
	*apiTest
	st     *store.Store
	jobs   *queuetest.Recorder
	client *client.Client
}

func newBuildsAPI(t *testing.T, configure func(*api.Builds)) *buildsAPI {
	t.Helper()
	st := storetest.New(t)
	jobs := &queuetest.Recorder{}
	builds := &api.Builds{Store: st, Queue: jobs, PollInterval: 50 * time.Millisecond}
	if configure != nil {
		configure(builds)
	}
	s := &api.Server{Store: st, Guard: &api.Guard{Loopback: true}, Builds: builds}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &buildsAPI{apiTest: &apiTest{t: t, srv: srv}, st: st, jobs: jobs, client: &client.Client{BaseURL: srv.URL}}
}

// ingestedRepo registers a repository and records an ingested commit.
func (a *buildsAPI) ingestedRepo(name string) (string, string) {
	a.t.Helper()
	ctx := context.Background()
	r, err := a.st.CreateRepository(ctx, store.NewRepository{GitURL: "https://example.com/x/" + name + ".git", GitURLKey: "example.com/x/" + name, Name: name})
	if err != nil {
		a.t.Fatal(err)
	}
	commit := strings.Repeat("ab", 20)
	if _, err := a.st.Pool().Exec(ctx, `UPDATE repositories SET ingest_status = 'ready', last_commit_sha = $2,
		dockerfile_path = 'Dockerfile', context_path = '.' WHERE id = $1`, r.ID, commit); err != nil {
		a.t.Fatal(err)
	}
	return r.Slug, commit
}

func TestBuildsAPI(t *testing.T) {
	a := newBuildsAPI(t, nil)
	ctx := context.Background()
	r, err := a.st.CreateRepository(ctx, store.NewRepository{GitURL: "https://example.com/x/fresh.git", GitURLKey: "example.com/x/fresh", Name: "fresh"})
	if err != nil {
		t.Fatal(err)
	}
	code, body := a.do("POST", "/api/v1/repositories/"+r.Slug+"/builds", "")
	if code != http.StatusConflict || !strings.Contains(errorOf(t, body).Message, "wait for ingestion") {
		t.Errorf("build before ingestion: %d %s", code, body)
	}
	if code, _ := a.do("POST", "/api/v1/repositories/nope/builds", ""); code != http.StatusNotFound {
		t.Errorf("build of a missing repository: %d", code)
	}

	slug, commit := a.ingestedRepo("dash")
	code, body = a.do("POST", "/api/v1/repositories/"+slug+"/builds", "")
	var b client.Build
	if err := json.Unmarshal(body, &b); err != nil || code != http.StatusAccepted {
		t.Fatalf("create: %d %s", code, body)
	}
	if b.Status != catalog.BuildQueued || b.CommitSHA != commit || b.Repository != slug || b.DockerfilePath != "Dockerfile" || b.NoCache {
		t.Errorf("created build %+v", b)
	}
	if a.jobs.Len() != 1 {
		t.Errorf("%d jobs enqueued, want 1", a.jobs.Len())
	}
	// The same build again while it is queued: that one is the answer.
	code, body = a.do("POST", "/api/v1/repositories/"+slug+"/builds", "{}")
	var again client.Build
	if err := json.Unmarshal(body, &again); err != nil || code != http.StatusOK || again.ID != b.ID || a.jobs.Len() != 1 {
		t.Errorf("second create: %d %s (jobs %d)", code, body, a.jobs.Len())
	}
	nc, err := a.client.CreateBuild(ctx, slug, client.CreateBuildRequest{NoCache: true})
	if err != nil || nc.ID == b.ID || !nc.NoCache {
		t.Errorf("no-cache create: %+v %v", nc, err)
	}
	code, body = a.do("POST", "/api/v1/repositories/"+slug+"/builds", `{"nocache": true}`)
	if code != http.StatusBadRequest || errorOf(t, body).Field != "nocache" {
		t.Errorf("unknown field: %d %s", code, body)
	}

	list, err := a.client.Builds(ctx, slug, client.ListBuildsOptions{Limit: 1})
	if err != nil || len(list.Builds) != 1 || list.Builds[0].ID != nc.ID || list.NextCursor == "" {
		t.Fatalf("first page: %+v %v", list, err)
	}
	list, err = a.client.Builds(ctx, slug, client.ListBuildsOptions{Limit: 1, Cursor: list.NextCursor})
	if err != nil || len(list.Builds) != 1 || list.Builds[0].ID != b.ID || list.NextCursor != "" {
		t.Fatalf("second page: %+v %v", list, err)
	}
	if _, err := a.client.Builds(ctx, "nope", client.ListBuildsOptions{}); !client.IsNotFound(err) {
		t.Errorf("builds of a missing repository: %v", err)
	}
	got, err := a.client.Build(ctx, b.ID)
	if err != nil || got.ID != b.ID {
		t.Errorf("get: %+v %v", got, err)
	}
	if _, err := a.client.Build(ctx, 99999); !client.IsNotFound(err) || !strings.Contains(err.Error(), `build "99999" not found`) {
		t.Errorf("missing build: %v", err)
	}
	if code, body := a.do("GET", "/api/v1/builds/abc", ""); code != http.StatusBadRequest || !strings.Contains(errorOf(t, body).Message, "positive number") {
		t.Errorf("bad id: %d %s", code, body)
	}

	// Cancelling a queued build ends it at once; again is a conflict.
	code, body = a.do("POST", "/api/v1/builds/"+strconv.FormatInt(b.ID, 10)+"/cancel", "")
	var cancelled client.Build
	if err := json.Unmarshal(body, &cancelled); err != nil || code != http.StatusOK || cancelled.Status != catalog.BuildCancelled {
		t.Errorf("cancel queued: %d %s", code, body)
	}
	if _, err := a.client.CancelBuild(ctx, b.ID); !client.IsConflict(err) || !strings.Contains(err.Error(), "already cancelled") {
		t.Errorf("cancel again: %v", err)
	}
	// Cancelling a running build asks its worker to stop it.
	if _, claimed, err := a.st.ClaimBuild(ctx, nc.ID, "worker-1", time.Minute); err != nil || !claimed {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	code, body = a.do("POST", "/api/v1/builds/"+strconv.FormatInt(nc.ID, 10)+"/cancel", "")
	var pending client.Build
	if err := json.Unmarshal(body, &pending); err != nil || code != http.StatusAccepted || pending.Status != catalog.BuildRunning || !pending.CancelRequested {
		t.Errorf("cancel running: %d %s", code, body)
	}
	if cr, err := a.st.RenewBuildLease(ctx, nc.ID, "worker-1", time.Minute); err != nil || !cr {
		t.Errorf("the worker does not see the request: %v %v", cr, err)
	}
}

// fakeWorker plays a build worker through the store: claim, log, finish.
type fakeWorker struct {
	t  *testing.T
	st *store.Store
	id int64
}

func (w fakeWorker) claim() {
	w.t.Helper()
	if _, claimed, err := w.st.ClaimBuild(context.Background(), w.id, "fake", time.Minute); err != nil || !claimed {
		w.t.Fatalf("claim %d: %v %v", w.id, claimed, err)
	}
}

func (w fakeWorker) log(total int64, lines ...string) {
	w.t.Helper()
	if err := w.st.AppendBuildLog(context.Background(), w.id, lines, total, false); err != nil {
		w.t.Fatal(err)
	}
}

func (w fakeWorker) finish(o store.BuildOutcome) {
	w.t.Helper()
	if _, err := w.st.FinishBuild(context.Background(), w.id, "fake", o); err != nil {
		w.t.Fatal(err)
	}
}

func TestFollowLogStreamsLinesBeforeTheBuildEnds(t *testing.T) {
	for _, mode := range []string{"poll", "hub"} {
		t.Run(mode, func(t *testing.T) {
			var a *buildsAPI
			a = newBuildsAPI(t, func(rt *api.Builds) {
				if mode == "hub" {
					// A slow safety-net poll: lines arriving quickly can
					// only come from the hub's wake-up.
					rt.PollInterval = 10 * time.Second
				}
			})
			if mode == "hub" {
				// The hub needs the store, which newBuildsAPI made: wire
				// a second server with it.
				hub, err := events.NewHub(events.Options{Store: a.st, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				t.Cleanup(cancel)
				if err := hub.Start(ctx); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(hub.Close)
				s := &api.Server{Store: a.st, Guard: &api.Guard{Loopback: true}, Builds: &api.Builds{Notifier: hub, PollInterval: 10 * time.Second}}
				srv := httptest.NewServer(s.Handler())
				t.Cleanup(srv.Close)
				a.client = &client.Client{BaseURL: srv.URL}
			}
			slug, _ := a.ingestedRepo("follow")
			b, _, err := a.st.CreateBuild(context.Background(), slug, false)
			if err != nil {
				t.Fatal(err)
			}
			w := fakeWorker{t: t, st: a.st, id: b.ID}
			w.claim()
			w.log(12, "Step 1/2 : FROM scratch")

			got := make(chan client.LogLine, 100)
			streamErr := make(chan error, 1)
			go func() {
				for l, err := range a.client.BuildLogs(context.Background(), b.ID, client.BuildLogOptions{Follow: true}) {
					if err != nil {
						streamErr <- err
						return
					}
					got <- l
				}
				close(got)
			}()
			next := func() client.LogLine {
				t.Helper()
				select {
				case l, ok := <-got:
					if !ok {
						t.Fatal("the stream ended while the build runs")
					}
					return l
				case err := <-streamErr:
					t.Fatal(err)
				case <-time.After(30 * time.Second):
					t.Fatal("no line within 30s")
				}
				return client.LogLine{}
			}
			if l := next(); l.Line != "Step 1/2 : FROM scratch" || l.BuildID != b.ID || l.ID == 0 {
				t.Errorf("first line %+v", l)
			}
			// Lines stored while the follower waits arrive while the build
			// is still running.
			w.log(30, "Step 2/2 : COPY app /app", "copying")
			first := next()
			second := next()
			if first.Line != "Step 2/2 : COPY app /app" || second.Line != "copying" || second.ID <= first.ID {
				t.Errorf("lines %+v %+v", first, second)
			}
			if st, _ := a.st.BuildStatus(context.Background(), b.ID); st != catalog.BuildRunning {
				t.Errorf("status %s while following", st)
			}
			w.log(40, "done")
			w.finish(store.BuildOutcome{Status: catalog.BuildSucceeded, ImageID: "sha256:abc", ImageTag: "appstore/follow:abab"})
			if l := next(); l.Line != "done" {
				t.Errorf("last line %+v", l)
			}
			select {
			case _, ok := <-got:
				if ok {
					t.Error("a line after the last one")
				}
			case err := <-streamErr:
				t.Fatal(err)
			case <-time.After(30 * time.Second):
				t.Fatal("the stream did not end with the build")
			}

			// since resumes after a line.
			var rest []string
			for l, err := range a.client.BuildLogs(context.Background(), b.ID, client.BuildLogOptions{Since: first.ID}) {
				if err != nil {
					t.Fatal(err)
				}
				rest = append(rest, l.Line)
			}
			if strings.Join(rest, "|") != "copying|done" {
				t.Errorf("since %d: %q", first.ID, rest)
			}
		})
	}
}

func TestFollowSendsKeepAlives(t *testing.T) {
	a := newBuildsAPI(t, func(rt *api.Builds) { rt.KeepAlive = 50 * time.Millisecond; rt.PollInterval = time.Second })
	slug, _ := a.ingestedRepo("quiet")
	b, _, err := a.st.CreateBuild(context.Background(), slug, false)
	if err != nil {
		t.Fatal(err)
	}
	// A bound for a daemon that sends nothing; a passing run ends at the
	// first keep-alive (50 ms).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.srv.URL+"/api/v1/builds/"+strconv.FormatInt(b.ID, 10)+"/logs?follow=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() || sc.Text() != "" {
		t.Fatalf("want an empty keep-alive line first, got %q (%v)", sc.Text(), sc.Err())
	}
	if code, body := a.do("GET", "/api/v1/builds/"+strconv.FormatInt(b.ID, 10)+"/logs?follow=maybe", ""); code != http.StatusBadRequest || errorOf(t, body).Field != "follow" {
		t.Errorf("bad follow: %d %s", code, body)
	}
}
