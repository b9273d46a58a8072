package tui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/appstore-dev/appstore/client"
)

// TestGoldenComment: w on the app page opens the comment box under the
// pager, with its keys in the help bar; Alt+Enter starts a new line.
func TestGoldenComment(t *testing.T) {
	tm, _ := startGolden(t, catalogSource())
	waitScreen(t, tm, "● live", "4 apps")
	tm.Send(keyMsg("down"))
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "Team dashboard with charts")
	tm.Send(keyMsg("w"))
	waitScreen(t, tm, "comment on dash", "Write a comment")
	tm.Type("Works well")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter, Alt: true})
	tm.Type("behind the VPN")
	waitScreen(t, tm, "behind the VPN")
	golden.RequireEqual(t, finalScreen(t, tm))
}

// TestCommentBoxSendsKeepsRefusedTextAndCancels: Enter sends the box's
// text and the comment shows on the page; a refusal keeps the text and
// says why; an empty box sends nothing; Esc closes the box unsent.
func TestCommentBoxSendsKeepsRefusedTextAndCancels(t *testing.T) {
	f := catalogSource()
	h := newHarness(t, f)
	h.online()
	h.press("down", "enter")
	h.waitView("Team dashboard with charts")

	h.press("w")
	if !h.m.detail.Composing() {
		t.Fatal("w did not open the comment box")
	}
	h.press("enter")
	h.waitView("the comment is empty")
	if n := f.callCount("AddComment"); n != 0 {
		t.Fatalf("an empty box sent %d comments", n)
	}

	// Keys that act elsewhere are typing here: s is not "stop", q not "quit".
	h.typeText("so quick")
	f.mu.Lock()
	f.commentErr = &client.APIError{StatusCode: 403, Code: "forbidden", Message: "vic is a viewer: commenting needs a member or an admin"}
	f.mu.Unlock()
	h.press("enter")
	h.waitView("commenting needs a member or an admin")
	if !h.m.detail.Composing() || h.m.detail.CommentText() != "so quick" || h.m.detail.CommentBusy() {
		t.Fatalf("after a refusal: composing %v, text %q, busy %v; want the text kept", h.m.detail.Composing(), h.m.detail.CommentText(), h.m.detail.CommentBusy())
	}

	f.mu.Lock()
	f.commentErr = nil
	f.mu.Unlock()
	h.send(tea.KeyMsg{Type: tea.KeyEnter, Alt: true})
	h.typeText("and light")
	h.press("enter")
	h.waitView("commented on dash", "so quick", "and light")
	if h.m.detail.Composing() {
		t.Error("the box stayed open after the comment was sent")
	}
	f.mu.Lock()
	got := f.comments["dash"]
	f.mu.Unlock()
	if len(got) != 1 || got[0].Body != "so quick\nand light" {
		t.Fatalf("comments sent: %+v", got)
	}

	h.press("w")
	h.typeText("never mind")
	h.press("esc")
	if h.m.detail.Composing() || f.callCount("AddComment") != 2 {
		t.Fatalf("esc: composing %v, %d sends; want closed, nothing more sent", h.m.detail.Composing(), f.callCount("AddComment"))
	}
	if h.m.screen != screenDetail || strings.Contains(h.m.View(), "never mind") {
		t.Errorf("after esc: screen %v, view:\n%s", h.m.screen, h.m.View())
	}
	// The next w starts empty.
	h.press("w")
	if h.m.detail.CommentText() != "" {
		t.Errorf("a new box holds %q", h.m.detail.CommentText())
	}
}
