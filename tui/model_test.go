package tui

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// catalogSource is a small catalog: four apps with tags of every source.
func catalogSource() *fakeSource {
	f := newFakeSource()
	f.addRepo("dash", "dash", "Team dashboard with charts",
		"lang:go", "framework:gin", "license:mit", "category:dashboard@manual", "topic:charts@author")
	f.addRepo("notes", "notes", "Markdown notes", "lang:python", "framework:flask", "license:mit", "category:notes@manual")
	f.addRepo("chat", "chat", "Realtime chat", "lang:go", "framework:fiber", "license:gpl-3.0", "category:chat@manual")
	f.addRepo("blog", "blog", "A blog engine", "lang:javascript", "framework:express", "category:blog@manual")
	f.setBuild("dash", client.Build{ID: 7, Status: catalog.BuildRunning, CommitSHA: "0123456789abcdef"})
	f.setBuild("chat", client.Build{ID: 5, Status: catalog.BuildSucceeded, CommitSHA: "fedcba9876543210"})
	ms := int64(1200)
	f.timeline["dash"] = []client.IngestionEvent{
		{ID: 1, Status: catalog.IngestQueued, Message: "registered", CreatedAt: fakeEpoch},
		{ID: 2, Status: catalog.IngestProcessing, Message: "cloning https://git.example.com/acme/dash.git", Attempt: 1, CreatedAt: fakeEpoch.Add(time.Second)},
		{ID: 3, Status: catalog.IngestReady, Message: "ingested", Attempt: 1, DurationMS: &ms, CreatedAt: fakeEpoch.Add(2 * time.Second)},
	}
	return f
}

func event(typ, slug string, data map[string]any) client.Event {
	b, _ := json.Marshal(data)
	return client.Event{ID: 1, Type: typ, Subject: slug, Data: b, Time: fakeEpoch}
}

func TestTypingSuggestsTabAcceptsEnterSearches(t *testing.T) {
	h := newHarness(t, catalogSource())
	h.online()
	if !h.m.bar.Focused() {
		t.Fatal("the search line is not focused at start")
	}
	h.typeText("fra")
	h.waitFor("suggestions for fra", func() bool { return h.m.bar.Fresh() && h.m.bar.ListOpen() })
	if got := suggestionTexts(&h.m.bar); !slices.Equal(got, []string{"framework:", "framework:express", "framework:fiber", "framework:flask", "framework:gin"}) {
		t.Fatalf("suggestions for fra: %q", got)
	}
	h.waitMatch(`framework:\s+\(4\)`, `framework:gin\s+\(1\)`)

	h.press("tab")
	if v := h.m.bar.Value(); v != "framework:" {
		t.Fatalf("after Tab on a key: %q, want framework:", v)
	}
	h.waitFor("values of framework", func() bool { return h.m.bar.Fresh() && h.m.bar.ListOpen() })
	if got := suggestionTexts(&h.m.bar); !slices.Equal(got, []string{"framework:express", "framework:fiber", "framework:flask", "framework:gin"}) {
		t.Fatalf("values of framework: %q", got)
	}
	h.press("ctrl+n", "down", "up") // express → fiber → flask → fiber
	if got := h.m.bar.Visible()[h.m.bar.Selected()].Value; got != "fiber" {
		t.Fatalf("selected %q after ctrl+n, down, up; want fiber", got)
	}
	h.press("tab")
	if v := h.m.bar.Value(); v != "framework:fiber " {
		t.Fatalf("after Tab on a value: %q", v)
	}
	h.press("enter")
	h.waitFor("the search", func() bool { return h.m.results.Query() == "framework:fiber" && !h.m.results.loading })
	if h.m.bar.Focused() || !h.m.results.focused {
		t.Error("Enter did not move the focus to the results")
	}
	items := h.m.results.Items()
	if len(items) != 1 || items[0].Slug != "chat" {
		t.Fatalf("results of framework:fiber: %+v", items)
	}
	h.waitView("1 app · “framework:fiber”", "› chat", "✓ built")
}

