package tui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/query"
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
	// Images draws the app's thumbnail in the detail view, in true-colour
	// half blocks (when the Source can give it: ThumbnailSource).
	Images bool
}

type screen int

const (
	screenSearch screen = iota // the search line and the results
	screenDetail
	screenLogs
	screenAdd
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
	// awaiting are the starting launches (id → slug) whose end of start-up
	// the event stream will tell (applyEvent), instead of a long poll.
	awaiting   map[int64]string
	status     string
	statusKind statusKind
	// statusBuild is the build the status line reports, 0 for none: its
	// events update the line.
	statusBuild int64
	// laidStatus is the status line's height the layout was made for.
	laidStatus int

	// me is the user of the token, once asked (uncomment.go: d marks a
	// comment the user may remove).
	me *client.User
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
		awaiting: map[int64]string{},
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
		// A query the daemon refuses as invalid is reported by Enter, with
		// the search's own words and the cursor at the mistake; the
		// autocomplete's refusal of the same text would hide it.
		if msg.seq == m.bar.seq && msg.err != nil && !errors.Is(msg.err, context.Canceled) && !client.IsInvalid(msg.err) {
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
	case starMsg:
		return m.onStar(msg)
	case commentedMsg:
		return m.onCommented(msg)
	case uncommentMsg:
		return m.onUncomment(msg)
	case uncommentedMsg:
		return m.onUncommented(msg)
	case envMsg:
		return m.onEnv(msg)
	case launchTickMsg:
		if l := m.findLaunch(msg.id); l != nil && l.Status == catalog.LaunchStarting {
			m.setStatus(statusInfo, fmt.Sprintf("starting %s… %s", l.Repository, m.now().Sub(l.CreatedAt).Round(time.Second)))
			return launchTick(msg.id)
		}
		return nil
	case openedMsg:
		if msg.err != nil {
			m.setStatus(statusErr, fmt.Sprintf("open %s in your browser (could not start one: %v)", msg.url, msg.err))
		} else if strings.Contains(m.status, msg.url) {
			// Keep what the launch did and how to undo it.
			m.setStatus(m.statusKind, m.status+" (opened in the browser)")
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
		m.setBuildStatus(msg.slug, b.ID, b.Status)
		return m.reloadDetail(msg.slug)
	case cancelMsg:
		return m.onCancel(msg)
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
	m.logs.Close()
	m.cancel()
	return tea.Quit
}

// queryErrPrefix starts the status of a query that does not parse.
const queryErrPrefix = "query: "

func (m *Model) searchKey(k tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.bar.keys.Run):
		m.bar.open = false
		raw := m.bar.Value()
		var se *query.SyntaxError
		if _, err := query.Parse(raw); errors.As(err, &se) {
			// Checked here, as the CLI does, so that the focus stays on the
			// line with the cursor at the mistake, instead of the results
			// of the last query under a message with a byte offset.
			m.bar.SetCursorByte(se.Pos)
			m.setStatus(statusErr, fmt.Sprintf("%s%s (at character %d, where the cursor is)", queryErrPrefix, se.Msg, se.Char))
			return nil
		}
		if m.statusKind == statusErr && strings.HasPrefix(m.status, queryErrPrefix) {
			m.setStatus(statusInfo, "") // fixed
		}
		q := strings.TrimSpace(raw)
		m.focusResults()
		return m.runSearch(q, false)
	case key.Matches(k, m.bar.keys.Results) && !m.bar.ListOpen():
		m.focusResults()
		return nil
	}
	return m.bar.Update(k)
}

func (m *Model) focusResults() {
	if m.screen != screenSearch {
		m.leaveView()
	}
	m.bar.Blur()
	m.results.Focus()
	m.screen = screenSearch
}

func (m *Model) focusSearch() tea.Cmd {
	if m.screen != screenSearch {
		m.leaveView()
	}
	m.results.Blur()
	m.screen = screenSearch
	m.logs.Close()
	return m.bar.Focus()
}

// leaveView clears the status line when the view changes: what it said was
// about the view left (an error there, a build asked for), and would read
// as news about the next one.
func (m *Model) leaveView() {
	if m.status != "" {
		m.setStatus(statusInfo, "")
	}
}

// addFromList opens the add form from the results, where the letters type
// into the query.
var addFromList = bind([]string{"ctrl+a"}, "ctrl+a", "add app")

func (m *Model) resultsKey(k tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.list.Quit):
		return m.quit()
	case key.Matches(k, m.list.Search):
		return m.focusSearch()
	case key.Matches(k, m.list.Help):
		m.toggleHelp()
		return nil
	case key.Matches(k, m.list.Open):
		if it := m.results.Selected(); it != nil {
			return m.openDetail(it.Slug)
		}
		return nil
	case key.Matches(k, addFromList):
		return m.openAdd()
	case k.Type == tea.KeyRunes, k.Type == tea.KeySpace, k.Type == tea.KeyBackspace:
		// As in fzf: typing goes on in the query, never runs an action
		// on the selected app (those are in the detail view).
		cmd := m.focusSearch()
		return tea.Batch(cmd, m.bar.Update(k))
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
	if m.detail.Composing() {
		return m.composeKey(k)
	}
	if m.detail.EditingEnv() {
		return m.envKey(k)
	}
	if m.detail.Picking() {
		if cmd, done := m.pickKey(k); done {
			return cmd
		}
	}
	if key.Matches(k, m.detail.actions.Uncomment) && m.detail.Slug() != "" {
		return m.uncommentKey()
	}
	if key.Matches(k, m.detail.actions.Comment) && m.detail.Slug() != "" {
		cmd := m.detail.StartComment()
		m.layout()
		return cmd
	}
	if key.Matches(k, m.detail.actions.SetEnv, m.detail.actions.UnsetEnv) && m.detail.Slug() != "" {
		cmd := m.detail.StartEnv(key.Matches(k, m.detail.actions.UnsetEnv))
		m.layout()
		return cmd
	}
	if key.Matches(k, m.detail.actions.SetSecret) && m.detail.Slug() != "" {
		cmd := m.detail.StartSecret()
		m.layout()
		return cmd
	}
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
		m.leaveView()
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
		m.leaveView()
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
	// The key that opened the full list is the one that closes it.
	label := "more keys"
	if m.help.ShowAll {
		label = "fewer keys"
	}
	for _, b := range []*key.Binding{&m.list.Help, &m.results.keys.Help, &m.detail.keys.Help, &m.logs.keys.Help} {
		b.SetHelp(b.Help().Key, label)
	}
	m.layout()
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
	m.statusBuild = 0
	// The status line takes up to maxStatusLines lines, so that an error's
	// advice is not cut: the parts below are sized again when that changes.
	if h := m.statusHeight(); h != m.laidStatus {
		m.layout()
	}
}

// setBuildStatus reports a build that was asked for; the build's events
// then keep the message true ("queued" becomes "succeeded") instead of
// leaving a stale word on the screen.
func (m *Model) setBuildStatus(slug string, id int64, st catalog.BuildStatus) {
	kind := statusOK
	switch st {
	case catalog.BuildFailed:
		kind = statusErr
	case catalog.BuildQueued, catalog.BuildRunning:
		kind = statusInfo
	}
	text := fmt.Sprintf("build #%d of %s %s", id, slug, st)
	switch st {
	case catalog.BuildFailed:
		text += " — press l for its log"
	case catalog.BuildQueued, catalog.BuildRunning:
		text += " — press l to follow its log"
	}
	m.setStatus(kind, text)
	m.statusBuild = id
}
