package tui

// What the keys do: requests run as commands, and their answers applied.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// action runs the app actions (logs, launch, stop, build, refresh, add) on
// slug; ok is false when k is none of them.
func (m *Model) action(k tea.KeyMsg, slug string) (tea.Cmd, bool) {
	a := m.results.actions
	if key.Matches(k, a.Add) {
		return m.openAdd(), true
	}
	if !key.Matches(k, a.Logs, a.Launch, a.Stop, a.Build, a.BuildNoCache, a.Refresh, a.Cancel, a.Star) {
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
	case key.Matches(k, a.Cancel):
		var b *client.Build
		if m.detail.Slug() == slug && len(m.detail.Builds()) > 0 {
			bb := m.detail.Builds()[0]
			b = &bb
		}
		if b == nil || b.Status.Terminal() {
			m.setStatus(statusErr, "no build of "+slug+" is queued or running: nothing to cancel (b builds)")
			return nil, true
		}
		id := b.ID
		m.setStatus(statusInfo, fmt.Sprintf("cancelling build #%d of %s…", id, slug))
		return func() tea.Msg {
			b, err := src.CancelBuild(ctx, id)
			return cancelMsg{slug: slug, id: id, build: b, err: err}
		}, true
	case key.Matches(k, a.Star):
		on := true
		if st := m.detail.Star(); m.detail.Slug() == slug && st != nil {
			on = !st.Starred
		}
		return func() tea.Msg {
			st, err := src.SetStar(ctx, slug, on)
			return starMsg{slug: slug, on: on, state: st, err: err}
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
		// Only advice that can work: a build needs a successful ingestion.
		msg := "no build of " + slug + " yet: press b to build it"
		if r := m.detail.Repo(); m.detail.Slug() == slug && r != nil {
			switch r.IngestStatus {
			case catalog.IngestFailed:
				msg = "no build of " + slug + ": its ingestion failed, so nothing can be built — fix the repository, then press r"
			case catalog.IngestQueued, catalog.IngestProcessing:
				msg = "no build of " + slug + " yet: it is still being ingested; its build starts after that"
			}
		} else if it := m.results.find(slug); it != nil && it.IngestStatus == catalog.IngestFailed {
			msg = "no build of " + slug + ": its ingestion failed, so nothing can be built — open it (Enter) and press r once fixed"
		}
		m.setStatus(statusErr, msg)
		return nil
	}
	if m.screen != screenLogs {
		m.back = m.screen
		m.leaveView()
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
	// What the status said was about the view left, or another app.
	if m.screen != screenDetail || !strings.Contains(m.status, slug) {
		m.leaveView()
	}
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
	images, shown := m.opts.Images, m.detail.ThumbnailURL()
	return func() tea.Msg {
		msg := repoMsg{slug: slug}
		msg.repo, msg.err = src.Repository(ctx, slug)
		if msg.err != nil {
			return msg
		}
		if images {
			msg.thumbURL, msg.thumb = loadThumbnail(ctx, src, msg.repo, shown)
		}
		if msg.timeline, msg.err = src.Timeline(ctx, slug, detailTimeline); msg.err != nil {
			return msg
		}
		if msg.builds, msg.err = src.Builds(ctx, slug, detailBuilds); msg.err != nil {
			return msg
		}
		if msg.launches, msg.err = src.ActiveLaunches(ctx, slug); msg.err != nil {
			return msg
		}
		if msg.star, msg.err = src.StarState(ctx, slug); msg.err != nil {
			return msg
		}
		if msg.comments, msg.err = src.Comments(ctx, slug, detailComments); msg.err != nil {
			return msg
		}
		msg.config, _ = src.AppConfig(ctx, slug)
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
	picked := m.detail.Picked()
	m.detail.Set(msg)
	if picked != nil && !m.detail.Picking() {
		m.setStatus(statusInfo, fmt.Sprintf("comment #%d was removed meanwhile", picked.ID))
	}
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
			// What the user wanted is there already: show it.
			m.add.Reset()
			cmd := m.openDetail(ae.Slug)
			m.setStatus(statusInfo, "already registered as "+ae.Slug+": here it is")
			return cmd
		}
		if client.IsUnreachable(msg.err) {
			m.add.Fail(msg.err)
			return m.onOffline(msg.err)
		}
		m.add.Fail(msg.err)
		return nil
	}
	slug := msg.repo.Slug
	open := m.openDetail(slug)
	m.setStatus(statusOK, "added "+slug+": following its ingestion and build")
	return tea.Batch(open, m.runSearch(m.results.Query(), true))
}

// openAdd shows the add form; Esc returns to the view it was opened from.
func (m *Model) openAdd() tea.Cmd {
	m.back = m.screen
	m.leaveView()
	m.screen = screenAdd
	return m.add.Reset()
}

// onCancel applies the answer to a cancel request.
func (m *Model) onCancel(msg cancelMsg) tea.Cmd {
	if msg.err != nil {
		return m.failed(msg.err, fmt.Sprintf("cancel build #%d of %s", msg.id, msg.slug))
	}
	st := msg.build.Status
	text := fmt.Sprintf("build #%d of %s is being cancelled — b builds again", msg.id, msg.slug)
	if st == catalog.BuildCancelled {
		text = fmt.Sprintf("cancelled build #%d of %s — b builds again", msg.id, msg.slug)
	}
	m.setStatus(statusOK, text)
	m.statusBuild = msg.id
	m.results.PatchBuild(msg.slug, catalog.BuildSummary{ID: msg.id, Status: st})
	return m.reloadDetail(msg.slug)
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

func (m *Model) findLaunch(id int64) *client.Launch {
	for _, l := range m.launches {
		if l.ID == id {
			return l
		}
	}
	return nil
}

// readLaunch reads a launch as it is now, as a launchMsg of action.
func (m *Model) readLaunch(slug string, id int64, action string) tea.Cmd {
	ctx, src := m.ctx, m.src
	return func() tea.Msg {
		l, err := src.Launch(ctx, id)
		return launchMsg{slug: slug, action: action, launch: l, err: err}
	}
}

func launchTick(id int64) tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return launchTickMsg{id: id} })
}