func TestNewKeystrokeCancelsRequestAndStaleAnswersAreDropped(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.online()
	h.drain(50 * time.Millisecond) // the suggestions asked at start

	f.mu.Lock()
	gate := make(chan struct{})
	f.gate = gate
	f.mu.Unlock()

	h.typeText("l") // after a pause: asked at once, and held by the gate
	if h.m.bar.cancel == nil {
		t.Fatal("a keystroke after a pause did not ask at once")
	}
	firstSeq := h.m.bar.seq
	h.waitFor("the first request to reach the daemon", func() bool { return f.callCount("Autocomplete") >= 2 })
	h.typeText("ang") // cancels it
	h.waitFor("the request in flight to be cancelled", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.cancelled >= 1
	})

	// An answer to the first keystroke that arrives now is dropped,
	// even though its items would match what is typed.
	h.send(suggestionsMsg{seq: firstSeq, query: "l", pos: 1, s: &catalog.Suggestions{Start: 0, End: 1, Token: "word",
		Suggestions: []catalog.Suggestion{{Text: "lang:zzz", Kind: catalog.SuggestPair, Key: "lang", Value: "zzz", Count: 99}}}})
	if slices.Contains(suggestionTexts(&h.m.bar), "lang:zzz") {
		t.Fatal("a stale answer was shown")
	}

	close(gate)
	h.waitFor("suggestions for lang", func() bool { return h.m.bar.Fresh() })
	if got := suggestionTexts(&h.m.bar); len(got) == 0 || got[0] != "lang:" || slices.Contains(got, "lang:zzz") {
		t.Fatalf("suggestions for lang: %q", got)
	}
	if v := h.m.bar.Value(); v != "lang" {
		t.Fatalf("text %q, want lang", v)
	}
	f.mu.Lock()
	last := f.suggestQs[len(f.suggestQs)-1]
	f.mu.Unlock()
	if last != "lang" {
		t.Errorf("last autocomplete asked for %q, want lang", last)
	}
}

func TestListNarrowsAtOnceAndTabRewritesTheCurrentText(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.online()
	h.typeText("lang:go fr")
	h.waitFor("suggestions for fr", func() bool { return h.m.bar.Fresh() && h.m.bar.ListOpen() })
	// Narrowed by lang:go: dash and chat.
	if got := suggestionTexts(&h.m.bar); !slices.Contains(got, "framework:gin") || slices.Contains(got, "framework:flask") {
		t.Fatalf("suggestions for 'lang:go fr': %q", got)
	}

	// The daemon is slow now: the keystrokes below get no answer.
	f.mu.Lock()
	f.gate = make(chan struct{})
	f.mu.Unlock()
	h.typeText("amework:g")
	if h.m.bar.Fresh() {
		t.Fatal("answer counted as fresh after more keys")
	}
	// The list follows the keys at once, from the answer it has.
	if got := suggestionTexts(&h.m.bar); !slices.Equal(got, []string{"framework:gin"}) {
		t.Fatalf("narrowed list %q, want [framework:gin]", got)
	}
	h.press("tab")
	if v := h.m.bar.Value(); v != "lang:go framework:gin " {
		t.Fatalf("Tab made %q", v)
	}
	// A keystroke typed after Tab is kept after the accepted term.
	h.typeText("c")
	if v := h.m.bar.Value(); v != "lang:go framework:gin c" {
		t.Fatalf("text %q", v)
	}
}

func TestTypedKeysAreNeverLostOrReordered(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.online()
	rng := rand.New(rand.NewPCG(1, 2))
	want := `lang:go,python -license:gpl-3.0 category:dash "team board" chat`
	for _, r := range want {
		h.typeText(string(r))
		// Answers arrive between keystrokes, or not, at random.
		if rng.IntN(3) == 0 {
			h.clock.advance(time.Duration(rng.IntN(80)) * time.Millisecond)
			h.drain(time.Duration(rng.IntN(3)) * time.Millisecond)
		}
		if !strings.HasSuffix(h.m.bar.Value(), string(r)) {
			t.Fatalf("after typing %q the text is %q", r, h.m.bar.Value())
		}
	}
	h.drain(100 * time.Millisecond)
	if v := h.m.bar.Value(); v != want {
		t.Fatalf("typed %q, the line says %q", want, v)
	}
}

