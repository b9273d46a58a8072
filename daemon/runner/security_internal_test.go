package runner

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

// TestFailingStatusUpdateLeavesNoRoute: when the database refuses to record
// a launch's failure (here a trigger makes every update of launches fail),
// the preview route is gone all the same — requests do not reach the dead
// container while the reconciler catches up. Once the database accepts it,
// the failure is recorded with the app's output cleaned: NUL, invalid UTF-8
// and escape sequences do not make the update fail.
func TestFailingStatusUpdateLeavesNoRoute(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	u, _ := giturl.Parse("https://git.example.com/test/dash.git")
	repo, err := st.CreateRepository(ctx, store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: "dash", Owner: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := st.Pool().QueryRow(ctx, `INSERT INTO launches (repository_id, status, host_port, runner) VALUES ($1, 'running', 45678, 'r1') RETURNING id`, repo.ID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{ID: "r1", Store: st, Logger: slog.New(slog.DiscardHandler), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := st.Launch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	r.addRoute(l)
	if r.routes.get("dash") == nil {
		t.Fatal("no route to start with")
	}
	if _, err := st.Pool().Exec(ctx, `
		CREATE FUNCTION refuse_launch_updates() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected failure'; END $$;
		CREATE TRIGGER refuse_launch_updates BEFORE UPDATE ON launches FOR EACH ROW EXECUTE FUNCTION refuse_launch_updates();`); err != nil {
		t.Fatal(err)
	}
	output := "exited with code 3; last output:\n\x1b]0;pwned\x07fatal: \x1b[31mboom\x1b[0m\x00\xff\xfe"
	r.failLaunch(id, "", output, nil)
	if r.routes.get("dash") != nil {
		t.Error("the route is still there after the failure could not be recorded")
	}
	if got, _ := st.Launch(ctx, id); got.Status != catalog.LaunchRunning {
		t.Fatalf("the injected failure did not refuse the update: %s", got.Status)
	}

	if _, err := st.Pool().Exec(ctx, `DROP TRIGGER refuse_launch_updates ON launches`); err != nil {
		t.Fatal(err)
	}
	r.failLaunch(id, "", output, nil)
	got, err := st.Launch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != catalog.LaunchFailed || got.ErrorMessage != "exited with code 3; last output:\nfatal: boom\uFFFD" {
		t.Errorf("recorded %s %q, want failed with the output cleaned", got.Status, got.ErrorMessage)
	}
	if !utf8.ValidString(got.ErrorMessage) || strings.ContainsAny(got.ErrorMessage, "\x00\x1b") {
		t.Errorf("stored message %q is not clean", got.ErrorMessage)
	}
}

// TestStripDaemonCredentials: the daemon's credentials come off, the app's
// own stay.
func TestStripDaemonCredentials(t *testing.T) {
	daemon := func(v string) bool { return v == "daemon-token-0123456789" || v == "service-token-0123456789" }
	for _, tc := range []struct {
		name         string
		pathFallback bool
		auth, cookie string
		query        string
		wantAuth     string
		wantCookie   string
		wantQuery    string
	}{
		{name: "daemon token", auth: "Bearer daemon-token-0123456789", wantAuth: ""},
		{name: "service token", auth: "Bearer service-token-0123456789", wantAuth: ""},
		{name: "the app's bearer token", auth: "Bearer apps-own", wantAuth: "Bearer apps-own"},
		{name: "the app's basic auth", auth: "Basic YTpi", wantAuth: "Basic YTpi"},
		{name: "any credentials on the daemon's origin", pathFallback: true, auth: "Basic YTpi", wantAuth: ""},
		{name: "cookies", cookie: "appstore_token=x; app=1;  Appstore_session=y;sid=2", wantCookie: "app=1; sid=2"},
		{name: "only daemon cookies", cookie: "appstore_token=x", wantCookie: ""},
		{name: "query token", query: "a=1&access_token=daemon-token-0123456789&b=%2F", wantQuery: "a=1&b=%2F"},
		{name: "escaped query token", query: "access_token=daemon%2Dtoken-0123456789", wantQuery: ""},
		{name: "the app's access_token", query: "access_token=apps-own&x=y", wantQuery: "access_token=apps-own&x=y"},
	} {
		out := httptest.NewRequest(http.MethodGet, "http://dash.localhost/p", nil)
		out.URL = &url.URL{Path: "/p", RawQuery: tc.query}
		if tc.auth != "" {
			out.Header.Set("Authorization", tc.auth)
		}
		if tc.cookie != "" {
			out.Header.Set("Cookie", tc.cookie)
		}
		stripDaemonCredentials(out, tc.pathFallback, daemon)
		if got := out.Header.Get("Authorization"); got != tc.wantAuth {
			t.Errorf("%s: Authorization %q, want %q", tc.name, got, tc.wantAuth)
		}
		if got := out.Header.Get("Cookie"); got != tc.wantCookie {
			t.Errorf("%s: Cookie %q, want %q", tc.name, got, tc.wantCookie)
		}
		if got := out.URL.RawQuery; got != tc.wantQuery {
			t.Errorf("%s: query %q, want %q", tc.name, got, tc.wantQuery)
		}
	}
}

// TestNarrowCookieDomain: a Domain that reaches beyond the app's host goes.
func TestNarrowCookieDomain(t *testing.T) {
	for _, tc := range []struct {
		cookie, host string
		pathFallback bool
		want         string
	}{
		{"s=1; Path=/; Domain=apps.example.com; HttpOnly", "dash.apps.example.com", false, "s=1; Path=/; HttpOnly"},
		{"s=1; Domain=.example.com", "dash.apps.example.com", false, "s=1"},
		{"s=1; domain = localhost", "dash.localhost", false, "s=1"},
		{"s=1; Domain=dash.apps.example.com; Secure", "dash.apps.example.com", false, "s=1; Domain=dash.apps.example.com; Secure"},
		{"s=1; Domain=.DASH.apps.example.com", "dash.apps.example.com", false, "s=1; Domain=.DASH.apps.example.com"},
		{"s=1; Domain=evil.example", "dash.apps.example.com", false, "s=1"},
		{"s=1; Domain=127.0.0.1; Path=/", "127.0.0.1", true, "s=1; Path=/"},
		{"s=1; Path=/", "dash.localhost", false, "s=1; Path=/"},
	} {
		if got := narrowCookieDomain(tc.cookie, tc.host, tc.pathFallback); got != tc.want {
			t.Errorf("narrowCookieDomain(%q, %q, %v) = %q, want %q", tc.cookie, tc.host, tc.pathFallback, got, tc.want)
		}
	}
}