// launchWait is how long one wait for a starting launch lasts before it is
// asked again.
const launchWait = 2 * time.Minute

func (m *Model) onLaunch(msg launchMsg) tea.Cmd {
	if msg.err != nil {
		return m.failed(msg.err, map[string]string{"launch": "launch", "wait": "launch", "check": "launch", "stop": "stop"}[msg.action]+" "+msg.slug)
	}
	l := msg.launch
	if msg.action == "stop" {
		delete(m.launches, msg.slug)
		m.detail.Refresh()
		// Said with what undoes it.
		m.setStatus(statusOK, fmt.Sprintf("stopped %s (launch %d) — o launches it again", msg.slug, l.ID))
		return nil
	}
	if l.Status != catalog.LaunchStarting {
		delete(m.awaiting, l.ID)
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
		var tick tea.Cmd
		if msg.action == "launch" {
			tick = launchTick(id)
		}
		if m.events != nil && !m.streamLost {
			// The event stream says when the start-up ends (applyEvent).
			// One read now covers an event that came before this answer.
			if msg.action == "check" {
				return tick
			}
			m.awaiting[id] = msg.slug
			return tea.Batch(m.readLaunch(msg.slug, id, "check"), tick)
		}
		// No stream (it dropped): the daemon's long poll.
		wait := func() tea.Msg {
			got, err := src.WaitLaunch(ctx, id, launchWait)
			return launchMsg{slug: msg.slug, action: "wait", launch: got, err: err}
		}
		return tea.Batch(wait, tick)
	case catalog.LaunchRunning:
		url := l.PreviewURL
		if url == "" {
			url = l.InstanceURL
		}
		did := "launched " + msg.slug
		if l.Origin == "reused" {
			did = msg.slug + " was already running"
		}
		if l.Replaces != nil {
			did += fmt.Sprintf(", replacing launch %d", *l.Replaces)
		}
		m.setStatus(statusOK, fmt.Sprintf("%s (launch %d): running at %s — s stops it", did, l.ID, url))
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

// onStar applies the answer to the star key.
func (m *Model) onStar(msg starMsg) tea.Cmd {
	if msg.err != nil {
		what := "star "
		if !msg.on {
			what = "unstar "
		}
		return m.failed(msg.err, what+msg.slug)
	}
	verb := "★ starred "
	if !msg.state.Starred {
		verb = "☆ unstarred "
	}
	m.setStatus(statusOK, fmt.Sprintf("%s%s (%d)", verb, msg.slug, msg.state.StarCount))
	m.detail.SetStar(msg.slug, msg.state)
	return m.reloadDetail(msg.slug)
}
