package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// Options configure the TUI.
type Options struct {
	// Source is the daemon (NewClientSource); required.
	Source Source
	// ServerURL is the daemon's URL, shown in the header and on the
	// offline screen.
	ServerURL string
	// Query is typed into the search line at start.
	Query string
	// Color enables colours; off for NO_COLOR and --no-color (bold and
	// reverse remain).
	Color bool
	// Renderer renders the styles; nil means lipgloss's default (stdout).
	Renderer *lipgloss.Renderer
	// Open opens a URL in the browser; nil means OpenBrowser.
	Open func(url string) error
	// ResolveGitURL turns what is typed in the add form into the URL sent
	// (a local directory into file://…); nil sends it as typed.
	ResolveGitURL func(string) (string, error)
	// Debounce is the suggestion debounce (DefaultDebounce when zero).
	Debounce time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Location is the time zone of times shown (time.Local when nil).
	Location *time.Location
	// PageSize is the number of results asked for at once (50 when zero).
	PageSize int
	// Logger records what the screen cannot show (nil: discarded).
	Logger *slog.Logger
}

type screen int

const (
	screenSearch screen = iota // the search line and the results
	screenDetail
	screenLogs
	screenAdd
)

// Retry backoff of the offline screen.
const (
	retryMin = 500 * time.Millisecond
	retryMax = 5 * time.Second
)

// statusKind colours the status line.
type statusKind int

const (
	statusInfo statusKind = iota
	statusOK
	statusErr
)

// Model is the TUI's root model: it owns the components, routes keys to the
// focused one, runs every request as a tea.Cmd and applies the answers and
// the event stream.
type Model struct {
	ctx    context.Context
	cancel context.CancelFunc
	opts   Options
	src    Source
	styles *Styles
	log    *slog.Logger
	now    clock

	width, height int

	screen screen
	back   screen // where Esc returns from the logs and the add form

	online       bool
	connecting   bool
	everOnline   bool
	offlineErr   error
	retryAttempt int

	bar     SearchBar
	results ResultList
	detail  Detail
	logs    LogView
	add     AddForm
	help    help.Model
	list    ListKeys
	offKeys OfflineKeys

	searchSeq    uint64
	searchCancel context.CancelFunc
	researchDue  bool // a re-search after repository.created is scheduled

	detailLoading bool
	detailDirty   bool

	events     chan tea.Msg
	streamLost bool
	launches   map[string]*client.Launch // active launches by slug
	opened     map[int64]bool            // launches whose URL was opened
	status     string
	statusKind statusKind
	quitting   bool
}

var _ tea.Model = (*Model)(nil)

// New returns the model. ctx bounds every request and the event stream;
// cancel it (or quit) to stop them.
func New(ctx context.Context, opts Options) *Model {
	if opts.Source == nil {
		panic("tui.New: Options.Source is nil")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 50
	}
	if opts.Open == nil {
		opts.Open = OpenBrowser
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	styles := NewStyles(opts.Renderer, opts.Color)
	m := &Model{
		ctx: ctx, cancel: cancel, opts: opts, src: opts.Source, styles: styles, log: log, now: now,
		width: 80, height: 24,
		launches: map[string]*client.Launch{},
		opened:   map[int64]bool{},
		list:     newListKeys(),
		offKeys:  newOfflineKeys(),
	}
	m.bar = newSearchBar(ctx, m.src, styles, opts.Debounce, now)
	m.bar.input.SetValue(opts.Query)
	m.bar.input.CursorEnd()
	m.results = newResultList(styles, m.launches)
	m.detail = newDetail(styles, opts.Location, m.launches)
	m.logs = newLogView(styles)
	m.add = newAddForm(styles)
	m.help = help.New()
	m.help.Styles = styles.Help
	m.layout()
	return m
}

// Close stops every request and the event stream.
func (m *Model) Close() { m.cancel() }

// Init connects.
func (m *Model) Init() tea.Cmd {
	m.connecting = true
	return m.connect()
}

// connect asks the daemon for its newest event id: the reachability check,
// and where the event stream starts.
func (m *Model) connect() tea.Cmd {
	ctx, src := m.ctx, m.src
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		id, err := src.LastEventID(ctx)
		if err != nil {
			return offlineMsg{err: err}
		}
		return onlineMsg{lastID: id}
	}
}

