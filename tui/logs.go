package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// Bounds of the log view.
const (
	// maxLogLines is how many lines the view keeps; older ones are
	// dropped (the daemon keeps the whole log).
	maxLogLines = 20000
	// logBatch is the most lines one message carries: a fast build
	// redraws once per batch, not once per line.
	logBatch = 500
)

// LogView follows one build's log as it streams, in a pager that sticks to
// the bottom until scrolled up (G or End sticks it again).
type LogView struct {
	styles *Styles
	keys   PagerKeys
	vp     viewport.Model
	width  int
	height int

	slug    string
	buildID int64
	build   *client.Build // as last read or patched by events
	lines   []string
	dropped int
	lastID  int64
	follow  bool
	ended   bool
	err     error

	stream *logStream
}

func newLogView(styles *Styles) LogView {
	v := LogView{styles: styles, keys: newPagerKeys()}
	v.vp = viewport.New(0, 0)
	v.vp.KeyMap = pagerViewportKeys(v.keys)
	return v
}

// SetSize sets the area: a header line, a rule and the pager.
func (v *LogView) SetSize(width, height int) {
	v.width, v.height = width, height
	v.vp.Width, v.vp.Height = width, max(1, height-2)
	v.render()
}

// BuildID is the build shown (0 for none).
func (v *LogView) BuildID() int64 { return v.buildID }

// Slug is the app whose build is shown.
func (v *LogView) Slug() string { return v.slug }

// Lines are the lines received.
func (v *LogView) Lines() []string { return v.lines }

// Ended reports whether the log is complete (the build ended).
func (v *LogView) Ended() bool { return v.ended }

// Open starts following build id of slug from its first line.
func (v *LogView) Open(ctx context.Context, src Source, slug string, id int64, b *client.Build) tea.Cmd {
	v.Close()
	v.slug, v.buildID, v.build = slug, id, b
	v.lines, v.dropped, v.lastID, v.err, v.ended = nil, 0, 0, nil, false
	v.follow = true
	v.render()
	return v.start(ctx, src)
}

func (v *LogView) start(ctx context.Context, src Source) tea.Cmd {
	v.stream = startLogStream(ctx, src, v.buildID, v.lastID)
	return v.stream.wait()
}

// Close stops following.
func (v *LogView) Close() {
	if v.stream != nil {
		v.stream.cancel()
		v.stream = nil
	}
}

// Append adds lines of the build shown and asks for more.
func (v *LogView) Append(msg logLinesMsg) tea.Cmd {
	if msg.build != v.buildID || v.stream == nil {
		return nil
	}
	for _, l := range msg.lines {
		if l.ID <= v.lastID {
			continue // a line seen before a reconnect
		}
		v.lastID = l.ID
		v.lines = append(v.lines, l.Line)
	}
	if over := len(v.lines) - maxLogLines; over > 0 {
		v.lines = append(v.lines[:0:0], v.lines[over:]...)
		v.dropped += over
	}
	v.render()
	return v.stream.wait()
}

// End records the end of the stream: the build ended (err nil), or the
// stream failed and is resumed by the caller after a pause.
func (v *LogView) End(msg logEndMsg) (resume bool) {
	if msg.build != v.buildID {
		return false
	}
	v.stream = nil
	if msg.err == nil {
		v.ended = true
		v.err = nil
	} else if !errors.Is(msg.err, context.Canceled) {
		v.err = msg.err
		resume = true
	}
	v.render()
	return resume
}

// Resume follows again after the last line received.
func (v *LogView) Resume(ctx context.Context, src Source) tea.Cmd {
	if v.ended || v.stream != nil || v.buildID == 0 {
		return nil
	}
	return v.start(ctx, src)
}

// SetBuild records the build as read, or its status from an event.
func (v *LogView) SetBuild(b *client.Build) {
	if b != nil && b.ID == v.buildID {
		v.build = b
		v.render()
	}
}

// PatchStatus records a build event.
func (v *LogView) PatchStatus(id int64, st catalog.BuildStatus) {
	if id != v.buildID {
		return
	}
	if v.build == nil {
		v.build = &client.Build{ID: id}
	}
	v.build.Status = st
	v.render()
}

// Update scrolls; scrolling up stops following, G/End follows again.
func (v *LogView) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(k, v.keys.Top):
			v.vp.GotoTop()
			v.follow = false
			return nil
		case key.Matches(k, v.keys.Bottom):
			v.vp.GotoBottom()
			v.follow = true
			return nil
		}
	}
	var cmd tea.Cmd
	v.vp, cmd = v.vp.Update(msg)
	v.follow = v.vp.AtBottom()
	return cmd
}

