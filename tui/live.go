package tui

// Staying live: reaching the daemon, the offline screen's retries, and the
// event stream that patches what is on screen.

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// Retry backoff of the offline screen.
const (
	retryMin = 500 * time.Millisecond
	retryMax = 5 * time.Second
)

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
		if m.statusBuild != 0 && m.statusBuild == d.BuildID {
			m.setBuildStatus(slug, d.BuildID, st)
		}
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
	case "comment":
		return m.reloadDetail(slug)
	case "launch":
		st := catalog.LaunchStatus(d.Status)
		var cmd tea.Cmd
		if waiting, ok := m.awaiting[d.LaunchID]; ok && st != catalog.LaunchStarting {
			// The start-up this TUI waits for ended: read the launch
			// for its preview URL (or its error).
			delete(m.awaiting, d.LaunchID)
			cmd = m.readLaunch(waiting, d.LaunchID, "wait")
		}
		l := m.launches[slug]
		switch {
		case l != nil && l.ID == d.LaunchID:
			l.Status = st
			if d.Error != "" {
				l.ErrorMessage = d.Error
			}
		case l == nil || d.LaunchID > l.ID:
			if !st.Terminal() {
				// A user's request started it (the event's actor); the
				// daemon's own launches (a wake, a redeploy) name no one,
				// as the API's launched_by.
				by := ev.Actor
				if catalog.IsDaemonActor(by) {
					by = ""
				}
				m.launches[slug] = &client.Launch{ID: d.LaunchID, Repository: slug, Status: st, LaunchedBy: by}
			}
		}
		if l := m.launches[slug]; l != nil && l.Status.Terminal() {
			delete(m.launches, slug)
		}
		m.detail.Refresh()
		return cmd
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
