package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api"
)

// updates records what PATCH hands the store.
type updates struct {
	api.RepositoryStore
	got []store.RepositoryUpdate
}

func (u *updates) UpdateRepository(_ context.Context, slug string, up store.RepositoryUpdate) (*catalog.Repository, error) {
	u.got = append(u.got, up)
	r := &catalog.Repository{Slug: slug}
	if up.Description != nil {
		r.Description = *up.Description
	}
	if up.Homepage != nil {
		r.Homepage = *up.Homepage
	}
	return r, nil
}

// TestPatchGoesThroughTheSanitisers: PATCH cleans a description as
// ingestion does (escape sequences and control characters out) and
// refuses a homepage that is not http(s), a name with control characters
// and an overlong description, naming the field, before the store sees
// anything.
func TestPatchGoesThroughTheSanitisers(t *testing.T) {
	st := &updates{}
	a := serve(t, &api.Server{Repositories: &api.Repositories{Store: st}})
	for _, tc := range []struct{ body, field string }{
		{`{"homepage":"javascript:alert(document.cookie)"}`, "homepage"},
		{`{"homepage":"data:text/html;base64,PHNjcmlwdD4="}`, "homepage"},
		{`{"homepage":"https://user:pw@example.org"}`, "homepage"},
		{`{"name":"evil\u001b]0;title\u0007"}`, "name"},
		{`{"description":"` + strings.Repeat("x", catalog.MaxDescriptionLen+1) + `"}`, "description"},
	} {
		code, b := a.do(http.MethodPatch, "/api/v1/repositories/dash", tc.body)
		if e := errorOf(t, b); code != http.StatusBadRequest || e.Field != tc.field {
			t.Errorf("%.80s: %d %s, want 400 naming %s", tc.body, code, b, tc.field)
		}
	}
	if len(st.got) != 0 {
		t.Fatalf("refused updates reached the store: %+v", st.got)
	}
	code, b := a.do(http.MethodPatch, "/api/v1/repositories/dash", `{"description":"a \u001b[31mred\u001b[0m\u0000 claim\u202e","homepage":" https://dash.example.org "}`)
	if code != http.StatusOK || len(st.got) != 1 {
		t.Fatalf("%d %s", code, b)
	}
	if d, h := *st.got[0].Description, *st.got[0].Homepage; d != "a red claim" || h != "https://dash.example.org" {
		t.Errorf("the store got description %q and homepage %q, want them cleaned", d, h)
	}
}

// policy refuses one address, as servicehealth.Policy refuses link-local.
type policy struct{}

func (policy) CheckURL(_ context.Context, field, raw string) error {
	if strings.Contains(raw, "169.254.169.254") {
		return catalog.Invalid(field, "%q: refused", raw)
	}
	return nil
}

type acceptingServices struct {
	api.ServiceStore
	created int
}

func (a *acceptingServices) CreateService(_ context.Context, sp catalog.ServiceSpec) (*catalog.Service, bool, error) {
	a.created++
	return &catalog.Service{Slug: sp.Slug}, true, nil
}

// TestServiceURLsGoThroughThePolicy: the URL policy refuses a base or
// health URL on every path that declares one (POST, PATCH, each entry of
// an import), naming the field and the entry, before the store.
func TestServiceURLsGoThroughThePolicy(t *testing.T) {
	st := &acceptingServices{}
	a := serve(t, &api.Server{Guard: &api.Guard{Loopback: true, ServiceToken: guardService},
		Services: &api.Services{Store: st, URLPolicy: policy{}}})
	auth := []string{"Authorization", "Bearer " + guardService}
	for _, tc := range []struct{ method, path, body, field string }{
		{"POST", "/api/v1/services", `{"slug":"meta","base_url":"http://169.254.169.254"}`, "base_url"},
		{"POST", "/api/v1/services", `{"slug":"meta","base_url":"http://10.0.0.5","health_url":"http://169.254.169.254/latest"}`, "health_url"},
		{"PATCH", "/api/v1/services/llm", `{"health_url":"http://169.254.169.254/latest"}`, "health_url"},
	} {
		code, b := a.do(tc.method, tc.path, tc.body, auth...)
		if e := errorOf(t, b); code != http.StatusBadRequest || e.Field != tc.field {
			t.Errorf("%s %s %s: %d %s, want 400 naming %s", tc.method, tc.path, tc.body, code, b, tc.field)
		}
	}
	code, b := a.do("POST", "/api/v1/services/import", `{"services":[{"slug":"ok","base_url":"http://10.0.0.5"},
		{"slug":"meta","base_url":"http://169.254.169.254"}]}`, auth...)
	if code != http.StatusBadRequest || !strings.Contains(string(b), `"index":1`) || !strings.Contains(string(b), `"field":"base_url"`) {
		t.Errorf("import: %d %s, want 400 naming entry 1's base_url", code, b)
	}
	if st.created != 0 {
		t.Errorf("%d refused declarations reached the store", st.created)
	}
	if code, b := a.do("POST", "/api/v1/services", `{"slug":"ok","base_url":"http://10.0.0.5"}`, auth...); code != http.StatusCreated || st.created != 1 {
		t.Errorf("an admitted address: %d %s", code, b)
	}
}