func (v *LogView) render() {
	var b strings.Builder
	if v.dropped > 0 {
		b.WriteString(v.styles.Subtle.Render(fmt.Sprintf("… %d earlier lines not shown", v.dropped)) + "\n")
	}
	for i, l := range v.lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		// Tabs and control characters of build output would upset the
		// layout. Long lines wrap: the end of a line is where a build
		// says what failed ("…: file not found in build context"), and
		// the pager has no sideways scroll.
		l = sanitizeLine(l)
		if v.width > 0 {
			l = ansi.Wrap(l, v.width, "")
		}
		b.WriteString(l)
	}
	switch {
	case v.buildID == 0:
		b.WriteString(v.styles.Subtle.Render("No build to show."))
	case len(v.lines) == 0 && !v.ended:
		b.WriteString(v.styles.Subtle.Render("Waiting for the build's first lines…"))
	case v.ended && v.build != nil && v.build.LogTruncated:
		b.WriteString("\n" + v.styles.Subtle.Render("(the daemon cut this log at its size limit)"))
	}
	v.vp.SetContent(b.String())
	if v.follow {
		v.vp.GotoBottom()
	}
}

func sanitizeLine(s string) string {
	s = strings.ReplaceAll(s, "\t", "    ")
	s = strings.TrimRight(s, "\r\n")
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		s = s[i+1:] // a progress line redrawn with \r: its last state
	}
	return ansi.Strip(s)
}

func (v *LogView) header() string {
	s := v.styles
	title := s.Title.Render(fmt.Sprintf("build #%d", v.buildID)) + s.Subtle.Render(" of "+v.slug)
	var right []string
	if v.build != nil {
		right = append(right, s.buildStatus(v.build.Status))
		if v.build.DurationMS != nil {
			right = append(right, s.Subtle.Render(formatMS(v.build.DurationMS)))
		}
	}
	switch {
	case v.err != nil:
		right = append(right, s.Bad.Render("log stream lost, retrying"))
	case v.ended:
		right = append(right, s.Subtle.Render("log complete"))
	case v.follow:
		right = append(right, s.Subtle.Render("following"))
	default:
		right = append(right, s.Subtle.Render("paused — G to follow"))
	}
	r := strings.Join(right, "  ")
	title = ansi.Truncate(title, max(10, v.width-lipgloss.Width(r)-2), "…")
	return title + strings.Repeat(" ", max(1, v.width-lipgloss.Width(title)-lipgloss.Width(r))) + r
}

// View is the header, a rule and the pager.
func (v *LogView) View() string {
	return ansi.Truncate(v.header(), v.width, "") + "\n" + v.styles.Subtle.Render(strings.Repeat("─", max(0, v.width))) + "\n" + v.vp.View()
}

// ShortHelp and FullHelp are the view's keys.
func (v *LogView) ShortHelp() []key.Binding {
	return []key.Binding{v.keys.Back, v.keys.Up, v.keys.Down, v.keys.PageDown, v.keys.Bottom, v.keys.Quit}
}

func (v *LogView) FullHelp() [][]key.Binding {
	return [][]key.Binding{{v.keys.Up, v.keys.Down, v.keys.PageUp, v.keys.PageDown, v.keys.Top, v.keys.Bottom}, {v.keys.Back, v.keys.Search, v.keys.Quit}}
}

// logStream reads one build's log in a goroutine into a channel, so that
// the program gets it in batches, in order.
type logStream struct {
	build  int64
	lines  chan client.LogLine
	end    chan error // one value, sent before lines is closed
	cancel context.CancelFunc
}

func startLogStream(parent context.Context, src Source, build, since int64) *logStream {
	ctx, cancel := context.WithCancel(parent)
	ls := &logStream{build: build, lines: make(chan client.LogLine, logBatch), end: make(chan error, 1), cancel: cancel}
	go func() {
		var err error
		defer func() {
			ls.end <- err
			close(ls.lines)
		}()
		for l, e := range src.BuildLogs(ctx, build, since) {
			if e != nil {
				err = e
				return
			}
			select {
			case ls.lines <- l:
			case <-ctx.Done():
				err = ctx.Err()
				return
			}
		}
	}()
	return ls
}

// wait returns the next batch of lines, or the end.
func (ls *logStream) wait() tea.Cmd {
	return func() tea.Msg {
		l, ok := <-ls.lines
		if !ok {
			return logEndMsg{build: ls.build, err: <-ls.end}
		}
		batch := []client.LogLine{l}
		for len(batch) < logBatch {
			select {
			case l, ok := <-ls.lines:
				if !ok {
					// The end is read by the next wait: lines is
					// closed, so it returns at once.
					return logLinesMsg{build: ls.build, lines: batch}
				}
				batch = append(batch, l)
			default:
				return logLinesMsg{build: ls.build, lines: batch}
			}
		}
		return logLinesMsg{build: ls.build, lines: batch}
	}
}
