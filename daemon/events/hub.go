package events

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/internal/backoff"
)

// Channels the hub LISTENs on.
const (
	// EventsChannel carries the id of each new event (the events_notify
	// trigger sends it on commit).
	EventsChannel = "appstore_events"
	// BuildLogChannel carries the id of a build that has new log lines
	// (the builds worker sends it; see the package documentation).
	BuildLogChannel = "appstore_build_logs"
)

// fetchPage is how many events the hub reads per query when catching up.
const fetchPage = 1000

// ErrClosed ends the subscriptions of a hub that shuts down.
var ErrClosed = errors.New("appstored is shutting down")

// SlowConsumerError ends a subscription whose buffer was full: the consumer
// fell Behind events behind the stream.
type SlowConsumerError struct{ Behind int }

func (e *SlowConsumerError) Error() string {
	return fmt.Sprintf("slow consumer: %d events behind", e.Behind)
}

// Options configure a Hub. Zero values mean the documented defaults.
type Options struct {
	// Store is the catalog; the hub reads the event log through it and
	// opens its LISTEN connection with the pool's settings.
	Store *store.Store
	// Logger receives the hub's log lines; nil discards them.
	Logger *slog.Logger
	// Buffer is how many events a live subscriber may have waiting before
	// it is cut off as a slow consumer (default 1024).
	Buffer int
	// ReplayHoldback is how many live events a replaying subscription may
	// hold back; past it they are dropped and read from the table instead
	// (default max(4×Buffer, 1024)).
	ReplayHoldback int
	// IdleCheck is how long the LISTEN connection may stay silent before
	// the hub pings it and reads the table in case a notification was
	// missed (default 10s).
	IdleCheck time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between attempts to
	// re-establish the LISTEN connection (default 100ms and 2s: live events
	// must resume within 5 s of PostgreSQL's return, docs/reliability.md).
	ReconnectMin, ReconnectMax time.Duration
}

