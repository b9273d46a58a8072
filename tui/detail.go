package tui

import (
	"encoding/json"
	"fmt"
	"image"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// detailTimeline and detailBuilds are how many ingestion steps and builds
// the detail view reads.
const (
	detailTimeline = 12
	detailBuilds   = 8
	detailComments = 50
)

// Detail is one app: description, tags by source, Dockerfile, commit,
// ingestion timeline, builds and launch, in a scrollable pager. It is read
// when opened and read again on every event about the app, so it follows
// an ingestion and a build as they happen.
type Detail struct {
	styles  *Styles
	keys    PagerKeys
	actions ActionKeys
	vp      viewport.Model
	width   int
	height  int
	loc     *time.Location

	slug     string
	repo     *client.Repository
	timeline []client.IngestionEvent
	config   *client.AppConfig
	builds   []client.Build
	star     *client.StarState
	comments []client.Comment
	err      error
	loading  bool
	// thumbURL and thumb are the app's thumbnail, drawn above its
	// description (none without Options.Images).
	thumbURL string
	thumb    image.Image

	launches map[string]*client.Launch // shared with the root model

	// compose is the comment being written (compose.go); pick the one
	// marked for removal (uncomment.go).
	compose commentBox
	pick    commentPick
	// env is the variable being set or unset (envbox.go).
	env envBox
}

func newDetail(styles *Styles, loc *time.Location, launches map[string]*client.Launch) Detail {
	d := Detail{styles: styles, keys: newPagerKeys(), actions: newActionKeys(), loc: loc, launches: launches,
		compose: newCommentBox(), pick: commentPick{keys: newPickKeys()}, env: newEnvBox()}
	d.vp = viewport.New(0, 0)
	d.vp.KeyMap = pagerViewportKeys(d.keys)
	return d
}

// pagerViewportKeys are the viewport's keys without its defaults that
// clash with actions (b, l, f, u, d).
func pagerViewportKeys(k PagerKeys) viewport.KeyMap {
	km := viewport.DefaultKeyMap()
	km.Up, km.Down, km.PageUp, km.PageDown = k.Up, k.Down, k.PageUp, k.PageDown
	km.HalfPageUp = key.NewBinding(key.WithKeys("ctrl+b"))
	km.HalfPageDown = key.NewBinding(key.WithKeys("ctrl+f"))
	km.Left = key.NewBinding(key.WithDisabled())
	km.Right = key.NewBinding(key.WithDisabled())
	return km
}

// SetSize sets the area: a header line and the pager.
func (d *Detail) SetSize(width, height int) {
	d.width, d.height = width, height
	d.vp.Width, d.vp.Height = width, max(1, height-2-d.compose.height()-d.env.height())
	d.render()
}

// Open starts showing slug (its data follows in a repoMsg).
func (d *Detail) Open(slug string) {
	if slug != d.slug {
		d.repo, d.timeline, d.builds, d.err, d.config = nil, nil, nil, nil, nil
		d.thumbURL, d.thumb = "", nil
		d.pick.id = 0
		d.vp.GotoTop()
	}
	d.slug, d.loading = slug, true
	d.render()
}

// Slug is the app shown.
func (d *Detail) Slug() string { return d.slug }

// Repo is the app as last read (nil before the first answer).
func (d *Detail) Repo() *client.Repository { return d.repo }

// Builds are the app's newest builds, newest first.
func (d *Detail) Builds() []client.Build { return d.builds }

// Set shows what was read.
func (d *Detail) Set(msg repoMsg) {
	if msg.slug != d.slug {
		return
	}
	d.loading = false
	d.err = msg.err
	if msg.err == nil {
		d.repo, d.timeline, d.builds, d.config = msg.repo, msg.timeline, msg.builds, msg.config
		d.star, d.comments = msg.star, msg.comments
		if d.Picked() == nil {
			d.pick.id = 0 // removed meanwhile
		}
		if msg.thumb != nil || msg.thumbURL != d.thumbURL {
			d.thumbURL, d.thumb = msg.thumbURL, msg.thumb
		}
	}
	d.render()
}

// Star is whether the user starred the app shown, nil before it is read.
func (d *Detail) Star() *client.StarState { return d.star }

// SetStar shows the answer to the star key before the re-read lands.
func (d *Detail) SetStar(slug string, st *client.StarState) {
	if slug != d.slug || st == nil {
		return
	}
	d.star = st
	if d.repo != nil {
		d.repo.StarCount = st.StarCount
	}
	d.render()
}

// PatchBuild applies a build event before the re-read lands, so the
// status changes in the same frame as in the results.
func (d *Detail) PatchBuild(slug string, id int64, st catalog.BuildStatus) {
	if slug != d.slug {
		return
	}
	for i := range d.builds {
		if d.builds[i].ID == id {
			d.builds[i].Status = st
			d.render()
			return
		}
	}
}

// Refresh re-renders (a launch changed).
func (d *Detail) Refresh() { d.render() }

// Update scrolls.
func (d *Detail) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(k, d.keys.Top):
			d.vp.GotoTop()
			return nil
		case key.Matches(k, d.keys.Bottom):
			d.vp.GotoBottom()
			return nil
		}
	}
	var cmd tea.Cmd
	d.vp, cmd = d.vp.Update(msg)
	return cmd
}

