package tui

// Rendering: the layout of the screen and the parts around the components.

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/appstore-dev/appstore/client"
)

// layout gives every component its size.
func (m *Model) layout() {
	w := max(20, m.width)
	m.laidStatus = m.statusHeight()
	m.help.Width = w
	body := m.bodyHeight()
	m.bar.SetSize(w, 1)
	m.results.SetSize(w, max(1, body-2))
	m.detail.SetSize(w, body)
	m.logs.SetSize(w, body)
	m.add.SetSize(w, body)
}

func (m *Model) helpHeight() int {
	return lipgloss.Height(m.help.View(m.keyMap()))
}

// helpView is the help bar cut to the width (bubbles/help lets the last
// items overflow when even its ellipsis does not fit).
func (m *Model) helpView(w int) string {
	if !m.help.ShowAll {
		return m.shortHelp(w)
	}
	lines := strings.Split(m.help.View(m.keyMap()), "\n")
	for i := range lines {
		lines[i] = ansi.Truncate(lines[i], w, "…")
	}
	return strings.Join(lines, "\n")
}

// shortHelp is the one-line help bar. When it does not fit, keys are
// left out from the middle, not the end: the last two ("? more keys",
// "q quit") are how a newcomer finds the rest and gets out.
func (m *Model) shortHelp(w int) string {
	bindings := m.keyMap().ShortHelp()
	h := m.help
	h.Width = 0 // measure the whole line; bubbles/help would cut it with "…"
	line := h.ShortHelpView(bindings)
	for ansi.StringWidth(line) > w && len(bindings) > 2 {
		bindings = slices.Delete(bindings, len(bindings)-3, len(bindings)-2)
		line = h.ShortHelpView(bindings)
	}
	return ansi.Truncate(line, w, "…")
}

// bodyHeight is the height left between the header and the status line
// and help.
func (m *Model) bodyHeight() int {
	return max(3, m.height-1-m.statusHeight()-m.helpHeight())
}

// maxStatusLines is how many lines a long status may wrap to: an error
// with its advice ("…; fix it and run …") is read whole, not cut.
const maxStatusLines = 3

// statusLines is the status wrapped to the width, at most maxStatusLines
// lines (the last one cut with "…"), and at least one, empty, so that the
// layout does not jump when a message comes and goes.
func (m *Model) statusLines(w int) []string {
	if m.status == "" {
		return []string{""}
	}
	prefix := ""
	switch m.statusKind {
	case statusErr:
		prefix = "✗ "
	case statusOK:
		prefix = "✓ "
	}
	lines := strings.Split(ansi.Wrap(prefix+m.status, w, ""), "\n")
	if len(lines) > maxStatusLines {
		lines = lines[:maxStatusLines]
		lines[maxStatusLines-1] = ansi.Truncate(lines[maxStatusLines-1]+" …", w, "…")
	}
	for i := range lines {
		lines[i] = ansi.Truncate(strings.TrimRight(lines[i], " "), w, "…")
	}
	return lines
}

func (m *Model) statusHeight() int {
	return len(m.statusLines(max(20, m.width)))
}

// keyMap is the focused component's keys, for the help bar.
func (m *Model) keyMap() help.KeyMap {
	var c interface {
		ShortHelp() []key.Binding
		FullHelp() [][]key.Binding
	}
	switch {
	case m.isOffline():
		return keyMap{short: []key.Binding{m.offKeys.Retry, m.offKeys.Quit}, full: [][]key.Binding{{m.offKeys.Retry, m.offKeys.Quit}}}
	case m.screen == screenDetail:
		c = &m.detail
	case m.screen == screenLogs:
		c = &m.logs
	case m.screen == screenAdd:
		c = &m.add
	case m.bar.Focused():
		c = &m.bar
	default:
		c = &m.results
	}
	return keyMap{short: c.ShortHelp(), full: c.FullHelp()}
}

// View renders the screen.
func (m *Model) View() string {
	w := max(20, m.width)
	body := m.bodyHeight()
	var main string
	switch {
	case m.isOffline():
		main = m.offlineView(w, body)
	case m.screen == screenDetail:
		main = m.detail.View()
	case m.screen == screenLogs:
		main = m.logs.View()
	case m.screen == screenAdd:
		main = m.add.View()
	default:
		main = m.searchView(w, body)
	}
	return strings.Join([]string{
		m.headerView(w),
		fitHeight(main, body, w),
		m.statusView(w),
		m.helpView(w),
	}, "\n")
}

