package tui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// The keys of issue 23, on the real tea.Program (teatest) and the fake
// daemon: letters typed in the results go to the query, actions live in
// the detail view and say what they did (and what undoes it), the status
// line does not follow the user into another view, a key cancels a build.

// TestTypingInTheResultsGoesToTheQuery: after Enter, typing "notes" (o
// and s among its letters) edits the query, as in fzf; nothing is launched
// or stopped.
func TestTypingInTheResultsGoesToTheQuery(t *testing.T) {
	src := catalogSource()
	tm, m := startGolden(t, src)
	waitScreen(t, tm, "● live", "4 apps")
	tm.Type("lang:go")
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "2 apps · “lang:go”")
	tm.Type(" notes")
	waitScreen(t, tm, "search › lang:go notes")
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "“lang:go notes”")
	fm := finalScreen(t, tm)
	if n := src.callCount("StartLaunch") + src.callCount("StopLaunch") + src.callCount("CreateBuild") + src.callCount("Refresh"); n != 0 {
		t.Errorf("typing in the results ran %d actions", n)
	}
	if m.bar.Value() != "lang:go notes" || !strings.Contains(string(fm), "lang:go notes") {
		t.Errorf("query %q; screen:\n%s", m.bar.Value(), fm)
	}
}

// TestDetailLaunchAndStopSayWhatTheyDidAndUndo: o launches and says so
// with the key that stops it; s stops and says so with the key that
// launches again; o does.
func TestDetailLaunchAndStopSayWhatTheyDidAndUndo(t *testing.T) {
	src := catalogSource()
	tm, _ := startGolden(t, src)
	waitScreen(t, tm, "● live", "4 apps")
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("enter")) // chat: a succeeded build
	waitScreen(t, tm, "Realtime chat", "not running — press o to launch")
	tm.Send(keyMsg("o"))
	waitScreen(t, tm, "launched chat (launch 101): running at http://chat.localhost:7070/ — s stops it")
	tm.Send(keyMsg("s"))
	waitScreen(t, tm, "stopped chat (launch 101) — o launches it again")
	tm.Send(keyMsg("o"))
	waitScreen(t, tm, "launched chat (launch 102): running")
	finalScreen(t, tm)
	if src.callCount("StartLaunch") != 2 || src.callCount("StopLaunch") != 1 {
		t.Errorf("launches %d, stops %d", src.callCount("StartLaunch"), src.callCount("StopLaunch"))
	}
}

// TestStatusClearsOnViewChangeAndCKeyCancelsABuild: a build cancelled from
// the detail view says so; back in the results that line is gone.
func TestStatusClearsOnViewChangeAndCKeyCancelsABuild(t *testing.T) {
	src := catalogSource()
	tm, m := startGolden(t, src)
	waitScreen(t, tm, "● live", "4 apps")
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("enter")) // dash: build #7 running
	waitScreen(t, tm, "Team dashboard with charts")
	tm.Send(keyMsg("c"))
	waitScreen(t, tm, "cancelled build #7 of dash — b builds again")
	tm.Send(keyMsg("c"))
	waitScreen(t, tm, "no build of dash is queued or running: nothing to cancel")
	tm.Send(keyMsg("esc"))
	tm.Send(keyMsg("down")) // any key after the view changed: the frame is drawn again
	fm := finalScreen(t, tm)
	if strings.Contains(string(fm), "cancel") || m.status != "" {
		t.Errorf("status %q after leaving the detail view:\n%s", m.status, fm)
	}
	if src.callCount("CancelBuild") != 1 {
		t.Errorf("CancelBuild called %d times", src.callCount("CancelBuild"))
	}
	src.mu.Lock()
	st := src.builds["dash"][0].Status
	src.mu.Unlock()
	if st != catalog.BuildCancelled {
		t.Errorf("build #7 is %s", st)
	}
}

// TestAddFormExpandsTheHomeDirectory: "~/src/wiki" is sent as the path
// under $HOME, as a shell would have expanded it.
func TestAddFormExpandsTheHomeDirectory(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	src := catalogSource()
	var resolved string
	tm := func() *teatest.TestModel {
		clock := &fakeClock{t: fakeEpoch}
		opts := testOptions(src, clock, make(chan string, 8))
		opts.ResolveGitURL = func(s string) (string, error) { resolved = s; return "file://" + s, nil }
		m := New(context.Background(), opts)
		t.Cleanup(m.Close)
		tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(goldenW, goldenH))
		t.Cleanup(func() { _ = tm.Quit() })
		return tm
	}()
	waitScreen(t, tm, "● live", "4 apps")
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("ctrl+a"))
	waitScreen(t, tm, "Add an app")
	tm.Type("~/src/wiki")
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "added wiki")
	finalScreen(t, tm)
	if want := filepath.Join(home, "src/wiki"); resolved != want {
		t.Errorf("resolved %q, want %q", resolved, want)
	}
	if len(src.added) != 1 || src.added[0].GitURL != "file://"+filepath.Join(home, "src/wiki") {
		t.Errorf("added %+v", src.added)
	}
}

// invalidAutocomplete refuses queries that do not parse, as the daemon's
// autocomplete does, with its own wording.
type invalidAutocomplete struct{ *fakeSource }

func (s invalidAutocomplete) Autocomplete(ctx context.Context, q string, pos int) (*catalog.Suggestions, error) {
	if strings.Count(q, `"`)%2 == 1 {
		return nil, &client.APIError{StatusCode: 400, Code: client.CodeInvalid, Field: "q", Message: "q: autocomplete refused the text"}
	}
	return s.fakeSource.Autocomplete(ctx, q, pos)
}

// TestEnterShowsTheSearchsOwnError: Enter on an unterminated quote says
// what the search finds wrong, where, not the autocomplete's refusal of
// the same text.
func TestEnterShowsTheSearchsOwnError(t *testing.T) {
	tm, m := startGolden(t, invalidAutocomplete{catalogSource()})
	waitScreen(t, tm, "● live", "4 apps")
	tm.Type(`lang:go "open`)
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "unterminated quote", "at character 9")
	fm := finalScreen(t, tm)
	if strings.Contains(string(fm), "autocomplete refused") || !strings.HasPrefix(m.status, "query: unterminated quote") {
		t.Errorf("status %q:\n%s", m.status, fm)
	}
}
