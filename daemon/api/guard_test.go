package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api"
)

const (
	guardToken   = "daemon-token-0123456789"
	guardService = "service-token-0123456789"
	guardSecret  = "webhook-secret-0123456789"
)

// registry is a service registry of one failing service, for the reads.
type registry struct{ api.ServiceStore }

func failingService() *catalog.Service {
	latency, next := 12.5, time.Now().Add(time.Minute)
	return &catalog.Service{ID: 1, Slug: "llm", Name: "llm", BaseURL: "http://10.0.0.5:8080", HealthURL: "http://10.0.0.5:8080/healthz",
		Status: catalog.ServiceUnhealthy, LastError: "connection refused", LastLatencyMS: &latency, ConsecutiveFailures: 3, NextCheckAt: &next}
}

func (registry) Services(context.Context, store.ServiceFilter) ([]*catalog.Service, error) {
	return []*catalog.Service{failingService()}, nil
}

func (registry) Service(context.Context, string) (*catalog.Service, error) {
	return failingService(), nil
}

func guardedServer(t *testing.T, exposed bool) *apiTest {
	return serve(t, &api.Server{
		Guard:        &api.Guard{Loopback: true, Exposed: exposed, Token: guardToken, ServiceToken: guardService, FailureBurst: 3},
		Repositories: &api.Repositories{Store: &fakeRepositories{}},
		Services:     &api.Services{Store: registry{}},
		Webhooks:     &api.Webhooks{Secret: guardSecret},
	})
}

// TestWrongTokensAreSlowedDown: a client that presents wrong tokens gets
// 401 for a burst of them, then 429 with Retry-After — even with the right
// token, which is not looked at meanwhile — on every route that checks a
// token (daemon token, service token, a token on a read, the WebSocket's
// ?access_token=, webhook signatures); other clients are not affected, and
// a request without any token is never counted.
func TestWrongTokensAreSlowedDown(t *testing.T) {
	a := guardedServer(t, true)
	repo := `{"git_url":"https://github.com/acme/dash.git"}`
	// Clients are told apart by the address a proxy on loopback appends
	// (the daemon is exposed through it).
	from := func(client string, h ...string) []string { return append([]string{"X-Forwarded-For", client}, h...) }

	for _, tc := range []struct {
		name, method, path, body string
		wrong                    []string
	}{
		{"daemon token", "POST", "/api/v1/repositories", repo, []string{"Authorization", "Bearer wrong-token"}},
		{"service token", "DELETE", "/api/v1/services/llm", "", []string{"Authorization", "Bearer " + guardToken}},
		{"token on a read", "GET", "/api/v1/services", "", []string{"Authorization", "Bearer wrong-token"}},
		{"WebSocket access_token", "GET", "/api/v1/events?access_token=wrong", "", []string{"Upgrade", "websocket", "Connection", "Upgrade"}},
		{"webhook signature", "POST", "/api/v1/webhooks/git", `{"ref":"refs/heads/main"}`, []string{"X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256=00"}},
	} {
		client := "198.51.100." + strconv.Itoa(len(tc.name))
		for i := range 3 {
			code, body := a.do(tc.method, tc.path, tc.body, from(client, tc.wrong...)...)
			if code != http.StatusUnauthorized {
				t.Errorf("%s, failure %d: %d %s, want 401", tc.name, i+1, code, body)
			}
		}
		code, body := doWithHeaders(t, a, tc.method, tc.path, tc.body, from(client, tc.wrong...)...)
		if code.status != http.StatusTooManyRequests || errorOf(t, body).Code != apitype.CodeTooManyRequests {
			t.Errorf("%s, past the burst: %d %s, want 429 too_many_requests", tc.name, code.status, body)
		}
		if s, err := strconv.Atoi(code.retryAfter); err != nil || s < 1 || s > 6 {
			t.Errorf("%s: Retry-After %q, want the seconds until the next try", tc.name, code.retryAfter)
		}
	}

	// The right token from the throttled client waits too; from another
	// client it passes.
	throttled := "198.51.100." + strconv.Itoa(len("daemon token"))
	if code, body := a.do("POST", "/api/v1/repositories", repo, from(throttled, "Authorization", "Bearer "+guardToken)...); code != http.StatusTooManyRequests {
		t.Errorf("the right token from a throttled client: %d %s, want 429", code, body)
	}
	if code, body := a.do("POST", "/api/v1/repositories", repo, from("203.0.113.9", "Authorization", "Bearer "+guardToken)...); code != http.StatusCreated {
		t.Errorf("the right token from another client: %d %s, want 201", code, body)
	}
	// No token is no guess: never throttled.
	for i := range 10 {
		if code, body := a.do("POST", "/api/v1/repositories", repo, from("203.0.113.10")...); code != http.StatusUnauthorized {
			t.Fatalf("request %d without a token: %d %s, want 401", i+1, code, body)
		}
	}
}

type answer struct {
	status     int
	retryAfter string
}

func doWithHeaders(t *testing.T, a *apiTest, method, path, body string, header ...string) (answer, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&b)
	return answer{resp.StatusCode, resp.Header.Get("Retry-After")}, b
}

// TestServiceHealthDetailsOnlyForTokenHolders: on an exposed daemon an
// anonymous reader of the registry sees each service's status, not why its
// check failed nor how long it took (an internal port scanner otherwise);
// the daemon or the service token shows everything, a wrong one is 401. A
// local-only daemon shows everything to everyone.
func TestServiceHealthDetailsOnlyForTokenHolders(t *testing.T) {
	details := func(body []byte) (status, lastError string, latency bool) {
		var one struct {
			Status    string   `json:"status"`
			LastError string   `json:"last_error"`
			Latency   *float64 `json:"last_latency_ms"`
			Failures  int      `json:"consecutive_failures"`
			Services  []struct {
				Status    string   `json:"status"`
				LastError string   `json:"last_error"`
				Latency   *float64 `json:"last_latency_ms"`
			} `json:"services"`
		}
		if err := json.Unmarshal(body, &one); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if len(one.Services) == 1 {
			s := one.Services[0]
			return s.Status, s.LastError, s.Latency != nil
		}
		return one.Status, one.LastError, one.Latency != nil || one.Failures != 0
	}
	exposed, local := guardedServer(t, true), guardedServer(t, false)
	for _, path := range []string{"/api/v1/services", "/api/v1/services/llm"} {
		code, body := exposed.do("GET", path, "")
		if st, e, lat := details(body); code != 200 || st != "unhealthy" || e != "" || lat {
			t.Errorf("anonymous GET %s on an exposed daemon: %d %s, want the status only", path, code, body)
		}
		for _, token := range []string{guardToken, guardService} {
			code, body := exposed.do("GET", path, "", "Authorization", "Bearer "+token)
			if st, e, lat := details(body); code != 200 || st != "unhealthy" || e != "connection refused" || !lat {
				t.Errorf("GET %s with a token: %d %s, want the details", path, code, body)
			}
		}
		if code, body := exposed.do("GET", path, "", "Authorization", "Bearer not-the-token"); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d %s, want 401 (an answer that differs with the token would be an oracle)", path, code, body)
		}
		code, body = local.do("GET", path, "")
		if _, e, lat := details(body); code != 200 || e != "connection refused" || !lat {
			t.Errorf("anonymous GET %s on a local-only daemon: %d %s, want the details", path, code, body)
		}
	}
}