func (m *Model) headerView(w int) string {
	s := m.styles
	left := s.Title.Render("appstore")
	var right string
	switch {
	case m.isOffline():
		right = s.Bad.Render("✗ offline")
	case !m.online:
		right = s.Subtle.Render("connecting…")
	case m.streamLost:
		right = s.Busy.Render("◐ reconnecting")
	default:
		right = s.Good.Render("● live")
	}
	if m.opts.ServerURL != "" {
		right = s.Subtle.Render(m.opts.ServerURL) + "  " + right
	}
	pad := max(1, w-lipgloss.Width(left)-lipgloss.Width(right))
	return ansi.Truncate(left+strings.Repeat(" ", pad)+right, w, "")
}

func (m *Model) statusView(w int) string {
	if m.status == "" {
		return ""
	}
	st := m.styles.Notice
	switch m.statusKind {
	case statusErr:
		st = m.styles.Error
	case statusOK:
		st = m.styles.Good
	}
	lines := m.statusLines(w)
	for i := range lines {
		lines[i] = st.Render(lines[i])
	}
	return strings.Join(lines, "\n")
}

// searchView is the search line, a rule and the results, with the
// suggestion list drawn over the results under the token being typed.
func (m *Model) searchView(w, h int) string {
	results := fitHeight(m.results.View(), max(1, h-2), w)
	if box, col := m.bar.ListView(); box != "" {
		results = overlay(results, box, col)
	}
	return m.bar.View() + "\n" + m.styles.Subtle.Render(strings.Repeat("─", w)) + "\n" + results
}

func (m *Model) offlineView(w, h int) string {
	s := m.styles
	url := m.opts.ServerURL
	if url == "" {
		url = client.DefaultURL
	}
	reason := ""
	if m.offlineErr != nil {
		reason = m.offlineErr.Error()
		var ue *client.UnreachableError
		if errors.As(m.offlineErr, &ue) && ue.Err != nil {
			reason = ue.Err.Error()
		}
	}
	next := "retrying now…"
	if !m.connecting {
		// No countdown: the screen is only redrawn when something
		// happens, and a frozen "in 2s" would mislead.
		next = fmt.Sprintf("retrying by itself, less often each time (attempt %d)", m.retryAttempt)
	}
	lines := []string{
		s.Bad.Render("✗ appstored is not reachable at " + url),
		s.Subtle.Render("  " + reason),
		"",
		"Start the daemon in another terminal:",
		"",
		"  " + s.Name.Render("appstored") + "        the daemon, with its own PostgreSQL under its data directory",
		"  " + s.Name.Render("make demo") + "        from a checkout: build, start appstored and register the examples",
		"",
		"or point appstore at a running one with --server URL or APPSTORE_URL.",
		"",
		s.Subtle.Render(next + " — press r to retry now, q to quit"),
	}
	// Wrapped, not cut: the advice ("press r to retry now, q to quit")
	// is at the ends of the lines.
	var wrapped []string
	for _, l := range lines {
		for _, part := range strings.Split(ansi.Wrap(l, max(10, w-2), ""), "\n") {
			wrapped = append(wrapped, ansi.Truncate(part, max(10, w-2), "…"))
		}
	}
	lines = wrapped
	width := 0
	for i := range lines {
		width = max(width, lipgloss.Width(lines[i]))
	}
	// One block, centred as a whole, its lines aligned on the left.
	for i := range lines {
		lines[i] = padRight(lines[i], width)
	}
	block := strings.Join(lines, "\n")
	return s.r.Place(w, h, lipgloss.Center, lipgloss.Center, block)
}

// fitHeight cuts or pads s to exactly h lines, each at most w cells.
func fitHeight(s string, h, w int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i := range lines {
		lines[i] = ansi.Truncate(lines[i], w, "")
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// overlay draws box over bg with its top-left corner at column col of
// bg's first line.
func overlay(bg, box string, col int) string {
	bgLines := strings.Split(bg, "\n")
	for i, bl := range strings.Split(box, "\n") {
		if i >= len(bgLines) {
			break
		}
		line := bgLines[i]
		left := ansi.Truncate(line, col, "")
		left += strings.Repeat(" ", max(0, col-ansi.StringWidth(left)))
		right := ansi.TruncateLeft(line, col+ansi.StringWidth(bl), "")
		bgLines[i] = left + bl + right
	}
	return strings.Join(bgLines, "\n")
}
