package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api/respond"
	"github.com/appstore-dev/appstore/daemon/runner"
)

// Launcher runs launches: the runner of this process. Nil in a process
// without the runner role, where only reading launches works.
type Launcher interface {
	Launch(ctx context.Context, slug string, opts runner.LaunchOptions) (*catalog.Launch, store.LaunchOrigin, error)
	Stop(ctx context.Context, id int64) (*catalog.Launch, error)
	Wait(ctx context.Context, id int64, max time.Duration) (*catalog.Launch, error)
	Logs(ctx context.Context, id int64, follow bool, tail int, emit func(runner.LogLine) error) error
	Decorate(l *catalog.Launch) *catalog.Launch
}

// LaunchStore is what the launches routes read of the catalog
// (*store.Store); the runner makes the changes.
type LaunchStore interface {
	Launch(ctx context.Context, id int64) (*catalog.Launch, error)
	ListLaunches(ctx context.Context, f store.LaunchFilter) ([]catalog.Launch, error)
	RepositoryIDBySlug(ctx context.Context, slug string) (int64, error)
}

// Launches serves the launches of apps; the runner (Runner) does the work.
type Launches struct {
	Store  LaunchStore
	Runner Launcher
	// MaxWait caps ?wait= of GET /api/v1/launches/{id} (default 5m).
	MaxWait time.Duration
}

func (h *Launches) defaults(s *Server) {
	if h.Store == nil && s.Store != nil {
		h.Store = s.Store
	}
}

// launchError maps the runner's errors: unavailable ones (no engine,
// another runner's launch) are 503.
func launchError(w http.ResponseWriter, r *http.Request, err error) {
	if runner.IsUnavailable(err) {
		respond.WriteError(w, r, respond.Errorf(http.StatusServiceUnavailable, apitype.CodeUnavailable, "%s", err.Error()))
		return
	}
	if runner.IsQuota(err) {
		respond.WriteError(w, r, respond.Errorf(http.StatusTooManyRequests, apitype.CodeQuota, "%s", err.Error()))
		return
	}
	respond.WriteError(w, r, err)
}

func (h *Launches) runner(w http.ResponseWriter, r *http.Request) (Launcher, bool) {
	if h.Runner == nil {
		respond.WriteError(w, r, respond.Errorf(http.StatusServiceUnavailable, apitype.CodeUnavailable,
			"this appstored has no runner role: launches are made by a process started with --roles including runner (and api, for previews)"))
		return nil, false
	}
	return h.Runner, true
}

func (h *Launches) create(w http.ResponseWriter, r *http.Request) {
	rn, ok := h.runner(w, r)
	if !ok {
		return
	}
	var req apitype.LaunchRequest
	if r.ContentLength != 0 {
		if err := respond.DecodeJSON(w, r, 64<<10, &req); err != nil {
			respond.WriteError(w, r, err)
			return
		}
	}
	var opts runner.LaunchOptions
	if req.TTL != "" {
		d, err := time.ParseDuration(strings.TrimSpace(req.TTL))
		if err != nil {
			respond.WriteError(w, r, respond.InvalidField("ttl", "%q is not a duration: give e.g. 30m or 2h", req.TTL))
			return
		}
		opts.TTL = d
	}
	opts.Profile = req.Profile
	opts.Restart = req.Restart
	l, origin, err := rn.Launch(r.Context(), r.PathValue("slug"), opts)
	if err != nil {
		launchError(w, r, err)
		return
	}
	// 201 when the request got a container of its own (new or attached
	// from the warm pool), 200 when it joined the one already running.
	w.Header().Set("X-Appstore-Launch", origin.String())
	status := http.StatusCreated
	if origin == store.LaunchReused {
		status = http.StatusOK
	}
	w.Header().Set("Location", "/api/v1/launches/"+strconv.FormatInt(l.ID, 10))
	respond.JSON(w, status, l)
}

func (h *Launches) decorate(l *catalog.Launch) *catalog.Launch {
	if h.Runner != nil {
		return h.Runner.Decorate(l)
	}
	return l
}