func (d *Detail) header() string {
	s := d.styles
	if d.repo == nil {
		return s.Title.Render(d.slug)
	}
	r := d.repo
	var latest *catalog.BuildSummary
	if len(d.builds) > 0 {
		b := d.builds[0]
		latest = &catalog.BuildSummary{ID: b.ID, Status: b.Status}
	} else if r.LatestBuild != nil {
		latest = r.LatestBuild
	}
	badges := joinNonEmpty(" ", d.starBadge(), s.launchBadge(d.launches[r.Slug]), s.ingestBadge(r.IngestStatus), s.buildBadge(latest))
	left := s.Title.Render(withEmoji(r.Emoji, r.Name))
	if r.Name != r.Slug {
		left += s.Subtle.Render(" (" + r.Slug + ")")
	}
	left = ansi.Truncate(left, max(10, d.width-lipgloss.Width(badges)-2), "…")
	return left + strings.Repeat(" ", max(1, d.width-lipgloss.Width(left)-lipgloss.Width(badges))) + badges
}

// View is the header, a rule and the pager.
func (d *Detail) View() string {
	v := ansi.Truncate(d.header(), d.width, "") + "\n" + d.styles.Subtle.Render(d.rule()) + "\n" + d.vp.View()
	if d.compose.open {
		v += "\n" + d.composeView()
	}
	if d.env.open {
		v += "\n" + d.envView()
	}
	return v
}

// rule is the line under the header; when the page is longer than the
// screen it says so, and how far down it is shown (on a small terminal
// the builds are below the fold).
func (d *Detail) rule() string {
	w := max(0, d.width)
	if d.vp.TotalLineCount() <= d.vp.Height {
		return strings.Repeat("─", w)
	}
	hint := fmt.Sprintf(" ↓ more · %d%% ", int(d.vp.ScrollPercent()*100))
	if d.vp.AtBottom() {
		hint = " end · 100% "
	}
	if ansi.StringWidth(hint)+2 > w {
		return strings.Repeat("─", w)
	}
	return strings.Repeat("─", w-ansi.StringWidth(hint)-2) + hint + "──"
}

func (d *Detail) render() {
	atBottom := d.vp.AtBottom() && d.vp.YOffset > 0
	d.vp.SetContent(d.content())
	if atBottom {
		d.vp.GotoBottom()
	}
	d.scrollToPick()
}

func (d *Detail) fmtTime(t time.Time) string {
	loc := d.loc
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).Format("2006-01-02 15:04:05")
}

