package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api/respond"
	"github.com/appstore-dev/appstore/daemon/queue"
)

// BuildLogNotifier wakes followers of a build's log when lines are added
// or the build ends (the event hub, on LISTEN appstore_build_logs).
type BuildLogNotifier interface {
	SubscribeBuildLog(buildID int64) (notify <-chan struct{}, cancel func())
}

// BuildStore is what the builds routes need of the catalog (*store.Store).
type BuildStore interface {
	CreateBuild(ctx context.Context, slug string, noCache bool) (b *catalog.Build, created bool, err error)
	Build(ctx context.Context, id int64) (*catalog.Build, error)
	BuildStatus(ctx context.Context, id int64) (catalog.BuildStatus, error)
	ListBuilds(ctx context.Context, slug string, o store.BuildListOptions) ([]*catalog.Build, string, error)
	BuildLogs(ctx context.Context, id, since int64, limit int) ([]catalog.LogLine, error)
	RequestBuildCancel(ctx context.Context, id int64) (*catalog.Build, error)
}

// Builds serves the builds of repositories and their logs.
type Builds struct {
	Store  BuildStore
	Logger *slog.Logger
	// Queue receives the job of a new build; nil leaves it queued for the
	// reconciler.
	Queue queue.Enqueuer
	// Notifier wakes log followers; nil makes them poll every PollInterval.
	Notifier BuildLogNotifier
	// CancelRunning stops a build running in this process at once (the
	// build worker's Cancel); others notice the request within a second.
	CancelRunning func(buildID int64) bool
	// PollInterval is how often a follower without Notifier checks for
	// new lines (default 200ms); with Notifier it is a safety net that
	// runs ten times less often.
	PollInterval time.Duration
	// KeepAlive is how often a follower that gets no line is sent an
	// empty line, so that proxies keep the stream open (default 15s).
	KeepAlive time.Duration
	// MaxBodyBytes bounds request bodies (default 64 KiB).
	MaxBodyBytes int64
}

func (rt *Builds) defaults(s *Server) {
	if rt.Store == nil && s.Store != nil {
		rt.Store = s.Store
	}
	if rt.Logger == nil {
		rt.Logger = s.Logger
	}
	if rt.PollInterval <= 0 {
		rt.PollInterval = 200 * time.Millisecond
	}
	if rt.KeepAlive <= 0 {
		rt.KeepAlive = 15 * time.Second
	}
	if rt.MaxBodyBytes <= 0 {
		rt.MaxBodyBytes = 64 << 10
	}
}

func (rt *Builds) create(w http.ResponseWriter, r *http.Request) {
	var req apitype.CreateBuildRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rt.MaxBodyBytes))
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	// An empty body is a build with the defaults.
	if len(bytes.TrimSpace(body)) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := respond.DecodeJSON(w, r, rt.MaxBodyBytes, &req); err != nil {
			respond.WriteError(w, r, err)
			return
		}
	}
	slug := r.PathValue("slug")
	b, created, err := rt.Store.CreateBuild(r.Context(), slug, req.NoCache)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if created && rt.Queue != nil {
		if err := rt.Queue.Enqueue(r.Context(), queue.Job{Kind: queue.KindBuild, BuildID: b.ID}); err != nil {
			// Stored as queued: the reconciler enqueues it again.
			rt.Logger.Warn("enqueue build failed; the reconciler will retry", "build", b.ID, "slug", slug, "err", err)
		}
	}
	w.Header().Set("Location", "/api/v1/builds/"+strconv.FormatInt(b.ID, 10))
	status := http.StatusAccepted
	if !created {
		// An equal build is already queued or running: this is it.
		status = http.StatusOK
	}
	respond.JSON(w, status, b)
}

func (rt *Builds) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := store.BuildListOptions{Cursor: q.Get("cursor")}
	limit, err := intParam(q.Get("limit"), "limit", 1, 500)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	opts.Limit = limit
	builds, next, err := rt.Store.ListBuilds(r.Context(), r.PathValue("slug"), opts)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	out := apitype.BuildList{Builds: make([]apitype.Build, len(builds)), NextCursor: next}
	for i, b := range builds {
		out.Builds[i] = *b
	}
	respond.JSON(w, http.StatusOK, out)
}

// buildID parses the {id} path value.
func buildID(r *http.Request) (int64, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, respond.Errorf(http.StatusBadRequest, apitype.CodeInvalid, "build id %q: want a positive number, as printed by `appstore builds <slug>`", raw)
	}
	return id, nil
}