// Update applies one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case tea.KeyMsg:
		return m, m.key(msg)
	}
	return m, m.handle(msg)
}

func (m *Model) handle(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case onlineMsg:
		return m.onOnline(msg)
	case offlineMsg:
		return m.onOffline(msg.err)
	case retryMsg:
		if m.online || m.connecting || msg.attempt != m.retryAttempt {
			return nil
		}
		m.connecting = true
		return m.connect()

	case suggestTickMsg:
		return m.bar.Update(msg)
	case suggestionsMsg:
		if msg.seq == m.bar.seq && msg.err != nil && !errors.Is(msg.err, context.Canceled) {
			if cmd := m.failed(msg.err, "suggestions"); cmd != nil {
				return cmd
			}
		}
		return m.bar.Update(msg)

	case searchMsg:
		return m.onSearch(msg)
	case researchMsg:
		m.researchDue = false
		if !m.online {
			return nil
		}
		return m.runSearch(m.results.Query(), true)

	case eventMsg:
		m.streamLost = false
		return tea.Batch(m.applyEvent(msg.ev), m.waitEvent())
	case streamLostMsg:
		m.streamLost = true
		return m.waitEvent()

	case repoMsg:
		return m.onRepo(msg)
	case rowMsg:
		if msg.err == nil {
			m.results.PatchRepository(msg.repo)
		}
		return nil
	case launchesMsg:
		if msg.err == nil {
			for i := range msg.launches {
				l := msg.launches[i]
				m.launches[l.Repository] = &l
			}
			m.detail.Refresh()
		}
		return nil

	case launchMsg:
		return m.onLaunch(msg)
	case launchTickMsg:
		if l := m.findLaunch(msg.id); l != nil && l.Status == catalog.LaunchStarting {
			m.setStatus(statusInfo, fmt.Sprintf("starting %s… %s", l.Repository, m.now().Sub(l.CreatedAt).Round(time.Second)))
			return launchTick(msg.id)
		}
		return nil
	case openedMsg:
		if msg.err != nil {
			m.setStatus(statusErr, fmt.Sprintf("open %s in your browser (could not start one: %v)", msg.url, msg.err))
		} else {
			m.setStatus(statusOK, "opened "+msg.url+" in the browser")
		}
		return nil

	case buildMsg:
		if msg.err != nil {
			return m.failed(msg.err, "build "+msg.slug)
		}
		b := msg.build
		m.results.PatchBuild(msg.slug, catalog.BuildSummary{ID: b.ID, Status: b.Status, CommitSHA: b.CommitSHA, Cached: b.Cached, ImageTag: b.ImageTag})
		m.setStatus(statusOK, fmt.Sprintf("build #%d of %s %s", b.ID, msg.slug, b.Status))
		return m.reloadDetail(msg.slug)
	case refreshMsg:
		if msg.err != nil {
			return m.failed(msg.err, "refresh "+msg.slug)
		}
		m.results.PatchIngest(msg.slug, msg.repo.IngestStatus)
		m.setStatus(statusOK, "refreshing "+msg.slug+": it is cloned again, then built if it changed")
		return m.reloadDetail(msg.slug)
	case addedMsg:
		return m.onAdded(msg)

	case logLinesMsg:
		return m.logs.Append(msg)
	case logEndMsg:
		if m.logs.End(msg) {
			build := msg.build
			return tea.Tick(time.Second, func(time.Time) tea.Msg { return logResumeMsg{build: build} })
		}
		if msg.build == m.logs.BuildID() && msg.err == nil {
			return m.readLogBuild(msg.build)
		}
		return nil
	case logResumeMsg:
		if msg.build == m.logs.BuildID() && m.screen == screenLogs {
			return m.logs.Resume(m.ctx, m.src)
		}
		return nil
	case logBuildMsg:
		if msg.err == nil {
			m.logs.SetBuild(msg.build)
		}
		return nil
	}
	return nil
}