// content is the text of the pager.
func (d *Detail) content() string {
	s := d.styles
	if d.repo == nil {
		switch {
		case d.err != nil:
			return s.Error.Render("Could not read " + d.slug + ": " + d.err.Error())
		default:
			return s.Subtle.Render("loading " + d.slug + "…")
		}
	}
	r := d.repo
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format+"\n", args...)
	}
	field := func(name, value string) {
		if value != "" {
			line("%s %s", s.Subtle.Render(fmt.Sprintf("%-11s", name)), hang(value, 12, d.width))
		}
	}
	if d.err != nil {
		line("%s", s.Error.Render("Could not refresh: "+d.err.Error()))
	}
	if pic := d.thumbnail(); pic != "" {
		b.WriteString(pic)
		line("")
	}
	if r.Description != "" {
		line("%s", wrap(r.Description, d.width))
		line("")
	}
	field("git", r.GitURL)
	branch := r.Branch
	if branch == "" {
		branch = r.DefaultBranch
	}
	field("branch", branch)
	field("commit", textutil.ShortSHA(r.LastCommitSHA))
	if r.LastIngestedAt != nil {
		field("ingested", d.fmtTime(*r.LastIngestedAt))
	}
	field("homepage", r.Homepage)
	owner := r.OwnedBy
	if owner != "" && r.RegisteredBy != "" && r.RegisteredBy != owner {
		owner += s.Subtle.Render(" (registered by " + r.RegisteredBy + ")")
	}
	field("owner", owner)
	if r.Profile != "" {
		field("profile", r.Profile)
	}
	if len(r.ManualFields) > 0 {
		// Set by hand (appstore edit): ingestion leaves them alone.
		field("manual", strings.Join(r.ManualFields, ", "))
	}
	if r.IngestError != "" {
		line("%s %s", s.Subtle.Render(fmt.Sprintf("%-11s", "error")), renderLines(s.Bad, hang(r.IngestError, 12, d.width)))
	}

	line("")
	line("%s", s.Heading.Render("Dockerfile"))
	port := ""
	if r.AppPort != 0 {
		port = fmt.Sprint(r.AppPort)
		if r.PortSource != "" {
			port += s.Subtle.Render(" (" + r.PortSource + ")")
		}
	}
	if r.DockerfilePath == "" {
		if r.IngestStatus == catalog.IngestFailed {
			// The card shows what could be read; the error above says
			// why nothing can be built.
			line("  %s", s.Subtle.Render("none usable (see the error above)"))
		} else {
			line("  %s", s.Subtle.Render("not found yet"))
		}
		// The port tags.yaml or the README names, for when it is built.
		field("  port", port)
	} else {
		df := r.DockerfilePath
		if r.ContextPath != "" && r.ContextPath != "." {
			df += s.Subtle.Render(" (context " + r.ContextPath + ")")
		}
		field("  path", df)
		field("  stage", buildTarget(r.Metadata))
		info := dockerfileInfo(r.Metadata)
		field("  base", info.BaseImage)
		field("  port", port)
		field("  user", info.User)
		if info.Stages > 1 {
			field("  stages", fmt.Sprint(info.Stages))
		}
		if info.Healthcheck {
			field("  health", "HEALTHCHECK declared")
		}
	}

	line("")
	line("%s", s.Heading.Render("Tags"))
	if len(r.Tags) == 0 {
		line("  %s", s.Subtle.Render("none yet"))
	}
	for _, src := range []catalog.TagSource{catalog.SourceManual, catalog.SourceAuthor, catalog.SourceAuto} {
		var tags []string
		for _, t := range r.Tags {
			if t.Source == src {
				tags = append(tags, s.Tag.Render(t.String()))
			}
		}
		if len(tags) > 0 {
			line("  %s %s", s.Subtle.Render(fmt.Sprintf("%-7s", src)), hang(strings.Join(tags, " "), 10, d.width))
		}
	}

	line("")
	line("%s", s.Heading.Render("Launch"))
	if l := d.launches[r.Slug]; l != nil && !l.Status.Terminal() {
		st := s.launchBadge(l)
		if l.Status == catalog.LaunchRunning && l.PreviewURL != "" {
			st += "  " + s.URL.Render(l.PreviewURL)
		}
		if l.LaunchedBy != "" {
			st += s.Subtle.Render("  by " + l.LaunchedBy)
		}
		line("  #%d %s", l.ID, st)
		if l.ConfigChanged {
			line("  %s", renderLines(s.Subtle, hang("variables or secrets changed since it started: appstore launch "+r.Slug+" --restart applies them", 2, d.width)))
		}
	} else {
		line("  %s", renderLines(s.Subtle, hang(d.launchHint(), 2, d.width)))
	}
	for _, l := range d.configLines(r.Slug) {
		line("%s", l)
	}

	line("")
	line("%s", s.Heading.Render("Builds"))
	if len(d.builds) == 0 {
		line("  %s", s.Subtle.Render("none yet"))
	}
	for _, bd := range d.builds {
		extra := joinNonEmpty("  ", textutil.ShortSHA(bd.CommitSHA), d.fmtTime(bd.CreatedAt), formatMS(bd.DurationMS))
		if bd.Cached {
			extra += s.Subtle.Render("  cached")
		}
		if bd.NoCache {
			extra += s.Subtle.Render("  no cache")
		}
		line("  #%-4d %s  %s", bd.ID, padRight(s.buildStatus(bd.Status), 16), extra)
		if bd.ErrorMessage != "" {
			line("         %s", renderLines(s.Bad, hang(textutil.FirstLine(bd.ErrorMessage), 9, d.width)))
		}
	}

	line("")
	line("%s", s.Heading.Render("Ingestion"))
	if len(d.timeline) == 0 {
		line("  %s", s.Subtle.Render("no steps yet"))
	}
	// The newest steps, oldest first, as a timeline reads.
	tl := slices.Clone(d.timeline)
	slices.SortFunc(tl, func(a, b client.IngestionEvent) int { return int(a.ID - b.ID) })
	for _, e := range tl {
		msg := e.Message
		if e.DurationMS != nil {
			msg = joinNonEmpty(" ", msg, s.Subtle.Render("("+formatMS(e.DurationMS)+")"))
		}
		// Who caused the step: a user, or appstored:<cause> for the
		// daemon's own work (an ingestion run, a sync).
		if e.Actor != "" {
			msg = joinNonEmpty(" ", msg, s.Subtle.Render("by "+textutil.StripTerminal(e.Actor)))
		}
		// The message is read whole (a failure says what to do at its
		// end): it wraps beside the time and status, or under them when
		// the terminal is too narrow for a column.
		const msgCol = 2 + 19 + 2 + 16 + 2
		if d.width-msgCol >= 24 {
			line("  %s  %s  %s", d.fmtTime(e.CreatedAt), padRight(s.ingestBadge(e.Status), 16), hang(msg, msgCol, d.width))
		} else {
			line("  %s  %s", d.fmtTime(e.CreatedAt), s.ingestBadge(e.Status))
			line("    %s", hang(msg, 4, d.width))
		}
	}
	d.writeComments(&b)
	return strings.TrimRight(b.String(), "\n")
}

