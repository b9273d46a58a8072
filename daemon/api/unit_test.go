package api_test

// HTTP behaviour of the handlers without a database: the handler groups
// depend on small store interfaces, faked here. The same routes run
// against PostgreSQL in the other tests of this package.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/query"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api"
)

func serve(t *testing.T, s *api.Server) *apiTest {
	t.Helper()
	if s.Guard == nil {
		s.Guard = &api.Guard{Loopback: true}
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &apiTest{t: t, srv: srv}
}

// fakeRepositories records what the handlers ask of the catalog.
type fakeRepositories struct {
	api.RepositoryStore // nil: a call the test does not expect panics
	created             []store.NewRepository
}

func (f *fakeRepositories) CreateRepository(_ context.Context, in store.NewRepository) (*catalog.Repository, error) {
	f.created = append(f.created, in)
	return &catalog.Repository{ID: 7, Slug: catalog.Slugify(in.Name), Name: in.Name, GitURL: in.GitURL}, nil
}

type ingestRecorder struct{ ids []int64 }

func (r *ingestRecorder) EnqueueIngest(_ context.Context, id int64) error {
	r.ids = append(r.ids, id)
	return nil
}

func TestCreateRepositoryChecksTheRulesBeforeTheStore(t *testing.T) {
	repos := &fakeRepositories{}
	ingest := &ingestRecorder{}
	a := serve(t, &api.Server{Repositories: &api.Repositories{Store: repos, Ingest: ingest}})

	for _, tc := range []struct{ body, field string }{
		{`{}`, "git_url"},
		{`{"git_url":"not a url"}`, "git_url"},
		{`{"git_url":"https://github.com/acme/dash.git","branch":"-rf"}`, "branch"},
		{`{"git_url":"https://github.com/acme/dash.git","dockerfile":"../Dockerfile"}`, "dockerfile"},
		{`{"git_url":"https://github.com/acme/dash.git","tags":["nocolon"]}`, "tags"},
		{`{"git_url":"https://github.com/acme/dash.git","colour":"red"}`, "colour"},
	} {
		code, body := a.do(http.MethodPost, "/api/v1/repositories", tc.body)
		if e := errorOf(t, body); code != http.StatusBadRequest || e.Code != apitype.CodeInvalid || e.Field != tc.field {
			t.Errorf("%s: %d %s, want 400 invalid naming %s", tc.body, code, body, tc.field)
		}
	}
	if len(repos.created) != 0 || len(ingest.ids) != 0 {
		t.Fatalf("refused requests reached the store (%d) or the queue (%d)", len(repos.created), len(ingest.ids))
	}

	code, body := a.do(http.MethodPost, "/api/v1/repositories",
		`{"git_url":"https://github.com/acme/dash.git","dockerfile":"./docker/Dockerfile","tags":["Lang:Go"]}`)
	if code != http.StatusCreated || len(repos.created) != 1 {
		t.Fatalf("create: %d %s", code, body)
	}
	in := repos.created[0]
	if in.Name != "dash" || in.NameManual || in.GitURLKey != "github.com/acme/dash" || in.RequestedDockerfile != "docker/Dockerfile" ||
		len(in.Tags) != 1 || in.Tags[0].String() != "lang:go" {
		t.Errorf("the store got %+v", in)
	}
	if len(ingest.ids) != 1 || ingest.ids[0] != 7 {
		t.Errorf("enqueued %v, want the new repository 7", ingest.ids)
	}
}

// fakeServices fails the test if the handlers reach it.
type fakeServices struct {
	api.ServiceStore
	t *testing.T
}

func (f fakeServices) ImportServices(context.Context, []catalog.ServiceSpec, store.ImportOptions) (*store.ImportResult, error) {
	f.t.Error("an invalid manifest reached the store")
	return nil, errors.New("unexpected")
}

func TestServiceRoutesWantTheServiceToken(t *testing.T) {
	services := &api.Services{Store: fakeServices{t: t}}
	disabled := serve(t, &api.Server{Services: services, Guard: &api.Guard{Loopback: true, Token: "daemon"}})
	code, body := disabled.do(http.MethodPost, "/api/v1/services", `{"slug":"llm","base_url":"http://10.0.0.5"}`, "Authorization", "Bearer daemon")
	if e := errorOf(t, body); code != http.StatusForbidden || !strings.Contains(e.Message, "--service-token") {
		t.Errorf("without a service token: %d %s, want 403 saying how to enable registration", code, body)
	}

	a := serve(t, &api.Server{Services: &api.Services{Store: fakeServices{t: t}}, Guard: &api.Guard{Loopback: true, Token: "daemon", ServiceToken: "svc"}})
	for _, auth := range []string{"", "Bearer daemon", "Bearer wrong"} {
		code, body := a.do(http.MethodDelete, "/api/v1/services/llm", "", "Authorization", auth)
		if e := errorOf(t, body); code != http.StatusUnauthorized || e.Code != apitype.CodeUnauthorized {
			t.Errorf("Authorization %q: %d %s, want 401", auth, code, body)
		}
	}
	code, body = a.do(http.MethodPost, "/api/v1/services", `{"slug":"llm"}`, "Authorization", "Bearer svc", "Origin", "https://evil.example")
	if code != http.StatusForbidden {
		t.Errorf("a foreign Origin with the service token: %d %s, want 403", code, body)
	}
}

func TestInvalidManifestIsRefusedEntryByEntry(t *testing.T) {
	a := serve(t, &api.Server{Services: &api.Services{Store: fakeServices{t: t}}, Guard: &api.Guard{Loopback: true, ServiceToken: "svc"}})
	code, body := a.do(http.MethodPost, "/api/v1/services/import", `{"services":[
		{"slug":"ok","base_url":"http://ok"},
		{"slug":"bad","base_url":"ftp://x"},
		{"slug":"slow","base_url":"http://slow","health_interval":"soon"},
		{"slug":"ok","base_url":"http://again"},
		{"slug":"x","base_url":"http://x","colour":"red"}]}`, "Authorization", "Bearer svc")
	var eb apitype.ManifestErrorBody
	if err := json.Unmarshal(body, &eb); err != nil || code != http.StatusBadRequest {
		t.Fatalf("%d %s", code, body)
	}
	want := []struct {
		index int
		field string
	}{{1, "base_url"}, {2, "health_interval"}, {3, "slug"}, {4, "colour"}}
	if len(eb.Error.Entries) != len(want) || !strings.Contains(eb.Error.Message, "4 of 5 manifest entries are invalid") {
		t.Fatalf("entries %+v, message %q", eb.Error.Entries, eb.Error.Message)
	}
	for i, w := range want {
		if e := eb.Error.Entries[i]; e.Index != w.index || e.Field != w.field {
			t.Errorf("entry %d: %+v, want index %d field %s", i, e, w.index, w.field)
		}
	}
}

type fakeSearch struct{ api.SearchStore }

func (fakeSearch) Search(_ context.Context, o store.SearchOptions) (*catalog.SearchPage, error) {
	return nil, fmt.Errorf("parse: %w", &query.SyntaxError{Pos: 5, Msg: "unclosed quote"})
}

func TestSearchSyntaxErrorGivesThePosition(t *testing.T) {
	a := serve(t, &api.Server{Search: &api.Search{Store: fakeSearch{}}})
	code, body := a.do(http.MethodGet, `/api/v1/search?q=lang:"go`, "")
	e := errorOf(t, body)
	if code != http.StatusBadRequest || e.Field != "q" || e.Position == nil || *e.Position != 5 {
		t.Errorf("%d %s, want 400 naming q at byte 5", code, body)
	}
	if code, body := a.do(http.MethodGet, "/api/v1/search?limit=0", ""); code != http.StatusBadRequest || errorOf(t, body).Field != "limit" {
		t.Errorf("limit=0: %d %s, want 400 naming limit", code, body)
	}
}

// The route table answers what it does not route: JSON under /api/, and
// the daemon token still guards a write to an unknown API path.
func TestRouteTableFallbacks(t *testing.T) {
	a := serve(t, &api.Server{Guard: &api.Guard{Loopback: true, Token: "t"}})
	if code, body := a.do(http.MethodGet, "/api/v1/nope", ""); code != http.StatusNotFound || errorOf(t, body).Code != apitype.CodeNotFound {
		t.Errorf("GET unknown: %d %s", code, body)
	}
	if code, _ := a.do(http.MethodPost, "/api/v1/nope", "{}"); code != http.StatusUnauthorized {
		t.Errorf("POST unknown without the token: %d, want 401", code)
	}
	if code, _ := a.do(http.MethodGet, "/healthz", "", "Host", "evil.example"); code != http.StatusForbidden {
		t.Errorf("a foreign Host: %d, want 403", code)
	}
	health := serve(t, &api.Server{HealthOnly: true, Roles: "worker",
		Ready: func(context.Context) apitype.Health { return apitype.Health{Status: apitype.HealthOK} }})
	code, body := health.do(http.MethodGet, "/api/v1/repositories", "")
	if e := errorOf(t, body); code != http.StatusNotFound || !strings.Contains(e.Message, "--roles worker") {
		t.Errorf("a worker asked for the API: %d %s", code, body)
	}
	for _, p := range []string{"/healthz", "/readyz", "/api/v1/version"} {
		if code, body := health.do(http.MethodGet, p, ""); code != http.StatusOK {
			t.Errorf("a worker's %s: %d %s", p, code, body)
		}
	}
}
