package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// rowHeight is the lines one result takes: name, description and badges;
// then its tags.
const rowHeight = 2

// ResultList is the list of search results. Rows are patched in place by
// events (a build that finishes turns its badge), so it never needs a
// reload to stay true.
type ResultList struct {
	styles  *Styles
	keys    ListKeys
	actions ActionKeys
	width   int
	height  int
	focused bool

	query    string
	items    []catalog.SearchResult
	total    int64
	exact    bool
	next     string
	loading  bool
	searched bool // a search answered at least once
	selected int
	offset   int

	// launches are the active launches by slug, shared with the root
	// model, for the ▶ badge.
	launches map[string]*client.Launch
}

func newResultList(styles *Styles, launches map[string]*client.Launch) ResultList {
	return ResultList{styles: styles, keys: newListKeys(), actions: newActionKeys(), launches: launches}
}

// SetSize sets the area of the list, its header line included.
func (l *ResultList) SetSize(width, height int) {
	l.width, l.height = width, height
	l.scroll()
}

// Focus and Blur move the keyboard to and from the list.
func (l *ResultList) Focus() { l.focused = true }
func (l *ResultList) Blur()  { l.focused = false }

// Loading marks a search of q under way.
func (l *ResultList) Loading(q string) {
	l.loading = true
	if q != l.query {
		l.query = q
	}
}

// SetPage shows the first page of the results of q.
func (l *ResultList) SetPage(q string, p *catalog.SearchPage) {
	keep := ""
	if s := l.Selected(); s != nil && q == l.query {
		keep = s.Slug
	}
	l.query, l.items, l.total, l.exact, l.next = q, p.Results, p.Total, p.TotalExact, p.NextCursor
	l.loading, l.searched = false, true
	l.selected, l.offset = 0, 0
	for i, it := range l.items {
		if it.Slug == keep {
			l.selected = i
		}
	}
	l.scroll()
}

// AppendPage adds the next page.
func (l *ResultList) AppendPage(p *catalog.SearchPage) {
	seen := make(map[string]bool, len(l.items))
	for _, it := range l.items {
		seen[it.Slug] = true
	}
	for _, it := range p.Results {
		if !seen[it.Slug] {
			l.items = append(l.items, it)
		}
	}
	l.next, l.loading = p.NextCursor, false
}

// SearchFailed ends a search that got no answer.
func (l *ResultList) SearchFailed() { l.loading = false }

// Items are the results shown.
func (l *ResultList) Items() []catalog.SearchResult { return l.items }

// Query is the query the results answer.
func (l *ResultList) Query() string { return l.query }

// NextCursor is the cursor of the next page, "" at the end.
func (l *ResultList) NextCursor() string { return l.next }

// Selected is the highlighted result, nil when there is none.
func (l *ResultList) Selected() *catalog.SearchResult {
	if l.selected < 0 || l.selected >= len(l.items) {
		return nil
	}
	return &l.items[l.selected]
}

// WantsMore reports whether the selection is near the end of what is
// loaded and more can be loaded.
func (l *ResultList) WantsMore() bool {
	return l.next != "" && !l.loading && l.selected >= len(l.items)-l.perPage()
}

func (l *ResultList) perPage() int { return max(1, (l.height-1)/rowHeight) }

// Update moves the selection.
func (l *ResultList) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok || len(l.items) == 0 {
		return nil
	}
	switch {
	case key.Matches(k, l.keys.Up):
		l.selected--
	case key.Matches(k, l.keys.Down):
		l.selected++
	case key.Matches(k, l.keys.PageUp):
		l.selected -= l.perPage()
	case key.Matches(k, l.keys.PageDown):
		l.selected += l.perPage()
	case key.Matches(k, l.keys.Top):
		l.selected = 0
	case key.Matches(k, l.keys.Bottom):
		l.selected = len(l.items) - 1
	}
	l.selected = max(0, min(l.selected, len(l.items)-1))
	l.scroll()
	return nil
}

// scroll keeps the selection in view.
func (l *ResultList) scroll() {
	n := l.perPage()
	if l.selected < l.offset {
		l.offset = l.selected
	}
	if l.selected >= l.offset+n {
		l.offset = l.selected - n + 1
	}
	l.offset = max(0, min(l.offset, len(l.items)-n))
}

func (l *ResultList) find(slug string) *catalog.SearchResult {
	for i := range l.items {
		if l.items[i].Slug == slug {
			return &l.items[i]
		}
	}
	return nil
}

// PatchBuild records a build's new state on its row, unless the row
// already shows a newer build. It reports whether a row changed.
func (l *ResultList) PatchBuild(slug string, b catalog.BuildSummary) bool {
	it := l.find(slug)
	if it == nil || (it.LatestBuild != nil && it.LatestBuild.ID > b.ID) {
		return false
	}
	if it.LatestBuild != nil && it.LatestBuild.ID == b.ID {
		// Keep what the event does not carry.
		if b.CommitSHA == "" {
			b.CommitSHA = it.LatestBuild.CommitSHA
		}
		if b.ImageTag == "" {
			b.ImageTag = it.LatestBuild.ImageTag
		}
	}
	it.LatestBuild = &b
	return true
}

// PatchIngest records a repository's ingest status on its row.
func (l *ResultList) PatchIngest(slug string, st catalog.IngestStatus) bool {
	it := l.find(slug)
	if it == nil || !st.Valid() {
		return false
	}
	it.IngestStatus = st
	return true
}

