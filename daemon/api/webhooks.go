package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/api/respond"
	"github.com/appstore-dev/appstore/daemon/ingest/webhook"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// WebhookStore is what the webhook handler needs of the catalog
// (*store.Store).
type WebhookStore interface {
	RepositoriesByURLKeys(ctx context.Context, keys []string) ([]*catalog.Repository, error)
	RequestIngestByID(ctx context.Context, id int64, reason string) (bool, error)
}

// Webhooks serves the push webhooks of GitHub, GitLab and Gitea. The route
// needs no daemon token: it authenticates deliveries with Secret instead.
type Webhooks struct {
	Store  WebhookStore
	Logger *slog.Logger
	// Ingest receives the jobs; nil leaves repositories queued for the
	// reconciler.
	Ingest Ingester
	// Secret verifies deliveries; empty disables the route (503 saying how
	// to enable it).
	Secret string
	// MaxBytes bounds a delivery (default 4 MiB: GitHub push payloads list
	// up to 20 commits with their files).
	MaxBytes int64
}

func (h *Webhooks) defaults(s *Server) {
	if h.Store == nil {
		h.Store = s.Store
	}
	if h.Logger == nil {
		h.Logger = s.Logger
	}
	if h.MaxBytes <= 0 {
		h.MaxBytes = 4 << 20
	}
}

// push handles a push delivery: verify, parse, match the repositories
// registered under the payload's URLs and branch, re-ingest them.
func (h *Webhooks) push(w http.ResponseWriter, r *http.Request) {
	if h.Secret == "" {
		respond.WriteError(w, r, respond.Errorf(http.StatusServiceUnavailable, apitype.CodeUnavailable,
			"webhooks are disabled: start appstored with --webhook-secret <secret> (or APPSTORE_WEBHOOK_SECRET) and give the same secret to the webhook in GitHub, GitLab or Gitea; see docs/api.md"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.MaxBytes))
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	provider, err := webhook.Verify(r.Header, body, h.Secret)
	if err != nil {
		h.Logger.Warn("webhook refused", "remote", r.RemoteAddr, "err", err)
		respond.WriteError(w, r, respond.Errorf(http.StatusUnauthorized, apitype.CodeUnauthorized, "%v", err))
		return
	}
	switch ev := webhook.Event(provider, r.Header); ev {
	case "push":
	case "ping":
		respond.JSON(w, http.StatusOK, apitype.WebhookResult{Status: "ok", Reason: "pong: the secret matches; push events re-ingest the repository"})
		return
	default:
		respond.JSON(w, http.StatusOK, apitype.WebhookResult{Status: "ignored", Reason: fmt.Sprintf("%s event %q: only pushes re-ingest", provider, ev)})
		return
	}
	push, err := webhook.Parse(r.Header.Get("Content-Type"), body)
	if err != nil {
		if errors.Is(err, webhook.ErrNotPush) {
			respond.JSON(w, http.StatusOK, apitype.WebhookResult{Status: "ignored", Reason: err.Error()})
			return
		}
		respond.WriteError(w, r, respond.Errorf(http.StatusBadRequest, apitype.CodeInvalid, "%v", err))
		return
	}
	branch := push.Branch()
	switch {
	case branch == "":
		respond.JSON(w, http.StatusOK, apitype.WebhookResult{Status: "ignored", Reason: fmt.Sprintf("%s is not a branch (tags are not ingested)", push.Ref)})
		return
	case push.Deleted:
		respond.JSON(w, http.StatusOK, apitype.WebhookResult{Status: "ignored", Reason: "branch " + branch + " was deleted"})
		return
	}
	repos, err := h.Store.RepositoriesByURLKeys(r.Context(), push.Keys())
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if len(repos) == 0 {
		respond.JSON(w, http.StatusOK, apitype.WebhookResult{Status: "ignored",
			Reason: fmt.Sprintf("no registered repository has the URL %s; register it with appstore add", strings.Join(push.URLs[:min(len(push.URLs), 3)], " or "))})
		return
	}
	res := apitype.WebhookResult{Status: "ignored"}
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
			res.Ignored = append(res.Ignored, apitype.WebhookIgnored{Slug: repo.Slug,
				Reason: fmt.Sprintf("push to %s; %s follows %s", branch, repo.Slug, follows)})
			continue
		}
		reason := fmt.Sprintf("%s push to %s", provider, branch)
		if push.After != "" {
			reason += " (" + textutil.ShortSHA(push.After) + ")"
		}
		if _, err := h.Store.RequestIngestByID(r.Context(), repo.ID, reason); err != nil {
			respond.WriteError(w, r, err)
			return
		}
		enqueueIngest(r, h.Ingest, h.Logger, repo.ID, repo.Slug)
		res.Repositories = append(res.Repositories, repo.Slug)
	}
	if len(res.Repositories) == 0 {
		res.Reason = res.Ignored[0].Reason
		respond.JSON(w, http.StatusOK, res)
		return
	}
	res.Status = "queued"
	h.Logger.Info("webhook queued re-ingestion", "provider", provider, "branch", branch, "repositories", res.Repositories)
	respond.JSON(w, http.StatusAccepted, res)
}
