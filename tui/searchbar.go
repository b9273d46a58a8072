package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/query"
)

// DefaultDebounce is how long the search line waits for typing to pause
// before it asks for suggestions, unless the keystroke came after a pause
// (then it asks at once).
const DefaultDebounce = 70 * time.Millisecond

// maxListItems is the most suggestions the list shows at once.
const maxListItems = 8

// SearchBar is the search line and its suggestion list.
//
// The text belongs to the textinput alone: every key goes to it in the
// order it arrived, inside Update, and nothing else ever writes the text
// except Tab, which rewrites the token under the cursor of the text as it is
// at that moment. Suggestions are only ever read: an answer is kept when it
// answers the newest change (seq) and dropped otherwise, and the list shows
// only those of its items that still complete the token being typed, so
// that it follows every keystroke at once while the next answer is on its
// way.
//
// Requests are debounced: a change that comes after the text was still
// for the debounce interval asks at once (the first key after a pause gets
// its suggestions in one round trip); changes in a burst wait until the
// text was still for the interval. Every change cancels the request in
// flight.
type SearchBar struct {
	input  textinput.Model
	keys   SearchKeys
	styles *Styles
	width  int

	ctx      context.Context
	src      Source
	debounce time.Duration
	now      clock

	seq        uint64    // bumped by every change of the text or the cursor
	lastChange time.Time // when the previous change happened
	cancel     context.CancelFunc

	answer   *catalog.Suggestions // the newest answer kept
	answered uint64               // the seq it answered
	visible  []catalog.Suggestion // its items that complete the current token
	selected int
	open     bool
}

func newSearchBar(ctx context.Context, src Source, styles *Styles, debounce time.Duration, now clock) SearchBar {
	in := styles.textInput("search › ", "lang:go framework:gin -license:gpl chat")
	in.CharLimit = query.MaxBytes
	in.Focus()
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	return SearchBar{input: in, keys: newSearchKeys(), styles: styles, ctx: ctx, src: src, debounce: debounce, now: now}
}

// SetSize sets the width of the line (the list is as wide as it needs, up
// to it).
func (b *SearchBar) SetSize(width, _ int) {
	b.width = width
	b.input.Width = max(1, width-lipgloss.Width(b.input.Prompt)-1)
}

// Focus gives the line the keyboard.
func (b *SearchBar) Focus() tea.Cmd { return b.input.Focus() }

// Blur takes the keyboard away and closes the list.
func (b *SearchBar) Blur() {
	b.input.Blur()
	b.open = false
}

// Focused reports whether the line has the keyboard.
func (b *SearchBar) Focused() bool { return b.input.Focused() }

// Value is the query typed.
func (b *SearchBar) Value() string { return b.input.Value() }

// ListOpen reports whether the suggestion list is shown.
func (b *SearchBar) ListOpen() bool { return b.open && len(b.visible) > 0 && b.input.Focused() }

// Visible are the suggestions the list shows, in order.
func (b *SearchBar) Visible() []catalog.Suggestion { return b.visible }

// Selected is the index of the highlighted suggestion.
func (b *SearchBar) Selected() int { return b.selected }

// Fresh reports whether the suggestions kept answer the text and cursor as
// they are now.
func (b *SearchBar) Fresh() bool { return b.answer != nil && b.answered == b.seq }

// cursorByte is the cursor's byte offset in the text (the textinput counts
// runes, the query package bytes).
func (b *SearchBar) cursorByte() int {
	return runeToByte(b.input.Value(), b.input.Position())
}

// SetCursorByte puts the cursor at byte offset pos of the text (clamped),
// where a query error says the mistake is.
func (b *SearchBar) SetCursorByte(pos int) {
	v := b.input.Value()
	pos = min(max(pos, 0), len(v))
	b.input.SetCursor(utf8.RuneCountInString(v[:pos]))
}

// SetValue replaces the text (a query given on the command line, or a
// recalled one) with the cursor at its end, and asks for suggestions.
func (b *SearchBar) SetValue(q string) tea.Cmd {
	b.input.SetValue(q)
	b.input.CursorEnd()
	return b.changed()
}

// Suggest asks for suggestions for the text as it is, at once (on start),
// without opening the list over the results: typing or Ctrl-N opens it.
func (b *SearchBar) Suggest() tea.Cmd {
	b.seq++
	return b.request()
}

