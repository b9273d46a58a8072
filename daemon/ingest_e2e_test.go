package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/daemon/ingest/webhook"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// Ingestion end to end: the real appstored (API, queue, worker) on a real
// PostgreSQL, repositories served over smart HTTP. Builds are left out
// (roles api and worker): they have their own tests.

const (
	webhookSecret = "hook-secret-0123456789"
	exposedToken  = "exposed-token-0123456789"
)

func ingestDaemon(t *testing.T, cfg daemon.Config) (*daemon.Daemon, *client.Client) {
	t.Helper()
	gitserver.RequireGit(t)
	if cfg.Roles == nil {
		cfg.Roles = []string{daemon.RoleAPI, daemon.RoleWorker}
	}
	d := daemontest.Start(t, cfg)
	return d, &client.Client{BaseURL: d.URL}
}

// waitRepo polls the repository until cond holds (30 s at most).
func waitRepo(t *testing.T, c *client.Client, slug, what string, cond func(r *client.Repository) bool) *client.Repository {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := c.Repository(context.Background(), slug)
		if err != nil {
			t.Fatal(err)
		}
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			tl, _ := c.Timeline(context.Background(), slug, client.TimelineOptions{})
			t.Fatalf("%s: %s still %s (%q) after 30s; timeline %+v", what, slug, r.IngestStatus, r.IngestError, tl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ready(r *client.Repository) bool { return r.IngestStatus == catalog.IngestReady }

func readyAt(sha string) func(r *client.Repository) bool {
	return func(r *client.Repository) bool {
		return r.IngestStatus == catalog.IngestReady && r.LastCommitSHA == sha
	}
}

func TestIngestionThroughTheDaemon(t *testing.T) {
	d, c := ingestDaemon(t, daemon.Config{WebhookSecret: webhookSecret})
	ctx := context.Background()
	repo := gitserver.NewNamedRepo(t, "dash", map[string]string{
		"Dockerfile":   "FROM node:20-alpine\nEXPOSE 3000\nCMD [\"node\", \"server.js\"]\n",
		"package.json": `{"name": "dash", "description": "Team dashboard", "keywords": ["charts"], "dependencies": {"express": "4"}}`,
		"server.js":    "require('express')\n",
	})
	git := gitserver.HTTP(t, repo)
	added, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: git.URL(repo), Tags: []string{"team:ops"}})
	if err != nil {
		t.Fatal(err)
	}
	r := waitRepo(t, c, added.Slug, "registration", ready)
	if r.LastCommitSHA != repo.Head(t) || r.DockerfilePath != "Dockerfile" || r.AppPort != 3000 || r.Description != "Team dashboard" {
		t.Errorf("ingested %+v", r)
	}
	sources := map[string]catalog.TagSource{}
	for _, tag := range r.Tags {
		sources[tag.String()] = tag.Source
	}
	if sources["team:ops"] != catalog.SourceManual || sources["topic:charts"] != catalog.SourceAuthor || sources["framework:express"] != catalog.SourceAuto {
		t.Errorf("tags %v", r.Tags)
	}
	if r.LatestBuild == nil || r.LatestBuild.CommitSHA != r.LastCommitSHA {
		t.Errorf("no build recorded for the commit: %+v", r.LatestBuild)
	}
	tl, err := c.Timeline(ctx, "dash", client.TimelineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []catalog.IngestStatus
	for _, s := range tl {
		got = append(got, s.Status)
	}
	if want := []catalog.IngestStatus{"queued", "processing", "ready"}; !slices.Equal(got, want) {
		t.Fatalf("timeline %v, want %v", got, want)
	}

	// Refresh: the next commit.
	second := repo.Commit(t, map[string]string{"README.md": "# Dash\n"}, "readme")
	r, err = c.Refresh(ctx, "dash")
	if err != nil || r.IngestStatus != catalog.IngestQueued {
		t.Fatalf("refresh: %+v %v", r, err)
	}
	waitRepo(t, c, "dash", "refresh", readyAt(second))
	after, err := c.Timeline(ctx, "dash", client.TimelineOptions{After: tl[len(tl)-1].ID})
	if err != nil || len(after) != 3 || after[0].Message != "refresh requested" || after[2].CommitSHA != second {
		t.Errorf("steps after the refresh: %+v %v", after, err)
	}
	if _, err := c.Refresh(ctx, "nope"); !client.IsNotFound(err) {
		t.Errorf("refresh of a missing repository: %v", err)
	}

	// A push, then a signed webhook: re-ingested at the new commit.
	third := repo.Commit(t, map[string]string{"server.js": "require('express')()\n"}, "push")
	status, res := postWebhook(t, d.URL, githubHeaders(pushPayload(git.URL(repo), "main", third), webhookSecret), pushPayload(git.URL(repo), "main", third))
	if status != http.StatusAccepted || res.Status != "queued" || !slices.Equal(res.Repositories, []string{"dash"}) {
		t.Fatalf("signed push: %d %+v", status, res)
	}
	waitRepo(t, c, "dash", "webhook", readyAt(third))
	tl, _ = c.Timeline(ctx, "dash", client.TimelineOptions{Limit: 3})
	if !strings.Contains(tl[0].Message, "github push to main ("+third[:12]+")") {
		t.Errorf("webhook step %q", tl[0].Message)
	}

	// A wrong signature changes nothing.
	fourth := repo.Commit(t, map[string]string{"x": "1"}, "unsigned")
	body := pushPayload(git.URL(repo), "main", fourth)
	before, _ := c.Timeline(ctx, "dash", client.TimelineOptions{})
	status, _ = postWebhook(t, d.URL, githubHeaders(body, "wrong"), body)
	if status != http.StatusUnauthorized {
		t.Errorf("wrong signature: %d, want 401", status)
	}
	// Another branch is ignored, with the reason.
	dev := pushPayload(git.URL(repo), "dev", fourth)
	status, res = postWebhook(t, d.URL, githubHeaders(dev, webhookSecret), dev)
	if status != http.StatusOK || res.Status != "ignored" || len(res.Ignored) != 1 || !strings.Contains(res.Ignored[0].Reason, "dash follows main") {
		t.Errorf("push to dev: %d %+v", status, res)
	}
	now, _ := c.Timeline(ctx, "dash", client.TimelineOptions{})
	if len(now) != len(before) {
		t.Errorf("refused deliveries added steps: %+v", now[len(before):])
	}
	if r, _ := c.Repository(ctx, "dash"); r.LastCommitSHA != third || r.IngestStatus != catalog.IngestReady {
		t.Errorf("after refused deliveries: %s at %s", r.IngestStatus, r.LastCommitSHA)
	}

	// GitLab and Gitea deliveries work the same way.
	gl := strings.Replace(pushPayload("", "main", fourth), `"repository"`, `"project"`, 1)
	gl = strings.Replace(gl, `"clone_url"`, `"git_http_url"`, 1)
	gl = strings.Replace(gl, `{"ref"`, `{"object_kind":"push","ref"`, 1)
	gl = strings.Replace(gl, `"git_http_url":""`, `"git_http_url":"`+git.URL(repo)+`"`, 1)
	status, res = postWebhook(t, d.URL, http.Header{"X-Gitlab-Event": {"Push Hook"}, "X-Gitlab-Token": {webhookSecret}}, gl)
	if status != http.StatusAccepted {
		t.Fatalf("gitlab push: %d %+v (%s)", status, res, gl)
	}
	waitRepo(t, c, "dash", "gitlab webhook", readyAt(fourth))
	fifth := repo.Commit(t, map[string]string{"y": "1"}, "gitea")
	gt := pushPayload(git.URL(repo), "main", fifth)
	status, res = postWebhook(t, d.URL, http.Header{"X-Gitea-Event": {"push"}, "X-Gitea-Signature": {webhook.SignHex([]byte(gt), webhookSecret)}}, gt)
	if status != http.StatusAccepted {
		t.Fatalf("gitea push: %d %+v", status, res)
	}
	waitRepo(t, c, "dash", "gitea webhook", readyAt(fifth))

	// Not a push, and a repository nobody registered.
	status, res = postWebhook(t, d.URL, githubHeaders(`{"zen":"hi","hook_id":1}`, webhookSecret, "ping"), `{"zen":"hi","hook_id":1}`)
	if status != http.StatusOK || res.Status != "ok" {
		t.Errorf("ping: %d %+v", status, res)
	}
	other := pushPayload("https://git.example.org/acme/other.git", "main", fifth)
	status, res = postWebhook(t, d.URL, githubHeaders(other, webhookSecret), other)
	if status != http.StatusOK || res.Status != "ignored" || !strings.Contains(res.Reason, "no registered repository") {
		t.Errorf("unknown repository: %d %+v", status, res)
	}
}

func pushPayload(cloneURL, branch, after string) string {
	return fmt.Sprintf(`{"ref":"refs/heads/%s","before":"%s","after":"%s","repository":{"full_name":"acme/dash","clone_url":%q,"default_branch":"main"}}`,
		branch, strings.Repeat("0", 39)+"1", after, cloneURL)
}

func githubHeaders(body, secret string, event ...string) http.Header {
	ev := "push"
	if len(event) > 0 {
		ev = event[0]
	}
	return http.Header{
		"X-Github-Event":      {ev},
		"X-Hub-Signature-256": {"sha256=" + webhook.SignHex([]byte(body), secret)},
		"Content-Type":        {"application/json"},
	}
}

func postWebhook(t *testing.T, base string, h http.Header, body string) (int, client.WebhookResult) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/webhooks/git", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var res client.WebhookResult
	_ = json.Unmarshal(raw, &res)
	if resp.StatusCode >= 300 {
		t.Logf("webhook answer %d: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, res
}

func TestWebhookWithoutASecretSaysHowToSetOne(t *testing.T) {
	d, _ := ingestDaemon(t, daemon.Config{})
	body := pushPayload("https://github.com/acme/dash.git", "main", "abc")
	resp, err := http.Post(d.URL+"/api/v1/webhooks/git", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb client.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&eb)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(eb.Error.Message, "--webhook-secret") {
		t.Errorf("%d %+v", resp.StatusCode, eb)
	}
}

func TestWebhookIsExemptFromTheTokenButNotFromItsSignature(t *testing.T) {
	d, _ := ingestDaemon(t, daemon.Config{Token: "daemon-token-0123456789", WebhookSecret: webhookSecret})
	body := pushPayload("https://git.example.org/acme/x.git", "main", "abc")
	if status, _ := postWebhook(t, d.URL, githubHeaders(body, webhookSecret), body); status != http.StatusOK {
		t.Errorf("signed delivery without the daemon token: %d, want 200 (ignored: unknown repository)", status)
	}
	if status, _ := postWebhook(t, d.URL, githubHeaders(body, "guess"), body); status != http.StatusUnauthorized {
		t.Errorf("badly signed delivery: %d, want 401", status)
	}
	big := `{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", 5<<20) + `"}`
	if status, _ := postWebhook(t, d.URL, githubHeaders(big, webhookSecret), big); status != http.StatusRequestEntityTooLarge {
		t.Errorf("5 MiB delivery: %d, want 413", status)
	}
}

func TestTimelineRoute(t *testing.T) {
	d, c := ingestDaemon(t, daemon.Config{})
	ctx := context.Background()
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://git.example.invalid/acme/tl.git"}); err != nil {
		t.Fatal(err)
	}
	// The host does not resolve: registered, and the ingestion says so.
	r := waitRepo(t, c, "tl", "unresolvable host", func(r *client.Repository) bool { return r.IngestStatus == catalog.IngestFailed })
	if !strings.Contains(r.IngestError, "does not resolve") {
		t.Errorf("error %q", r.IngestError)
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?after=x", "?after=-1"} {
		resp, err := http.Get(d.URL + "/api/v1/repositories/tl/events" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, resp.StatusCode)
		}
	}
	if _, err := c.Timeline(ctx, "nope", client.TimelineOptions{}); !client.IsNotFound(err) {
		t.Errorf("timeline of a missing repository: %v", err)
	}
	tl, err := c.Timeline(ctx, "tl", client.TimelineOptions{Limit: 1})
	if err != nil || len(tl) != 1 || tl[0].Status != catalog.IngestFailed {
		t.Errorf("newest step: %+v %v", tl, err)
	}
	// A refresh takes no options: unknown fields are refused.
	req, _ := c.NewRequest(ctx, http.MethodPost, "/api/v1/repositories/tl/refresh", nil, map[string]any{"force": true})
	if _, err := c.Do(req); !client.IsInvalid(err) {
		t.Errorf("refresh with a field: %v", err)
	}
}