// researchMsg re-runs the search after repositories were added elsewhere.
type researchMsg struct{}

// logResumeMsg resumes a log stream that was lost.
type logResumeMsg struct{ build int64 }

// key routes a key to the focused component, after the keys that work
// everywhere.
func (m *Model) key(k tea.KeyMsg) tea.Cmd {
	if k.Type == tea.KeyCtrlC {
		return m.quit()
	}
	if m.isOffline() {
		switch {
		case key.Matches(k, m.offKeys.Retry):
			if !m.connecting {
				m.connecting = true
				return m.connect()
			}
			return nil
		case key.Matches(k, m.offKeys.Quit):
			return m.quit()
		}
		return nil
	}
	switch m.screen {
	case screenSearch:
		if m.bar.Focused() {
			return m.searchKey(k)
		}
		return m.resultsKey(k)
	case screenDetail:
		return m.detailKey(k)
	case screenLogs:
		return m.logsKey(k)
	case screenAdd:
		return m.addKey(k)
	}
	return nil
}

// isOffline reports whether the offline screen is shown: the daemon could
// not be reached and has not answered since.
func (m *Model) isOffline() bool { return !m.online && m.offlineErr != nil }

func (m *Model) quit() tea.Cmd {
	m.quitting = true
	m.logs.Close()
	m.cancel()
	return tea.Quit
}

func (m *Model) searchKey(k tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.bar.keys.Run):
		m.bar.open = false
		q := strings.TrimSpace(m.bar.Value())
		m.focusResults()
		return m.runSearch(q, false)
	case key.Matches(k, m.bar.keys.Results) && !m.bar.ListOpen():
		m.focusResults()
		return nil
	}
	return m.bar.Update(k)
}

func (m *Model) focusResults() {
	m.bar.Blur()
	m.results.Focus()
	m.screen = screenSearch
}

func (m *Model) focusSearch() tea.Cmd {
	m.results.Blur()
	m.screen = screenSearch
	m.logs.Close()
	return m.bar.Focus()
}

func (m *Model) resultsKey(k tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.list.Quit):
		return m.quit()
	case key.Matches(k, m.list.Search), k.Type == tea.KeyEsc:
		return m.focusSearch()
	case key.Matches(k, m.list.Help):
		m.toggleHelp()
		return nil
	case key.Matches(k, m.list.Open):
		if it := m.results.Selected(); it != nil {
			return m.openDetail(it.Slug)
		}
		return nil
	}
	if cmd, ok := m.action(k, m.selectedSlug()); ok {
		return cmd
	}
	m.results.Update(k)
	if m.results.WantsMore() {
		return m.loadMore()
	}
	return nil
}

func (m *Model) selectedSlug() string {
	if it := m.results.Selected(); it != nil {
		return it.Slug
	}
	return ""
}

func (m *Model) detailKey(k tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.detail.keys.Quit):
		return m.quit()
	case key.Matches(k, m.detail.keys.Back):
		m.focusResults()
		return nil
	case key.Matches(k, m.detail.keys.Search):
		return m.focusSearch()
	case key.Matches(k, m.detail.keys.Help):
		m.toggleHelp()
		return nil
	}
	if cmd, ok := m.action(k, m.detail.Slug()); ok {
		return cmd
	}
	return m.detail.Update(k)
}

func (m *Model) logsKey(k tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.logs.keys.Quit):
		return m.quit()
	case key.Matches(k, m.logs.keys.Back):
		m.logs.Close()
		m.screen = m.back
		if m.screen == screenSearch {
			m.focusResults()
		}
		return nil
	case key.Matches(k, m.logs.keys.Search):
		return m.focusSearch()
	case key.Matches(k, m.logs.keys.Help):
		m.toggleHelp()
		return nil
	}
	return m.logs.Update(k)
}