func TestDebounceAsksAtOnceAfterAPauseAndOnceForABurst(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.online()
	h.drain(50 * time.Millisecond)
	base := f.callCount("Autocomplete")

	h.clock.advance(time.Second)
	h.typeText("c")
	if h.m.bar.cancel == nil {
		t.Fatal("a key after a pause waited for the debounce")
	}
	h.typeText("a") // a burst: clock not moved
	if h.m.bar.cancel != nil {
		t.Fatal("a key in a burst asked at once (and did not cancel the request in flight)")
	}
	h.typeText("t")
	h.waitFor("suggestions for cat", func() bool { return h.m.bar.Fresh() })
	h.drain(60 * time.Millisecond)
	if got := f.callCount("Autocomplete") - base; got != 2 {
		t.Errorf("%d autocomplete requests for c, a, t (a pause, then a burst), want 2", got)
	}
}

func TestEscClosesTheListAndArrowsMoveBetweenLineAndResults(t *testing.T) {
	h := newHarness(t, catalogSource())
	h.online()
	h.typeText("cat")
	h.waitFor("suggestions", func() bool { return h.m.bar.Fresh() && h.m.bar.ListOpen() })
	h.press("esc")
	if h.m.bar.ListOpen() {
		t.Fatal("Esc did not close the list")
	}
	if strings.Contains(h.m.View(), "(4)") {
		t.Fatal("the closed list is still drawn")
	}
	h.press("down")
	if h.m.bar.Focused() || !h.m.results.focused {
		t.Fatal("↓ with the list closed did not move to the results")
	}
	h.press("down")
	if sel := h.m.results.Selected(); sel == nil || sel.Slug != "notes" {
		t.Fatalf("↓ selected %+v, want notes", sel)
	}
	h.press("esc")
	if !h.m.bar.Focused() || h.m.bar.Value() != "cat" {
		t.Fatalf("Esc did not return to the search line with its text (%q)", h.m.bar.Value())
	}
	h.press("down")
	h.typeText("e") // typed in the results: goes on in the query
	h.waitFor("the list to reopen", func() bool { return h.m.bar.ListOpen() })
}

func TestResultBadgesFollowEvents(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.online()
	h.waitView("◐ building")
	row := func(slug string) string {
		for _, l := range strings.Split(h.m.View(), "\n") {
			if strings.Contains(l, " "+slug+" ") {
				return l
			}
		}
		return ""
	}
	if !strings.Contains(row("dash"), "◐ building") {
		t.Fatalf("dash row %q", row("dash"))
	}
	// An event about an older build changes nothing.
	f.events <- event("build.failed", "dash", map[string]any{"build_id": 6, "status": "failed"})
	f.events <- event("build.succeeded", "dash", map[string]any{"build_id": 7, "status": "succeeded", "cached": false})
	h.waitFor("dash built", func() bool { return strings.Contains(row("dash"), "✓ built") })
	if strings.Contains(row("dash"), "failed") {
		t.Errorf("an older build's event was applied: %q", row("dash"))
	}
	f.events <- event("ingestion.processing", "notes", map[string]any{"ingest_status": "processing"})
	h.waitFor("notes ingesting", func() bool { return strings.Contains(row("notes"), "◐ ingesting") })
	f.events <- event("build.queued", "notes", map[string]any{"build_id": 9, "status": "queued"})
	h.waitFor("notes build queued", func() bool { return strings.Contains(row("notes"), "○ build queued") })
	f.events <- event("repository.deleted", "blog", map[string]any{"slug": "blog"})
	h.waitFor("blog gone", func() bool { return row("blog") == "" })
	if n := len(h.m.results.Items()); n != 3 {
		t.Errorf("%d rows after a deletion, want 3", n)
	}
}