// Update handles keys when focused, and the debounce and answer messages.
// Enter and ↓ with the list closed are the root model's: it checks them
// before calling Update.
func (b *SearchBar) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case suggestTickMsg:
		if msg.seq != b.seq {
			return nil // a later change has its own timer
		}
		return b.request()
	case suggestionsMsg:
		return b.onAnswer(msg)
	case tea.KeyMsg:
		if !b.input.Focused() {
			return nil
		}
		return b.key(msg)
	}
	return nil
}

func (b *SearchBar) key(msg tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(msg, b.keys.Accept):
		return b.accept()
	case key.Matches(msg, b.keys.Close):
		b.open = false
		return nil
	case key.Matches(msg, b.keys.Prev):
		if b.ListOpen() {
			b.selected = (b.selected - 1 + len(b.visible)) % len(b.visible)
		}
		return nil
	case key.Matches(msg, b.keys.Next):
		if !b.ListOpen() {
			b.open = true // Ctrl-N opens a closed list
			return nil
		}
		b.selected = (b.selected + 1) % len(b.visible)
		return nil
	}
	before, pos := b.input.Value(), b.input.Position()
	var cmd tea.Cmd
	b.input, cmd = b.input.Update(msg)
	if b.input.Value() == before && b.input.Position() == pos {
		return cmd
	}
	return tea.Batch(cmd, b.changed())
}

// changed is called after every change of the text or cursor: it cancels
// the request in flight, narrows the list to the new token at once, and
// asks now (after a pause) or when typing pauses.
func (b *SearchBar) changed() tea.Cmd {
	b.seq++
	if b.cancel != nil {
		b.cancel()
		b.cancel = nil
	}
	b.open = true
	b.narrow()
	now := b.now()
	quiet := now.Sub(b.lastChange) >= b.debounce
	b.lastChange = now
	if quiet {
		return b.request()
	}
	seq := b.seq
	return tea.Tick(b.debounce, func(time.Time) tea.Msg { return suggestTickMsg{seq: seq} })
}

// request asks for the suggestions of the text and cursor as they are.
func (b *SearchBar) request() tea.Cmd {
	if b.cancel != nil {
		b.cancel()
	}
	ctx, cancel := context.WithCancel(b.ctx)
	b.cancel = cancel
	seq, q, pos, src := b.seq, b.input.Value(), b.cursorByte(), b.src
	return func() tea.Msg {
		s, err := src.Autocomplete(ctx, q, pos)
		return suggestionsMsg{seq: seq, query: q, pos: pos, s: s, err: err}
	}
}

// answered_ keeps an answer to the newest change and drops any other.
func (b *SearchBar) onAnswer(msg suggestionsMsg) tea.Cmd {
	if msg.seq != b.seq {
		return nil // stale: the text or the cursor moved since
	}
	if b.cancel != nil {
		b.cancel()
		b.cancel = nil
	}
	if msg.err != nil {
		if errors.Is(msg.err, context.Canceled) {
			return nil
		}
		// The root model reports errors (and goes offline); the list
		// keeps what it had.
		return nil
	}
	prev := b.selectedText()
	b.answer, b.answered = msg.s, msg.seq
	b.narrow()
	b.reselect(prev)
	return nil
}

func (b *SearchBar) selectedText() string {
	if b.selected >= 0 && b.selected < len(b.visible) {
		return b.visible[b.selected].Text
	}
	return ""
}

func (b *SearchBar) reselect(text string) {
	b.selected = 0
	for i, s := range b.visible {
		if s.Text == text {
			b.selected = i
			return
		}
	}
}

// narrow keeps the items of the answer that complete the token under the
// cursor now: the same term (it starts where the answer's did), the same
// kind, and starting with what is typed.
func (b *SearchBar) narrow() {
	prev := b.selectedText()
	b.visible = b.visible[:0]
	if b.answer == nil {
		return
	}
	v := b.input.Value()
	tok := query.TokenAt(v, b.cursorByte())
	if tok.Kind == query.KindPhrase || tok.Start != b.answer.Start {
		return
	}
	for _, s := range b.answer.Suggestions {
		if applies(tok, s) {
			b.visible = append(b.visible, s)
		}
	}
	b.reselect(prev)
}

