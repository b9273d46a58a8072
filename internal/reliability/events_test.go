package reliability

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/client"
)

// watcher follows a daemon's event stream (the WebSocket, through the Go
// client, which resumes after drops) and keeps every event it received.
type watcher struct {
	name   string
	mu     sync.Mutex
	events []client.Event
	err    error
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// watch follows c's events after since (all topics) until the test ends.
func watch(t testing.TB, name string, c *client.Client, since int64) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{name: name, kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for ev, err := range c.Events(ctx, client.EventsOptions{Since: since, ReconnectFor: 5 * time.Minute}) {
			w.mu.Lock()
			if err != nil {
				if ctx.Err() == nil {
					w.err = err
				}
				w.mu.Unlock()
				return
			}
			w.events = append(w.events, ev)
			w.mu.Unlock()
			select {
			case w.kick <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(w.close)
	return w
}

func (w *watcher) close() {
	w.cancel()
	<-w.done
}

// snapshot is a copy of what was received so far.
func (w *watcher) snapshot() ([]client.Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events), w.err
}

// waitFor waits until an event of type typ about subject (any subject when
// empty) arrived, and returns it.
func (w *watcher) waitFor(t testing.TB, within time.Duration, typ, subject string) client.Event {
	t.Helper()
	return w.waitUntil(t, within, fmt.Sprintf("%s event for %q", typ, subject), func(e client.Event) bool {
		return e.Type == typ && (subject == "" || e.Subject == subject)
	})
}

// waitForAfter waits for an event of type typ stamped after t0.
func (w *watcher) waitForAfter(t testing.TB, within time.Duration, typ string, t0 time.Time) client.Event {
	t.Helper()
	return w.waitUntil(t, within, fmt.Sprintf("%s event after %s", typ, t0.Format(time.StampMilli)), func(e client.Event) bool {
		return e.Type == typ && e.Time.After(t0)
	})
}

// waitUntil returns the first event that matches, waiting for it as events
// arrive; it fails the test when the stream ends or within passes without
// one (what names the event sought).
func (w *watcher) waitUntil(t testing.TB, within time.Duration, what string, match func(client.Event) bool) client.Event {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		evs, err := w.snapshot()
		for _, e := range evs {
			if match(e) {
				return e
			}
		}
		if err != nil {
			t.Fatalf("%s: event stream ended: %v", w.name, err)
		}
		select {
		case <-w.kick:
		case <-deadline.C:
			t.Fatalf("%s: no %s within %s (got %d events: %s)", w.name, what, within, len(evs), summarize(evs))
		}
	}
}

// ids are the ids of the events received, in order.
func ids(evs []client.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func summarize(evs []client.Event) string {
	if len(evs) > 40 {
		evs = evs[len(evs)-40:]
	}
	s := ""
	for _, e := range evs {
		s += fmt.Sprintf("%d:%s(%s) ", e.ID, e.Type, e.Subject)
	}
	return s
}
