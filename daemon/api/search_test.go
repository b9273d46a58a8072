package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/daemon/api"
)

func newSearchAPI(t *testing.T) (*apiTest, *store.Store) {
	st := storetest.New(t)
	s := &api.Server{Store: st, Guard: &api.Guard{Loopback: true}}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &apiTest{t: t, srv: srv}, st
}

func addTagged(t *testing.T, st *store.Store, name string, tags ...string) {
	t.Helper()
	in := store.NewRepository{Name: name, NameManual: true, GitURL: "https://git.example.com/o/" + name + ".git", GitURLKey: "git.example.com/o/" + name,
		Tags: storetest.Tags(t, tags...)}
	if _, err := st.CreateRepository(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

func TestSearchRoute(t *testing.T) {
	a, st := newSearchAPI(t)
	addTagged(t, st, "gin-chat", "lang:go", "framework:gin")
	addTagged(t, st, "fiber-board", "lang:go", "framework:fiber")
	addTagged(t, st, "flask-wiki", "lang:python", "framework:flask")

	code, b := a.do("GET", "/api/v1/search?"+url.Values{"q": {"lang:go"}, "limit": {"1"}}.Encode(), "")
	if code != http.StatusOK {
		t.Fatalf("search: %d %s", code, b)
	}
	var page catalog.SearchPage
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Results) != 1 || page.Total != 2 || !page.TotalExact || page.NextCursor == "" {
		t.Fatalf("first page %s", b)
	}
	var raw map[string]any
	_ = json.Unmarshal(b, &raw)
	first := raw["results"].([]any)[0].(map[string]any)
	for _, k := range []string{"slug", "name", "description", "tags", "ingest_status"} {
		if _, ok := first[k]; !ok {
			t.Errorf("result has no %q: %s", k, b)
		}
	}
	code, b = a.do("GET", "/api/v1/search?"+url.Values{"q": {"lang:go"}, "limit": {"1"}, "cursor": {page.NextCursor}}.Encode(), "")
	var next catalog.SearchPage
	if err := json.Unmarshal(b, &next); code != http.StatusOK || err != nil || len(next.Results) != 1 || next.Results[0].Slug == page.Results[0].Slug || next.NextCursor != "" {
		t.Errorf("second page: %d %s", code, b)
	}

	// No query lists everything.
	code, b = a.do("GET", "/api/v1/search", "")
	if err := json.Unmarshal(b, &page); code != http.StatusOK || err != nil || len(page.Results) != 3 {
		t.Errorf("empty query: %d %s", code, b)
	}

	// A query that does not parse: 400 with the position.
	code, b = a.do("GET", "/api/v1/search?"+url.Values{"q": {"lang:go framework:"}}.Encode(), "")
	e := errorOf(t, b)
	if code != http.StatusBadRequest || e.Code != "invalid" || e.Field != "q" || e.Position == nil || *e.Position != 18 {
		t.Errorf("bad query: %d %s", code, b)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "exact_total=maybe", "cursor=zzz"} {
		if code, b := a.do("GET", "/api/v1/search?"+q, ""); code != http.StatusBadRequest || errorOf(t, b).Code != "invalid" {
			t.Errorf("%s: %d %s, want 400", q, code, b)
		}
	}
}

func TestAutocompleteRoute(t *testing.T) {
	a, st := newSearchAPI(t)
	addTagged(t, st, "a", "lang:go", "framework:gin")
	addTagged(t, st, "b", "lang:go", "framework:gin")
	addTagged(t, st, "c", "lang:python", "framework:flask")

	code, b := a.do("GET", "/api/v1/autocomplete?"+url.Values{"q": {"lang:go framework:"}}.Encode(), "")
	var sg catalog.Suggestions
	if err := json.Unmarshal(b, &sg); code != http.StatusOK || err != nil {
		t.Fatalf("autocomplete: %d %s", code, b)
	}
	if !sg.Narrowed || sg.Start != 8 || sg.End != 18 || len(sg.Suggestions) != 1 {
		t.Fatalf("narrowed: %s", b)
	}
	if s := sg.Suggestions[0]; s.Text != "framework:gin" || s.Kind != "value" || s.Count != 2 || s.Query != "lang:go framework:gin " {
		t.Errorf("suggestion %+v", s)
	}
	// pos picks the token; limit bounds the answer.
	code, b = a.do("GET", "/api/v1/autocomplete?"+url.Values{"q": {"fr lang:go"}, "pos": {"2"}, "limit": {"1"}}.Encode(), "")
	if err := json.Unmarshal(b, &sg); code != http.StatusOK || err != nil || len(sg.Suggestions) != 1 || sg.Suggestions[0].Text != "framework:" || sg.Suggestions[0].Count != 2 {
		t.Errorf("pos 2: %d %s", code, b)
	}
	code, b = a.do("GET", "/api/v1/autocomplete?"+url.Values{"q": {"fr lang:"}, "pos": {"2"}}.Encode(), "")
	if e := errorOf(t, b); code != http.StatusBadRequest || e.Field != "q" || e.Position == nil || *e.Position != 8 {
		t.Errorf("rest does not parse: %d %s", code, b)
	}
	for _, q := range []string{"q=ab&pos=3", "q=ab&pos=-1", "q=ab&limit=0"} {
		if code, b := a.do("GET", "/api/v1/autocomplete?"+q, ""); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", q, code, b)
		}
	}
}