func launchID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		respond.WriteError(w, r, respond.Errorf(http.StatusNotFound, apitype.CodeNotFound, "launch %q not found: launch ids are positive integers (see `appstore ps`)", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

func (h *Launches) get(w http.ResponseWriter, r *http.Request) {
	id, ok := launchID(w, r)
	if !ok {
		return
	}
	if ws := r.URL.Query().Get("wait"); ws != "" {
		d, err := time.ParseDuration(ws)
		if err != nil || d < 0 {
			respond.WriteError(w, r, respond.InvalidField("wait", "%q is not a duration: give e.g. 30s", ws))
			return
		}
		max := h.MaxWait
		if max <= 0 {
			max = 5 * time.Minute
		}
		d = min(d, max)
		if h.Runner != nil {
			l, err := h.Runner.Wait(r.Context(), id, d)
			if err != nil {
				launchError(w, r, err)
				return
			}
			respond.JSON(w, http.StatusOK, l)
			return
		}
		// Without a runner here, look until the launch leaves starting.
		deadline := time.Now().Add(d)
		for {
			l, err := h.Store.Launch(r.Context(), id)
			if err != nil {
				respond.WriteError(w, r, err)
				return
			}
			if l.Status != catalog.LaunchStarting || time.Now().After(deadline) || r.Context().Err() != nil {
				respond.JSON(w, http.StatusOK, l)
				return
			}
			select {
			case <-r.Context().Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	l, err := h.Store.Launch(r.Context(), id)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, h.decorate(l))
}

func (h *Launches) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.LaunchFilter{Repository: q.Get("repository")}
	for _, s := range q["status"] {
		for _, one := range strings.Split(s, ",") {
			st := catalog.LaunchStatus(strings.TrimSpace(one))
			switch st {
			case catalog.LaunchStarting, catalog.LaunchRunning, catalog.LaunchStopping, catalog.LaunchStopped, catalog.LaunchFailed, catalog.LaunchExpired:
				f.Statuses = append(f.Statuses, st)
			default:
				respond.WriteError(w, r, respond.InvalidField("status", "%q is not a launch status: want starting, running, stopping, stopped, failed or expired", one))
				return
			}
		}
	}
	if a := q.Get("active"); a != "" {
		v, err := strconv.ParseBool(a)
		if err != nil {
			respond.WriteError(w, r, respond.InvalidField("active", "%q: want true or false", a))
			return
		}
		f.Active = v
	}
	limit, err := intParam(q.Get("limit"), "limit", 1, 1000)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	f.Limit = limit
	if f.Limit == 0 {
		f.Limit = 100
	}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n <= 0 {
			respond.WriteError(w, r, respond.InvalidField("cursor", "%q is not a cursor of this API: pass next_cursor of the previous page", c))
			return
		}
		f.Before = n
	}
	if f.Repository != "" {
		if _, err := h.Store.RepositoryIDBySlug(r.Context(), f.Repository); err != nil {
			respond.WriteError(w, r, err)
			return
		}
	}
	ls, err := h.Store.ListLaunches(r.Context(), f)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	out := apitype.LaunchList{Launches: ls}
	for i := range out.Launches {
		h.decorate(&out.Launches[i])
	}
	if len(ls) == f.Limit {
		out.NextCursor = strconv.FormatInt(ls[len(ls)-1].ID, 10)
	}
	respond.JSON(w, http.StatusOK, out)
}

func (h *Launches) stop(w http.ResponseWriter, r *http.Request) {
	id, ok := launchID(w, r)
	if !ok {
		return
	}
	if h.Runner == nil {
		// A launch that already ended can be answered without a runner.
		if l, err := h.Store.Launch(r.Context(), id); err == nil && l.Status.Terminal() {
			respond.JSON(w, http.StatusOK, l)
			return
		}
	}
	rn, ok := h.runner(w, r)
	if !ok {
		return
	}
	l, err := rn.Stop(r.Context(), id)
	if err != nil {
		launchError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, l)
}

// logs streams the container's output as JSON lines (application/x-ndjson),
// one apitype.LaunchLogLine each, flushed as they come.
func (h *Launches) logs(w http.ResponseWriter, r *http.Request) {
	id, ok := launchID(w, r)
	if !ok {
		return
	}
	rn, ok := h.runner(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	follow := q.Get("follow") == "1" || q.Get("follow") == "true"
	tail := 0
	if t := q.Get("tail"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			respond.WriteError(w, r, respond.InvalidField("tail", "%q: want a number of lines", t))
			return
		}
		tail = n
	}
	rc := http.NewResponseController(w)
	started := false
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	err := rn.Logs(r.Context(), id, follow, tail, func(l runner.LogLine) error {
		if !started {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		if err := enc.Encode(apitype.LaunchLogLine{Stream: l.Stream, Line: l.Line, Time: l.Time}); err != nil {
			return err
		}
		if follow {
			return rc.Flush()
		}
		return nil
	})
	if err != nil && !started {
		launchError(w, r, err)
		return
	}
	if !started {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
	}
	if err != nil && !errors.Is(err, r.Context().Err()) {
		// Mid-stream the status is sent; the stream just ends.
		return
	}
}