// Hub fans the event log out to subscribers. Create it with NewHub, start
// it with Start, stop it with Close.
type Hub struct {
	opts    Options
	store   *store.Store
	logger  *slog.Logger
	connCfg *pgx.ConnConfig

	// kick wakes the dispatcher; it holds at most one wake-up, so a burst
	// of notifications becomes one read of the table.
	kick chan struct{}
	// lastSeen mirrors last for the listener, which skips wake-ups for
	// notifications of events already delivered.
	lastSeen  atomic.Int64
	listening atomic.Bool
	ready     chan struct{} // closed at the first successful LISTEN
	readyOnce sync.Once

	reconnects    atomic.Int64
	slowConsumers atomic.Int64
	delivered     atomic.Int64
	rereads       atomic.Int64

	mu sync.Mutex
	// last is the id of the newest event fanned out; only the dispatcher
	// changes it, under mu.
	last   int64
	subs   map[*Subscription]struct{}
	closed bool

	logMu   sync.Mutex
	logSubs map[int64]map[*logWaiter]struct{}
	logDone bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewHub returns a hub on opts.Store. It does nothing until Start.
func NewHub(opts Options) (*Hub, error) {
	if opts.Store == nil {
		return nil, errors.New("events: Options.Store is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 1024
	}
	if opts.ReplayHoldback <= 0 {
		opts.ReplayHoldback = max(4*opts.Buffer, 1024)
	}
	if opts.IdleCheck <= 0 {
		opts.IdleCheck = 10 * time.Second
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = 100 * time.Millisecond
	}
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = max(2*time.Second, opts.ReconnectMin)
	}
	// Named so that operators (and tests) can tell it in pg_stat_activity.
	cfg := opts.Store.ListenConfig("appstored-events")
	return &Hub{
		opts:    opts,
		store:   opts.Store,
		logger:  opts.Logger,
		connCfg: cfg,
		kick:    make(chan struct{}, 1),
		ready:   make(chan struct{}),
		subs:    make(map[*Subscription]struct{}),
		logSubs: make(map[int64]map[*logWaiter]struct{}),
	}, nil
}

// Start reads the newest event id (live delivery starts after it), starts
// listening and returns once the LISTEN connection is up, or after a few
// seconds without it (the hub keeps trying in the background). The hub
// runs until ctx is done or Close is called.
func (h *Hub) Start(ctx context.Context) error {
	last, err := h.store.LastEventID(ctx)
	if err != nil {
		return fmt.Errorf("event hub: %w", err)
	}
	h.mu.Lock()
	h.last = last
	h.mu.Unlock()
	h.lastSeen.Store(last)

	runCtx, cancel := context.WithCancel(ctx)
	h.cancel = cancel
	h.wg.Add(2)
	go h.listen(runCtx)
	go h.dispatch(runCtx)

	wait := time.NewTimer(5 * time.Second)
	defer wait.Stop()
	select {
	case <-h.ready:
	case <-wait.C:
		h.logger.Warn("event stream: not listening on PostgreSQL yet; live events wait until it is (retrying)")
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Close stops the hub and ends every subscription with ErrClosed. It waits
// for the hub's goroutines.
func (h *Hub) Close() {
	if h.cancel != nil {
		h.cancel()
	}
	h.wg.Wait()
	h.shutdown()
}

// shutdown ends all subscriptions and build-log waiters; the hub takes no
// new ones afterwards.
func (h *Hub) shutdown() {
	h.mu.Lock()
	h.closed = true
	for s := range h.subs {
		s.endLocked(ErrClosed)
	}
	h.mu.Unlock()

	h.logMu.Lock()
	h.logDone = true
	for _, ws := range h.logSubs {
		for w := range ws {
			w.closeLocked()
		}
	}
	h.logSubs = map[int64]map[*logWaiter]struct{}{}
	h.logMu.Unlock()
}

// Check reports whether the hub is listening, for /readyz.
func (h *Hub) Check(context.Context) error {
	if !h.listening.Load() {
		return errors.New("not listening for events on PostgreSQL (reconnecting); live events are delayed")
	}
	return nil
}

// Stats are counters of a hub, for metrics and benchmarks.
type Stats struct {
	Subscribers   int   // live and replaying subscriptions
	LastID        int64 // newest event fanned out
	Listening     bool  // the LISTEN connection is up
	Reconnects    int64 // LISTEN connections re-established after a loss
	SlowConsumers int64 // subscriptions cut off for a full buffer
	Delivered     int64 // events handed to subscribers
	// Rereads counts replays that read the table again because the live
	// events they held back overflowed ReplayHoldback.
	Rereads int64
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{
		Subscribers:   len(h.subs),
		LastID:        h.last,
		Listening:     h.listening.Load(),
		Reconnects:    h.reconnects.Load(),
		SlowConsumers: h.slowConsumers.Load(),
		Delivered:     h.delivered.Load(),
		Rereads:       h.rereads.Load(),
	}
}

// LastID returns the id of the newest event the hub has fanned out.
func (h *Hub) LastID() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// poke wakes the dispatcher without blocking.
func (h *Hub) poke() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// listen keeps one LISTEN connection up, reconnecting with backoff.
func (h *Hub) listen(ctx context.Context) {
	defer h.wg.Done()
	delay := h.opts.ReconnectMin
	for {
		start := time.Now()
		err := h.listenOnce(ctx)
		h.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			delay = h.opts.ReconnectMin // it had been healthy: retry promptly
		}
		wait := backoff.Jitter(delay)
		h.logger.Warn("event stream: LISTEN connection lost, reconnecting", "err", err, "retry_in", wait)
		if !backoff.Sleep(ctx, wait) {
			return
		}
		delay = min(delay*2, h.opts.ReconnectMax)
	}
}

// listenOnce connects, LISTENs, and waits for notifications until the
// connection fails or ctx is done.
func (h *Hub) listenOnce(ctx context.Context) error {
	connectCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(connectCtx, h.connCfg.Copy())
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	for _, ch := range []string{EventsChannel, BuildLogChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return fmt.Errorf("LISTEN %s: %w", ch, err)
		}
	}
	h.listening.Store(true)
	// Whatever committed while nobody listened is in the table: read it.
	h.poke()
	// Followers of build logs may have missed their notifications too.
	h.wakeAllBuildLogs()
	first := false
	h.readyOnce.Do(func() { close(h.ready); first = true })
	if !first {
		h.reconnects.Add(1)
		h.logger.Info("event stream: listening again; catching up from the last delivered event", "last_id", h.lastSeen.Load())
	}

	for {
		waitCtx, cancel := context.WithTimeout(ctx, h.opts.IdleCheck)
		n, err := conn.WaitForNotification(waitCtx)
		timedOut := waitCtx.Err() != nil
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if timedOut && !conn.IsClosed() {
				// Silence. A connection whose peer vanished without a
				// word looks just like this, so make it answer; and read
				// the table in case a notification went missing.
				pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := conn.Ping(pingCtx)
				cancel()
				if err != nil {
					return fmt.Errorf("ping after %s of silence: %w", h.opts.IdleCheck, err)
				}
				h.poke()
				continue
			}
			return fmt.Errorf("wait for notification: %w", err)
		}
		h.notified(n)
	}
}

func (h *Hub) notified(n *pgconn.Notification) {
	switch n.Channel {
	case EventsChannel:
		id, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil || id > h.lastSeen.Load() {
			h.poke()
		}
	case BuildLogChannel:
		id, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			h.logger.Warn("event stream: build log notification without a build id", "payload", n.Payload)
			return
		}
		h.wakeBuildLog(id)
	}
}

// dispatch reads new events after each wake-up and fans them out.
func (h *Hub) dispatch(ctx context.Context) {
	defer h.wg.Done()
	defer h.shutdown()
	delay := h.opts.ReconnectMin
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		}
		if err := h.catchUp(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := backoff.Jitter(delay)
			h.logger.Warn("event stream: read new events", "err", err, "retry_in", wait)
			if !backoff.Sleep(ctx, wait) {
				return
			}
			delay = min(delay*2, h.opts.ReconnectMax)
			h.poke()
			continue
		}
		delay = h.opts.ReconnectMin
	}
}