func (m *Model) addKey(k tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.add.keys.Cancel):
		m.screen = m.back
		if m.screen == screenSearch {
			m.focusResults()
		}
		return nil
	case key.Matches(k, m.add.keys.Submit):
		if m.add.busy {
			return nil
		}
		req, err := m.add.Request()
		if err == nil && m.opts.ResolveGitURL != nil {
			req.GitURL, err = m.opts.ResolveGitURL(req.GitURL)
		}
		if err != nil {
			m.add.Fail(err)
			return nil
		}
		m.add.SetBusy()
		ctx, src := m.ctx, m.src
		return func() tea.Msg {
			r, err := src.AddRepository(ctx, req)
			return addedMsg{repo: r, err: err}
		}
	}
	return m.add.Update(k)
}

func (m *Model) toggleHelp() {
	m.help.ShowAll = !m.help.ShowAll
	m.layout()
}

// action runs the app actions (logs, launch, stop, build, refresh, add) on
// slug; ok is false when k is none of them.
func (m *Model) action(k tea.KeyMsg, slug string) (tea.Cmd, bool) {
	a := m.results.actions
	if key.Matches(k, a.Add) {
		m.back = m.screen
		m.screen = screenAdd
		return m.add.Reset(), true
	}
	if !key.Matches(k, a.Logs, a.Launch, a.Stop, a.Build, a.BuildNoCache, a.Refresh) {
		return nil, false
	}
	if slug == "" {
		m.setStatus(statusErr, "no app selected")
		return nil, true
	}
	ctx, src := m.ctx, m.src
	switch {
	case key.Matches(k, a.Logs):
		return m.openLogs(slug), true
	case key.Matches(k, a.Launch):
		m.setStatus(statusInfo, "launching "+slug+"…")
		return func() tea.Msg {
			l, err := src.StartLaunch(ctx, slug)
			return launchMsg{slug: slug, action: "launch", launch: l, err: err}
		}, true
	case key.Matches(k, a.Stop):
		known := m.launches[slug]
		m.setStatus(statusInfo, "stopping "+slug+"…")
		return func() tea.Msg {
			id := int64(0)
			if known != nil && !known.Status.Terminal() {
				id = known.ID
			} else {
				ls, err := src.ActiveLaunches(ctx, slug)
				if err != nil {
					return launchMsg{slug: slug, action: "stop", err: err}
				}
				if len(ls) == 0 {
					return launchMsg{slug: slug, action: "stop", err: fmt.Errorf("%s is not running", slug)}
				}
				id = ls[0].ID
			}
			l, err := src.StopLaunch(ctx, id)
			return launchMsg{slug: slug, action: "stop", launch: l, err: err}
		}, true
	case key.Matches(k, a.Build), key.Matches(k, a.BuildNoCache):
		noCache := key.Matches(k, a.BuildNoCache)
		m.setStatus(statusInfo, "asking for a build of "+slug+"…")
		return func() tea.Msg {
			b, err := src.CreateBuild(ctx, slug, noCache)
			return buildMsg{slug: slug, build: b, err: err}
		}, true
	case key.Matches(k, a.Refresh):
		m.setStatus(statusInfo, "refreshing "+slug+"…")
		return func() tea.Msg {
			r, err := src.Refresh(ctx, slug)
			return refreshMsg{slug: slug, repo: r, err: err}
		}, true
	}
	return nil, false
}

// openLogs follows the newest build of slug.
func (m *Model) openLogs(slug string) tea.Cmd {
	var id int64
	var b *client.Build
	if m.detail.Slug() == slug && len(m.detail.Builds()) > 0 {
		bb := m.detail.Builds()[0]
		id, b = bb.ID, &bb
	} else if it := m.results.find(slug); it != nil && it.LatestBuild != nil {
		id = it.LatestBuild.ID
		b = &client.Build{ID: id, Repository: slug, Status: it.LatestBuild.Status}
	}
	if id == 0 {
		m.setStatus(statusErr, "no build of "+slug+" yet: press b to build it")
		return nil
	}
	if m.screen != screenLogs {
		m.back = m.screen
	}
	m.screen = screenLogs
	return m.logs.Open(m.ctx, m.src, slug, id, b)
}

