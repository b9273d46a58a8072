package tui

import (
	"fmt"
	"slices"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// Removing a comment: d on the app page marks one of the comments the
// user may remove (their own; an admin's, any) — their newest first — and
// scrolls to it. ↑/k and ↓/j move the mark to an older or newer one of
// those, d (or Enter) removes the marked comment, Esc keeps it; any other
// key keeps it and does what it does. Who the user is, the daemon says
// once (whoami).

// PickKeys drive the choice of the comment to remove.
type PickKeys struct {
	Remove, Older, Newer, Keep key.Binding
}

func newPickKeys() PickKeys {
	return PickKeys{
		Remove: bind([]string{"d", "enter"}, "d/enter", "remove it"),
		Older:  bind([]string{"up", "k"}, "↑/k", "older"),
		Newer:  bind([]string{"down", "j"}, "↓/j", "newer"),
		Keep:   bind([]string{"esc"}, "esc", "keep it"),
	}
}

// commentPick is the comment marked for removal.
type commentPick struct {
	keys PickKeys
	id   int64 // 0: none
	// scroll asks the next render to bring the marked comment into view;
	// line is where the render put it.
	scroll bool
	line   int
}

// mayRemove reports whether me may remove c: the author, or an admin.
func mayRemove(me client.User, c client.Comment) bool {
	return c.WrittenBy(me) || me.Can(catalog.RoleAdmin)
}

// Picking reports whether a comment is marked for removal.
func (d *Detail) Picking() bool { return d.pick.id != 0 }

// Picked is the comment marked for removal, nil for none.
func (d *Detail) Picked() *client.Comment {
	for i := range d.comments {
		if d.comments[i].ID == d.pick.id && d.pick.id != 0 {
			return &d.comments[i]
		}
	}
	return nil
}

// StartPick marks the newest comment me wrote, or for an admin who wrote
// none the newest comment; it reports false when me may remove none.
func (d *Detail) StartPick(me client.User) bool {
	id := int64(0)
	for i := len(d.comments) - 1; i >= 0 && id == 0; i-- {
		if d.comments[i].WrittenBy(me) {
			id = d.comments[i].ID
		}
	}
	if id == 0 {
		for i := len(d.comments) - 1; i >= 0 && id == 0; i-- {
			if mayRemove(me, d.comments[i]) {
				id = d.comments[i].ID
			}
		}
	}
	d.setPick(id)
	return id != 0
}

// MovePick marks the next older (step -1) or newer (+1) comment me may
// remove; it reports false when there is none that way (the mark stays).
func (d *Detail) MovePick(me client.User, step int) bool {
	at := slices.IndexFunc(d.comments, func(c client.Comment) bool { return c.ID == d.pick.id })
	if at < 0 {
		return false
	}
	for i := at + step; i >= 0 && i < len(d.comments); i += step {
		if mayRemove(me, d.comments[i]) {
			d.setPick(d.comments[i].ID)
			return true
		}
	}
	return false
}

// ClearPick removes the mark.
func (d *Detail) ClearPick() {
	if d.pick.id != 0 {
		d.setPick(0)
	}
}

func (d *Detail) setPick(id int64) {
	d.pick.id, d.pick.scroll = id, id != 0
	d.render()
}

// scrollToPick brings the marked comment into view after a render that
// was asked to (the mark moved): a third of the page above it.
func (d *Detail) scrollToPick() {
	if !d.pick.scroll || d.pick.id == 0 {
		return
	}
	d.pick.scroll = false
	top, bottom := d.vp.YOffset, d.vp.YOffset+d.vp.Height
	if d.pick.line >= top && d.pick.line+2 <= bottom {
		return
	}
	d.vp.SetYOffset(max(0, d.pick.line-d.vp.Height/3))
}

// pickHelp is the help bar while a comment is marked.
func (d *Detail) pickHelp() []key.Binding {
	k := d.pick.keys
	return []key.Binding{k.Remove, k.Older, k.Newer, k.Keep}
}

// uncommentMsg is whoami's answer to d: who the user is, or why it is
// not known.
type uncommentMsg struct {
	slug string
	me   *client.User
	err  error
}

// uncommentedMsg is the answer to the removal.
type uncommentedMsg struct {
	slug string
	c    client.Comment
	err  error
}

// uncommentKey handles d when no comment is marked: mark one (asking the
// daemon who the user is the first time).
func (m *Model) uncommentKey() tea.Cmd {
	slug := m.detail.Slug()
	if m.me != nil {
		return m.onUncomment(uncommentMsg{slug: slug, me: m.me})
	}
	ctx, src := m.ctx, m.src
	return func() tea.Msg {
		w, err := src.Whoami(ctx)
		if err != nil {
			return uncommentMsg{slug: slug, err: err}
		}
		return uncommentMsg{slug: slug, me: &w.User}
	}
}

func (m *Model) onUncomment(msg uncommentMsg) tea.Cmd {
	if msg.err != nil {
		return m.failed(msg.err, "find your comments")
	}
	m.me = msg.me
	d := &m.detail
	if d.Slug() != msg.slug || m.screen != screenDetail {
		return nil
	}
	if !d.StartPick(*m.me) {
		m.setStatus(statusInfo, fmt.Sprintf("%s has no comment of yours (%s) to remove", msg.slug, m.me.Name))
		return nil
	}
	m.pickStatus()
	return nil
}

// pickStatus says which comment is marked and the keys.
func (m *Model) pickStatus() {
	c := m.detail.Picked()
	if c == nil {
		return
	}
	whose := "your comment"
	if !c.WrittenBy(*m.me) {
		whose = c.AuthorLabel() + "'s comment"
	}
	m.setStatus(statusInfo, fmt.Sprintf("remove %s #%d (“%s”)? d removes it · ↑/↓ another · esc keeps it",
		whose, c.ID, firstWords(c.Body, 40)))
}

// pickKey handles a key while a comment is marked; false: the mark is
// gone and the key goes on to do what it does.
func (m *Model) pickKey(k tea.KeyMsg) (tea.Cmd, bool) {
	d := &m.detail
	keys := d.pick.keys
	switch {
	case key.Matches(k, keys.Remove):
		c := d.Picked()
		d.ClearPick()
		if c == nil {
			return nil, true
		}
		cp, slug := *c, d.Slug()
		ctx, src := m.ctx, m.src
		m.setStatus(statusInfo, fmt.Sprintf("removing comment #%d…", cp.ID))
		return func() tea.Msg {
			return uncommentedMsg{slug: slug, c: cp, err: src.DeleteComment(ctx, cp.ID)}
		}, true
	case key.Matches(k, keys.Older), key.Matches(k, keys.Newer):
		step := -1
		if key.Matches(k, keys.Newer) {
			step = 1
		}
		if !d.MovePick(*m.me, step) {
			way := "older"
			if step > 0 {
				way = "newer"
			}
			m.setStatus(statusInfo, fmt.Sprintf("no %s comment you may remove · d removes #%d · esc keeps it", way, d.pick.id))
			return nil, true
		}
		m.pickStatus()
		return nil, true
	case key.Matches(k, keys.Keep):
		d.ClearPick()
		m.setStatus(statusInfo, "kept the comment")
		return nil, true
	}
	d.ClearPick()
	m.setStatus(statusInfo, "")
	return nil, false
}

func (m *Model) onUncommented(msg uncommentedMsg) tea.Cmd {
	if msg.err != nil {
		return m.failed(msg.err, fmt.Sprintf("remove comment #%d", msg.c.ID))
	}
	m.detail.RemovedComment(msg.c.ID)
	whose := "your comment"
	if m.me != nil && !msg.c.WrittenBy(*m.me) {
		whose = msg.c.AuthorLabel() + "'s comment"
	}
	m.setStatus(statusOK, fmt.Sprintf("removed %s #%d on %s", whose, msg.c.ID, msg.slug))
	return nil
}

// RemovedComment drops a comment just removed before the re-read.
func (d *Detail) RemovedComment(id int64) {
	for i, c := range d.comments {
		if c.ID == id {
			d.comments = append(d.comments[:i:i], d.comments[i+1:]...)
			d.render()
			return
		}
	}
}
