package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textarea"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// The detail view's comment box: the comment key (w) opens a text area
// under the pager; Enter sends, Alt+Enter (or Ctrl+J) starts a new line,
// Esc cancels. A comment that the daemon refuses stays in the box with the
// reason on the status line, so nothing typed is lost.

// composeLines is the height of the text area.
const composeLines = 3

// ComposeKeys drive the comment box.
type ComposeKeys struct {
	Send, Newline, Cancel key.Binding
}

func newComposeKeys() ComposeKeys {
	return ComposeKeys{
		Send:    bind([]string{"enter"}, "enter", "send"),
		Newline: bind([]string{"alt+enter", "ctrl+j"}, "alt+enter", "new line"),
		Cancel:  bind([]string{"esc"}, "esc", "cancel"),
	}
}

// commentBox is the comment being written.
type commentBox struct {
	keys ComposeKeys
	ta   textarea.Model
	open bool
	busy bool // sent, the answer not yet back
}

func newCommentBox() commentBox {
	c := commentBox{keys: newComposeKeys(), ta: textarea.New()}
	c.ta.ShowLineNumbers = false
	c.ta.Prompt = "  "
	c.ta.Placeholder = "Write a comment (plain text)"
	c.ta.CharLimit = catalog.MaxCommentLen
	c.ta.KeyMap.InsertNewline = c.keys.Newline
	// A steady cursor: nothing redraws on a timer (and goldens are stable).
	c.ta.Cursor.SetMode(cursor.CursorStatic)
	c.ta.SetHeight(composeLines)
	return c
}

// height is the rows the box takes under the pager: a rule and the text
// area, none when closed.
func (c *commentBox) height() int {
	if !c.open {
		return 0
	}
	return 1 + composeLines
}

// StartComment opens the comment box on the app shown.
func (d *Detail) StartComment() tea.Cmd {
	d.compose.open, d.compose.busy = true, false
	d.compose.ta.Reset()
	d.SetSize(d.width, d.height)
	return d.compose.ta.Focus()
}

// Composing reports whether the comment box has the keys.
func (d *Detail) Composing() bool { return d.compose.open }

// CommentText is what the box holds, as typed.
func (d *Detail) CommentText() string { return d.compose.ta.Value() }

// CommentBusy reports whether the comment was sent and its answer is
// awaited; SetCommentBusy says so.
func (d *Detail) CommentBusy() bool        { return d.compose.busy }
func (d *Detail) SetCommentBusy(busy bool) { d.compose.busy = busy }

// CloseComment closes the box, dropping its text.
func (d *Detail) CloseComment() {
	d.compose.open, d.compose.busy = false, false
	d.compose.ta.Blur()
	d.compose.ta.Reset()
	d.SetSize(d.width, d.height)
}

// UpdateComment types into the box.
func (d *Detail) UpdateComment(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	d.compose.ta, cmd = d.compose.ta.Update(msg)
	return cmd
}

// AddedComment shows a comment just posted before the re-read brings it.
func (d *Detail) AddedComment(c *client.Comment) {
	if c == nil || c.Repository != d.slug {
		return
	}
	for _, have := range d.comments {
		if have.ID == c.ID {
			return
		}
	}
	d.comments = append(d.comments, *c)
	d.render()
	d.vp.GotoBottom()
}

// composeView is the box: a rule naming the app and the keys, then the
// text area.
func (d *Detail) composeView() string {
	s := d.styles
	title := " comment on " + d.slug + " · enter send · alt+enter new line · esc cancel "
	if d.compose.busy {
		title = " sending… "
	}
	w := max(0, d.width)
	rule := "──" + title
	if n := w - len([]rune(rule)); n > 0 {
		rule += strings.Repeat("─", n)
	}
	d.compose.ta.SetWidth(max(10, w))
	return s.Subtle.Render(truncateRunes(rule, w)) + "\n" + d.compose.ta.View()
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:max(0, n)])
}

// composeHelp is the help bar while the box has the keys.
func (d *Detail) composeHelp() []key.Binding {
	k := d.compose.keys
	return []key.Binding{k.Send, k.Newline, k.Cancel}
}

// commentedMsg is the answer to a comment sent from the box.
type commentedMsg struct {
	slug    string
	comment *client.Comment
	err     error
}

// composeKey routes a key while the comment box is open: Enter sends what
// is typed, Esc closes the box, the rest is typing.
func (m *Model) composeKey(k tea.KeyMsg) tea.Cmd {
	d := &m.detail
	switch {
	case key.Matches(k, d.compose.keys.Cancel):
		d.CloseComment()
		m.layout()
		return nil
	case key.Matches(k, d.compose.keys.Send):
		if d.CommentBusy() {
			return nil
		}
		body := d.CommentText()
		if strings.TrimSpace(body) == "" {
			m.setStatus(statusErr, "the comment is empty: type some text, or esc to cancel")
			return nil
		}
		d.SetCommentBusy(true)
		ctx, src, slug := m.ctx, m.src, d.Slug()
		return func() tea.Msg {
			c, err := src.AddComment(ctx, slug, body)
			return commentedMsg{slug: slug, comment: c, err: err}
		}
	}
	return d.UpdateComment(k)
}

// onCommented applies the answer: the box closes and the comment shows,
// or the box keeps the text and the status line says why it was refused.
func (m *Model) onCommented(msg commentedMsg) tea.Cmd {
	d := &m.detail
	if msg.err != nil {
		d.SetCommentBusy(false)
		return m.failed(msg.err, "comment on "+msg.slug)
	}
	if d.Composing() && d.Slug() == msg.slug {
		d.CloseComment()
		m.layout()
	}
	d.AddedComment(msg.comment)
	m.setStatus(statusOK, fmt.Sprintf("commented on %s (#%d)", msg.slug, msg.comment.ID))
	return nil
}

// firstWords is the start of a comment on one line, at most n runes.
func firstWords(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
