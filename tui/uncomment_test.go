package tui

import (
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/appstore-dev/appstore/client"
)

// pickComments are dash's comments: the user's (local, id 1) and ann's,
// interleaved, newest last.
func pickComments() map[string][]client.Comment {
	return map[string][]client.Comment{"dash": {
		{ID: 1, Repository: "dash", Author: "local", AuthorID: 1, Body: "mine, oldest", CreatedAt: fakeEpoch},
		{ID: 2, Repository: "dash", Author: "ann", AuthorID: 7, Body: "ann's first", CreatedAt: fakeEpoch},
		{ID: 3, Repository: "dash", Author: "local", AuthorID: 1, Body: "mine, newest", CreatedAt: fakeEpoch},
		{ID: 4, Repository: "dash", Author: "ann", AuthorID: 7, Body: "ann's last", CreatedAt: fakeEpoch},
	}}
}

func commentIDs(f *fakeSource) []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []int64
	for _, c := range f.comments["dash"] {
		ids = append(ids, c.ID)
	}
	return ids
}

// TestRemoveChosenComment: d marks a member's newest comment; ↑/↓ move
// the mark among the member's own comments only (ann's are skipped, and
// the ends say so); d removes the one marked, Esc keeps it, another key
// keeps it and does what it does.
func TestRemoveChosenComment(t *testing.T) {
	f := catalogSource()
	f.memberMe = true
	f.comments = pickComments()
	h := newHarness(t, f)
	h.send(tea.WindowSizeMsg{Width: 100, Height: 60})
	h.online()
	h.press("down", "enter")
	h.waitView("Team dashboard with charts", "mine, newest", "ann's last")

	h.press("d")
	h.waitView("remove your comment #3 (“mine, newest”)?", "▸ local")
	h.press("down")
	h.waitView("no newer comment you may remove · d removes #3")
	h.press("up")
	h.waitView("remove your comment #1 (“mine, oldest”)?")
	h.press("k")
	h.waitView("no older comment you may remove · d removes #1")
	if c := h.m.detail.Picked(); c == nil || c.ID != 1 {
		t.Fatalf("marked %+v, want #1", c)
	}
	h.press("esc")
	h.waitView("kept the comment")
	if h.m.detail.Picking() || h.m.screen != screenDetail || f.callCount("DeleteComment") != 0 {
		t.Fatalf("esc: picking %v, screen %v, %d removals; want the mark gone, the page kept, nothing removed",
			h.m.detail.Picking(), h.m.screen, f.callCount("DeleteComment"))
	}

	// Another key drops the mark and acts: * stars.
	h.press("d")
	h.waitView("remove your comment #3")
	h.press("*")
	h.waitView("starred dash")
	if h.m.detail.Picking() || f.callCount("DeleteComment") != 0 {
		t.Fatalf("after *: picking %v, %d removals", h.m.detail.Picking(), f.callCount("DeleteComment"))
	}

	// The chosen one, not the newest, goes.
	h.press("d", "j", "up")
	h.waitView("remove your comment #1")
	h.press("d")
	h.waitView("removed your comment #1 on dash")
	if got := commentIDs(f); !slices.Equal(got, []int64{2, 3, 4}) {
		t.Errorf("comments left: %v, want 2 3 4", got)
	}
	if v := h.m.View(); strings.Contains(v, "mine, oldest") || strings.Contains(v, "▸") {
		t.Errorf("after the removal:\n%s", v)
	}
	if n := f.callCount("Whoami"); n != 1 {
		t.Errorf("asked who I am %d times, want once", n)
	}
}

// TestAdminRemovesAnyComment: an admin's d starts at their own newest
// comment and may move to anyone's; the status line names whose it is.
func TestAdminRemovesAnyComment(t *testing.T) {
	f := catalogSource()
	f.comments = pickComments()
	h := newHarness(t, f)
	h.send(tea.WindowSizeMsg{Width: 100, Height: 60})
	h.online()
	h.press("down", "enter")
	h.waitView("Team dashboard with charts", "ann's last")

	h.press("d")
	h.waitView("remove your comment #3")
	h.press("down")
	h.waitView("remove ann's comment #4 (“ann's last”)?")
	h.press("enter")
	h.waitView("removed ann's comment #4 on dash")
	if got := commentIDs(f); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("comments left: %v, want 1 2 3", got)
	}
}

// TestMarkedCommentGoneMeanwhile: a comment removed elsewhere while it is
// marked loses the mark, and the status line says so.
func TestMarkedCommentGoneMeanwhile(t *testing.T) {
	f := catalogSource()
	f.memberMe = true
	f.comments = pickComments()
	h := newHarness(t, f)
	h.send(tea.WindowSizeMsg{Width: 100, Height: 60})
	h.online()
	h.press("down", "enter")
	h.waitView("Team dashboard with charts", "mine, newest")
	h.press("d")
	h.waitView("remove your comment #3")
	f.mu.Lock()
	f.comments["dash"] = slices.DeleteFunc(f.comments["dash"], func(c client.Comment) bool { return c.ID == 3 })
	f.mu.Unlock()
	f.events <- event("comment.deleted", "dash", map[string]any{"id": 3, "slug": "dash"})
	h.waitView("comment #3 was removed meanwhile")
	if h.m.detail.Picking() {
		t.Error("the mark stayed on a comment that is gone")
	}
}

// TestGoldenCommentMarked: the marked comment has an arrow and its author
// in reverse, scrolled into view; the help bar has the keys of the choice.
func TestGoldenCommentMarked(t *testing.T) {
	f := catalogSource()
	f.memberMe = true
	f.comments = pickComments()
	tm, _ := startGolden(t, f)
	waitScreen(t, tm, "● live", "4 apps")
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "Team dashboard with charts")
	tm.Send(keyMsg("d"))
	waitScreen(t, tm, "remove your comment #3")
	tm.Send(keyMsg("up"))
	waitScreen(t, tm, "remove your comment #1")
	golden.RequireEqual(t, finalScreen(t, tm))
}
