// Package api serves appstored's HTTP API under /api/v1, plus /healthz and
// /readyz. Handlers decode and encode the wire types of package client, so
// the Go client and the server share one definition. One file per area.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
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

// Server holds what the handlers need. Zero-valued optional fields disable
// their features.
type Server struct {
	Store  *store.Store
	Logger *slog.Logger

	// Guard decides which requests are allowed (Host, Origin, token).
	Guard *Guard

	// GitPolicy decides which Git URLs may be registered (giturl.Policy);
	// nil accepts any well-formed URL, and local paths only on loopback.
	GitPolicy GitPolicy

	// Ingest is told about new repositories; nil leaves them queued.
	Ingest Ingester

	// Ready reports the dependencies for /readyz.
	Ready func(ctx context.Context) client.Health

	Version client.VersionInfo

	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64

	// BodyTimeout bounds how long a request body may take to arrive
	// (default 30 s), so a client that announces a body and then stalls
	// cannot hold a connection forever.
	BodyTimeout time.Duration

	// StopLaunches stops the active launches of an app before it is
	// removed (the runner of this process); nil where there is none.
	StopLaunches func(ctx context.Context, slug string) ([]catalog.Launch, error)

	// Extra lets other components (events, runner, web view) register
	// their routes on the same mux.
	Extra []func(mux *http.ServeMux)
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler {
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = 1 << 20
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Guard == nil {
		s.Guard = &Guard{}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /api/v1/version", s.version)

	mux.HandleFunc("POST /api/v1/repositories", s.createRepository)
	mux.HandleFunc("GET /api/v1/repositories", s.listRepositories)
	mux.HandleFunc("GET /api/v1/repositories/{slug}", s.getRepository)
	mux.HandleFunc("PATCH /api/v1/repositories/{slug}", s.updateRepository)
	mux.HandleFunc("DELETE /api/v1/repositories/{slug}", s.deleteRepository)
	mux.HandleFunc("GET /api/v1/repositories/{slug}/readme", s.readme)
	mux.HandleFunc("GET /api/v1/tags", s.listTags)

	for _, register := range s.Extra {
		register(mux)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errorf(http.StatusNotFound, "not_found", "no API route %s %s; see docs/api.md", r.Method, r.URL.Path))
	})
	if s.BodyTimeout <= 0 {
		s.BodyTimeout = DefaultBodyTimeout
	}
	return withBodyDeadline(s.BodyTimeout, s.Guard.Wrap(s.logRequests(mux)))
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := NewStatusRecorder(w)
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		if rec.Status >= 500 {
			level = slog.LevelError
		}
		s.Logger.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.Path,
			"status", rec.Status, "duration", time.Since(start))
	})
}

// StatusRecorder remembers the status a handler sent, for the request log
// and the metrics.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
	// Route, when set by a handler, names what served the request where
	// the mux pattern cannot (the metrics count previews as "preview").
	Route string
	wrote bool
}

// NewStatusRecorder records w's status, 200 until a handler says otherwise.
func NewStatusRecorder(w http.ResponseWriter) *StatusRecorder {
	return &StatusRecorder{ResponseWriter: w, Status: http.StatusOK}
}

func (r *StatusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.Status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write marks the status as sent (200 unless WriteHeader said otherwise),
// so that a later superfluous WriteHeader does not change what is recorded.
func (r *StatusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and Hijack (streams,
// WebSockets, the preview proxy) through the recorder.
func (r *StatusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, client.Health{Status: "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var h client.Health
	if s.Ready != nil {
		h = s.Ready(ctx)
	} else {
		h = client.Health{Status: "ok", Checks: map[string]client.HealthCheck{}}
		if err := s.Store.Ping(ctx); err != nil {
			h.Status = "down"
			h.Checks["database"] = client.HealthCheck{OK: false, Message: err.Error()}
		} else {
			h.Checks["database"] = client.HealthCheck{OK: true}
		}
	}
	status := http.StatusOK
	if h.Status == "down" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Version)
}
