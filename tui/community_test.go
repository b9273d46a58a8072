package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
)

// TestStarsAndCommentsAgainstAppstored runs the TUI (teatest) on a real
// appstored: the star key stars the app shown and the badge counts it;
// a comment someone else writes appears in the detail view live, as text.
func TestStarsAndCommentsAgainstAppstored(t *testing.T) {
	d := daemontest.Start(t, daemon.Config{Roles: []string{daemon.RoleAPI}})
	ctx := context.Background()
	u, _ := giturl.Parse("https://git.example.com/acme/dash.git")
	if _, err := d.Store.CreateRepository(ctx, store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: "dash", Owner: "acme"}); err != nil {
		t.Fatal(err)
	}
	c := &client.Client{BaseURL: d.URL}
	opts := testOptions(ClientSource{C: c}, &fakeClock{t: time.Now()}, make(chan string, 8))
	opts.ServerURL = d.URL
	m := New(ctx, opts)
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 60))
	t.Cleanup(func() { _ = tm.Quit() })
	waitScreen(t, tm, "● live", "1 app")
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "☆ 0", "Comments", "none yet: appstore comment dash TEXT")

	tm.Send(keyMsg("*"))
	waitScreen(t, tm, "★ 1", "★ starred dash (1)")
	if st, err := c.StarState(ctx, "dash"); err != nil || !st.Starred || st.StarCount != 1 {
		t.Fatalf("after the star key: %+v, %v", st, err)
	}

	// Someone comments: the open detail view shows it without a key,
	// with the terminal escape in it removed.
	if _, err := d.Store.AddComment(catalog.WithActor(ctx, catalog.User{Name: "ann"}), "dash", catalog.User{Name: "ann"}, "Works well\x1b]0;pwned\x07 behind the VPN"); err != nil {
		t.Fatal(err)
	}
	waitScreen(t, tm, "ann", "Works well behind the VPN")

	tm.Send(keyMsg("*"))
	waitScreen(t, tm, "☆ 0", "☆ unstarred dash (0)")
}

// TestResultRowsCountStars: a row shows its app's stars when it has any,
// and a re-read repository brings the new count.
func TestResultRowsCountStars(t *testing.T) {
	l := newResultList(NewStyles(lipgloss.DefaultRenderer(), false), map[string]*client.Launch{})
	l.SetSize(100, 10)
	l.SetPage("", &catalog.SearchPage{Results: []catalog.SearchResult{
		{ID: 1, Slug: "dash", Name: "dash", StarCount: 3, IngestStatus: catalog.IngestReady},
		{ID: 2, Slug: "chat", Name: "chat", IngestStatus: catalog.IngestReady},
	}, Total: 2, TotalExact: true})
	v := l.View()
	if strings.Count(v, "★") != 1 || !strings.Contains(v, "★ 3") {
		t.Fatalf("results:\n%s", v)
	}
	l.PatchRepository(&client.Repository{Slug: "chat", Name: "chat", StarCount: 1, IngestStatus: catalog.IngestReady})
	if v := l.View(); !strings.Contains(v, "★ 1") {
		t.Errorf("after a star of chat:\n%s", v)
	}
}
