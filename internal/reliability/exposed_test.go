package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// The daemon of docs/operations.md's server layout: it listens on
// loopback behind a TLS proxy that forwards appstore.example.com to it.
// "Listens on loopback" is not "every client is local": it is exposed.
const (
	exposedHost    = "appstore.example.com"
	exposedService = "svc-token-0123456789"
)

// TestHostileExposedBehindAProxy: without a token such a daemon does not
// start; with one, what an internet client could use against the server is
// refused — the server's files and its own network through Git URLs, the
// cloud metadata address and the daemon's host through service health
// checks, token guessing — and the registry shows an anonymous reader its
// services' statuses, not the errors and latencies that would map the
// internal network.
func TestHostileExposedBehindAProxy(t *testing.T) {
	ctx := context.Background()
	_, err := daemon.Start(ctx, daemon.Config{Addr: "127.0.0.1:0", AllowedHosts: []string{exposedHost}, DataDir: t.TempDir(), DatabaseURL: "postgres://unused"})
	if err == nil || !strings.Contains(err.Error(), "exposed") || !strings.Contains(err.Error(), "openssl rand -hex 32") {
		t.Fatalf("exposed without a token: %v, want a refusal that says how to make one", err)
	}

	d := daemontest.Start(t, daemon.Config{Token: hostileToken, AllowedHosts: []string{exposedHost}, ServiceToken: exposedService,
		WebhookSecret: hostileSecret, Roles: []string{daemon.RoleAPI}})
	c := &client.Client{BaseURL: d.URL, Token: hostileToken}
	svc := c.WithToken(exposedService)

	t.Run("git URLs", func(t *testing.T) {
		for _, tc := range []struct{ url, mention string }{
			{"file:///etc", "--allow-local-repos"},
			{"/var/lib/appstore/postgres", "--allow-local-repos"},
			{"http://127.0.0.1:7070/acme/app.git", "loopback"},
			{"https://10.0.0.5/acme/app.git", "--git-allow-private"},
			{"http://169.254.169.254/latest/meta-data.git", "link-local"},
		} {
			_, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: tc.url})
			refused(t, tc.url, err, http.StatusBadRequest, client.CodeInvalid, tc.mention)
		}
	})

	t.Run("service URLs", func(t *testing.T) {
		for _, tc := range []struct {
			spec    client.ServiceSpec
			field   string
			mention string
		}{
			{client.ServiceSpec{Slug: "meta", BaseURL: "http://169.254.169.254"}, "base_url", "link-local"},
			{client.ServiceSpec{Slug: "meta6", BaseURL: "http://[fe80::a9fe:a9fe]:80"}, "base_url", "link-local"},
			{client.ServiceSpec{Slug: "metahealth", BaseURL: "http://10.0.0.5:8080", HealthURL: "http://169.254.169.254/latest/meta-data"}, "health_url", "link-local"},
			{client.ServiceSpec{Slug: "self", BaseURL: "http://127.0.0.1:5432"}, "base_url", "--service-allow-loopback"},
			{client.ServiceSpec{Slug: "self6", BaseURL: "http://10.0.0.5", HealthURL: "http://[::1]:6379/"}, "health_url", "--service-allow-loopback"},
			{client.ServiceSpec{Slug: "zero", BaseURL: "http://0.0.0.0:22"}, "base_url", "unspecified"},
		} {
			_, _, err := svc.CreateService(ctx, tc.spec)
			ae := apiError(err)
			if ae == nil || ae.StatusCode != http.StatusBadRequest || ae.Field != tc.field || !strings.Contains(ae.Message, tc.mention) {
				t.Errorf("%+v: %v, want 400 on %s mentioning %q", tc.spec, err, tc.field, tc.mention)
			}
		}
		// Private addresses are what services are for. (No poller runs
		// in this process: nothing is sent there.)
		if _, _, err := svc.CreateService(ctx, client.ServiceSpec{Slug: "llm", BaseURL: "http://10.0.0.5:8080"}); err != nil {
			t.Errorf("a private address: %v", err)
		}
		list, err := c.Services(ctx, client.ListServicesOptions{})
		if err != nil || len(list) != 1 {
			t.Errorf("registered: %+v %v, want llm alone", list, err)
		}
	})

	t.Run("homepage", func(t *testing.T) {
		if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/page.git"}); err != nil {
			t.Fatal(err)
		}
		for _, hp := range []string{"javascript:fetch('/api/v1/repositories',{method:'DELETE'})", "data:text/html,<script>alert(1)</script>"} {
			_, err := c.UpdateRepository(ctx, "page", client.UpdateRepositoryRequest{Homepage: &hp})
			refused(t, hp, err, http.StatusBadRequest, client.CodeInvalid, "only http:// and https://")
		}
		desc := "Dashboards\x1b]52;c;cm0gLXJmIH4K\x07 for \x1b[5mteams\x1b[0m\x00"
		r, err := c.UpdateRepository(ctx, "page", client.UpdateRepositoryRequest{Description: &desc})
		if err != nil || r.Description != "Dashboards for teams" {
			t.Errorf("description with escapes: %q %v, want it cleaned", r.Description, err)
		}
	})

	t.Run("token guessing", func(t *testing.T) {
		guesser := &client.Client{BaseURL: d.URL, Token: "guess-0000000000000000"}
		for i := range 10 {
			_, err := guesser.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/guess.git"})
			refused(t, "guess "+strconv.Itoa(i+1), err, http.StatusUnauthorized, client.CodeUnauthorized, "wrong")
		}
		req, _ := http.NewRequest(http.MethodDelete, d.URL+"/api/v1/repositories/page", nil)
		req.Header.Set("Authorization", "Bearer "+hostileToken) // the right one, from the guesser's address
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusTooManyRequests || retry < 1 {
			t.Errorf("after 10 wrong tokens: %d, Retry-After %q; want 429 with the wait", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		// The proxy names each client: another one is not slowed down.
		req, _ = http.NewRequest(http.MethodGet, d.URL+"/api/v1/services", nil)
		req.Header.Set("Authorization", "Bearer "+hostileToken)
		req.Header.Set("X-Forwarded-For", "198.51.100.20")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("another client behind the proxy: %d, want 200", resp.StatusCode)
		}
	})
}