func (m *Model) readLogBuild(id int64) tea.Cmd {
	ctx, src := m.ctx, m.src
	return func() tea.Msg {
		b, err := src.Build(ctx, id)
		return logBuildMsg{build: b, err: err}
	}
}

// openDetail shows slug and reads it.
func (m *Model) openDetail(slug string) tea.Cmd {
	m.bar.Blur()
	m.screen = screenDetail
	m.detail.Open(slug)
	m.detailLoading, m.detailDirty = false, false
	return m.reloadDetail(slug)
}

// reloadDetail reads the detail view's app again when it shows slug. One
// read at a time: events that come during a read cause one more.
func (m *Model) reloadDetail(slug string) tea.Cmd {
	if slug != m.detail.Slug() || !m.online {
		return nil
	}
	if m.detailLoading {
		m.detailDirty = true
		return nil
	}
	m.detailLoading = true
	ctx, src := m.ctx, m.src
	return func() tea.Msg {
		msg := repoMsg{slug: slug}
		msg.repo, msg.err = src.Repository(ctx, slug)
		if msg.err != nil {
			return msg
		}
		if msg.timeline, msg.err = src.Timeline(ctx, slug, detailTimeline); msg.err != nil {
			return msg
		}
		if msg.builds, msg.err = src.Builds(ctx, slug, detailBuilds); msg.err != nil {
			return msg
		}
		msg.launches, msg.err = src.ActiveLaunches(ctx, slug)
		return msg
	}
}

func (m *Model) onRepo(msg repoMsg) tea.Cmd {
	if msg.slug != m.detail.Slug() {
		return nil
	}
	m.detailLoading = false
	if msg.err != nil {
		if cmd := m.failed(msg.err, "read "+msg.slug); cmd != nil {
			return cmd
		}
	} else {
		// The launches read are the truth for this app.
		delete(m.launches, msg.slug)
		for i := range msg.launches {
			l := msg.launches[i]
			m.launches[l.Repository] = &l
		}
		m.results.PatchRepository(msg.repo)
	}
	m.detail.Set(msg)
	if m.detailDirty {
		m.detailDirty = false
		return m.reloadDetail(msg.slug)
	}
	return nil
}

func (m *Model) onAdded(msg addedMsg) tea.Cmd {
	if msg.err != nil {
		var ae *client.APIError
		if errors.As(msg.err, &ae) && ae.Code == client.CodeConflict && ae.Slug != "" {
			m.add.Fail(fmt.Errorf("already registered as %s", ae.Slug))
			return nil
		}
		if client.IsUnreachable(msg.err) {
			m.add.Fail(msg.err)
			return m.onOffline(msg.err)
		}
		m.add.Fail(msg.err)
		return nil
	}
	slug := msg.repo.Slug
	m.setStatus(statusOK, "added "+slug+": following its ingestion and build")
	return tea.Batch(m.openDetail(slug), m.runSearch(m.results.Query(), true))
}

// runSearch asks for the first page of q; keep says to keep the
// selection (a re-search after a change), not to jump to the top.
func (m *Model) runSearch(q string, keep bool) tea.Cmd {
	m.searchSeq++
	if m.searchCancel != nil {
		m.searchCancel()
	}
	ctx, cancel := context.WithCancel(m.ctx)
	m.searchCancel = cancel
	if !keep {
		m.results.query = q
	}
	m.results.Loading(q)
	seq, src, limit, start := m.searchSeq, m.src, m.opts.PageSize, m.now()
	now := m.now
	return func() tea.Msg {
		p, err := src.Search(ctx, q, limit, "")
		return searchMsg{seq: seq, query: q, page: p, err: err, tookMS: now().Sub(start).Milliseconds()}
	}
}

