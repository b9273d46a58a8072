package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/api"
)

const serviceToken = "s3rvice-token"

type serviceAPI struct {
	*apiTest
	st    *store.Store
	woken *atomic.Int32
}

// newServiceAPI serves the API with the service routes as appstored wires
// them: the daemon token (when set) is not asked of /api/v1/services.
func newServiceAPI(t *testing.T, svcToken, daemonToken string) *serviceAPI {
	st := storetest.New(t)
	woken := &atomic.Int32{}
	s := &api.Server{Store: st, Guard: &api.Guard{Loopback: true, Token: daemonToken, ServiceToken: svcToken},
		Services: &api.Services{Changed: func() { woken.Add(1) }}}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &serviceAPI{apiTest: &apiTest{t: t, srv: srv}, st: st, woken: woken}
}

var mutatingServiceRoutes = []struct {
	method, path, body string
	ok                 int
}{
	{"POST", "/api/v1/services", `{"slug":"llm","base_url":"http://10.0.0.5:8080"}`, http.StatusCreated},
	{"PATCH", "/api/v1/services/llm", `{"name":"LLM"}`, http.StatusOK},
	{"POST", "/api/v1/services/import", `{"services":[{"slug":"llm","name":"LLM","base_url":"http://10.0.0.5:8080"}]}`, http.StatusOK},
	{"DELETE", "/api/v1/services/llm", ``, http.StatusNoContent},
}

// TestServiceTokenOnEveryMutatingRoute: without a configured token every
// mutating route refuses and says how to set one; with one, a missing or
// wrong token (or the daemon's) is 401; the right one passes. Reading is
// open.
func TestServiceTokenOnEveryMutatingRoute(t *testing.T) {
	disabled := newServiceAPI(t, "", "")
	for _, r := range mutatingServiceRoutes {
		code, b := disabled.do(r.method, r.path, r.body, "Authorization", "Bearer anything")
		if e := errorOf(t, b); code != http.StatusForbidden || e.Code != "forbidden" || !strings.Contains(e.Message, "--service-token") || !strings.Contains(e.Message, "APPSTORE_SERVICE_TOKEN") {
			t.Errorf("%s %s without a configured token: %d %s", r.method, r.path, code, b)
		}
	}

	a := newServiceAPI(t, serviceToken, "daemon-token")
	for _, r := range mutatingServiceRoutes {
		for _, auth := range []string{"", "Bearer ", "Bearer wrong", "Bearer daemon-token", "Basic " + serviceToken, "Bearer " + serviceToken + "x", "Bearer s3rvice-toke"} {
			header := []string{}
			if auth != "" {
				header = []string{"Authorization", auth}
			}
			code, b := a.do(r.method, r.path, r.body, header...)
			if e := errorOf(t, b); code != http.StatusUnauthorized || e.Code != "unauthorized" || !strings.Contains(e.Message, "APPSTORE_SERVICE_TOKEN") {
				t.Errorf("%s %s with %q: %d %s, want 401", r.method, r.path, auth, code, b)
			}
		}
		code, b := a.do(r.method, r.path, r.body, "Authorization", "Bearer "+serviceToken)
		if code != r.ok {
			t.Errorf("%s %s with the token: %d %s, want %d", r.method, r.path, code, b, r.ok)
		}
		// The token does not lift the browser protections.
		code, b = a.do(r.method, r.path, r.body, "Authorization", "Bearer "+serviceToken, "Origin", "https://evil.example")
		if code != http.StatusForbidden {
			t.Errorf("%s %s from a foreign origin: %d %s", r.method, r.path, code, b)
		}
	}
	for _, path := range []string{"/api/v1/services", "/api/v1/services/llm"} {
		code, b := a.do("GET", path, "")
		if path == "/api/v1/services" && code != 200 || path != "/api/v1/services" && code != 404 {
			t.Errorf("GET %s without a token: %d %s", path, code, b)
		}
	}
}

