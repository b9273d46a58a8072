// Package api is appstored's HTTP surface. routes.go is the route table:
// every route the daemon serves — the API under /api/v1, /healthz, /readyz,
// /metrics, the web view and the preview hosts — with its method, path,
// guard and handler, in one function that reads top to bottom. The
// handlers are grouped by resource, one file each (repositories.go,
// builds.go, launches.go, …); other packages provide handlers that the
// table mounts (the event stream, the web view, the preview proxy, the
// metrics) and never register routes themselves.
//
// Handlers decode and encode the wire types of package apitype, check
// input with the rules of package catalog, and answer errors through
// package respond, which maps domain errors to HTTP statuses.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog/store"
)

// Server holds the handlers of the route table and what they share.
// Zero-valued optional fields disable their features: a nil handler group
// is served with defaults on Store, a nil provided handler (Events, Web,
// Metrics, Previews) answers as if its feature were absent.
type Server struct {
	// Store is the catalog. Each handler group whose own Store is nil
	// uses it.
	Store  *store.Store
	Logger *slog.Logger

	// Guard decides which requests are allowed (Host, Origin, tokens).
	Guard *Guard

	// HealthOnly is set in a process without the api role: it serves its
	// health, readiness, version and metrics (healthRoutes), and refuses
	// the rest with a pointer to the processes that serve the API.
	HealthOnly bool
	// Roles are the process's roles, named in that refusal.
	Roles string

	// Ready reports the dependencies for /readyz; nil checks the
	// database only.
	Ready func(ctx context.Context) apitype.Health

	Version apitype.VersionInfo

	// Handler groups, one per resource.
	Repositories *Repositories
	Webhooks     *Webhooks
	Builds       *Builds
	Launches     *Launches
	Search       *Search
	Services     *Services
	Thumbnails   *Thumbnails
	Volumes      *Volumes
	Community    *Community
	Accounts     *Accounts
	AppConfig    *AppConfig

	// Handlers provided by other packages.
	Events   EventStream                        // daemon/events: the event stream
	Web      WebView                            // daemon/web: the web view
	Metrics  http.Handler                       // daemon/metrics: /metrics
	Previews func(r *http.Request) http.Handler // daemon/runner: the preview proxy of a request's host, or nil

	// ObserveRequest, when set, is told about every request served: the
	// route pattern (or "preview"), the status and the time taken.
	ObserveRequest func(route string, status int, took time.Duration)

	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64

	// BodyTimeout bounds how long a request body may take to arrive
	// (default 30 s), so a client that announces a body and then stalls
	// cannot hold a connection forever.
	BodyTimeout time.Duration
}

// EventStream serves the event stream (events.Stream).
type EventStream interface {
	// ServeEvents is GET /api/v1/events: a WebSocket, or JSON lines.
	ServeEvents(w http.ResponseWriter, r *http.Request)
	// ServeLast is GET /api/v1/events/last.
	ServeLast(w http.ResponseWriter, r *http.Request)
}

// WebView serves the web view's pages and assets (web.Handler).
type WebView interface {
	ServePage(w http.ResponseWriter, r *http.Request)    // / and /add
	ServeAppPage(w http.ResponseWriter, r *http.Request) // /app/{slug}
	ServeStatic(w http.ResponseWriter, r *http.Request)  // /static/…
}

// defaults fills in what was left zero.
func (s *Server) defaults() {
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = 1 << 20
	}
	if s.BodyTimeout <= 0 {
		s.BodyTimeout = DefaultBodyTimeout
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Guard == nil {
		s.Guard = &Guard{}
	}
	if s.Guard.Users == nil && s.Store != nil {
		s.Guard.Users = s.Store
	}
	// A group left nil is served with its defaults (on Store).
	orNew(&s.Repositories).defaults(s)
	orNew(&s.Webhooks).defaults(s)
	orNew(&s.Builds).defaults(s)
	orNew(&s.Launches).defaults(s)
	orNew(&s.Search).defaults(s)
	orNew(&s.Services).defaults(s)
	orNew(&s.Thumbnails).defaults(s)
	orNew(&s.Volumes).defaults(s)
	orNew(&s.Community).defaults(s)
	orNew(&s.Accounts).defaults(s)
	orNew(&s.AppConfig).defaults(s)
}

// orNew sets *p to a new T when it is nil and returns it.
func orNew[T any](p **T) *T {
	if *p == nil {
		*p = new(T)
	}
	return *p
}

// Handler returns the HTTP handler of the daemon: the route table behind
// the layers described in routes.go.
func (s *Server) Handler() http.Handler {
	s.defaults()
	routes := s.routes()
	if s.HealthOnly {
		routes = s.healthRoutes()
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		pattern := rt.path
		if rt.method != "" {
			pattern = rt.method + " " + rt.path
		}
		mux.HandleFunc(pattern, s.Guard.guard(rt.guard, rt.handler))
	}
	guarded := withBodyDeadline(s.BodyTimeout, s.Guard.Hosts(s.logRequests(mux)))
	return s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Previews != nil {
			if h := s.Previews(r); h != nil {
				if rec, ok := w.(*statusRecorder); ok {
					rec.Route = "preview"
				}
				h.ServeHTTP(w, r)
				return
			}
		}
		guarded.ServeHTTP(w, r)
	}))
}

// observe tells ObserveRequest about every request, by the route pattern
// that served it: the mux sets r.Pattern on the request it is given, which
// is this one (the layers in between pass it on as is). Previews count as
// "preview" (Handler's dispatch sets the recorder's route).
func (s *Server) observe(next http.Handler) http.Handler {
	if s.ObserveRequest == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := newStatusRecorder(w)
		next.ServeHTTP(rec, r)
		route := rec.Route
		if route == "" {
			route = r.Pattern
		}
		s.ObserveRequest(route, rec.Status, time.Since(start))
	})
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := newStatusRecorder(w)
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", rec.Status, "duration", time.Since(start)}
		if rec.Actor != "" {
			// A change, and who asked for it: the audit trail of the
			// request log (events carry the actor too).
			attrs = append(attrs, "actor", rec.Actor)
			if r.Method != http.MethodGet {
				level = slog.LevelInfo
			}
		}
		if rec.Status >= 500 {
			level = slog.LevelError
		}
		s.Logger.Log(r.Context(), level, "http request", attrs...)
	})
}

// statusRecorder remembers the status a handler sent, for the request log
// and the metrics.
type statusRecorder struct {
	http.ResponseWriter
	Status int
	// Route, when set by a handler, names what served the request where
	// the mux pattern cannot (the metrics count previews as "preview").
	Route string
	// Actor is the user a changing request was let through for (the
	// guard's authorize), for the request log.
	Actor string
	wrote bool
}

// newStatusRecorder records w's status, 200 until a handler says otherwise.
func newStatusRecorder(w http.ResponseWriter) *statusRecorder {
	return &statusRecorder{ResponseWriter: w, Status: http.StatusOK}
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.Status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write marks the status as sent (200 unless WriteHeader said otherwise),
// so that a later superfluous WriteHeader does not change what is recorded.
func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and Hijack (streams,
// WebSockets, the preview proxy) through the recorder.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
