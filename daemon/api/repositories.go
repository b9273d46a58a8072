package api

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api/respond"
)

// Ingester is told about repositories that need (re-)ingestion. The store
// already records them as queued, so a failed call only delays the work
// until the reconciler puts it back.
type Ingester interface {
	EnqueueIngest(ctx context.Context, repositoryID int64) error
}

// GitPolicy checks a parsed Git URL before it is registered.
type GitPolicy interface {
	Check(ctx context.Context, u *giturl.URL) error
}

// RepositoryStore is what the repository handlers need of the catalog
// (*store.Store).
type RepositoryStore interface {
	CreateRepository(ctx context.Context, in store.NewRepository) (*catalog.Repository, error)
	ListRepositories(ctx context.Context, o store.ListOptions) ([]*catalog.Repository, string, error)
	Repository(ctx context.Context, slug string) (*catalog.Repository, error)
	UpdateRepository(ctx context.Context, slug string, u store.RepositoryUpdate) (*catalog.Repository, error)
	DeleteRepository(ctx context.Context, slug string) error
	RequestIngest(ctx context.Context, slug, reason string) (*catalog.Repository, bool, error)
	IngestionTimeline(ctx context.Context, slug string, o store.TimelineOptions) ([]catalog.IngestionEvent, error)
	ListTags(ctx context.Context, o store.TagListOptions) ([]catalog.Tag, error)
	RepositoryIDBySlug(ctx context.Context, slug string) (int64, error)
	Readme(ctx context.Context, slug string) (string, error)
}

// Repositories serves the repositories, their re-ingestion and timeline,
// and their tags.
type Repositories struct {
	Store  RepositoryStore
	Logger *slog.Logger
	// GitPolicy decides which Git URLs may be registered (giturl.Policy);
	// nil accepts any well-formed URL, and local paths only on Loopback.
	GitPolicy GitPolicy
	// Loopback is set when the daemon is local-only: it listens on
	// loopback and is not exposed (Guard.Exposed).
	Loopback bool
	// Ingest is told about new and refreshed repositories; nil leaves
	// them queued for the reconciler.
	Ingest Ingester
	// MaxBodyBytes bounds request bodies (default: the server's).
	MaxBodyBytes int64
	// StopLaunches stops the active launches of an app before it is
	// removed (the runner of this process); nil where there is none.
	StopLaunches func(ctx context.Context, slug string) ([]catalog.Launch, error)
	// Volumes removes an app's data volume on DELETE ?purge=true (the
	// runner of this process); nil where there is none.
	Volumes VolumeManager
}

func (h *Repositories) defaults(s *Server) {
	if h.Store == nil {
		h.Store = s.Store
	}
	if h.Logger == nil {
		h.Logger = s.Logger
	}
	if h.MaxBodyBytes <= 0 {
		h.MaxBodyBytes = s.MaxBodyBytes
	}
	if h.GitPolicy == nil && !h.Loopback {
		h.Loopback = s.Guard.Loopback && !s.Guard.Exposed
	}
}

func (h *Repositories) create(w http.ResponseWriter, r *http.Request) {
	var req apitype.AddRepositoryRequest
	if err := respond.DecodeJSON(w, r, h.MaxBodyBytes, &req); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	in, err := h.newRepository(r.Context(), req)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	actor, err := catalog.ActorFrom(r.Context())
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	in.OwnedBy = actor.Name
	repo, err := h.Store.CreateRepository(r.Context(), *in)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	h.enqueue(r, repo.ID, repo.Slug)
	w.Header().Set("Location", "/api/v1/repositories/"+repo.Slug)
	respond.JSON(w, http.StatusCreated, repo)
}

