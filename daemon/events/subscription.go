package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
)

// SinceNow as Filter.Since starts a subscription with the events that the
// hub fans out after Subscribe returns, without replay.
const SinceNow int64 = -1

// replayPage is how many stored events a replay reads per query.
const replayPage = 500

// Limits of a Filter.
const (
	maxTopics     = 32
	maxSubjectLen = 256
)

// ErrUnsubscribed ends a subscription that its owner closed.
var ErrUnsubscribed = errors.New("unsubscribed")

// Filter selects the events of a subscription.
type Filter struct {
	// Since is the id after which events are delivered: stored events
	// after it are replayed first. 0 replays every retained event;
	// SinceNow replays nothing.
	Since int64
	// Topics are event topics, the part of the type before the first dot
	// ("build" for "build.succeeded"); empty means all.
	Topics []string
	// Subject is an exact subject (a repository slug, say); empty means all.
	Subject string
}

// Validate checks the filter; the error names the query parameter at fault.
func (f Filter) Validate() error {
	if f.Since < SinceNow {
		return catalog.Invalid("since", "%d is not an event id: want 0 (every retained event) or the id of the last event you saw", f.Since)
	}
	if len(f.Topics) > maxTopics {
		return catalog.Invalid("topics", "%d topics given, at most %d are allowed", len(f.Topics), maxTopics)
	}
	for _, t := range f.Topics {
		if !catalog.ValidTopic(t) {
			return catalog.Invalid("topics", "%q is not a topic: want the part of an event type before the dot, e.g. repository, ingestion, build, launch, service", t)
		}
	}
	if len(f.Subject) > maxSubjectLen || !utf8.ValidString(f.Subject) || strings.ContainsFunc(f.Subject, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return catalog.Invalid("subject", "want a repository slug or another subject of at most %d printable characters", maxSubjectLen)
	}
	return nil
}

// matches reports whether m passes the filter's topics and subject.
func (f *Filter) matches(m *Message) bool {
	if f.Subject != "" && m.Event.Subject != f.Subject {
		return false
	}
	return len(f.Topics) == 0 || slices.Contains(f.Topics, m.topic)
}

// Subscription is one subscriber's view of the stream: the events after its
// Since that pass its filter, in id order, each once. Read them from C (or
// with Next) until Done is closed; Err then says why it ended.
type Subscription struct {
	hub    *Hub
	filter Filter
	ch     chan *Message
	done   chan struct{}
	ctx    context.Context // cancelled when the subscription ends, after done is closed
	cancel context.CancelFunc

	// Guarded by hub.mu.
	replaying bool       // the stored events are still being read
	pending   []*Message // live events held back while replaying
	overflow  bool       // pending overflowed: read the table again
	after     int64      // live events up to this id were replayed already
	ended     bool
	err       error
}

// Subscribe starts a subscription that replays the stored events after
// f.Since, then continues with live events, with no gap and no duplicate
// in between. It ends when ctx is done, Close is called, the consumer
// falls more than the hub's buffer behind (*SlowConsumerError), or the hub
// shuts down (ErrClosed). A Since older than the retained events is
// reported by a first message of type stream.truncated; a Since that no
// event has reached yet is a *catalog.InvalidError.
func (h *Hub) Subscribe(ctx context.Context, f Filter) (*Subscription, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	f.Topics = slices.Clone(f.Topics)
	if f.Since > 0 {
		b, err := h.store.EventLogBounds(ctx)
		if err != nil {
			return nil, err
		}
		if f.Since > b.Newest {
			return nil, catalog.Invalid("since", "no event %d yet (the newest is %d): was the database reset? start again from 0 to read every retained event", f.Since, b.Newest)
		}
	}
	subCtx, cancel := context.WithCancel(ctx)
	s := &Subscription{
		hub:    h,
		filter: f,
		ch:     make(chan *Message, h.opts.Buffer),
		done:   make(chan struct{}),
		ctx:    subCtx,
		cancel: cancel,
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		cancel()
		return nil, ErrClosed
	}
	h.subs[s] = struct{}{}
	if f.Since == SinceNow {
		s.after = h.last
	} else {
		// Registered before the replay reads the table: every event the
		// hub fans out from now on is held in pending, so the replay and
		// the live events overlap rather than leave a gap.
		s.replaying = true
	}
	h.mu.Unlock()
	context.AfterFunc(subCtx, func() {
		err := ctx.Err()
		if err == nil {
			err = ErrUnsubscribed
		}
		s.end(err)
	})
	if f.Since != SinceNow {
		go s.replay(subCtx, f.Since)
	}
	return s, nil
}

// C delivers the events. It is never closed: select on Done as well.
func (s *Subscription) C() <-chan *Message { return s.ch }

