package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/ingest/webhook"
)

// IngestRoutes serves re-ingestion and its timeline:
//
//	POST /api/v1/repositories/{slug}/refresh   ingest again now (202 + repository)
//	GET  /api/v1/repositories/{slug}/events    the ingestion timeline (?after=, ?limit=)
//	POST /api/v1/webhooks/git                  push webhooks of GitHub, GitLab, Gitea
//
// The webhook route is exempt from the daemon token (Guard.TokenExempt):
// it authenticates deliveries with WebhookSecret instead.
type IngestRoutes struct {
	Store  *store.Store
	Logger *slog.Logger
	// Ingest receives the jobs; nil leaves repositories queued for the
	// reconciler.
	Ingest Ingester
	// WebhookSecret verifies webhook deliveries; empty disables the route
	// (503 saying how to enable it).
	WebhookSecret string
	// MaxWebhookBytes bounds a delivery (default 4 MiB: GitHub push
	// payloads list up to 20 commits with their files).
	MaxWebhookBytes int64
}

// Register adds the routes to mux.
func (rt *IngestRoutes) Register(mux *http.ServeMux) {
	if rt.Logger == nil {
		rt.Logger = slog.New(slog.DiscardHandler)
	}
	if rt.MaxWebhookBytes <= 0 {
		rt.MaxWebhookBytes = 4 << 20
	}
	mux.HandleFunc("POST /api/v1/repositories/{slug}/refresh", rt.refresh)
	mux.HandleFunc("GET /api/v1/repositories/{slug}/events", rt.timeline)
	mux.HandleFunc("POST /api/v1/webhooks/git", rt.webhook)
}

func (rt *IngestRoutes) refresh(w http.ResponseWriter, r *http.Request) {
	// No options yet; refuse a body with fields rather than ignore them.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
		var none struct{}
		if err := decodeJSON(w, r, 64<<10, &none); err != nil {
			writeError(w, r, err)
			return
		}
	}
	repo, _, err := rt.Store.RequestIngest(r.Context(), r.PathValue("slug"), "refresh requested")
	if err != nil {
		writeError(w, r, err)
		return
	}
	rt.enqueue(r, repo.ID, repo.Slug)
	writeJSON(w, http.StatusAccepted, repo)
}

// enqueue hands a queued repository to the queue; a failure only delays
// it until the reconciler's next pass.
func (rt *IngestRoutes) enqueue(r *http.Request, id int64, slug string) {
	if rt.Ingest == nil {
		return
	}
	if err := rt.Ingest.EnqueueIngest(r.Context(), id); err != nil {
		rt.Logger.Warn("enqueue ingestion failed; the reconciler will retry", "slug", slug, "err", err)
	}
}

func (rt *IngestRoutes) timeline(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var opts store.TimelineOptions
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			writeError(w, r, invalidField("after", "%q: want the id of a step (a number)", s))
			return
		}
		opts.After = n
	}
	limit, err := intParam(q.Get("limit"), "limit", 1, 1000)
	if err != nil {
		writeError(w, r, err)
		return
	}
	opts.Limit = limit
	evs, err := rt.Store.IngestionTimeline(r.Context(), r.PathValue("slug"), opts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, client.Timeline{Events: evs})
}

// webhook handles a push delivery: verify, parse, match the repositories
// registered under the payload's URLs and branch, re-ingest them.
func (rt *IngestRoutes) webhook(w http.ResponseWriter, r *http.Request) {
	if rt.WebhookSecret == "" {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "unavailable",
			"webhooks are disabled: start appstored with --webhook-secret <secret> (or APPSTORE_WEBHOOK_SECRET) and give the same secret to the webhook in GitHub, GitLab or Gitea; see docs/api.md"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rt.MaxWebhookBytes))
	if err != nil {
		writeError(w, r, err)
		return
	}
	provider, err := webhook.Verify(r.Header, body, rt.WebhookSecret)
	if err != nil {
		rt.Logger.Warn("webhook refused", "remote", r.RemoteAddr, "err", err)
		writeError(w, r, errorf(http.StatusUnauthorized, "unauthorized", "%v", err))
		return
	}
	switch ev := webhook.Event(provider, r.Header); ev {
	case "push":
	case "ping":
		writeJSON(w, http.StatusOK, client.WebhookResult{Status: "ok", Reason: "pong: the secret matches; push events re-ingest the repository"})
		return
	default:
		writeJSON(w, http.StatusOK, client.WebhookResult{Status: "ignored", Reason: fmt.Sprintf("%s event %q: only pushes re-ingest", provider, ev)})
		return
	}
	push, err := webhook.Parse(r.Header.Get("Content-Type"), body)
	if err != nil {
		if errors.Is(err, webhook.ErrNotPush) {
			writeJSON(w, http.StatusOK, client.WebhookResult{Status: "ignored", Reason: err.Error()})
			return
		}
		writeError(w, r, errorf(http.StatusBadRequest, "invalid", "%v", err))
		return
	}
	branch := push.Branch()
	switch {
	case branch == "":
		writeJSON(w, http.StatusOK, client.WebhookResult{Status: "ignored", Reason: fmt.Sprintf("%s is not a branch (tags are not ingested)", push.Ref)})
		return
	case push.Deleted:
		writeJSON(w, http.StatusOK, client.WebhookResult{Status: "ignored", Reason: "branch " + branch + " was deleted"})
		return
	}
	repos, err := rt.Store.RepositoriesByURLKeys(r.Context(), push.Keys())
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(repos) == 0 {
		writeJSON(w, http.StatusOK, client.WebhookResult{Status: "ignored",
			Reason: fmt.Sprintf("no registered repository has the URL %s; register it with appstore add", strings.Join(push.URLs[:min(len(push.URLs), 3)], " or "))})
		return
	}
	res := client.WebhookResult{Status: "ignored"}
	for _, repo := range repos {
		follows := repo.Branch
		if follows == "" {
			follows = repo.DefaultBranch
		}
		if follows == "" {
			// Never ingested: the forge knows its default branch.
			follows = push.DefaultBranch
		}
		if follows != "" && follows != branch {
			res.Ignored = append(res.Ignored, client.WebhookIgnored{Slug: repo.Slug,
				Reason: fmt.Sprintf("push to %s; %s follows %s", branch, repo.Slug, follows)})
			continue
		}
		reason := fmt.Sprintf("%s push to %s", provider, branch)
		if push.After != "" {
			reason += " (" + shortSHA(push.After) + ")"
		}
		if _, err := rt.Store.RequestIngestByID(r.Context(), repo.ID, reason); err != nil {
			writeError(w, r, err)
			return
		}
		rt.enqueue(r, repo.ID, repo.Slug)
		res.Repositories = append(res.Repositories, repo.Slug)
	}
	if len(res.Repositories) == 0 {
		res.Reason = res.Ignored[0].Reason
		writeJSON(w, http.StatusOK, res)
		return
	}
	res.Status = "queued"
	rt.Logger.Info("webhook queued re-ingestion", "provider", provider, "branch", branch, "repositories", res.Repositories)
	writeJSON(w, http.StatusAccepted, res)
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