func (m *Model) loadMore() tea.Cmd {
	m.searchSeq++
	ctx, cancel := context.WithCancel(m.ctx)
	if m.searchCancel != nil {
		m.searchCancel()
	}
	m.searchCancel = cancel
	m.results.loading = true
	seq, src, limit, q, cur := m.searchSeq, m.src, m.opts.PageSize, m.results.Query(), m.results.NextCursor()
	return func() tea.Msg {
		p, err := src.Search(ctx, q, limit, cur)
		return searchMsg{seq: seq, query: q, more: true, page: p, err: err}
	}
}

func (m *Model) onSearch(msg searchMsg) tea.Cmd {
	if msg.seq != m.searchSeq {
		return nil // a newer search replaced it
	}
	if msg.err != nil {
		m.results.SearchFailed()
		if errors.Is(msg.err, context.Canceled) {
			return nil
		}
		return m.failed(msg.err, "search")
	}
	if msg.more {
		m.results.AppendPage(msg.page)
	} else {
		m.results.SetPage(msg.query, msg.page)
	}
	return nil
}

// failed reports an error of a request on the status line, and goes
// offline when the daemon could not be reached.
func (m *Model) failed(err error, what string) tea.Cmd {
	if client.IsUnreachable(err) {
		return m.onOffline(err)
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	m.log.Debug("request failed", "what", what, "err", err)
	m.setStatus(statusErr, what+": "+errorText(err))
	return nil
}

// errorText is an error as the daemon worded it, without the wire detail.
func errorText(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Message != "" {
		return ae.Message
	}
	return err.Error()
}

func (m *Model) setStatus(kind statusKind, text string) {
	m.status, m.statusKind = text, kind
}

func (m *Model) onOnline(msg onlineMsg) tea.Cmd {
	wasOnline := m.everOnline
	m.online, m.connecting, m.everOnline = true, false, true
	m.offlineErr, m.retryAttempt = nil, 0
	var cmds []tea.Cmd
	if m.events == nil {
		cmds = append(cmds, m.startEvents(msg.lastID))
	}
	q := strings.TrimSpace(m.bar.Value())
	if wasOnline {
		q = m.results.Query()
		m.setStatus(statusOK, "connected again to "+m.opts.ServerURL)
	}
	cmds = append(cmds, m.runSearch(q, wasOnline), m.bar.Suggest(), m.readLaunches())
	switch m.screen {
	case screenDetail:
		m.detailLoading = false
		cmds = append(cmds, m.reloadDetail(m.detail.Slug()))
	case screenLogs:
		cmds = append(cmds, m.logs.Resume(m.ctx, m.src))
	}
	return tea.Batch(cmds...)
}

func (m *Model) readLaunches() tea.Cmd {
	ctx, src := m.ctx, m.src
	return func() tea.Msg {
		ls, err := src.ActiveLaunches(ctx, "")
		return launchesMsg{launches: ls, err: err}
	}
}

// onOffline shows the offline screen and schedules the next attempt.
func (m *Model) onOffline(err error) tea.Cmd {
	m.connecting = false
	if m.online {
		m.online = false
		m.retryAttempt = 0
	}
	m.offlineErr = err
	m.retryAttempt++
	wait := retryMin << min(m.retryAttempt-1, 4)
	wait = min(wait, retryMax)
	attempt := m.retryAttempt
	return tea.Tick(wait, func(time.Time) tea.Msg { return retryMsg{attempt: attempt} })
}

// startEvents follows the event stream in a goroutine that feeds a
// channel; waitEvent takes one message at a time from it, so events are
// applied in order. The goroutine reconnects by itself for as long as the
// program runs, resuming after the last event it delivered.
func (m *Model) startEvents(since int64) tea.Cmd {
	ch := make(chan tea.Msg, 256)
	m.events = ch
	ctx, src := m.ctx, m.src
	trySend := func(msg tea.Msg) {
		select {
		case ch <- msg:
		default: // the stream is behind anyway; the next event clears it
		}
	}
	go func() {
		last := since
		backoff := retryMin
		for {
			var lost error
			for ev, err := range src.Events(ctx, last, func(err error) { trySend(streamLostMsg{err: err}) }) {
				if err != nil {
					lost = err
					break
				}
				if ev.ID > 0 {
					last = ev.ID
				}
				backoff = retryMin
				select {
				case ch <- eventMsg{ev: ev}:
				case <-ctx.Done():
					return
				}
			}
			if ctx.Err() != nil {
				return
			}
			trySend(streamLostMsg{err: lost})
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(backoff*2, retryMax)
		}
	}()
	return m.waitEvent()
}

func (m *Model) waitEvent() tea.Cmd {
	ch, ctx := m.events, m.ctx
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		select {
		case msg := <-ch:
			return msg
		case <-ctx.Done():
			return nil
		}
	}
}