// Done is closed when the subscription has ended.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err says why the subscription ended; nil while it runs.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription.
func (s *Subscription) Close() { s.end(ErrUnsubscribed) }

// Next returns the next event, or the reason the subscription ended, or
// ctx's error.
func (s *Subscription) Next(ctx context.Context) (*Message, error) {
	select {
	case m := <-s.ch:
		return m, nil
	default:
	}
	select {
	case m := <-s.ch:
		return m, nil
	case <-s.done:
		return nil, s.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Subscription) end(err error) {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.endLocked(err)
}

func (s *Subscription) endLocked(err error) {
	if s.ended {
		return
	}
	s.ended = true
	s.err = err
	s.pending = nil
	delete(s.hub.subs, s)
	close(s.done)
	s.cancel()
}

// offerLocked hands a live event to the subscription; the hub holds its
// lock and offers events in id order. It never blocks.
func (s *Subscription) offerLocked(m *Message) {
	if s.ended || !s.filter.matches(m) {
		return
	}
	if s.replaying {
		switch {
		case s.overflow:
			// The replay reads the table again; these are in it.
		case len(s.pending) >= s.hub.opts.ReplayHoldback:
			s.overflow, s.pending = true, nil
		default:
			s.pending = append(s.pending, m)
		}
		return
	}
	if m.Event.ID <= s.after {
		return
	}
	select {
	case s.ch <- m:
		s.hub.delivered.Add(1)
	default:
		s.hub.slowConsumers.Add(1)
		s.endLocked(&SlowConsumerError{Behind: len(s.ch) + 1})
	}
}

// replay sends the stored events after since, then the live events held
// back meanwhile, then switches the subscription to live delivery.
func (s *Subscription) replay(ctx context.Context, since int64) {
	h := s.hub
	cursor := since
	send := func(m *Message) error {
		select {
		case s.ch <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		if err := h.replay(ctx, &s.filter, &cursor, math.MaxInt64, send); err != nil {
			if ctx.Err() == nil {
				s.end(fmt.Errorf("read stored events: %w", err))
			}
			return
		}
		// The table had nothing after cursor when last read. Hand over
		// what the hub held back meanwhile, batch by batch, until it
		// holds nothing: then live delivery takes over under the hub's
		// lock, so no event falls between the two.
		for {
			h.mu.Lock()
			if s.ended {
				h.mu.Unlock()
				return
			}
			if s.overflow {
				s.overflow, s.pending = false, nil
				h.mu.Unlock()
				h.rereads.Add(1)
				break // read the table again from cursor
			}
			if len(s.pending) == 0 {
				s.replaying, s.after = false, cursor
				h.mu.Unlock()
				return
			}
			batch := s.pending
			s.pending = nil
			h.mu.Unlock()
			for _, m := range batch {
				if m.Event.ID <= cursor {
					continue // replayed already
				}
				if err := send(m); err != nil {
					return
				}
				cursor = m.Event.ID
			}
		}
	}
}

// replay calls fn with the stored events that pass f after *cursor and up
// to until, in id order, advancing *cursor, until a page comes back short.
// When events after *cursor (other than 0, "every retained event") were
// pruned, fn first gets a stream.truncated message and the replay goes on
// from the oldest retained event.
func (h *Hub) replay(ctx context.Context, f *Filter, cursor *int64, until int64, fn func(*Message) error) error {
	for {
		before := *cursor
		evs, err := h.store.Events(ctx, store.EventFilter{Since: before, Topics: f.Topics, Subject: f.Subject, Limit: replayPage})
		if err != nil {
			return err
		}
		if before > 0 {
			// Read after the page, so that a prune that overtook this
			// replay is seen (a prune raises the mark in the transaction
			// that deletes).
			b, err := h.store.EventLogBounds(ctx)
			if err != nil {
				return err
			}
			if b.PrunedThrough > before {
				if err := fn(truncatedMessage(before, b.PrunedThrough)); err != nil {
					return err
				}
				*cursor = b.PrunedThrough
				continue
			}
		}
		for _, e := range evs {
			if e.ID > until {
				return nil
			}
			m, err := newMessage(e)
			if err != nil {
				return fmt.Errorf("encode event %d: %w", e.ID, err)
			}
			if err := fn(m); err != nil {
				return err
			}
			*cursor = e.ID
		}
		if len(evs) < replayPage {
			return nil
		}
	}
}

// TruncatedData is the data of a stream.truncated message.
type TruncatedData = apitype.StreamTruncated

func truncatedMessage(since, through int64) *Message {
	data, _ := json.Marshal(TruncatedData{Since: since, PrunedThrough: through})
	m, _ := newMessage(catalog.Event{Type: apitype.EventStreamTruncated, Data: data, Time: time.Now().UTC()})
	return m
}