// TestServiceRoutesThroughTheClient uses the Go client against the routes.
func TestServiceRoutesThroughTheClient(t *testing.T) {
	a := newServiceAPI(t, serviceToken, "")
	ctx := context.Background()
	anon := &client.Client{BaseURL: a.srv.URL}
	c := anon.WithToken(serviceToken)

	spec := client.ServiceSpec{Slug: "llm", Name: "LLM gateway", Kind: "llm", BaseURL: "http://10.0.0.5:8080",
		Capabilities: []string{"chat", "embeddings"}, Metadata: json.RawMessage(`{"owner":"ml"}`), HealthInterval: "10s"}
	svc, created, err := c.CreateService(ctx, spec)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if svc.HealthURL != "http://10.0.0.5:8080/healthz" || svc.Status != "unknown" || svc.Source != "api" || *svc.HealthIntervalMS != 10000 {
		t.Errorf("created %+v", svc)
	}
	if a.woken.Load() != 1 {
		t.Errorf("poller woken %d times after a registration, want 1", a.woken.Load())
	}
	// A service that registers itself again at each start gets 200.
	if _, created, err := c.CreateService(ctx, spec); err != nil || created {
		t.Errorf("re-register: %v %v", created, err)
	}
	spec.BaseURL = "http://10.0.0.6:8080"
	_, _, err = c.CreateService(ctx, spec)
	var ae *client.APIError
	if !client.IsConflict(err) || !errors.As(err, &ae) || ae.Slug != "llm" || !strings.Contains(ae.Message, "PATCH") {
		t.Errorf("conflicting register: %v", err)
	}
	if _, _, err := anon.CreateService(ctx, client.ServiceSpec{Slug: "x", BaseURL: "http://x"}); !client.IsUnauthorized(err) {
		t.Errorf("without token: %v", err)
	}

	for _, bad := range []struct {
		spec  client.ServiceSpec
		field string
	}{
		{client.ServiceSpec{Slug: "Bad Slug", BaseURL: "http://x"}, "slug"},
		{client.ServiceSpec{Slug: "x", BaseURL: "ftp://x"}, "base_url"},
		{client.ServiceSpec{Slug: "x", BaseURL: "http://x", HealthInterval: "soon"}, "health_interval"},
		{client.ServiceSpec{Slug: "x", BaseURL: "http://x", HealthInterval: "1ms"}, "health_interval"},
		{client.ServiceSpec{Slug: "x", BaseURL: "http://x", Metadata: json.RawMessage(`"text"`)}, "metadata"},
	} {
		_, _, err := c.CreateService(ctx, bad.spec)
		if !client.IsInvalid(err) || !errors.As(err, &ae) || ae.Field != bad.field {
			t.Errorf("%+v: %v, want invalid %s", bad.spec, err, bad.field)
		}
	}
	code, b := a.do("POST", "/api/v1/services", `{"slug":"x","base_url":"http://x","colour":"red"}`, "Authorization", "Bearer "+serviceToken)
	if code != 400 || errorOf(t, b).Field != "colour" {
		t.Errorf("unknown field: %d %s", code, b)
	}

	name, base := "Gateway", "http://10.0.0.7"
	svc, err = c.UpdateService(ctx, "llm", client.UpdateServiceRequest{Name: &name, BaseURL: &base})
	if err != nil || svc.Name != "Gateway" || svc.HealthURL != "http://10.0.0.7/healthz" {
		t.Errorf("patch: %+v %v", svc, err)
	}
	empty := ""
	svc, err = c.UpdateService(ctx, "llm", client.UpdateServiceRequest{HealthInterval: &empty, Metadata: json.RawMessage(`null`)})
	if err != nil || svc.HealthIntervalMS != nil || svc.Metadata != nil {
		t.Errorf("patch back to defaults: %+v %v", svc, err)
	}
	if _, err := c.UpdateService(ctx, "nope", client.UpdateServiceRequest{Name: &name}); !client.IsNotFound(err) {
		t.Errorf("patch missing: %v", err)
	}

	if _, _, err := c.CreateService(ctx, client.ServiceSpec{Slug: "search", BaseURL: "http://search:9200", Kind: "search"}); err != nil {
		t.Fatal(err)
	}
	list, err := anon.Services(ctx, client.ListServicesOptions{})
	if err != nil || len(list) != 2 || list[0].Slug != "llm" || list[1].Slug != "search" {
		t.Errorf("list: %+v %v", list, err)
	}
	list, err = anon.Services(ctx, client.ListServicesOptions{Kind: "search", Status: "unknown"})
	if err != nil || len(list) != 1 || list[0].Slug != "search" {
		t.Errorf("list by kind: %+v %v", list, err)
	}
	if _, err := anon.Services(ctx, client.ListServicesOptions{Status: "up"}); !client.IsInvalid(err) {
		t.Errorf("bad status filter: %v", err)
	}
	got, err := anon.Service(ctx, "llm")
	if err != nil || got.Name != "Gateway" || !slices.Equal(got.Capabilities, []string{"chat", "embeddings"}) {
		t.Errorf("get: %+v %v", got, err)
	}

	if err := c.DeleteService(ctx, "llm"); err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Service(ctx, "llm"); !client.IsNotFound(err) {
		t.Errorf("get deleted: %v", err)
	}
	if err := c.DeleteService(ctx, "llm"); !client.IsNotFound(err) {
		t.Errorf("delete twice: %v", err)
	}
}

