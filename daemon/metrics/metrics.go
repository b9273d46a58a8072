// Package metrics exposes appstored's figures at /metrics in the Prometheus
// text format: HTTP requests by route, the catalog's entities by status,
// the event stream's subscribers, the readiness of each dependency, and the
// Go runtime's and the process's own figures.
//
// Catalog counts and readiness are read when Prometheus scrapes, not kept
// in counters, so that every appstored process sharing one database reports
// the same true figures, whichever process changed them.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/events"
)

// Options are the sources a Metrics reads at scrape time. Nil sources are
// left out.
type Options struct {
	// Counts reads the catalog's counts (store.Store.Counts).
	Counts func(ctx context.Context) (*store.Counts, error)
	// Events reads the event hub's counters (events.Hub.Stats).
	Events func() events.Stats
	// Ready reports the dependencies, as /readyz does.
	Ready func(ctx context.Context) apitype.Health
	// Roles are this process's roles, exposed as appstore_info labels.
	Roles   string
	Version string

	Logger *slog.Logger
}

// Metrics is one process's registry.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New registers the collectors of opts.
func New(opts Options) *Metrics {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appstore_http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "appstore_http_request_duration_seconds",
			Help: "Time to serve an HTTP request, by route pattern (streams count until they end).",
			// From the proxy's sub-millisecond hops to a minute-long wake.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
	}
	m.reg.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&scrapeCollector{opts: opts},
	)
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "appstore_info",
		Help:        "Always 1; the labels say which appstored this is.",
		ConstLabels: prometheus.Labels{"version": opts.Version, "roles": opts.Roles},
	})
	info.Set(1)
	m.reg.MustRegister(info)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest counts one served request. route is the pattern of the
// ServeMux that served it ("GET /api/v1/repositories/{slug}"), so the
// label has a bounded number of values whatever the paths requested;
// requests no pattern matched count as "unmatched", previews as "preview".
func (m *Metrics) ObserveRequest(route string, status int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(took.Seconds())
}

// scrapeCollector reads the catalog, the hub and the dependencies when
// Prometheus scrapes.
type scrapeCollector struct{ opts Options }

var (
	descEntities = prometheus.NewDesc("appstore_catalog_entities",
		"Entities in the catalog by kind (repositories, builds, launches, services) and status.",
		[]string{"kind", "status"}, nil)
	descLastEvent = prometheus.NewDesc("appstore_events_last_id",
		"Id of the newest event in the durable event log.", nil, nil)
	descCatalogUp = prometheus.NewDesc("appstore_catalog_up",
		"1 when the catalog's counts could be read at this scrape.", nil, nil)
	descSubscribers = prometheus.NewDesc("appstore_event_subscribers",
		"Event stream subscriptions open on this process.", nil, nil)
	descDelivered = prometheus.NewDesc("appstore_events_delivered_total",
		"Events handed to subscribers by this process.", nil, nil)
	descSlow = prometheus.NewDesc("appstore_event_slow_consumers_total",
		"Subscriptions this process cut off because their buffer was full.", nil, nil)
	descListenReconnects = prometheus.NewDesc("appstore_event_listen_reconnects_total",
		"Times this process re-established its LISTEN connection.", nil, nil)
	descDependencyUp = prometheus.NewDesc("appstore_dependency_up",
		"1 when a dependency of this process answers (as /readyz reports it).",
		[]string{"dependency", "optional"}, nil)
)

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEntities, descLastEvent, descCatalogUp, descSubscribers,
		descDelivered, descSlow, descListenReconnects, descDependencyUp} {
		ch <- d
	}
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	// A scrape must answer even when PostgreSQL does not.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c.opts.Counts != nil {
		counts, err := c.opts.Counts(ctx)
		up := 1.0
		if err != nil {
			c.opts.Logger.Warn("metrics: catalog counts", "err", err)
			up = 0
		} else {
			for kind, byStatus := range map[string]map[string]int64{
				"repositories": counts.Repositories, "builds": counts.Builds,
				"launches": counts.Launches, "services": counts.Services,
			} {
				for status, n := range byStatus {
					ch <- prometheus.MustNewConstMetric(descEntities, prometheus.GaugeValue, float64(n), kind, status)
				}
			}
			ch <- prometheus.MustNewConstMetric(descLastEvent, prometheus.GaugeValue, float64(counts.LastEventID))
		}
		ch <- prometheus.MustNewConstMetric(descCatalogUp, prometheus.GaugeValue, up)
	}
	if c.opts.Events != nil {
		s := c.opts.Events()
		ch <- prometheus.MustNewConstMetric(descSubscribers, prometheus.GaugeValue, float64(s.Subscribers))
		ch <- prometheus.MustNewConstMetric(descDelivered, prometheus.CounterValue, float64(s.Delivered))
		ch <- prometheus.MustNewConstMetric(descSlow, prometheus.CounterValue, float64(s.SlowConsumers))
		ch <- prometheus.MustNewConstMetric(descListenReconnects, prometheus.CounterValue, float64(s.Reconnects))
	}
	if c.opts.Ready != nil {
		h := c.opts.Ready(ctx)
		for name, check := range h.Checks {
			up := 0.0
			if check.OK {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(descDependencyUp, prometheus.GaugeValue, up, name, strconv.FormatBool(check.Optional))
		}
	}
}