// catchUp fans out every event after the last one delivered.
func (h *Hub) catchUp(ctx context.Context) error {
	for {
		evs, err := h.store.Events(ctx, store.EventFilter{Since: h.lastSeen.Load(), Limit: fetchPage})
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		h.fanOut(evs)
		if len(evs) < fetchPage {
			return nil
		}
	}
}

// fanOut encodes each event once and offers it to every subscription.
func (h *Hub) fanOut(evs []catalog.Event) {
	msgs := make([]*Message, 0, len(evs))
	for _, e := range evs {
		m, err := newMessage(e)
		if err != nil {
			// The data column is jsonb, so this cannot happen; skipping
			// keeps the stream going and the id order intact.
			h.logger.Error("event stream: encode event", "id", e.ID, "err", err)
			continue
		}
		msgs = append(msgs, m)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range msgs {
		for s := range h.subs {
			s.offerLocked(m)
		}
	}
	h.last = evs[len(evs)-1].ID
	h.lastSeen.Store(h.last)
}

// Message is an event as the hub delivers it: the event and its wire
// encoding, made once and shared by all subscribers (which get pointers,
// so that a subscriber's buffer costs a word per event). Do not modify.
type Message struct {
	Event catalog.Event
	// JSON is the event as sent on the wire ({"id","type","subject","data",
	// "time"}), without a trailing newline. Shared: do not modify.
	JSON []byte

	// frame is JSON as a whole WebSocket text frame (header, then JSON;
	// JSON is its tail), so that each subscriber's connection writes the
	// same bytes without framing or copying them again.
	frame []byte
	// topic is Event.Topic(), which every subscription's filter compares.
	topic string
}

// maxFrameHeader is the longest header of an unmasked WebSocket frame.
const maxFrameHeader = 10

func newMessage(e catalog.Event) (*Message, error) {
	if len(e.Data) == 0 {
		e.Data = json.RawMessage("{}")
	}
	// The JSON is encoded after room for the frame header, which goes in
	// front once the length is known.
	buf := bytes.NewBuffer(make([]byte, maxFrameHeader, maxFrameHeader+256))
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	payload := b[maxFrameHeader:len(b):len(b)]
	start := maxFrameHeader - putTextFrameHeader(b[:maxFrameHeader], len(payload))
	return &Message{Event: e, JSON: payload, frame: b[start:], topic: e.Topic()}, nil
}

// putTextFrameHeader writes the header of an unmasked, final text frame
// of n bytes (RFC 6455 section 5.2) at the end of dst and returns its
// length.
func putTextFrameHeader(dst []byte, n int) int {
	var h []byte
	switch {
	case n < 126:
		h = dst[len(dst)-2:]
		h[1] = byte(n)
	case n <= 0xffff:
		h = dst[len(dst)-4:]
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(n))
	default:
		h = dst[len(dst)-10:]
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
	}
	h[0] = 0x81 // FIN, text
	return len(h)
}

// textFrame frames payload as a WebSocket text message.
func textFrame(payload []byte) []byte {
	f := make([]byte, maxFrameHeader+len(payload))
	copy(f[maxFrameHeader:], payload)
	return f[maxFrameHeader-putTextFrameHeader(f[:maxFrameHeader], len(payload)):]
}

// logWaiter is one follower of a build's log.
type logWaiter struct {
	ch     chan struct{}
	closed bool
}

func (w *logWaiter) closeLocked() {
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
}

// SubscribeBuildLog returns a channel that receives a value whenever build
// buildID may have new log lines (coalesced: it holds at most one), and a
// cancel function to call when the follower is done. The channel is closed
// when the hub shuts down. See the package documentation for the contract
// with the builds worker and the order a follower must keep.
func (h *Hub) SubscribeBuildLog(buildID int64) (notify <-chan struct{}, cancel func()) {
	w := &logWaiter{ch: make(chan struct{}, 1)}
	h.logMu.Lock()
	if h.logDone {
		w.closeLocked()
		h.logMu.Unlock()
		return w.ch, func() {}
	}
	if h.logSubs[buildID] == nil {
		h.logSubs[buildID] = make(map[*logWaiter]struct{})
	}
	h.logSubs[buildID][w] = struct{}{}
	h.logMu.Unlock()
	return w.ch, sync.OnceFunc(func() {
		h.logMu.Lock()
		defer h.logMu.Unlock()
		if ws := h.logSubs[buildID]; ws != nil {
			delete(ws, w)
			if len(ws) == 0 {
				delete(h.logSubs, buildID)
			}
		}
	})
}

func (h *Hub) wakeBuildLog(buildID int64) {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	for w := range h.logSubs[buildID] {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}

func (h *Hub) wakeAllBuildLogs() {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	for _, ws := range h.logSubs {
		for w := range ws {
			select {
			case w.ch <- struct{}{}:
			default:
			}
		}
	}
}