// TestImportManifest: the same manifest twice changes nothing the second
// time; a manifest with bad entries is refused whole, each entry named.
func TestImportManifest(t *testing.T) {
	a := newServiceAPI(t, serviceToken, "")
	ctx := context.Background()
	c := (&client.Client{BaseURL: a.srv.URL}).WithToken(serviceToken)
	manifest := client.ServiceManifest{Services: []client.ServiceSpec{
		{Slug: "llm", BaseURL: "http://llm:8080", Capabilities: []string{"chat"}},
		{Slug: "search", BaseURL: "http://search:9200", HealthURL: "http://search:9200/_cluster/health", HealthInterval: "1m"},
	}}
	res, err := c.ImportServices(ctx, manifest, client.ImportServicesOptions{})
	if err != nil || res.Created != 2 || res.Updated != 0 || res.Unchanged != 0 || len(res.Services) != 2 || res.Services[0].Action != "created" {
		t.Fatalf("first import: %+v %v", res, err)
	}
	since, _ := a.st.LastEventID(ctx)
	woken := a.woken.Load()
	res, err = c.ImportServices(ctx, manifest, client.ImportServicesOptions{})
	if err != nil || res.Created != 0 || res.Updated != 0 || res.Unchanged != 2 {
		t.Fatalf("second import: %+v %v", res, err)
	}
	if last, _ := a.st.LastEventID(ctx); last != since {
		t.Errorf("an unchanged import wrote events %d..%d", since, last)
	}
	if a.woken.Load() != woken {
		t.Errorf("an unchanged import woke the poller")
	}

	raw := `{"services":[
		{"slug":"llm","base_url":"http://llm:8080","capabilities":["chat"],"name":"Renamed"},
		{"slug":"new","base_url":"http://new"},
		{"slug":"typo","base_url":"http://t","helth_url":"http://t/h"},
		{"slug":"wrongtype","base_url":"http://t","capabilities":"chat"},
		"not an object",
		{"slug":"badurl","base_url":"ftp://t"},
		{"slug":"new","base_url":"http://new2"},
		{"slug":"iv","base_url":"http://iv","health_interval":"often"}
	]}`
	_, err = c.ImportServicesJSON(ctx, []byte(raw), client.ImportServicesOptions{Prune: true})
	var me *client.ManifestError
	if !errors.As(err, &me) || !client.IsInvalid(err) {
		t.Fatalf("bad manifest: %v", err)
	}
	want := []client.ServiceEntryError{
		{Index: 2, Slug: "typo", Field: "helth_url"},
		{Index: 3, Slug: "wrongtype", Field: "capabilities"},
		{Index: 4},
		{Index: 5, Slug: "badurl", Field: "base_url"},
		{Index: 6, Slug: "new", Field: "slug"},
		{Index: 7, Slug: "iv", Field: "health_interval"},
	}
	if len(me.Entries) != len(want) {
		t.Fatalf("entries %+v, want %d", me.Entries, len(want))
	}
	for i, w := range want {
		g := me.Entries[i]
		if g.Index != w.Index || g.Slug != w.Slug || g.Field != w.Field || g.Message == "" {
			t.Errorf("entry %d: %+v, want %+v", i, g, w)
		}
	}
	if !strings.Contains(me.Error(), "6 of 8 manifest entries are invalid; nothing was applied") {
		t.Errorf("message %q", me.Error())
	}
	if _, err := c.Service(ctx, "new"); !client.IsNotFound(err) {
		t.Errorf("a refused manifest created a service: %v", err)
	}
	if svc, _ := c.Service(ctx, "llm"); svc.Name != "llm" {
		t.Errorf("a refused manifest renamed llm to %q", svc.Name)
	}
	if last, _ := a.st.LastEventID(ctx); last != since {
		t.Errorf("a refused manifest wrote events")
	}

	for _, body := range []struct{ path, body, field string }{
		{"/api/v1/services/import", `{}`, "services"},
		{"/api/v1/services/import", `{"services":[],"extra":1}`, "extra"},
		{"/api/v1/services/import?prune=maybe", `{"services":[]}`, "prune"},
	} {
		code, b := a.do("POST", body.path, body.body, "Authorization", "Bearer "+serviceToken)
		if code != 400 || errorOf(t, b).Field != body.field {
			t.Errorf("%s %s: %d %s, want 400 on %s", body.path, body.body, code, b, body.field)
		}
	}

	// Prune with a manifest that keeps llm only: search goes.
	res, err = c.ImportServices(ctx, client.ServiceManifest{Services: manifest.Services[:1]}, client.ImportServicesOptions{Prune: true})
	if err != nil || res.Unchanged != 1 || res.Deleted != 1 || res.Services[1].Slug != "search" || res.Services[1].Action != "deleted" {
		t.Errorf("prune: %+v %v", res, err)
	}
}