// eventData are the fields of event data the TUI reads.
type eventData struct {
	Slug         string `json:"slug"`
	BuildID      int64  `json:"build_id"`
	LaunchID     int64  `json:"launch_id"`
	Status       string `json:"status"`
	IngestStatus string `json:"ingest_status"`
	CommitSHA    string `json:"commit_sha"`
	Cached       bool   `json:"cached"`
	ImageTag     string `json:"image_tag"`
	Error        string `json:"error"`
}

// applyEvent patches what is on screen.
func (m *Model) applyEvent(ev client.Event) tea.Cmd {
	var d eventData
	if len(ev.Data) > 0 {
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			m.log.Debug("event data not understood", "type", ev.Type, "err", err)
		}
	}
	slug := ev.Subject
	if slug == "" {
		slug = d.Slug
	}
	switch ev.Topic() {
	case "build":
		st := catalog.BuildStatus(d.Status)
		switch st {
		case catalog.BuildQueued, catalog.BuildRunning, catalog.BuildSucceeded, catalog.BuildFailed, catalog.BuildCancelled:
		default:
			return nil // cancel_requested and the like change no status
		}
		m.results.PatchBuild(slug, catalog.BuildSummary{ID: d.BuildID, Status: st, CommitSHA: d.CommitSHA, Cached: d.Cached, ImageTag: d.ImageTag})
		m.detail.PatchBuild(slug, d.BuildID, st)
		m.logs.PatchStatus(d.BuildID, st)
		var cmd tea.Cmd
		if m.screen == screenLogs && m.logs.Slug() == slug && d.BuildID > m.logs.BuildID() && m.logs.Ended() {
			// A new build of the app whose finished log is shown:
			// follow it.
			cmd = m.logs.Open(m.ctx, m.src, slug, d.BuildID, &client.Build{ID: d.BuildID, Repository: slug, Status: st})
		}
		return tea.Batch(cmd, m.reloadDetail(slug))
	case "ingestion":
		m.results.PatchIngest(slug, catalog.IngestStatus(d.IngestStatus))
		cmds := []tea.Cmd{m.reloadDetail(slug)}
		if ev.Type == "ingestion.ready" && m.results.find(slug) != nil {
			cmds = append(cmds, m.readRow(slug))
		}
		return tea.Batch(cmds...)
	case "repository":
		switch ev.Type {
		case "repository.created":
			if m.researchDue || m.results.find(slug) != nil {
				return nil
			}
			m.researchDue = true
			return tea.Tick(250*time.Millisecond, func(time.Time) tea.Msg { return researchMsg{} })
		case "repository.deleted":
			m.results.Remove(slug)
			delete(m.launches, slug)
			if m.detail.Slug() == slug && m.screen == screenDetail {
				m.setStatus(statusErr, slug+" was removed")
			}
			return nil
		default:
			var cmds []tea.Cmd
			if m.results.find(slug) != nil {
				cmds = append(cmds, m.readRow(slug))
			}
			return tea.Batch(append(cmds, m.reloadDetail(slug))...)
		}
	case "launch":
		st := catalog.LaunchStatus(d.Status)
		l := m.launches[slug]
		switch {
		case l != nil && l.ID == d.LaunchID:
			l.Status = st
			if d.Error != "" {
				l.ErrorMessage = d.Error
			}
		case l == nil || d.LaunchID > l.ID:
			if !st.Terminal() {
				m.launches[slug] = &client.Launch{ID: d.LaunchID, Repository: slug, Status: st}
			}
		}
		if l := m.launches[slug]; l != nil && l.Status.Terminal() {
			delete(m.launches, slug)
		}
		m.detail.Refresh()
		return nil
	}
	return nil
}

