package tui

import (
	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/lipgloss"
)

// Styles are the looks of every component. They are made from one
// lipgloss.Renderer (the program's output, so colour support is that
// terminal's) and come in two sets: with colours, and without for NO_COLOR
// and --no-color, which keeps bold, faint and reverse (they are not colour,
// and the cursor and the selection need them) and shows every state in
// words and markers as well, so nothing depends on colour alone.
type Styles struct {
	r *lipgloss.Renderer

	Title    lipgloss.Style // the app name in the header
	Subtle   lipgloss.Style // secondary text
	Heading  lipgloss.Style // section headings of the detail view
	Error    lipgloss.Style
	Notice   lipgloss.Style // the status line's normal messages
	Selected lipgloss.Style // the selected row's name
	Name     lipgloss.Style // a row's name
	Tag      lipgloss.Style
	URL      lipgloss.Style

	Good lipgloss.Style // ready, built, running
	Busy lipgloss.Style // queued, processing, running builds, starting launches
	Bad  lipgloss.Style // failed
	Idle lipgloss.Style // no build, cancelled, stopped

	Prompt      lipgloss.Style
	Input       lipgloss.Style
	Placeholder lipgloss.Style
	Cursor      lipgloss.Style

	Dropdown         lipgloss.Style // the box of the suggestion list
	DropdownItem     lipgloss.Style
	DropdownSelected lipgloss.Style
	Count            lipgloss.Style

	Help help.Styles
}

// NewStyles returns the styles for r, coloured when color is set.
func NewStyles(r *lipgloss.Renderer, color bool) *Styles {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	ns := r.NewStyle
	s := &Styles{r: r}
	s.Title = ns().Bold(true)
	s.Subtle = ns().Faint(true)
	s.Heading = ns().Bold(true)
	s.Error = ns().Bold(true)
	s.Notice = ns()
	s.Selected = ns().Bold(true).Reverse(true)
	s.Name = ns().Bold(true)
	s.Tag = ns()
	s.URL = ns().Underline(true)
	s.Good = ns()
	s.Busy = ns()
	s.Bad = ns().Bold(true)
	s.Idle = ns().Faint(true)
	s.Prompt = ns().Bold(true)
	s.Input = ns()
	s.Placeholder = ns().Faint(true)
	s.Cursor = ns()
	s.Dropdown = ns().Border(lipgloss.NormalBorder())
	s.DropdownItem = ns()
	s.DropdownSelected = ns().Reverse(true)
	s.Count = ns().Faint(true)
	s.Help = help.Styles{
		ShortKey:       ns().Bold(true),
		ShortDesc:      ns(),
		ShortSeparator: ns().Faint(true),
		Ellipsis:       ns().Faint(true),
		FullKey:        ns().Bold(true),
		FullDesc:       ns(),
		FullSeparator:  ns().Faint(true),
	}
	if !color {
		return s
	}

	var (
		accent = lipgloss.AdaptiveColor{Light: "#5A3FC0", Dark: "#A48CF2"}
		green  = lipgloss.AdaptiveColor{Light: "#1B7F3B", Dark: "#5FD787"}
		yellow = lipgloss.AdaptiveColor{Light: "#9A6700", Dark: "#E5C07B"}
		red    = lipgloss.AdaptiveColor{Light: "#C62828", Dark: "#FF6B6B"}
		gray   = lipgloss.AdaptiveColor{Light: "#6E6E6E", Dark: "#8A8A8A"}
		dim    = lipgloss.AdaptiveColor{Light: "#9A9A9A", Dark: "#5C5C5C"}
		tag    = lipgloss.AdaptiveColor{Light: "#005F87", Dark: "#7FBBD6"}
	)
	s.Title = s.Title.Foreground(accent)
	s.Subtle = ns().Foreground(gray)
	s.Heading = s.Heading.Foreground(accent)
	s.Error = s.Error.Foreground(red)
	s.Selected = ns().Bold(true).Foreground(accent)
	s.Tag = s.Tag.Foreground(tag)
	s.URL = s.URL.Foreground(accent)
	s.Good = s.Good.Foreground(green)
	s.Busy = s.Busy.Foreground(yellow)
	s.Bad = s.Bad.Foreground(red)
	s.Idle = ns().Foreground(gray)
	s.Prompt = s.Prompt.Foreground(accent)
	s.Placeholder = ns().Foreground(dim)
	s.Dropdown = s.Dropdown.BorderForeground(dim)
	s.DropdownSelected = ns().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(accent)
	s.Count = ns().Foreground(gray)
	s.Help.ShortKey = ns().Foreground(gray).Bold(true)
	s.Help.ShortDesc = ns().Foreground(dim)
	s.Help.FullKey = s.Help.ShortKey
	s.Help.FullDesc = s.Help.ShortDesc
	s.Help.ShortSeparator = ns().Foreground(dim)
	s.Help.FullSeparator = s.Help.ShortSeparator
	s.Help.Ellipsis = s.Help.ShortSeparator
	return s
}

// textInput is a one-line input in the styles of the search bar and the
// add form.
func (s *Styles) textInput(prompt, placeholder string) textinput.Model {
	in := textinput.New()
	in.Prompt = prompt
	in.Placeholder = placeholder
	in.PromptStyle = s.Prompt
	in.TextStyle = s.Input
	in.PlaceholderStyle = s.Placeholder
	in.Cursor.Style = s.r.NewStyle()
	in.Cursor.TextStyle = s.Input
	// A blinking cursor redraws twice a second for nothing and makes
	// screen captures differ; a steady one reads as well.
	in.Cursor.SetMode(cursor.CursorStatic)
	// Tab, ↑/↓ and Ctrl-P/N drive our own lists (the search bar's
	// suggestions), not the textinput's.
	in.KeyMap.AcceptSuggestion.SetEnabled(false)
	in.KeyMap.NextSuggestion.SetEnabled(false)
	in.KeyMap.PrevSuggestion.SetEnabled(false)
	return in
}
