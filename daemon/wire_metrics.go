package daemon

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/metrics"
)

// wireMetrics serves /metrics (Prometheus) on every role: the API role on
// its mux, the others beside /healthz and /readyz (healthHandler), so that
// workers and runners are scraped like API processes.
func (d *Daemon) wireMetrics(ctx context.Context) error {
	opts := metrics.Options{
		Counts:  d.Store.Counts,
		Ready:   d.ready,
		Roles:   strings.Join(d.cfg.Roles, ","),
		Version: d.cfg.Version,
		Logger:  d.logger.With("component", "metrics"),
	}
	if d.Events != nil {
		opts.Events = d.Events.Stats
	}
	d.metrics = metrics.New(opts)
	if d.cfg.HasRole(RoleAPI) {
		h := d.metrics.Handler()
		d.api.Extra = append(d.api.Extra, func(mux *http.ServeMux) { mux.Handle("GET /metrics", h) })
	}
	return nil
}

// observeRequests counts every request the listener serves by the route
// pattern that served it: the API's and health muxes set r.Pattern on the
// request they are given, which is this one (the guard passes it on as
// is). Requests that a host router sent to a preview count as "preview"
// (serve's dispatch sets the recorder's route).
func (d *Daemon) observeRequests(next http.Handler) http.Handler {
	if d.metrics == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := api.NewStatusRecorder(w)
		next.ServeHTTP(rec, r)
		route := rec.Route
		if route == "" {
			route = r.Pattern
		}
		d.metrics.ObserveRequest(route, rec.Status, time.Since(start))
	})
}
