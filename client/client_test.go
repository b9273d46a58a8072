package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/client/clienttest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

func TestZeroValueTalksToDefaultURL(t *testing.T) {
	var c client.Client
	if got := c.URL(); got != client.DefaultURL {
		t.Fatalf("zero Client URL = %q, want %q", got, client.DefaultURL)
	}
	req, err := c.NewRequest(context.Background(), http.MethodGet, "/api/v1/repositories", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := req.URL.String(), "http://127.0.0.1:7070/api/v1/repositories"; got != want {
		t.Errorf("request URL = %q, want %q", got, want)
	}
	if got := req.Header.Get("Authorization"); got != "" {
		t.Errorf("zero Client sent Authorization %q", got)
	}
	if got := req.Header.Get("User-Agent"); got != "appstore-client" {
		t.Errorf("User-Agent = %q", got)
	}
}

func TestParseBaseURL(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"", "http://127.0.0.1:7070", ""},
		{"localhost:7070", "http://localhost:7070", ""},
		{"https://apps.example.com/appstore/", "https://apps.example.com/appstore", ""},
		{"ftp://host", "", `scheme "ftp" is not supported`},
		{"http://", "", "has no host"},
		{"http://h/?x=1", "", "query or fragment"},
	} {
		u, err := client.ParseBaseURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseBaseURL(%q) error = %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || u.String() != tc.want {
			t.Errorf("ParseBaseURL(%q) = %v, %v; want %q", tc.in, u, err, tc.want)
		}
	}
}