// starBadge is the app's star count, filled when the user starred it.
func (d *Detail) starBadge() string {
	if d.star == nil {
		return ""
	}
	if d.star.Starred {
		return d.styles.Good.Render(fmt.Sprintf("★ %d", d.star.StarCount))
	}
	return d.styles.Subtle.Render(fmt.Sprintf("☆ %d", d.star.StarCount))
}

// writeComments is the comments section: newest last, as a conversation
// reads; each author and age, then the text as text (escapes removed,
// wrapped to the width).
func (d *Detail) writeComments(b *strings.Builder) {
	s := d.styles
	fmt.Fprintf(b, "\n%s\n", s.Heading.Render("Comments"))
	if len(d.comments) == 0 {
		fmt.Fprintf(b, "  %s\n", s.Subtle.Render("none yet: appstore comment "+d.slug+" TEXT"))
		return
	}
	for _, c := range d.comments {
		// The comment marked for removal (d): an arrow and the author in
		// reverse, so that it shows without colours too.
		mark, author := "  ", s.Heading.Render(c.AuthorLabel())
		if c.ID == d.pick.id {
			d.pick.line = strings.Count(b.String(), "\n")
			mark, author = "▸ ", s.Selected.Render(c.AuthorLabel())
		}
		fmt.Fprintf(b, "%s%s %s\n", mark, author, s.Subtle.Render(fmt.Sprintf("#%d · %s", c.ID, d.fmtTime(c.CreatedAt))))
		for _, l := range strings.Split(textutil.StripTerminal(c.Body), "\n") {
			fmt.Fprintf(b, "    %s\n", hang(l, 4, d.width))
		}
	}
}

// dockerfile is the part of the ingestion metadata about the Dockerfile.
type dockerfile struct {
	BaseImage   string `json:"base_image"`
	Stages      int    `json:"stages"`
	User        string `json:"user"`
	Healthcheck bool   `json:"healthcheck"`
}

