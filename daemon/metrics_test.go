package daemon_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// scrape fetches url's /metrics and returns the value of the sample whose
// name and labels match sample (a regular expression of the exposition
// line without its value), or -1 when there is none.
func scrape(t *testing.T, url string) func(sample string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %q %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	text := string(body)
	return func(sample string) float64 {
		m := regexp.MustCompile(`(?m)^` + sample + ` (\S+)$`).FindStringSubmatch(text)
		if m == nil {
			return -1
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatalf("%s: value %q", sample, m[1])
		}
		return v
	}
}

func TestMetrics(t *testing.T) {
	db := testenv.Postgres(t)
	d := daemontest.Start(t, daemon.Config{DatabaseURL: db})
	c := &client.Client{BaseURL: d.URL}
	ctx := context.Background()
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://example.com/a/metered.git"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Repository(ctx, "no-such-app"); !client.IsNotFound(err) {
		t.Fatalf("missing repository: %v", err)
	}
	// A request for an app's preview host counts as a preview, whatever
	// its path.
	req, _ := http.NewRequest(http.MethodGet, d.URL+"/some/path", nil)
	req.Host = "no-such-app.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	get := scrape(t, d.URL)
	for sample, want := range map[string]float64{
		`appstore_http_requests_total\{code="201",route="POST /api/v1/repositories"\}`:                 1,
		`appstore_http_requests_total\{code="404",route="GET /api/v1/repositories/\{slug\}"\}`:         1,
		`appstore_http_requests_total\{code="` + strconv.Itoa(resp.StatusCode) + `",route="preview"\}`: 1,
		`appstore_catalog_entities\{kind="repositories",status="(?:queued|processing|failed)"\}`:       1,
		`appstore_catalog_up`: 1,
		`appstore_dependency_up\{dependency="database",optional="false"\}`: 1,
	} {
		if got := get(sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
	if got := get(`appstore_events_last_id`); got < 1 {
		t.Errorf("appstore_events_last_id = %v, want the repository.created event's id", got)
	}
	if got := get(`appstore_event_subscribers`); got < 0 {
		t.Errorf("appstore_event_subscribers missing")
	}
	if got := get(`appstore_info\{roles="api,worker,runner",version="[^"]*"\}`); got != 1 {
		t.Errorf("appstore_info = %v", got)
	}
	if got := get(`go_goroutines`); got <= 0 {
		t.Errorf("go_goroutines = %v: the runtime collector is missing", got)
	}

	// A worker without the API role is scraped too, on the same data.
	w := daemontest.Start(t, daemon.Config{DatabaseURL: db, Roles: []string{daemon.RoleWorker}})
	get = scrape(t, w.URL)
	if got := get(`appstore_catalog_up`); got != 1 {
		t.Errorf("worker: appstore_catalog_up = %v", got)
	}
	if got := get(`appstore_info\{roles="worker",version="[^"]*"\}`); got != 1 {
		t.Errorf("worker: appstore_info = %v", got)
	}
}
