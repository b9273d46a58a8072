package daemon

import (
	"context"
	"strings"

	"github.com/appstore-dev/appstore/daemon/metrics"
)

// wireMetrics serves /metrics (Prometheus) on every role, beside /healthz
// and /readyz, so that workers and runners are scraped like API processes,
// and counts every request the listener serves by its route.
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
	d.api.Metrics = d.metrics.Handler()
	d.api.ObserveRequest = d.metrics.ObserveRequest
	return nil
}