func TestDetailShowsTheAppAndFollowsIt(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.send(tea.WindowSizeMsg{Width: 100, Height: 60})
	h.online()
	h.press("down", "enter") // results, then dash
	h.waitView("Team dashboard with charts", "#7")
	v := h.m.View()
	for _, want := range []string{
		"manual  category:dashboard", "author  topic:charts", "auto    ",
		"golang:1.22", "8080 (EXPOSE)", "HEALTHCHECK declared", "0123456789ab",
		"2025-03-01 12:00:02  ● ready", "ingested (1.2s)", "#7    ◐ building",
		"git         https://git.example.com/acme/dash.git",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("detail lacks %q:\n%s", want, v)
		}
	}
	reads := f.callCount("Repository")
	f.mu.Lock()
	f.builds["dash"][0].Status = catalog.BuildSucceeded
	f.mu.Unlock()
	f.events <- event("build.succeeded", "dash", map[string]any{"build_id": 7, "status": "succeeded"})
	h.waitView("#7    ✓ built")
	h.waitFor("a re-read", func() bool { return f.callCount("Repository") > reads })
	h.press("esc")
	if h.m.screen != screenSearch || !h.m.results.focused {
		t.Fatal("Esc did not return to the results")
	}
}

func TestLogsFollowTheBuild(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.online()
	h.press("down", "enter", "l")
	h.waitView("build #7 of dash", "Waiting for the build's first lines")
	ch := f.logChannel(7)
	for i := 1; i <= 3; i++ {
		ch <- client.LogLine{ID: int64(i), BuildID: 7, Line: fmt.Sprintf("Step %d/3 : RUN make", i)}
	}
	h.waitView("Step 1/3", "Step 3/3", "following")
	f.mu.Lock()
	f.builds["dash"][0].Status = catalog.BuildSucceeded
	f.mu.Unlock()
	close(ch)
	h.waitView("log complete", "✓ built")
	h.press("esc")
	if h.m.screen != screenDetail {
		t.Fatalf("Esc from the log went to screen %d", h.m.screen)
	}
	// A build that does not exist yet.
	h.press("esc", "down", "down", "down", "enter", "l") // blog: no build
	if h.m.screen == screenLogs || !strings.Contains(h.m.status, "no build of blog yet") {
		t.Errorf("l on an app without builds: screen %d, status %q", h.m.screen, h.m.status)
	}
}

func TestLaunchOpensThePreviewAndStopStopsIt(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.online()
	h.press("down", "down", "down", "enter", "o") // chat
	var opened string
	h.waitFor("the browser to open", func() bool {
		select {
		case opened = <-h.opened:
			return true
		default:
			return false
		}
	})
	if opened != "http://chat.localhost:7070/" {
		t.Fatalf("opened %q", opened)
	}
	h.waitView("▶ running", "running at http://chat.localhost:7070/ — s stops it (opened in the")
	h.press("s")
	h.waitView("stopped chat (launch 101) — o launches it again")
	if strings.Contains(h.m.View(), "▶ running") {
		t.Error("still shown running after stop")
	}
	if f.callCount("StopLaunch") != 1 {
		t.Errorf("StopLaunch called %d times", f.callCount("StopLaunch"))
	}
	h.press("s")
	h.waitView("stop chat: chat is not running")
	// The end of the start-up came from the event stream, not a poll.
	if n := f.callCount("WaitLaunch"); n != 0 {
		t.Errorf("WaitLaunch called %d times: the TUI polled instead of following launch events", n)
	}
}

func TestAddFormRegistersAndFollows(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.online()
	h.press("down", "ctrl+a")
	if h.m.screen != screenAdd {
		t.Fatal("a did not open the add form")
	}
	h.press("enter")
	h.waitView("enter the Git URL")
	h.typeText("https://git.example.com/acme/wiki.git")
	h.press("tab")
	h.typeText("category:wiki, bad")
	h.press("enter")
	h.waitView(`tag "bad": want key:value`)
	h.press("backspace", "backspace", "backspace")
	h.typeText("team:Docs")
	h.press("enter")
	h.waitView("added wiki: following its ingestion and build", "○ queued")
	if h.m.screen != screenDetail || h.m.detail.Slug() != "wiki" {
		t.Fatalf("after add: screen %d showing %q", h.m.screen, h.m.detail.Slug())
	}
	if len(f.added) != 1 || !slices.Equal(f.added[0].Tags, []string{"category:wiki", "team:docs"}) {
		t.Fatalf("added %+v", f.added)
	}
	f.mu.Lock()
	f.find("wiki").IngestStatus = catalog.IngestProcessing
	f.mu.Unlock()
	f.events <- event("ingestion.processing", "wiki", map[string]any{"ingest_status": "processing"})
	h.waitView("◐ ingesting")

	// The same URL again: the app that is already there opens.
	h.press("esc", "ctrl+a", "enter")
	h.typeText("https://git.example.com/acme/notes.git")
	h.press("enter")
	h.waitView("already registered as notes: here it is")
	if h.m.screen != screenDetail || h.m.detail.Slug() != "notes" {
		t.Fatalf("after adding a registered URL: screen %d showing %q", h.m.screen, h.m.detail.Slug())
	}
}