func TestRequestURLKeepsPrefixAndEscapesSlug(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"slug":"x","tags":[]}`)
	}))
	defer srv.Close()
	c := &client.Client{BaseURL: srv.URL + "/appstore/"}
	ctx := context.Background()
	if _, err := c.Repository(ctx, "a/b c"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Repositories(ctx, client.ListRepositoriesOptions{Tags: []string{"lang:go", "a:b"}, Status: "ready", Limit: 3, Cursor: "id:7"}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/appstore/api/v1/repositories/a%2Fb%20c?",
		"/appstore/api/v1/repositories?cursor=id%3A7&limit=3&status=ready&tag=lang%3Ago&tag=a%3Ab",
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
}

func TestRepositoryLifecycle(t *testing.T) {
	srv := clienttest.NewServer(t)
	c := srv.Client()
	ctx := context.Background()

	repo, err := c.AddRepository(ctx, client.AddRepositoryRequest{
		GitURL: "https://github.com/acme/dash.git", Branch: "main", Tags: []string{"category:Dashboard"},
	})
	if err != nil {
		t.Fatalf("AddRepository: %v", err)
	}
	if repo.Slug != "dash" || repo.IngestStatus != catalog.IngestQueued || repo.Branch != "main" {
		t.Fatalf("added %+v", repo)
	}
	if len(repo.Tags) != 1 || repo.Tags[0].String() != "category:dashboard" || repo.Tags[0].Source != catalog.SourceManual {
		t.Fatalf("tags %+v, want the manual tag category:dashboard", repo.Tags)
	}

	got, err := c.Repository(ctx, "dash")
	if err != nil || got.GitURL != "https://github.com/acme/dash.git" {
		t.Fatalf("Repository = %+v, %v", got, err)
	}

	upd, err := c.UpdateRepository(ctx, "dash", client.UpdateRepositoryRequest{AddTags: []string{"lang:go"}, RemoveTags: []string{"category:dashboard"}})
	if err != nil {
		t.Fatalf("UpdateRepository: %v", err)
	}
	if len(upd.Tags) != 1 || upd.Tags[0].String() != "lang:go" {
		t.Fatalf("tags after update %+v, want [lang:go]", upd.Tags)
	}

	tags, err := c.Tags(ctx, client.ListTagsOptions{Prefix: "lang"})
	if err != nil || len(tags.Tags) != 1 || tags.Tags[0].Count != 1 {
		t.Fatalf("Tags = %+v, %v", tags, err)
	}

	if err := c.DeleteRepository(ctx, "dash"); err != nil {
		t.Fatalf("DeleteRepository: %v", err)
	}
	if _, err := c.Repository(ctx, "dash"); !client.IsNotFound(err) {
		t.Fatalf("Repository after delete: %v, want not found", err)
	}
}

func TestTypedErrors(t *testing.T) {
	srv := clienttest.NewServer(t)
	c := srv.Client()
	ctx := context.Background()
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/dash"}); err != nil {
		t.Fatal(err)
	}

	_, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "git@github.com:Acme/dash.git"})
	var ae *client.APIError
	if !errors.As(err, &ae) || !client.IsConflict(err) || !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("second add: %v, want a conflict *APIError", err)
	}
	if ae.StatusCode != http.StatusConflict || ae.Slug != "dash" || !strings.Contains(ae.Error(), `"dash"`) {
		t.Errorf("conflict %+v: want status 409 naming slug dash", ae)
	}
	if client.IsNotFound(err) || client.IsUnreachable(err) {
		t.Errorf("conflict also reports not found or unreachable")
	}

	_, err = c.Repository(ctx, "nope")
	if !client.IsNotFound(err) || !errors.Is(err, catalog.ErrNotFound) || err.Error() != `repository "nope" not found` {
		t.Fatalf("missing repository: %v", err)
	}

	_, err = c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/x", Tags: []string{"BAD KEY:x"}})
	if !errors.As(err, &ae) || !client.IsInvalid(err) || !errors.Is(err, catalog.ErrInvalid) || ae.Field != "tags" {
		t.Fatalf("bad tag: %v (%+v), want invalid naming field tags", err, ae)
	}
	if n := len(srv.Repositories()); n != 1 {
		t.Errorf("%d repositories stored after refused adds, want 1", n)
	}
}

func TestErrorWithoutErrorBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream connect error", http.StatusBadGateway)
	}))
	defer srv.Close()
	_, err := (&client.Client{BaseURL: srv.URL}).Version(context.Background())
	var ae *client.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *APIError", err)
	}
	if ae.Code != client.CodeUnavailable || ae.StatusCode != 502 || !strings.Contains(ae.Error(), "upstream connect error") {
		t.Errorf("proxy error = %+v (%q)", ae, ae.Error())
	}
}

func TestTokenAndUnauthorized(t *testing.T) {
	srv := clienttest.NewServer(t)
	srv.Token = "s3cret"
	ctx := context.Background()

	anon := &client.Client{BaseURL: srv.URL}
	_, err := anon.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/dash"})
	if !client.IsUnauthorized(err) {
		t.Fatalf("add without token: %v, want unauthorized", err)
	}
	authed := &client.Client{BaseURL: srv.URL, Token: "s3cret", UserAgent: "test/1"}
	if _, err := authed.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/dash"}); err != nil {
		t.Fatalf("add with token: %v", err)
	}
	reqs := srv.Requests()
	last := reqs[len(reqs)-1]
	if last.Authorization != "Bearer s3cret" || last.UserAgent != "test/1" {
		t.Errorf("sent Authorization %q, User-Agent %q", last.Authorization, last.UserAgent)
	}
}

func TestUnreachable(t *testing.T) {
	// A port that was just free: nothing listens there.
	addr := testenv.FreeAddr(t)

	c := &client.Client{BaseURL: "http://" + addr}
	_, err := c.Repositories(context.Background(), client.ListRepositoriesOptions{})
	var ue *client.UnreachableError
	if !errors.As(err, &ue) || !client.IsUnreachable(err) {
		t.Fatalf("err = %v, want *UnreachableError", err)
	}
	want := "appstored is not reachable at http://" + addr + ": start it with `appstored` (or `make demo`), or set APPSTORE_URL / --server"
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("message %q\nwant it to start with %q and give the cause", err, want)
	}
	if ue.URL != "http://"+addr || client.IsNotFound(err) {
		t.Errorf("UnreachableError %+v", ue)
	}
}

func TestTimeoutIsUnreachableButCancelIsNot(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	slow := &client.Client{BaseURL: srv.URL, HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}}
	if _, err := slow.Version(context.Background()); !client.IsUnreachable(err) {
		t.Errorf("timed-out request: %v, want unreachable", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&client.Client{BaseURL: srv.URL}).Version(ctx)
	if client.IsUnreachable(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request: %v, want context.Canceled and not unreachable", err)
	}
}

func TestAllRepositoriesPages(t *testing.T) {
	srv := clienttest.NewServer(t)
	srv.PageSize = 2
	c := srv.Client()
	ctx := context.Background()
	for i := range 5 {
		if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: fmt.Sprintf("https://git.example.com/acme/app%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	before := len(srv.Requests())
	var slugs []string
	for r, err := range c.AllRepositories(ctx, client.ListRepositoriesOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		slugs = append(slugs, r.Slug)
	}
	if got := strings.Join(slugs, ","); got != "app4,app3,app2,app1,app0" {
		t.Errorf("slugs %s", got)
	}
	if n := len(srv.Requests()) - before; n != 3 {
		t.Errorf("%d requests for 5 repositories in pages of 2, want 3", n)
	}

	// Stopping early fetches no further page.
	before = len(srv.Requests())
	for range c.AllRepositories(ctx, client.ListRepositoriesOptions{}) {
		break
	}
	if n := len(srv.Requests()) - before; n != 1 {
		t.Errorf("%d requests after breaking on the first repository, want 1", n)
	}

	// An error is yielded once, and ends the iteration.
	var errs int
	for _, err := range c.AllRepositories(ctx, client.ListRepositoriesOptions{Status: "bogus"}) {
		if err == nil || !client.IsInvalid(err) {
			t.Fatalf("bad status: %v, want invalid", err)
		}
		errs++
	}
	if errs != 1 {
		t.Errorf("%d errors yielded, want 1", errs)
	}
}

func TestAllRepositoriesStopsOnRepeatedCursor(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		fmt.Fprintf(w, `{"repositories":[{"slug":"r%d","tags":[]}],"next_cursor":"same"}`, calls)
	}))
	defer srv.Close()
	n := 0
	for _, err := range (&client.Client{BaseURL: srv.URL}).AllRepositories(context.Background(), client.ListRepositoriesOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 || calls != 2 {
		t.Errorf("got %d repositories in %d calls from a server repeating its cursor, want 2 and 2", n, calls)
	}
}

func TestHealthAndReady(t *testing.T) {
	srv := clienttest.NewServer(t)
	c := srv.Client()
	ctx := context.Background()
	if h, err := c.Health(ctx); err != nil || h.Status != "ok" {
		t.Fatalf("Health = %+v, %v", h, err)
	}
	if h, err := c.Ready(ctx); err != nil || !h.Checks["database"].OK {
		t.Fatalf("Ready = %+v, %v", h, err)
	}
	srv.SetReady(false, "connection refused")
	h, err := c.Ready(ctx)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 || ae.Code != client.CodeUnavailable {
		t.Fatalf("Ready when down: %v", err)
	}
	if h == nil || h.Status != "down" || h.Checks["database"].OK {
		t.Fatalf("report when down: %+v", h)
	}
	// The optional check (redis) is not blamed.
	if got := err.Error(); got != "appstored is not ready: database: connection refused" {
		t.Errorf("message %q", got)
	}
	v, err := c.Version(ctx)
	if err != nil || v.Version != clienttest.Version || v.API != 1 {
		t.Errorf("Version = %+v, %v", v, err)
	}
}