func applies(tok query.Token, s catalog.Suggestion) bool {
	switch tok.Kind {
	case query.KindValue:
		// A pair offered for the word typed before the ':' still
		// completes the value.
		return s.Kind != catalog.SuggestKey && s.Key == tok.Key && strings.HasPrefix(s.Value, tok.Prefix)
	case query.KindWord:
		if s.Kind == catalog.SuggestValue {
			return false
		}
		return strings.HasPrefix(strings.TrimPrefix(s.Text, "-"), tok.Prefix)
	}
	return false
}

// accept replaces the token under the cursor of the current text by the
// selected suggestion (query.Replace's rules: a key leaves the cursor after
// its ':', anything else finishes the term with a space).
func (b *SearchBar) accept() tea.Cmd {
	if !b.ListOpen() {
		return nil
	}
	s := b.visible[b.selected]
	v := b.input.Value()
	tok := query.TokenAt(v, b.cursorByte())
	term := strings.TrimPrefix(s.Text, "-")
	if tok.Kind == query.KindValue {
		term = tok.Complete(s.Value)
	}
	nv, cur := query.Replace(v, tok, term)
	b.input.SetValue(nv)
	b.input.SetCursor(utf8.RuneCountInString(nv[:cur]))
	return b.changed()
}

// View is the search line.
func (b *SearchBar) View() string {
	return ansi.Truncate(b.input.View(), b.width, "")
}

// ListView renders the suggestion list and the column where it goes:
// under the token being typed, moved left when it would not fit.
func (b *SearchBar) ListView() (box string, col int) {
	if !b.ListOpen() {
		return "", 0
	}
	first := 0
	if b.selected >= maxListItems {
		first = b.selected - maxListItems + 1
	}
	last := min(len(b.visible), first+maxListItems)
	textW, countW := 0, 0
	for _, s := range b.visible[first:last] {
		textW = max(textW, lipgloss.Width(s.Text))
		countW = max(countW, len(fmt.Sprint(s.Count))+2)
	}
	// Border and the marker column.
	maxText := max(8, b.width-countW-6)
	textW = min(textW, maxText)
	var lines []string
	for i := first; i < last; i++ {
		s := b.visible[i]
		text := ansi.Truncate(s.Text, textW, "…")
		count := fmt.Sprintf("(%d)", s.Count)
		marker := "  "
		style := b.styles.DropdownItem
		if i == b.selected {
			marker = "› "
			style = b.styles.DropdownSelected
		}
		line := marker + text + strings.Repeat(" ", textW-lipgloss.Width(text)+1) +
			strings.Repeat(" ", countW-len(count)) + b.styles.Count.Render(count)
		lines = append(lines, style.Render(line))
	}
	if more := len(b.visible) - last; more > 0 {
		lines = append(lines, b.styles.Subtle.Render(fmt.Sprintf("  … %d more", more)))
	} else if first > 0 {
		lines = append(lines, b.styles.Subtle.Render(fmt.Sprintf("  … %d above", first)))
	}
	box = b.styles.Dropdown.Render(strings.Join(lines, "\n"))

	tok := query.TokenAt(b.input.Value(), b.cursorByte())
	// The text of the items (after the border and the marker) lines up
	// with the token.
	col = lipgloss.Width(b.input.Prompt) + lipgloss.Width(b.input.Value()[:tok.Start]) - 3
	col = max(0, min(col, b.width-lipgloss.Width(box)))
	return box, col
}

// ShortHelp and FullHelp are the line's keys.
func (b *SearchBar) ShortHelp() []key.Binding {
	if b.ListOpen() {
		return []key.Binding{b.keys.Accept, b.keys.Next, b.keys.Run, b.keys.Close, b.keys.Quit}
	}
	return []key.Binding{b.keys.Run, b.keys.Results, b.keys.Quit}
}

func (b *SearchBar) FullHelp() [][]key.Binding {
	return [][]key.Binding{{b.keys.Accept, b.keys.Prev, b.keys.Next}, {b.keys.Run, b.keys.Close, b.keys.Results, b.keys.Quit}}
}

// runeToByte converts a rune index of s into a byte offset.
func runeToByte(s string, runes int) int {
	i := 0
	for off := range s {
		if i == runes {
			return off
		}
		i++
	}
	return len(s)
}
