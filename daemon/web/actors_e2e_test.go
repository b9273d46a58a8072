package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/runner/runnertest"
)

// TestWebViewSaysWhoDidWhat: the app page's timeline names who caused
// each step (the user who registered the app, appstored:<cause> for the
// daemon's own work, also for a step that arrives live), and the launch
// control who started the running launch, also for a launch another user
// starts while the page is open. The launches are written to the store as
// the runner does (the page shows them; no engine is needed).
func TestWebViewSaysWhoDidWhat(t *testing.T) {
	chromium(t)
	dir := artifacts(t)
	d := startDaemon(t, dir, daemon.Config{Roles: []string{daemon.RoleAPI}})
	ctx := context.Background()
	// The built-in users stand for two people: an account would make the
	// daemon want a token of the page.
	users := map[string]*catalog.User{}
	for _, name := range []string{catalog.LocalUser, catalog.TokenUser} {
		u, err := d.Store.User(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		users[name] = u
	}
	u, _ := giturl.Parse("https://git.example.com/acme/dash.git")
	repo, err := d.Store.CreateRepository(catalog.WithActor(ctx, *users["local"]),
		store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: "dash", Owner: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Store.Pool().Exec(ctx, `UPDATE repositories SET ingest_status = 'ready', app_port = 8080 WHERE id = $1`, repo.ID); err != nil {
		t.Fatal(err)
	}
	build := runnertest.AddBuild(t, d.Store, repo.ID, "appstore/dash:test", "sha256:"+strings.Repeat("3", 64))
	launch := func(who string) {
		t.Helper()
		_, _, err := d.Store.BeginLaunch(catalog.WithActor(ctx, *users[who]), store.NewLaunch{RepositoryID: repo.ID, BuildID: build,
			AppPort: 8080, Profile: "small", Runner: "web-test", TTL: time.Hour, Fresh: true})
		if err != nil {
			t.Fatal(err)
		}
	}
	launch("local")

	b := newBrowser(t, dir)
	const short = 20 * time.Second
	b.step("open the app", short, chromedp.Navigate(d.URL+"/app/dash"))
	b.wait("the registration step by local, the launch started by local", `(() => {
		const a = document.querySelector('.timeline li [data-role="actor"]');
		const s = document.querySelector('.launch [data-role="launched-by"]');
		return a && a.textContent === ' by local' && s && s.textContent === 'started by local'
			&& document.getElementById('conn').dataset.state === 'live'; })()`, short)

	// The daemon's own step, and admin's launch, arrive live.
	if _, _, err := d.Store.RequestIngest(catalog.WithCause(ctx, catalog.CauseSync), "dash", "sync"); err != nil {
		t.Fatal(err)
	}
	launch("admin")
	b.wait("the sync step by appstored:sync, the launch started by admin", `(() => {
		const a = [...document.querySelectorAll('.timeline li [data-role="actor"]')].map((e) => e.textContent);
		const s = document.querySelector('.launch [data-role="launched-by"]');
		return a.join('|') === ' by local| by appstored:sync' && s && s.textContent === 'started by admin'; })()`, short)
	b.screenshot("who-did-what")
}