// newRepository checks an add request field by field with the catalog's
// rules and the Git URL policy.
func (h *Repositories) newRepository(ctx context.Context, req apitype.AddRepositoryRequest) (*store.NewRepository, error) {
	if strings.TrimSpace(req.GitURL) == "" {
		return nil, catalog.Invalid("git_url", "is required: give the repository's clone URL")
	}
	u, err := giturl.Parse(req.GitURL)
	if err != nil {
		return nil, catalog.Invalid("git_url", "%v", err)
	}
	if h.GitPolicy != nil {
		if err := h.GitPolicy.Check(ctx, u); err != nil {
			return nil, catalog.Invalid("git_url", "%v", err)
		}
	} else if u.IsLocal() && !h.Loopback {
		return nil, catalog.Invalid("git_url", "file:// URLs and local paths are accepted only while appstored is local-only (it listens on loopback, with no --allowed-host beyond it)")
	}
	in := &store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: req.Name, Owner: u.Owner()}
	if req.Name != "" {
		if err := catalog.ValidateName(req.Name); err != nil {
			return nil, err
		}
		in.NameManual = true
	} else {
		in.Name = u.Name()
	}
	if err := catalog.ValidateBranch(req.Branch); err != nil {
		return nil, err
	}
	in.Branch = req.Branch
	if in.RequestedDockerfile, err = catalog.CleanDockerfilePath(req.Dockerfile); err != nil {
		return nil, err
	}
	if in.Tags, err = catalog.ParseTags("tags", req.Tags); err != nil {
		return nil, err
	}
	return in, nil
}

func (h *Repositories) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := store.ListOptions{Status: catalog.IngestStatus(q.Get("status")), Cursor: q.Get("cursor")}
	tags, err := catalog.ParseTags("tag", q["tag"])
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	opts.Tags = tags
	if opts.Limit, err = intParam(q.Get("limit"), "limit", 1, 500); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	repos, next, err := h.Store.ListRepositories(r.Context(), opts)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	out := apitype.RepositoryList{Repositories: make([]apitype.Repository, len(repos)), NextCursor: next}
	for i, repo := range repos {
		out.Repositories[i] = *repo
	}
	respond.JSON(w, http.StatusOK, out)
}

func (h *Repositories) get(w http.ResponseWriter, r *http.Request) {
	repo, err := h.Store.Repository(r.Context(), r.PathValue("slug"))
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, repo)
}

func (h *Repositories) update(w http.ResponseWriter, r *http.Request) {
	var req apitype.UpdateRepositoryRequest
	if err := respond.DecodeJSON(w, r, h.MaxBodyBytes, &req); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	u := store.RepositoryUpdate{Name: req.Name, Description: req.Description, Homepage: req.Homepage, Branch: req.Branch, Dockerfile: req.Dockerfile, Redeploy: req.Redeploy,
		Context: req.Context, Port: req.Port, Profile: req.Profile, Target: req.Target, Reset: req.Reset}
	if err := checkProfile(req.Profile); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if req.OwnedBy != nil {
		if err := mayHandOver(r.Context()); err != nil {
			respond.WriteError(w, r, err)
			return
		}
		u.OwnedBy = req.OwnedBy
	}
	// The sanitisers of every write path (catalog/sanitize.go); the store
	// applies them too.
	if req.Name != nil {
		if err := catalog.ValidateName(*req.Name); err != nil {
			respond.WriteError(w, r, err)
			return
		}
	}
	if req.Description != nil {
		d, err := catalog.CleanDescription(*req.Description)
		if err != nil {
			respond.WriteError(w, r, err)
			return
		}
		u.Description = &d
	}
	if req.Homepage != nil {
		hp, err := catalog.CleanHomepage(*req.Homepage)
		if err != nil {
			respond.WriteError(w, r, err)
			return
		}
		u.Homepage = &hp
	}
	if req.Branch != nil {
		if err := catalog.ValidateBranch(*req.Branch); err != nil {
			respond.WriteError(w, r, err)
			return
		}
	}
	var err error
	if u.AddTags, err = catalog.ParseTags("add_tags", req.AddTags); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if u.RemoveTags, err = catalog.ParseTags("remove_tags", req.RemoveTags); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	repo, err := h.Store.UpdateRepository(r.Context(), r.PathValue("slug"), u)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if needsReingest(req) {
		// The clone, the card or the build follow these fields: ingest
		// again so that they take effect.
		if queued, _, err := h.Store.RequestIngest(r.Context(), repo.Slug, "settings changed: "+strings.Join(changedFields(req), ", ")); err == nil {
			h.enqueue(r, queued.ID, queued.Slug)
			repo = queued
		} else {
			h.Logger.Warn("queue ingestion after an edit", "slug", repo.Slug, "err", err)
		}
	}
	respond.JSON(w, http.StatusOK, repo)
}

