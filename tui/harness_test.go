package tui

import (
	"context"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// harness runs a Model the way tea.Program does — Update on one goroutine,
// every tea.Cmd on its own goroutine, their messages fed back in the order
// they arrive — but lets the test drive it: send keys, then process
// messages until a condition on the model holds.
type harness struct {
	t      testing.TB
	m      *Model
	msgs   chan tea.Msg
	opened chan string
	clock  *fakeClock
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// plainRenderer renders without any escape sequence, for comparing text.
func plainRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return r
}

func testOptions(src Source, clock *fakeClock, opened chan string) Options {
	return Options{
		Source:    src,
		ServerURL: "http://127.0.0.1:7070",
		Renderer:  plainRenderer(),
		Location:  time.UTC,
		Now:       clock.now,
		Debounce:  30 * time.Millisecond,
		Open: func(u string) error {
			opened <- u
			return nil
		},
	}
}

func newHarness(t testing.TB, src Source, mod ...func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, msgs: make(chan tea.Msg, 1024), opened: make(chan string, 8), clock: &fakeClock{t: fakeEpoch}}
	opts := testOptions(src, h.clock, h.opened)
	for _, f := range mod {
		f(&opts)
	}
	h.m = New(context.Background(), opts)
	t.Cleanup(h.m.Close)
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	h.run(h.m.Init())
	return h
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() { h.deliver(cmd()) }()
}

func (h *harness) deliver(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
	default:
		h.msgs <- msg
	}
}

// send applies msg and starts the command it returns.
func (h *harness) send(msg tea.Msg) {
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

// waitFor processes messages until cond holds (30 s at most: a loaded
// machine may be slow, and a condition that holds ends the wait at once).
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond) // conditions on the fake change without a message
	defer tick.Stop()
	for !cond() {
		select {
		case msg := <-h.msgs:
			h.send(msg)
		case <-tick.C:
		case <-deadline:
			h.t.Fatalf("waiting for %s: gave up after 30s; screen:\n%s", what, h.m.View())
		}
	}
}

// waitView processes messages until the screen shows every one of want.
func (h *harness) waitView(want ...string) {
	h.t.Helper()
	h.waitFor(strings.Join(want, ", "), func() bool {
		v := h.m.View()
		for _, w := range want {
			if !strings.Contains(v, w) {
				return false
			}
		}
		return true
	})
}

// waitMatch processes messages until the screen matches every regexp.
func (h *harness) waitMatch(patterns ...string) {
	h.t.Helper()
	var res []*regexp.Regexp
	for _, p := range patterns {
		res = append(res, regexp.MustCompile(p))
	}
	h.waitFor(strings.Join(patterns, ", "), func() bool {
		v := h.m.View()
		for _, re := range res {
			if !re.MatchString(v) {
				return false
			}
		}
		return true
	})
}

// drain processes the messages that arrive within d.
func (h *harness) drain(d time.Duration) {
	stop := time.After(d)
	for {
		select {
		case msg := <-h.msgs:
			h.send(msg)
		case <-stop:
			return
		}
	}
}

// typeText sends one key message per rune, as a terminal does.
func (h *harness) typeText(s string) {
	for _, r := range s {
		h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

var keyTypes = map[string]tea.KeyType{
	"enter": tea.KeyEnter, "tab": tea.KeyTab, "esc": tea.KeyEsc, "up": tea.KeyUp, "down": tea.KeyDown,
	"left": tea.KeyLeft, "right": tea.KeyRight, "backspace": tea.KeyBackspace, "ctrl+p": tea.KeyCtrlP,
	"ctrl+n": tea.KeyCtrlN, "ctrl+c": tea.KeyCtrlC, "ctrl+u": tea.KeyCtrlU, "shift+tab": tea.KeyShiftTab,
	"end": tea.KeyEnd, "home": tea.KeyHome, "pgdown": tea.KeyPgDown, "ctrl+a": tea.KeyCtrlA,
}

func keyMsg(k string) tea.KeyMsg {
	if t, ok := keyTypes[k]; ok {
		return tea.KeyMsg{Type: t}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// press sends named keys ("tab", "enter", "ctrl+n") or single characters.
func (h *harness) press(keys ...string) {
	for _, k := range keys {
		h.send(keyMsg(k))
	}
}

// online waits until the first search answered.
func (h *harness) online() {
	h.t.Helper()
	h.waitFor("the first search", func() bool { return h.m.online && h.m.results.searched })
}

func suggestionTexts(b *SearchBar) []string {
	var out []string
	for _, s := range b.Visible() {
		out = append(out, s.Text)
	}
	return out
}