func TestBuildAndRefreshKeys(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.online()
	h.press("down", "down", "enter", "b")
	h.waitView("build #101 of notes queued", "○ build queued")
	h.press("B")
	h.waitView("build #102 of notes queued")
	h.press("r")
	h.waitView("refreshing notes: it is cloned again")
	if !slices.Equal(f.created, []string{"notes", "notes no-cache"}) || f.callCount("Refresh") != 1 {
		t.Errorf("builds %q, refreshes %d", f.created, f.callCount("Refresh"))
	}
}

func TestOfflineScreenRetriesByItself(t *testing.T) {
	f := catalogSource()
	f.setOffline(true)
	h := newHarness(t, f)
	h.waitView("appstored is not reachable at http://127.0.0.1:7070", "connection refused", "make demo", "retrying by itself")
	// Typing keeps working meanwhile? No: the offline screen has its
	// own keys; r retries at once.
	n := f.callCount("LastEventID")
	h.press("r")
	h.waitFor("a retry", func() bool { return f.callCount("LastEventID") > n })
	f.setOffline(false)
	h.waitFor("back online", func() bool { return h.m.online && len(h.m.results.Items()) == 4 })
	h.waitView("● live", "dash")
}

func TestGoingOfflineLaterAndBack(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.online()
	f.setOffline(true)
	h.press("down", "enter", "b")
	h.waitView("appstored is not reachable")
	f.setOffline(false)
	h.waitFor("back online", func() bool { return h.m.online })
	h.waitView("connected again")
}

// TestInvalidQueryIsReported: Enter on a query that does not parse keeps
// the focus on the search line with the cursor at the mistake (counted in
// characters: é is two bytes), says what is wrong, and searches nothing;
// once fixed, Enter searches and the message goes.
func TestInvalidQueryIsReported(t *testing.T) {
	h := newHarness(t, catalogSource())
	h.online()
	before := h.m.results.Query()
	h.typeText(`lang:go é "open`)
	h.press("enter")
	h.waitFor("the error", func() bool { return h.m.statusKind == statusErr })
	if !strings.Contains(h.m.status, "unterminated quote") || !strings.Contains(h.m.status, "(at character 11, where the cursor is)") || strings.Contains(h.m.status, "byte") {
		t.Errorf("status %q", h.m.status)
	}
	if !h.m.bar.Focused() || h.m.bar.input.Position() != len([]rune(`lang:go é `)) {
		t.Errorf("focused %v, cursor at %d; want the search line, at the quote", h.m.bar.Focused(), h.m.bar.input.Position())
	}
	if h.m.results.Query() != before {
		t.Errorf("searched %q", h.m.results.Query())
	}

	h.press("end")
	h.typeText(`"`)
	h.press("enter")
	h.waitFor("the search", func() bool { return h.m.results.Query() == `lang:go é "open"` && !h.m.bar.Focused() })
	if h.m.status != "" {
		t.Errorf("status after the fix: %q", h.m.status)
	}
}

func TestLayoutFollowsTheWindow(t *testing.T) {
	h := newHarness(t, catalogSource())
	h.online()
	for _, size := range []tea.WindowSizeMsg{{Width: 60, Height: 15}, {Width: 140, Height: 40}, {Width: 30, Height: 8}} {
		h.send(size)
		for _, screen := range []string{"search", "detail"} {
			if screen == "detail" {
				h.press("down", "enter")
				h.waitView("Team dashboard")
			}
			lines := strings.Split(h.m.View(), "\n")
			if len(lines) != size.Height {
				t.Errorf("%s at %dx%d: %d lines", screen, size.Width, size.Height, len(lines))
			}
			for _, l := range lines {
				if w := lipgloss.Width(l); w > size.Width {
					t.Errorf("%s at %dx%d: line of width %d: %q", screen, size.Width, size.Height, w, l)
				}
			}
			if screen == "detail" {
				h.press("/")
			}
		}
	}
}