// delete stops the app's launches (their containers removed) before it
// removes the app, so that nothing of it still runs once the answer comes.
func (h *Repositories) delete(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	if h.StopLaunches != nil {
		if _, err := h.Store.RepositoryIDBySlug(r.Context(), slug); err != nil {
			respond.WriteError(w, r, err)
			return
		}
		if _, err := h.StopLaunches(r.Context(), slug); err != nil {
			respond.WriteError(w, r, respond.Errorf(http.StatusServiceUnavailable, "unavailable",
				"%s was not removed: its launches could not be stopped (%v); try again, or stop them with `appstore stop %s`", slug, err, slug))
			return
		}
	}
	// The app's data volume is kept (the same repository added again gets
	// it back) unless ?purge=true; it goes before the app, so that a
	// failure leaves both.
	if purge := r.URL.Query().Get("purge"); purge == "true" || purge == "1" {
		if err := purgeVolume(r.Context(), h.Volumes, slug); err != nil {
			launchError(w, r, err)
			return
		}
	}
	if err := h.Store.DeleteRepository(r.Context(), slug); err != nil {
		respond.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// refresh ingests the repository again now: 202 and the repository,
// queued.
func (h *Repositories) refresh(w http.ResponseWriter, r *http.Request) {
	// No options yet; refuse a body with fields rather than ignore them.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
		var none struct{}
		if err := respond.DecodeJSON(w, r, 64<<10, &none); err != nil {
			respond.WriteError(w, r, err)
			return
		}
	}
	repo, _, err := h.Store.RequestIngest(r.Context(), r.PathValue("slug"), "refresh requested")
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	h.enqueue(r, repo.ID, repo.Slug)
	respond.JSON(w, http.StatusAccepted, repo)
}

// enqueue hands a queued repository to the queue; a failure only delays
// it until the reconciler's next pass.
func (h *Repositories) enqueue(r *http.Request, id int64, slug string) {
	enqueueIngest(r, h.Ingest, h.Logger, id, slug)
}

func enqueueIngest(r *http.Request, ingest Ingester, logger *slog.Logger, id int64, slug string) {
	if ingest == nil {
		return
	}
	if err := ingest.EnqueueIngest(r.Context(), id); err != nil {
		logger.Warn("enqueue ingestion failed; the reconciler will retry", "slug", slug, "err", err)
	}
}

// timeline answers the steps of the repository's ingestions
// (?after=, ?limit=).
func (h *Repositories) timeline(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var opts store.TimelineOptions
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			respond.WriteError(w, r, respond.InvalidField("after", "%q: want the id of a step (a number)", s))
			return
		}
		opts.After = n
	}
	limit, err := intParam(q.Get("limit"), "limit", 1, 1000)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	opts.Limit = limit
	evs, err := h.Store.IngestionTimeline(r.Context(), r.PathValue("slug"), opts)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, apitype.Timeline{Events: evs})
}

// intParam parses an optional integer query parameter in [lo, hi]; "" is 0.
func intParam(s, name string, lo, hi int) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, respond.InvalidField(name, "%q: want a number from %d to %d", s, lo, hi)
	}
	return n, nil
}

func boolParam(s, name string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, respond.InvalidField(name, "%q: want 1 or 0 (true or false)", s)
	}
	return b, nil
}