func dockerfileInfo(meta json.RawMessage) dockerfile {
	var m struct {
		Dockerfile dockerfile `json:"dockerfile"`
	}
	if len(meta) > 0 {
		_ = json.Unmarshal(meta, &m) // metadata is informative: a shape we do not know shows nothing
	}
	return m.Dockerfile
}

// buildTarget is the stage builds stop at ("" for the final one), from
// the card's metadata.
func buildTarget(meta json.RawMessage) string {
	var m struct {
		Build *catalog.BuildChoice `json:"build"`
	}
	if len(meta) > 0 && json.Unmarshal(meta, &m) == nil && m.Build != nil {
		return m.Build.Target
	}
	return ""
}

// padRight pads a styled string to width cells.
func padRight(s string, width int) string {
	return s + strings.Repeat(" ", max(0, width-lipgloss.Width(s)))
}

// launchHint says what o would do: launch, or, when no build the view
// holds succeeded (and it holds them all), why there is nothing to launch
// and what to press instead.
func (d *Detail) launchHint() string {
	if len(d.builds) >= detailBuilds || slices.ContainsFunc(d.builds, func(b client.Build) bool { return b.Status == catalog.BuildSucceeded }) {
		return "not running — press o to launch"
	}
	if len(d.builds) == 0 {
		if d.repo != nil && d.repo.IngestStatus == catalog.IngestFailed {
			return "nothing to launch: ingestion failed (see error above) — fix the repository, then press r"
		}
		return "nothing to launch yet: no build — press b to build"
	}
	b := d.builds[0] // newest first
	switch b.Status {
	case catalog.BuildQueued, catalog.BuildRunning:
		return fmt.Sprintf("nothing to launch yet: build #%d is %s — press l to follow it", b.ID, b.Status)
	}
	return fmt.Sprintf("nothing to launch: no build succeeded — press l for the log of #%d, b to build again", b.ID)
}

// hang wraps s to the width, its first line starting at column indent
// (already written by the caller) and the next ones indented to it, as a
// hanging paragraph.
func hang(s string, indent, width int) string {
	if width-indent < 10 {
		return ansi.Truncate(s, max(1, width-indent), "…")
	}
	return strings.ReplaceAll(ansi.Wrap(s, width-indent, ""), "\n", "\n"+strings.Repeat(" ", indent))
}

// renderLines styles each line of s on its own, so that a line scrolled
// to the top of the pager keeps its colour.
func renderLines(st lipgloss.Style, s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		pad := len(l) - len(strings.TrimLeft(l, " "))
		lines[i] = l[:pad] + st.Render(l[pad:])
	}
	return strings.Join(lines, "\n")
}

// wrap wraps text to width cells.
func wrap(s string, width int) string {
	if width < 10 {
		return s
	}
	return ansi.Wrap(s, width, "")
}

// ShortHelp and FullHelp are the view's keys.
func (d *Detail) ShortHelp() []key.Binding {
	if d.compose.open {
		return d.composeHelp()
	}
	if d.env.open {
		return d.envHelp()
	}
	if d.Picking() {
		return d.pickHelp()
	}
	return []key.Binding{d.keys.Back, d.actions.Launch, d.actions.Stop, d.actions.Logs, d.actions.Build, d.actions.Cancel, d.actions.Refresh, d.actions.Star, d.keys.Help, d.keys.Quit}
}

func (d *Detail) FullHelp() [][]key.Binding {
	if d.compose.open {
		return [][]key.Binding{d.composeHelp()}
	}
	if d.env.open {
		return [][]key.Binding{d.envHelp()}
	}
	if d.Picking() {
		return [][]key.Binding{d.pickHelp()}
	}
	return [][]key.Binding{
		{d.keys.Up, d.keys.Down, d.keys.PageUp, d.keys.PageDown, d.keys.Top, d.keys.Bottom},
		{d.keys.Back, d.keys.Search, d.actions.Add, d.keys.Help, d.keys.Quit},
		{d.actions.Launch, d.actions.Stop, d.actions.Logs},
		{d.actions.Build, d.actions.BuildNoCache, d.actions.Cancel, d.actions.Refresh},
		{d.actions.Star, d.actions.Comment, d.actions.Uncomment},
		{d.actions.SetEnv, d.actions.UnsetEnv, d.actions.SetSecret},
	}
}
