package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/api"
)

type apiTest struct {
	t   *testing.T
	srv *httptest.Server
}

func newAPI(t *testing.T, guard *api.Guard) *apiTest {
	st := storetest.New(t)
	if guard == nil {
		guard = &api.Guard{Loopback: true}
	}
	s := &api.Server{Store: st, Guard: guard}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &apiTest{t: t, srv: srv}
}

func (a *apiTest) do(method, path, body string, header ...string) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func errorOf(t *testing.T, b []byte) client.ErrorDetail {
	t.Helper()
	var e client.ErrorBody
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not an error body: %s", b)
	}
	return e.Error
}

func TestRepositoryLifecycle(t *testing.T) {
	a := newAPI(t, nil)
	code, b := a.do("POST", "/api/v1/repositories", `{"git_url":"https://github.com/acme/dash.git","tags":["category:dashboard"]}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	var repo client.Repository
	if err := json.Unmarshal(b, &repo); err != nil {
		t.Fatal(err)
	}
	if repo.Slug != "dash" || repo.IngestStatus != "queued" || len(repo.Tags) != 1 {
		t.Errorf("created %+v", repo)
	}

	code, b = a.do("POST", "/api/v1/repositories", `{"git_url":"git@github.com:acme/dash.git"}`)
	if code != http.StatusConflict || errorOf(t, b).Slug != "dash" {
		t.Errorf("duplicate: %d %s, want 409 naming dash", code, b)
	}

	code, b = a.do("GET", "/api/v1/repositories?tag=category:dashboard", "")
	var list client.RepositoryList
	if code != 200 || json.Unmarshal(b, &list) != nil || len(list.Repositories) != 1 {
		t.Errorf("list: %d %s", code, b)
	}

	code, b = a.do("PATCH", "/api/v1/repositories/dash", `{"description":"Ops dashboard","add_tags":["team:ops"]}`)
	if code != 200 || !bytes.Contains(b, []byte(`"Ops dashboard"`)) || !bytes.Contains(b, []byte(`"team"`)) {
		t.Errorf("patch: %d %s", code, b)
	}

	code, b = a.do("GET", "/api/v1/tags?prefix=team", "")
	if code != 200 || !bytes.Contains(b, []byte(`"count":1`)) {
		t.Errorf("tags: %d %s", code, b)
	}

	if code, b = a.do("DELETE", "/api/v1/repositories/dash", ""); code != http.StatusNoContent {
		t.Errorf("delete: %d %s", code, b)
	}
	if code, b = a.do("GET", "/api/v1/repositories/dash", ""); code != 404 || errorOf(t, b).Code != "not_found" {
		t.Errorf("get deleted: %d %s", code, b)
	}
}

func TestBadInputIsRefusedWithTheFieldNamed(t *testing.T) {
	a := newAPI(t, nil)
	cases := []struct {
		body, field string
		status      int
	}{
		{`{"git_url":""}`, "git_url", 400},
		{`{"git_url":"ftp://x/y"}`, "git_url", 400},
		{`{"git_url":"--upload-pack=evil"}`, "git_url", 400},
		{`{"git_url":"https://github.com/a/b","tags":["nocolon"]}`, "tags", 400},
		{`{"git_url":"https://github.com/a/b","tags":["Bad Key:x"]}`, "tags", 400},
		{`{"git_url":"https://github.com/a/b","tags":["k:` + strings.Repeat("v", 200) + `"]}`, "tags", 400},
		{`{"git_url":"https://github.com/a/b","dockerfile":"../../etc/passwd"}`, "dockerfile", 400},
		{`{"git_url":"https://github.com/a/b","branch":"-x"}`, "branch", 400},
		{`{"git_url":"https://github.com/a/b","name":"` + strings.Repeat("n", 300) + `"}`, "name", 400},
		{`{"git_url":"https://github.com/a/b","surprise":1}`, "surprise", 400},
		{`{"git_url":42}`, "git_url", 400},
	}
	for _, c := range cases {
		code, b := a.do("POST", "/api/v1/repositories", c.body)
		if code != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.body, code, c.status, b)
			continue
		}
		if e := errorOf(t, b); e.Field != c.field {
			t.Errorf("%s: field %q, want %q (%s)", c.body, e.Field, c.field, e.Message)
		}
	}
	code, b := a.do("POST", "/api/v1/repositories", `{"git_url":"`+strings.Repeat("a", 2<<20)+`"}`)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d %s", code, b)
	}
	code, b = a.do("POST", "/api/v1/repositories", `{not json`)
	if code != 400 || !strings.Contains(errorOf(t, b).Message, "JSON") {
		t.Errorf("bad JSON: %d %s", code, b)
	}
	// Nothing of the above was stored half-way.
	_, b = a.do("GET", "/api/v1/repositories", "")
	if !bytes.Contains(b, []byte(`"repositories":[]`)) {
		t.Errorf("something was stored: %s", b)
	}
}

func TestGuardRefusesForeignHostOriginAndMissingToken(t *testing.T) {
	a := newAPI(t, &api.Guard{Loopback: true, Token: "s3cret"})
	body := `{"git_url":"https://github.com/a/b"}`
	if code, b := a.do("POST", "/api/v1/repositories", body, "Host", "evil.example:7070", "Authorization", "Bearer s3cret"); code != 403 {
		t.Errorf("foreign Host: %d %s", code, b)
	}
	if code, b := a.do("GET", "/api/v1/repositories", "", "Host", "attacker.example"); code != 403 {
		t.Errorf("foreign Host on a read: %d %s", code, b)
	}
	if code, b := a.do("POST", "/api/v1/repositories", body, "Origin", "http://evil.example", "Authorization", "Bearer s3cret"); code != 403 {
		t.Errorf("foreign Origin: %d %s", code, b)
	}
	if code, b := a.do("POST", "/api/v1/repositories", body); code != 401 {
		t.Errorf("no token: %d %s", code, b)
	}
	if code, b := a.do("POST", "/api/v1/repositories", body, "Authorization", "Bearer wrong"); code != 401 {
		t.Errorf("wrong token: %d %s", code, b)
	}
	if code, b := a.do("GET", "/api/v1/repositories", ""); code != 200 {
		t.Errorf("read without token: %d %s", code, b)
	}
	sameOrigin := strings.TrimPrefix(a.srv.URL, "http://")
	if code, b := a.do("POST", "/api/v1/repositories", body, "Origin", "http://"+sameOrigin, "Authorization", "Bearer s3cret"); code != 201 {
		t.Errorf("same origin with token: %d %s", code, b)
	}
}

func TestLocalPathsOnlyOnLoopback(t *testing.T) {
	a := newAPI(t, &api.Guard{Loopback: false, Token: "t"})
	code, b := a.do("POST", "/api/v1/repositories", `{"git_url":"/srv/git/x"}`, "Authorization", "Bearer t")
	if code != 400 || errorOf(t, b).Field != "git_url" {
		t.Errorf("local path while exposed: %d %s", code, b)
	}
}

func TestUnknownRouteIsJSON404(t *testing.T) {
	a := newAPI(t, nil)
	code, b := a.do("GET", "/api/v1/nope", "")
	if code != 404 || errorOf(t, b).Code != "not_found" {
		t.Errorf("%d %s", code, b)
	}
}
