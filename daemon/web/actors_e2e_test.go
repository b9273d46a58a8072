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

// TestWebViewRemoveButtonsFollowWhoReads: a comment's remove button shows
// only to who may remove it — its author, or an admin — and follows the
// token saved in the page; the author removes their own comment there.
func TestWebViewRemoveButtonsFollowWhoReads(t *testing.T) {
	chromium(t)
	dir := artifacts(t)
	const adminToken = "s3cret-web-token-0002"
	d := startDaemon(t, dir, daemon.Config{Roles: []string{daemon.RoleAPI}, Token: adminToken})
	ctx := context.Background()
	tokens, users := map[string]string{}, map[string]*catalog.User{}
	for _, name := range []string{"ann", "bob"} {
		token, hash := catalog.NewUserToken()
		u, err := d.Store.CreateUser(ctx, store.NewUser{Name: name, Role: catalog.RoleMember, TokenHash: hash})
		if err != nil {
			t.Fatal(err)
		}
		tokens[name], users[name] = token, u
	}
	u, _ := giturl.Parse("https://git.example.com/acme/dash.git")
	if _, err := d.Store.CreateRepository(ctx, store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: "dash", Owner: "acme"}); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"ann", "bob"} {
		if _, err := d.Store.AddComment(catalog.WithActor(ctx, *users[who]), "dash", *users[who], "said by "+who); err != nil {
			t.Fatal(err)
		}
	}
	// visible lists the authors whose comment shows a remove button.
	const visible = `[...document.querySelectorAll('.comments li[data-comment-id]')].filter((li) => {
		const b = li.querySelector('button[data-action="remove-comment"]'); return b && !b.hidden && b.offsetParent !== null;
	}).map((li) => li.querySelector('.author').textContent).join(',')`
	saveToken := func(token string) []chromedp.Action[chromedp.Void] {
		return []chromedp.Action[chromedp.Void]{
			chromedp.Click(chromedp.CSS(`#token-box summary`)),
			chromedp.SendKeys(chromedp.ID("token"), token),
			chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)),
		}
	}

	b := newBrowser(t, dir)
	const short = 20 * time.Second
	b.step("open the app without a token", short, chromedp.Navigate(d.URL+"/app/dash"))
	b.wait("both comments, no remove button", `document.querySelectorAll('.comments li[data-comment-id]').length === 2 && `+visible+` === ''`, short)
	b.step("save bob's token", short, saveToken(tokens["bob"])...)
	b.wait("a remove button on bob's comment only", visible+` === 'bob'`, short)
	b.screenshot("bob-reads")
	b.step("bob removes his comment", short, chromedp.Click(chromedp.CSS(`.comments li:last-child button[data-action="remove-comment"]`)))
	b.wait("bob's comment is gone", `[...document.querySelectorAll('.comments li[data-comment-id] .comment-body')].map((p) => p.textContent).join('|') === 'said by ann'`, short)
	b.step("forget bob's token", short, chromedp.Click(chromedp.CSS(`#token-box summary`)), chromedp.Click(chromedp.ID("token-forget")))
	b.wait("no remove button again", visible+` === ''`, short)
	b.step("save the admin's token (the box is still open)", short, saveToken(adminToken)[1:]...)
	b.wait("the admin may remove ann's", visible+` === 'ann'`, short)
	b.screenshot("admin-reads")
}
