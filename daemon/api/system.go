package api

import (
	"context"
	"net/http"
	"time"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/daemon/api/respond"
)

// Health, readiness and version, the fallbacks of the route table, and
// the handlers of other packages as it mounts them.

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	respond.JSON(w, http.StatusOK, apitype.Health{Status: apitype.HealthOK})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var h apitype.Health
	if s.Ready != nil {
		h = s.Ready(ctx)
	} else {
		h = apitype.Health{Status: apitype.HealthOK, Checks: map[string]apitype.HealthCheck{}}
		if err := s.Store.Ping(ctx); err != nil {
			h.Status = apitype.HealthDown
			h.Checks["database"] = apitype.HealthCheck{OK: false, Message: err.Error()}
		} else {
			h.Checks["database"] = apitype.HealthCheck{OK: true}
		}
	}
	status := http.StatusOK
	if h.Status == apitype.HealthDown {
		status = http.StatusServiceUnavailable
	}
	respond.JSON(w, status, h)
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	respond.JSON(w, http.StatusOK, s.Version)
}

// Handlers that other packages provide, or what answers when a process
// does not wire them: the API's 404 for the event stream, a plain 404 for
// the web view and /metrics.

func (s *Server) metricsHandler() http.Handler {
	if s.Metrics == nil {
		return http.NotFoundHandler()
	}
	return s.Metrics
}

func (s *Server) eventStream() EventStream {
	if s.Events == nil {
		return noEventStream{s}
	}
	return s.Events
}

type noEventStream struct{ s *Server }

func (n noEventStream) ServeEvents(w http.ResponseWriter, r *http.Request) { n.s.noRoute(w, r) }
func (n noEventStream) ServeLast(w http.ResponseWriter, r *http.Request)   { n.s.noRoute(w, r) }

func (s *Server) webView() WebView {
	if s.Web == nil {
		return noWebView{}
	}
	return s.Web
}

type noWebView struct{}

func (noWebView) ServePage(w http.ResponseWriter, r *http.Request)    { http.NotFound(w, r) }
func (noWebView) ServeAppPage(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
func (noWebView) ServeStatic(w http.ResponseWriter, r *http.Request)  { http.NotFound(w, r) }

// noRoute answers a path under /api/ that no route serves.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	respond.WriteError(w, r, respond.Errorf(http.StatusNotFound, apitype.CodeNotFound, "no API route %s %s; see docs/api.md", r.Method, r.URL.Path))
}

// notAnAPIProcess answers what a process without the api role does not
// serve.
func (s *Server) notAnAPIProcess(w http.ResponseWriter, r *http.Request) {
	respond.WriteError(w, r, respond.Errorf(http.StatusNotFound, apitype.CodeNotFound,
		"this appstored runs --roles %s, without api: it serves only /healthz, /readyz, /metrics and /api/v1/version; send %s %s to a process with the api role",
		s.Roles, r.Method, r.URL.Path))
}