func TestResultsLoadMorePagesAtTheEnd(t *testing.T) {
	f := newFakeSource()
	for i := range 45 {
		f.addRepo(fmt.Sprintf("app%02d", i), fmt.Sprintf("app%02d", i), "", "lang:go")
	}
	h := newHarness(t, f, func(o *Options) { o.PageSize = 20 })
	h.online()
	if n := len(h.m.results.Items()); n != 20 {
		t.Fatalf("first page: %d results", n)
	}
	h.press("down", "end")
	h.waitFor("the second page", func() bool { return len(h.m.results.Items()) == 40 })
	h.press("end")
	h.waitFor("the last page", func() bool { return len(h.m.results.Items()) == 45 && h.m.results.NextCursor() == "" })
	if sel := h.m.results.Selected(); sel == nil || sel.Slug != "app39" {
		t.Errorf("selected %+v, want app39 (the end of what was loaded when G was pressed)", sel)
	}
	h.waitView("45 apps · everything")
}

// TestLongMessagesWrapInsteadOfBeingCut: the end of a failure is where it
// says what to do, so the status line, the detail's error, build error and
// timeline, and the build log wrap long text instead of cutting it; the
// screen keeps its size.
func TestLongMessagesWrapInsteadOfBeingCut(t *testing.T) {
	f := catalogSource()
	r := f.addRepo("broken", "broken", "Its Dockerfile copies a file that does not exist")
	r.IngestError = "no Dockerfile found: looked for Dockerfile and Containerfile at the repository root and for a Dockerfile in sub-folders; add a Dockerfile, or declare its path in the dockerfile setting"
	f.setBuild("broken", client.Build{ID: 8, Status: catalog.BuildFailed, CommitSHA: "0123456789abcdef",
		ErrorMessage: "Step 2/4 : COPY does-not-exist /app: COPY failed: file not found in build context or excluded by .dockerignore: stat does-not-exist: file does not exist"})
	f.timeline["broken"] = []client.IngestionEvent{
		{ID: 1, Status: catalog.IngestFailed, Message: "ingested 460d7415bd1d of main: Dockerfile, port 8080 from tags.yaml, 2 tags, and a long tail that ends with the advice in tags.yaml", CreatedAt: fakeEpoch},
	}
	f.launchErr = &client.APIError{StatusCode: 409, Code: "conflict", Message: "no succeeded build of broken yet: build #8 failed (see its log); fix the Dockerfile, push, and refresh the app to try again"}
	h := newHarness(t, f)
	size := tea.WindowSizeMsg{Width: 80, Height: 40}
	h.send(size)
	h.online()
	checkSize := func(what string) {
		t.Helper()
		lines := strings.Split(h.m.View(), "\n")
		if len(lines) != size.Height {
			t.Errorf("%s: %d lines, want %d", what, len(lines), size.Height)
		}
		for _, l := range lines {
			if w := lipgloss.Width(l); w > size.Width {
				t.Errorf("%s: line of width %d: %q", what, w, l)
			}
		}
	}
	h.press("down", "end", "enter") // broken is the last result
	h.waitView("Its Dockerfile copies", "dockerfile setting", "does-not-exist: file", "advice in tags.yaml",
		"nothing to launch: no build succeeded — press l for the log of #8, b to build")
	checkSize("detail")

	h.press("o")
	h.waitFor("the launch error", func() bool { return h.m.statusKind == statusErr })
	h.waitView("and refresh the app to try again")
	checkSize("detail with a long error")

	h.press("l")
	h.waitView("build #8 of broken")
	ch := f.logChannel(8)
	ch <- client.LogLine{ID: 1, BuildID: 8, Line: "Build failed: " + strings.Repeat("x", 90) + " the end of the line"}
	h.waitView("the end of the line")
	checkSize("log")
}