func (rt *Builds) get(w http.ResponseWriter, r *http.Request) {
	id, err := buildID(r)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	b, err := rt.Store.Build(r.Context(), id)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, b)
}

func (rt *Builds) cancel(w http.ResponseWriter, r *http.Request) {
	id, err := buildID(r)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	b, err := rt.Store.RequestBuildCancel(r.Context(), id)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if b.Status == catalog.BuildRunning && rt.CancelRunning != nil {
		rt.CancelRunning(id)
	}
	status := http.StatusOK
	if !b.Status.Terminal() {
		// The worker stops it within a second; follow the build to see.
		status = http.StatusAccepted
	}
	respond.JSON(w, status, b)
}

// logBatch is how many lines one read of the log returns.
const logBatch = 1000

// logs writes a build's log as JSON lines (apitype.LogLine). With
// follow=1 it keeps the answer open, sending each new batch as it is
// stored, and ends once the build ended and every line was sent.
func (rt *Builds) logs(w http.ResponseWriter, r *http.Request) {
	id, err := buildID(r)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	q := r.URL.Query()
	var since int64
	if s := q.Get("since"); s != "" {
		if since, err = strconv.ParseInt(s, 10, 64); err != nil || since < 0 {
			respond.WriteError(w, r, respond.InvalidField("since", "%q: want the id of the last line received, or 0", s))
			return
		}
	}
	follow := false
	if f := q.Get("follow"); f != "" {
		if follow, err = strconv.ParseBool(f); err != nil {
			respond.WriteError(w, r, respond.InvalidField("follow", "%q: want 1 or 0", f))
			return
		}
	}
	ctx := r.Context()
	// Subscribe before the first read, so that no wake-up between the
	// read and the wait is missed.
	var notify <-chan struct{}
	poll := rt.PollInterval
	if follow && rt.Notifier != nil {
		var unsubscribe func()
		notify, unsubscribe = rt.Notifier.SubscribeBuildLog(id)
		defer unsubscribe()
		poll *= 10
	}
	status, err := rt.Store.BuildStatus(ctx, id)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)

	keepAlive := time.NewTicker(rt.KeepAlive)
	defer keepAlive.Stop()
	for {
		// The status is read before the lines: the worker stores its
		// last lines before it records the end, so when the status
		// read here is final, the lines read next are all there are.
		sent, err := rt.sendLines(ctx, enc, id, &since)
		if err != nil {
			if ctx.Err() == nil {
				rt.Logger.Warn("build log stream failed", "build", id, "err", err)
			}
			return
		}
		if sent > 0 {
			if err := rc.Flush(); err != nil {
				return
			}
		}
		if !follow || status.Terminal() {
			return
		}
		if !rt.wait(ctx, &notify, &poll, keepAlive.C, w, rc) {
			return
		}
		if status, err = rt.Store.BuildStatus(ctx, id); err != nil {
			if ctx.Err() == nil {
				rt.Logger.Warn("build log stream failed", "build", id, "err", err)
			}
			return
		}
	}
}

// sendLines writes every stored line after *since and advances it.
func (rt *Builds) sendLines(ctx context.Context, enc *json.Encoder, id int64, since *int64) (int, error) {
	sent := 0
	for {
		lines, err := rt.Store.BuildLogs(ctx, id, *since, logBatch)
		if err != nil {
			return sent, err
		}
		for _, l := range lines {
			if err := enc.Encode(l); err != nil {
				return sent, err
			}
			*since = l.ID
		}
		sent += len(lines)
		if len(lines) < logBatch {
			return sent, nil
		}
	}
}

// wait blocks until the build may have news (a notification, or the poll
// interval passed), sending keep-alive lines meanwhile. It reports false
// when the follower went away. When the notifier shuts down, *notify is
// cleared and *poll falls back to the plain polling interval.
func (rt *Builds) wait(ctx context.Context, notify *<-chan struct{}, poll *time.Duration, keepAlive <-chan time.Time, w http.ResponseWriter, rc *http.ResponseController) bool {
	t := time.NewTimer(*poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case _, ok := <-*notify:
			if !ok {
				*notify, *poll = nil, rt.PollInterval
			}
			return true
		case <-t.C:
			return true
		case <-keepAlive:
			if _, err := w.Write([]byte("\n")); err != nil {
				return false
			}
			if err := rc.Flush(); err != nil {
				return false
			}
		}
	}
}