func (m *Model) readRow(slug string) tea.Cmd {
	ctx, src := m.ctx, m.src
	return func() tea.Msg {
		r, err := src.Repository(ctx, slug)
		return rowMsg{slug: slug, repo: r, err: err}
	}
}

func (m *Model) findLaunch(id int64) *client.Launch {
	for _, l := range m.launches {
		if l.ID == id {
			return l
		}
	}
	return nil
}

func launchTick(id int64) tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return launchTickMsg{id: id} })
}

// launchWait is how long one wait for a starting launch lasts before it is
// asked again.
const launchWait = 2 * time.Minute

func (m *Model) onLaunch(msg launchMsg) tea.Cmd {
	if msg.err != nil {
		return m.failed(msg.err, map[string]string{"launch": "launch", "wait": "launch", "stop": "stop"}[msg.action]+" "+msg.slug)
	}
	l := msg.launch
	if msg.action == "stop" {
		delete(m.launches, msg.slug)
		m.detail.Refresh()
		m.setStatus(statusOK, "stopped "+msg.slug)
		return nil
	}
	if l.Status.Terminal() {
		delete(m.launches, msg.slug)
	} else {
		m.launches[msg.slug] = l
	}
	m.detail.Refresh()
	ctx, src := m.ctx, m.src
	switch l.Status {
	case catalog.LaunchStarting:
		m.setStatus(statusInfo, "starting "+msg.slug+"…")
		id := l.ID
		wait := func() tea.Msg {
			got, err := src.WaitLaunch(ctx, id, launchWait)
			return launchMsg{slug: msg.slug, action: "wait", launch: got, err: err}
		}
		if msg.action == "launch" {
			return tea.Batch(wait, launchTick(id))
		}
		return wait
	case catalog.LaunchRunning:
		url := l.PreviewURL
		if url == "" {
			url = l.InstanceURL
		}
		m.setStatus(statusOK, msg.slug+" is running at "+url)
		if url == "" || m.opened[l.ID] && msg.action != "launch" {
			return nil
		}
		m.opened[l.ID] = true
		open := m.opts.Open
		return func() tea.Msg { return openedMsg{url: url, err: open(url)} }
	case catalog.LaunchFailed:
		m.setStatus(statusErr, "launch of "+msg.slug+" failed: "+l.ErrorMessage)
	default:
		m.setStatus(statusInfo, "launch of "+msg.slug+" is "+string(l.Status))
	}
	return nil
}

// layout gives every component its size.
func (m *Model) layout() {
	w := max(20, m.width)
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
	lines := strings.Split(m.help.View(m.keyMap()), "\n")
	for i := range lines {
		lines[i] = ansi.Truncate(lines[i], w, "…")
	}
	return strings.Join(lines, "\n")
}

// bodyHeight is the height left between the header and the status line
// and help.
func (m *Model) bodyHeight() int {
	return max(3, m.height-2-m.helpHeight())
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
	prefix := ""
	switch m.statusKind {
	case statusErr:
		st, prefix = m.styles.Error, "✗ "
	case statusOK:
		st, prefix = m.styles.Good, "✓ "
	}
	return st.Render(ansi.Truncate(prefix+m.status, w, "…"))
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
	width := 0
	for i := range lines {
		lines[i] = ansi.Truncate(lines[i], w-2, "…")
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
