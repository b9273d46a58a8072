package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/events"
	"github.com/appstore-dev/appstore/daemon/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestScrapeReadsTheSourcesEachTime: counts come from the sources at
// scrape time (so every process of one catalog reports the same), a
// failing catalog is reported as down rather than as zeros, and requests
// are counted by route pattern.
func TestScrapeReadsTheSourcesEachTime(t *testing.T) {
	repos := int64(3)
	var catalogErr error
	m := metrics.New(metrics.Options{
		Counts: func(context.Context) (*store.Counts, error) {
			if catalogErr != nil {
				return nil, catalogErr
			}
			return &store.Counts{Repositories: map[string]int64{"ready": repos}, Builds: map[string]int64{"failed": 1}, LastEventID: 42}, nil
		},
		Events: func() events.Stats { return events.Stats{Subscribers: 7, SlowConsumers: 2} },
		Ready: func(context.Context) apitype.Health {
			return apitype.Health{Status: "degraded", Checks: map[string]apitype.HealthCheck{
				"database": {OK: true}, "docker": {OK: false, Optional: true},
			}}
		},
		Roles: "api,worker", Version: "1.2.3",
	})
	m.ObserveRequest("GET /api/v1/search", 200, 3*time.Millisecond)
	m.ObserveRequest("", 404, time.Millisecond)

	text := scrape(t, m)
	for _, want := range []string{
		`appstore_catalog_entities{kind="repositories",status="ready"} 3`,
		`appstore_catalog_entities{kind="builds",status="failed"} 1`,
		`appstore_events_last_id 42`,
		`appstore_catalog_up 1`,
		`appstore_event_subscribers 7`,
		`appstore_event_slow_consumers_total 2`,
		`appstore_dependency_up{dependency="database",optional="false"} 1`,
		`appstore_dependency_up{dependency="docker",optional="true"} 0`,
		`appstore_info{roles="api,worker",version="1.2.3"} 1`,
		`appstore_http_requests_total{code="200",route="GET /api/v1/search"} 1`,
		`appstore_http_requests_total{code="404",route="unmatched"} 1`,
		`appstore_http_request_duration_seconds_count{route="GET /api/v1/search"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}

	repos = 5
	if text := scrape(t, m); !strings.Contains(text, `appstore_catalog_entities{kind="repositories",status="ready"} 5`) {
		t.Error("the second scrape did not read the catalog again")
	}
	catalogErr = errors.New("connection refused")
	text = scrape(t, m)
	if !strings.Contains(text, "appstore_catalog_up 0\n") || strings.Contains(text, "appstore_catalog_entities{") {
		t.Errorf("catalog down: want appstore_catalog_up 0 and no stale counts:\n%s", text)
	}
}