// PatchRepository replaces a row's fields with the repository as read.
func (l *ResultList) PatchRepository(r *client.Repository) bool {
	it := l.find(r.Slug)
	if it == nil {
		return false
	}
	it.Name, it.Description, it.IngestStatus, it.LaunchCount = r.Name, r.Description, r.IngestStatus, r.LaunchCount
	it.StarCount = r.StarCount
	it.Emoji = r.Emoji
	it.Tags = dedupTags(r.Tags)
	if r.LatestBuild != nil && (it.LatestBuild == nil || r.LatestBuild.ID >= it.LatestBuild.ID) {
		b := *r.LatestBuild
		it.LatestBuild = &b
	}
	return true
}

// Remove drops a deleted repository's row.
func (l *ResultList) Remove(slug string) bool {
	for i := range l.items {
		if l.items[i].Slug == slug {
			l.items = append(l.items[:i], l.items[i+1:]...)
			if l.total > 0 {
				l.total--
			}
			l.selected = max(0, min(l.selected, len(l.items)-1))
			l.scroll()
			return true
		}
	}
	return false
}

// dedupTags is the tags once each, as search results carry them.
func dedupTags(tags []catalog.Tag) []catalog.Tag {
	seen := map[string]bool{}
	var out []catalog.Tag
	for _, t := range tags {
		if s := t.String(); !seen[s] {
			seen[s] = true
			out = append(out, catalog.Tag{Key: t.Key, Value: t.Value})
		}
	}
	return out
}

// View renders a header line and the rows in view.
func (l *ResultList) View() string {
	var b strings.Builder
	b.WriteString(l.header())
	if len(l.items) == 0 {
		switch {
		case !l.searched:
		case l.query == "":
			b.WriteString("\n\n" + l.styles.Subtle.Render("  The catalog is empty: press ctrl+a to add an app (a Git URL with a Dockerfile)."))
		default:
			b.WriteString("\n\n" + l.styles.Subtle.Render("  No app matches. Try fewer terms, or a prefix: Tab completes keys and values."))
		}
		return b.String()
	}
	end := min(len(l.items), l.offset+l.perPage())
	for i := l.offset; i < end; i++ {
		b.WriteString("\n")
		b.WriteString(l.row(&l.items[i], i == l.selected))
	}
	return b.String()
}

func (l *ResultList) header() string {
	var count string
	switch {
	case !l.searched:
		count = "searching…"
	case l.exact || l.total <= int64(len(l.items)):
		count = plural(max(l.total, int64(len(l.items))), "app", "apps")
	default:
		count = "about " + plural(l.total, "app", "apps")
	}
	q := "everything"
	if l.query != "" {
		q = "“" + l.query + "”"
	}
	h := count + " · " + q
	if l.searched && l.loading {
		h += " · searching…"
	}
	return l.styles.Subtle.Render(ansi.Truncate(h, l.width, "…"))
}

// withEmoji puts an app's emoji (if any) before its name, as its card
// shows it.
func withEmoji(emoji, name string) string {
	if emoji == "" {
		return name
	}
	return emoji + " " + name
}

func (l *ResultList) row(it *catalog.SearchResult, selected bool) string {
	s := l.styles
	stars := ""
	if it.StarCount > 0 {
		stars = s.Subtle.Render(fmt.Sprintf("★ %d", it.StarCount))
	}
	badges := joinNonEmpty(" ", stars, s.launchBadge(l.launches[it.Slug]), s.ingestBadge(it.IngestStatus), s.buildBadge(it.LatestBuild))
	// The selection shows only while the list has the keyboard: with the
	// search line focused, Enter searches rather than opening a row.
	marker, name := "  ", s.Name.Render(withEmoji(it.Emoji, it.Name))
	if selected && l.focused {
		marker, name = "› ", s.Selected.Render(withEmoji(it.Emoji, it.Name))
	}
	leftW := max(10, l.width-lipgloss.Width(badges)-2)
	left := marker + name
	if it.Name != it.Slug {
		left += s.Subtle.Render(" (" + it.Slug + ")")
	}
	if it.Description != "" {
		left += "  " + s.Subtle.Render(textutil.FirstLine(it.Description))
	}
	left = ansi.Truncate(left, leftW, "…")
	line1 := left + strings.Repeat(" ", max(1, l.width-lipgloss.Width(left)-lipgloss.Width(badges))) + badges
	line1 = ansi.Truncate(line1, l.width, "")

	var tags []string
	for _, t := range it.Tags {
		tags = append(tags, t.String())
	}
	line2 := "    " + s.Tag.Render(ansi.Truncate(strings.Join(tags, " "), max(1, l.width-4), "…"))
	if len(tags) == 0 {
		line2 = "    " + s.Subtle.Render("no tags yet")
	}
	return line1 + "\n" + line2
}

// ShortHelp and FullHelp are the list's keys.
func (l *ResultList) ShortHelp() []key.Binding {
	return []key.Binding{l.keys.Open, l.keys.Up, l.keys.Down, l.keys.Search, addFromList, l.keys.Help, l.keys.Quit}
}

func (l *ResultList) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{l.keys.Up, l.keys.Down, l.keys.PageUp, l.keys.PageDown, l.keys.Top, l.keys.Bottom},
		{l.keys.Open, l.keys.Search, addFromList, l.keys.Help, l.keys.Quit},
	}
}