func TestRegistrationPolicy(t *testing.T) {
	gitserver.RequireGit(t)
	local := gitserver.NewNamedRepo(t, "here", map[string]string{"Dockerfile": "FROM alpine\n"})
	git := gitserver.HTTP(t, local)
	ctx := context.Background()

	// Loopback: local paths and private addresses are fine.
	_, c := ingestDaemon(t, daemon.Config{})
	for _, u := range []string{local.FileURL(), git.URL(local)} {
		if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: u, Name: "x" + fmt.Sprint(len(u))}); err != nil {
			t.Errorf("loopback daemon refused %s: %v", u, err)
		}
	}

	// Exposed: neither, unless --git-allow-private admits the second.
	exposed := daemon.Config{Addr: "0.0.0.0:0", Token: exposedToken}
	d := daemontest.Start(t, exposed)
	c = &client.Client{BaseURL: d.URL, Token: exposedToken}
	for u, want := range map[string]string{local.FileURL(): "loopback", git.URL(local): "127.0.0.1"} {
		_, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: u})
		if !client.IsInvalid(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("exposed daemon and %s: %v, want a refusal mentioning %q", u, err, want)
		}
	}
	exposed.GitAllowPrivate = true
	d = daemontest.Start(t, exposed)
	c = &client.Client{BaseURL: d.URL, Token: exposedToken}
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: git.URL(local)}); err != nil {
		t.Errorf("--git-allow-private refused a private address: %v", err)
	}
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: local.FileURL()}); !client.IsInvalid(err) {
		t.Errorf("--git-allow-private admitted a local path: %v", err)
	}

	// Listening on loopback behind a proxy that forwards another name is
	// exposed too: the loopback listener proves nothing about the clients.
	proxied := daemon.Config{Token: exposedToken, AllowedHosts: []string{"appstore.example.com"}}
	d = daemontest.Start(t, proxied)
	c = &client.Client{BaseURL: d.URL, Token: exposedToken}
	for u, want := range map[string]string{local.FileURL(): "--allow-local-repos", git.URL(local): "--git-allow-private"} {
		_, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: u})
		if !client.IsInvalid(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("daemon behind a proxy and %s: %v, want a refusal mentioning %q", u, err, want)
		}
	}
	// --allow-local-repos opts back in to local paths, not to private addresses.
	proxied.AllowLocalRepos = true
	d = daemontest.Start(t, proxied)
	c = &client.Client{BaseURL: d.URL, Token: exposedToken}
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: local.FileURL()}); err != nil {
		t.Errorf("--allow-local-repos refused a local path: %v", err)
	}
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: git.URL(local), Name: "private"}); !client.IsInvalid(err) {
		t.Errorf("--allow-local-repos admitted a private address: %v", err)
	}
}