// TestBuildStatusFollowsTheBuild: "build #N queued" on the status line does
// not stay there once the build has finished.
func TestBuildStatusFollowsTheBuild(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.online()
	h.press("down", "down", "enter", "b") // notes
	h.waitView("build #101 of notes queued — press l to follow its log")
	f.events <- event("build.succeeded", "dash", map[string]any{"build_id": 7, "status": "succeeded"}) // another build
	f.events <- event("build.running", "notes", map[string]any{"build_id": 101, "status": "running"})
	h.waitView("build #101 of notes running")
	f.events <- event("build.failed", "notes", map[string]any{"build_id": 101, "status": "failed"})
	h.waitView("✗ build #101 of notes failed — press l for its log")
	if strings.Contains(h.m.status, "dash") {
		t.Errorf("status %q", h.m.status)
	}
	// Another message ends the following.
	h.press("r")
	h.waitView("refreshing notes")
	f.events <- event("build.succeeded", "notes", map[string]any{"build_id": 101, "status": "succeeded"})
	h.drain(100 * time.Millisecond)
	if !strings.Contains(h.m.status, "refreshing notes") {
		t.Errorf("a build event replaced a newer message: %q", h.m.status)
	}
}

// TestOfflineScreenKeys: Esc, which means "back" elsewhere, does not quit
// from the offline screen (a user going back as the daemon goes away keeps
// the TUI); q does. The help bar keeps "? more keys" and "q quit" on a
// narrow terminal, leaving out keys from the middle instead.
func TestOfflineScreenKeysAndNarrowHelp(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.send(tea.WindowSizeMsg{Width: 60, Height: 20})
	h.online()
	h.press("down", "enter")
	help := strings.Split(h.m.View(), "\n")[19]
	if !strings.HasSuffix(help, "? more keys • q quit") || !strings.HasPrefix(help, "esc back") || lipgloss.Width(help) > 60 {
		t.Errorf("help bar at 60 columns: %q", help)
	}
	// ? opens the full list, and says that it closes it too.
	h.press("?")
	if v := h.m.View(); !regexp.MustCompile(`\?\s+fewer keys`).MatchString(v) || strings.Contains(v, "more keys") {
		t.Errorf("full help:\n%s", v)
	}
	h.press("?")
	if v := h.m.View(); !strings.Contains(v, "? more keys") {
		t.Errorf("short help again:\n%s", v)
	}
	f.setOffline(true)
	h.press("b")
	h.waitView("appstored is not reachable", "press r to retry now, q to quit")
	h.press("esc")
	if h.m.ctx.Err() != nil {
		t.Fatal("Esc on the offline screen quit the TUI")
	}
	h.press("q")
	if h.m.ctx.Err() == nil {
		t.Fatal("q on the offline screen did not quit")
	}
}

// TestOpeningAnotherAppClearsAnErrorAboutThisOne: an error about dash
// would read as notes' own once notes' detail is open; about the app
// being opened, it stays.
func TestOpeningAnotherAppClearsAnErrorAboutThisOne(t *testing.T) {
	f := catalogSource()
	f.launchErr = &client.APIError{StatusCode: 409, Code: "conflict", Message: "no succeeded build of dash yet"}
	h := newHarness(t, f)
	h.online()
	h.press("down", "enter", "o") // dash
	h.waitFor("the launch error", func() bool { return h.m.statusKind == statusErr })
	h.press("enter") // dash's own detail: the error is about it
	if !strings.Contains(h.m.status, "dash") {
		t.Errorf("dash's error left when opening dash: %q", h.m.status)
	}
	h.press("esc", "down", "enter") // notes
	if h.m.status != "" {
		t.Errorf("opening notes kept dash's error: %q", h.m.status)
	}
}

// TestDetailSaysItScrolls: on a small terminal the builds are below the
// fold; the rule under the header says there is more, then the end.
func TestDetailSaysItScrolls(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.online()
	h.press("down", "enter")
	h.waitView("↓ more · 0%")
	h.press("end")
	h.waitView("end · 100%")
}
