package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon"
)

// TestWebViewStarsAndComments: the app page's star button stars the app
// and counts it, a comment posted in the page shows as text (markup in it
// is not interpreted), one written elsewhere arrives live, and the card in
// the search results shows the star count.
func TestWebViewStarsAndComments(t *testing.T) {
	chromium(t)
	dir := artifacts(t)
	d := startDaemon(t, dir, daemon.Config{Roles: []string{daemon.RoleAPI}})
	ctx := context.Background()
	u, _ := giturl.Parse("https://git.example.com/acme/dash.git")
	if _, err := d.Store.CreateRepository(ctx, store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: "dash", Owner: "acme"}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, dir)
	const short = 20 * time.Second

	b.step("open the app", short, chromedp.Navigate(d.URL+"/app/dash"))
	b.wait("the star button, not starred", `(() => { const s = document.querySelector('button[data-action="star"]');
		return s && s.getAttribute('aria-pressed') === 'false' && s.textContent === '☆ Star · 0'
			&& document.getElementById('conn').dataset.state === 'live'; })()`, short)
	b.step("star it", short, chromedp.Click(chromedp.CSS(`button[data-action="star"]`)))
	b.wait("starred, counted", `(() => { const s = document.querySelector('button[data-action="star"]');
		return s.getAttribute('aria-pressed') === 'true' && s.textContent === '★ Starred · 1'; })()`, short)

	const markup = `<b>bold</b> & <img src=x onerror=alert(1)>`
	b.step("comment", short,
		chromedp.SendKeys(chromedp.ID("comment-text"), markup),
		chromedp.Click(chromedp.CSS(`button[data-action="comment"]`)))
	b.wait("the comment, as text", `(() => { const p = document.querySelector('.comments li[data-comment-id] .comment-body');
		return p && p.textContent === `+"`"+markup+"`"+` && p.children.length === 0 && !document.querySelector('.comments img, .comments b'); })()`, short)

	if _, err := d.Store.AddComment(catalog.WithActor(ctx, catalog.User{Name: "ann"}), "dash", catalog.User{Name: "ann"}, "Seen from elsewhere\nsecond line"); err != nil {
		t.Fatal(err)
	}
	b.wait("a comment from elsewhere arrives live, newest last", `(() => { const li = [...document.querySelectorAll('.comments li[data-comment-id]')];
		return li.length === 2 && li[1].querySelector('.author').textContent === 'ann'
			&& li[1].querySelector('.comment-body').textContent === 'Seen from elsewhere\nsecond line'; })()`, short)
	b.screenshot("stars-and-comments")

	b.step("search", short, chromedp.Navigate(d.URL+"/?q=dash"))
	b.wait("the card counts the star", `(() => { const s = document.querySelector('.card[data-slug="dash"] [data-role="stars"]');
		return s && s.textContent === '★ 1'; })()`, short)
}
