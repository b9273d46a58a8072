package tui

import (
	"bytes"
	"context"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// actorsSource is the catalog with who did what on dash: the steps of its
// timeline by a user and by the daemon, a launch that vera started.
func actorsSource() *fakeSource {
	f := catalogSource()
	actors := []string{"ann", catalog.DaemonActorName(catalog.CauseIngest), catalog.DaemonActorName(catalog.CauseIngest)}
	for i := range f.timeline["dash"] {
		f.timeline["dash"][i].Actor = actors[i]
	}
	f.launches = append(f.launches, &client.Launch{ID: 9, Repository: "dash", Status: catalog.LaunchRunning,
		PreviewURL: "http://dash.localhost:7070/", LaunchedBy: "vera"})
	return f
}

// TestGoldenDetailActors: the app page says who caused each ingestion
// step (a user, or appstored:<cause>) and who started the running launch.
func TestGoldenDetailActors(t *testing.T) {
	opts := testOptions(actorsSource(), &fakeClock{t: fakeEpoch}, make(chan string, 8))
	m := New(context.Background(), opts)
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(goldenW, 30))
	t.Cleanup(func() { _ = tm.Quit() })
	waitScreen(t, tm, "● live", "4 apps")
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "Team dashboard with charts", "by vera")
	tm.Send(keyMsg("G"))
	waitScreen(t, tm, "end · 100%")
	screen := finalScreen(t, tm)
	for _, want := range []string{"by vera", "registered by ann", "by appstored:ingest"} {
		if !bytes.Contains(screen, []byte(want)) {
			t.Errorf("the page does not say %q:\n%s", want, screen)
		}
	}
	golden.RequireEqual(t, screen)
}

// TestLaunchEventNamesItsStarter: a launch the TUI learns of from the
// event stream names the user whose request started it (the event's
// actor), and no one for the daemon's own (a wake).
func TestLaunchEventNamesItsStarter(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.send(tea.WindowSizeMsg{Width: 100, Height: 60})
	h.online()
	h.press("down", "enter")
	h.waitView("Team dashboard with charts")

	ev := event("launch.starting", "dash", map[string]any{"launch_id": 11, "slug": "dash", "status": "starting"})
	ev.Actor = "bob"
	f.events <- ev
	h.waitView("#11 ▶ starting  by bob")

	ev = event("launch.starting", "notes", map[string]any{"launch_id": 12, "slug": "notes", "status": "starting"})
	ev.Actor = catalog.DaemonActorName(catalog.CauseWake)
	f.events <- ev
	h.waitFor("the wake of notes", func() bool { l := h.m.launches["notes"]; return l != nil && l.ID == 12 })
	if by := h.m.launches["notes"].LaunchedBy; by != "" {
		t.Errorf("a wake by the daemon is shown as started by %q", by)
	}
}