// TestHostileServiceHealthOracle: an exposed daemon that admits loopback
// services (--service-allow-loopback) checks a service whose port is
// closed; anyone may see that it is unhealthy, only token holders why —
// through the registry and through the stored event stream alike.
func TestHostileServiceHealthOracle(t *testing.T) {
	ctx := context.Background()
	d := daemontest.Start(t, daemon.Config{Token: hostileToken, AllowedHosts: []string{exposedHost}, ServiceToken: exposedService,
		ServiceAllowLoopback: true, HealthInterval: 200 * time.Millisecond, Roles: []string{daemon.RoleAPI, daemon.RoleWorker}})
	closed := "http://" + testenv.FreeAddr(t)
	anonymous := &client.Client{BaseURL: d.URL}
	if _, _, err := anonymous.WithToken(exposedService).CreateService(ctx, client.ServiceSpec{Slug: "scan", BaseURL: closed}); err != nil {
		t.Fatal(err)
	}
	holder := &client.Client{BaseURL: d.URL, Token: hostileToken}
	eventually(t, 20*time.Second, "the closed port checked", func() (bool, string) {
		s, err := holder.Service(ctx, "scan")
		if err != nil {
			return false, err.Error()
		}
		return s.Status == catalog.ServiceUnhealthy && s.LastError != "", string(s.Status)
	})
	s, err := holder.Service(ctx, "scan")
	if err != nil || s.LastError != "connection refused" || s.LastLatencyMS == nil {
		t.Fatalf("token holder: %+v %v, want the error and latency", s, err)
	}
	s, err = anonymous.Service(ctx, "scan")
	if err != nil || s.Status != catalog.ServiceUnhealthy || s.LastError != "" || s.LastLatencyMS != nil || s.ConsecutiveFailures != 0 {
		t.Errorf("anonymous: %+v %v, want the status alone", s, err)
	}
	list, err := anonymous.Services(ctx, client.ListServicesOptions{})
	if err != nil || len(list) != 1 || list[0].LastError != "" {
		t.Errorf("anonymous list: %+v %v", list, err)
	}

	// The stored events carry the service as it changed.
	read := func(token string) (int, []string) {
		req, _ := http.NewRequest(http.MethodGet, d.URL+"/api/v1/events?since=0&topics=service", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var errors []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var e struct {
				Data struct {
					LastError string `json:"last_error"`
				} `json:"data"`
			}
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				errors = append(errors, e.Data.LastError)
			}
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, errors
	}
	code, errs := read("")
	if code != http.StatusOK || len(errs) < 2 || strings.Join(errs, "") != "" {
		t.Errorf("anonymous event read: %d, errors %q; want the events without their error text", code, errs)
	}
	code, errs = read(exposedService)
	if code != http.StatusOK || !strings.Contains(strings.Join(errs, "|"), "connection refused") {
		t.Errorf("event read with the service token: %d, errors %q; want the error text", code, errs)
	}
	if code, _ := read("wrong-token-0000000000"); code != http.StatusUnauthorized {
		t.Errorf("event read with a wrong token: %d, want 401", code)
	}
}