// TestCrashedIngestionIsRecoveredAtStart leaves a repository processing
// under an expired lease, as a killed worker does, and starts appstored on
// that database.
func TestCrashedIngestionIsRecoveredAtStart(t *testing.T) {
	gitserver.RequireGit(t)
	st, url := storetest.NewWithURL(t)
	ctx := context.Background()
	repo := gitserver.NewNamedRepo(t, "crashed", map[string]string{"Dockerfile": "FROM alpine\n"})
	git := gitserver.HTTP(t, repo)
	u, _ := giturl.Parse(git.URL(repo))
	r, err := st.CreateRepository(ctx, store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: u.Name()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimIngest(ctx, r.ID, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET ingest_lease_until = now() - interval '1 second' WHERE id = $1`, r.ID); err != nil {
		t.Fatal(err)
	}
	_, c := ingestDaemon(t, daemon.Config{DatabaseURL: url})
	got := waitRepo(t, c, "crashed", "recovery", ready)
	if got.IngestAttempts != 2 {
		t.Errorf("attempts %d, want 2 (the crashed one and the recovery)", got.IngestAttempts)
	}
}

func TestSyncReingestsANewCommit(t *testing.T) {
	_, c := ingestDaemon(t, daemon.Config{SyncInterval: 100 * time.Millisecond})
	ctx := context.Background()
	repo := gitserver.NewNamedRepo(t, "synced", map[string]string{"Dockerfile": "FROM alpine\n"})
	git := gitserver.HTTP(t, repo)
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: git.URL(repo)}); err != nil {
		t.Fatal(err)
	}
	waitRepo(t, c, "synced", "registration", ready)
	next := repo.Commit(t, map[string]string{"Dockerfile": "FROM alpine:3.20\nEXPOSE 8080\n"}, "next")
	r := waitRepo(t, c, "synced", "sync", readyAt(next))
	if r.AppPort != 8080 {
		t.Errorf("port %d after the sync", r.AppPort)
	}
}

// TestIngestionWithRedis runs the pipeline on the asynq queue: a second
// worker-only process shares the Redis and the database.
func TestIngestionWithRedis(t *testing.T) {
	redisURL := testenv.Redis(t)
	db := testenv.Postgres(t)
	_, c := ingestDaemon(t, daemon.Config{DatabaseURL: db, RedisURL: redisURL, Roles: []string{daemon.RoleAPI}})
	ingestDaemon(t, daemon.Config{DatabaseURL: db, RedisURL: redisURL, Roles: []string{daemon.RoleWorker}, Addr: "127.0.0.1:0"})
	ctx := context.Background()
	var slugs []string
	var repos []*gitserver.Repo
	for i := range 4 {
		repos = append(repos, gitserver.NewNamedRepo(t, fmt.Sprintf("r%d", i), map[string]string{"Dockerfile": "FROM alpine\n"}))
	}
	git := gitserver.HTTP(t, repos...)
	for _, repo := range repos {
		r, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: git.URL(repo)})
		if err != nil {
			t.Fatal(err)
		}
		slugs = append(slugs, r.Slug)
	}
	for i, slug := range slugs {
		waitRepo(t, c, slug, "asynq ingestion", readyAt(repos[i].Head(t)))
	}
}

// TestShutdownDuringIngestionResumesAfterRestart stops appstored while a
// clone hangs on the Git server: the attempt is recorded as interrupted
// (queued), and the next appstored on the same database finishes it.
func TestShutdownDuringIngestionResumesAfterRestart(t *testing.T) {
	gitserver.RequireGit(t)
	db := testenv.Postgres(t)
	repo := gitserver.NewNamedRepo(t, "stalled", map[string]string{"Dockerfile": "FROM alpine\n"})
	git := gitserver.HTTP(t, repo)
	backend := gitserver.HTTPHandler(t, git.Root)
	stall := make(chan struct{})
	var stallOnce sync.Once
	reached := make(chan struct{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		default:
			stallOnce.Do(func() { close(reached) })
			select {
			case <-stall:
			case <-r.Context().Done():
				return
			}
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	t.Cleanup(func() {
		select {
		case <-stall:
		default:
			close(stall)
		}
	})
	url := front.URL + "/stalled.git"

	cfg := daemon.Config{DatabaseURL: db, DataDir: t.TempDir(), Addr: "127.0.0.1:0", Roles: []string{daemon.RoleAPI, daemon.RoleWorker},
		Logger: slog.New(slog.DiscardHandler)}
	first, err := daemon.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{BaseURL: first.URL}
	if _, err := c.AddRepository(context.Background(), client.AddRepositoryRequest{GitURL: url}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		t.Fatal("the clone never reached the Git server")
	}
	// The hung clone does not hold up the shutdown.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The clone hangs until the test lets it go: a shutdown that waited
	// for it would run out of its context's time and say so.
	if err := first.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an ingestion running: %v", err)
	}
	st, err := store.Open(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.Repository(context.Background(), "stalled")
	if err != nil || r.IngestStatus != catalog.IngestQueued || !strings.Contains(r.IngestError, "interrupted") {
		t.Fatalf("after shutdown: %+v %v", r, err)
	}

	close(stall)
	cfg.DataDir = t.TempDir()
	second := daemontest.Start(t, cfg)
	got := waitRepo(t, &client.Client{BaseURL: second.URL}, "stalled", "after restart", readyAt(repo.Head(t)))
	if got.IngestAttempts != 2 {
		t.Errorf("attempts %d, want 2 (the interrupted one and the one after restart)", got.IngestAttempts)
	}
}
