package events

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/api/respond"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// Heartbeat bounds: a client may ask for its own interval within them.
const (
	DefaultHeartbeat = 15 * time.Second
	minHeartbeat     = time.Second
	maxHeartbeat     = 5 * time.Minute
)

// Stream serves the event stream; the route table (daemon/api/routes.go)
// mounts its handlers:
//
//	GET /api/v1/events        ServeEvents: a WebSocket (replay, then live),
//	                          or JSON lines of the stored events without an
//	                          Upgrade
//	GET /api/v1/events/last   ServeLast: {"last_id": N}
type Stream struct {
	Hub *Hub
	// OriginAllowed is the API guard's Origin check. The route's guard
	// already refuses WebSocket upgrades from foreign Origins; the handler
	// asks again (in case it is mounted elsewhere). Nil allows any Origin
	// that coder/websocket accepts (the request's own host).
	OriginAllowed func(r *http.Request) bool
	// AllowedHosts are the guard's extra host names, given to
	// coder/websocket as origin patterns so that neither check undoes the
	// other.
	AllowedHosts []string
	Logger       *slog.Logger
	// Heartbeat is the default heartbeat interval (DefaultHeartbeat).
	Heartbeat time.Duration
	// WriteTimeout bounds a write to a client (default 10s): a client that
	// stops reading is dropped even before its buffer fills. The deadline
	// is moved forward lazily (see batchConn), so a stalled write fails
	// after between half of WriteTimeout and all of it.
	WriteTimeout time.Duration

	defaultsOnce sync.Once
	mu           sync.Mutex
	closed       bool
	conns        sync.WaitGroup
}

func (rt *Stream) defaults() {
	rt.defaultsOnce.Do(func() {
		if rt.Logger == nil {
			rt.Logger = slog.New(slog.DiscardHandler)
		}
		if rt.Heartbeat <= 0 {
			rt.Heartbeat = DefaultHeartbeat
		}
		if rt.WriteTimeout <= 0 {
			rt.WriteTimeout = 10 * time.Second
		}
	})
}

// Wait waits until every WebSocket served has ended (they end when the hub
// shuts down or their request context is cancelled), or ctx is done.
func (rt *Stream) Wait(ctx context.Context) error {
	rt.mu.Lock()
	rt.closed = true
	rt.mu.Unlock()
	done := make(chan struct{})
	go func() { rt.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("event stream: WebSocket connections still open at shutdown")
	}
}

// ServeLast answers GET /api/v1/events/last: the id of the newest event.
func (rt *Stream) ServeLast(w http.ResponseWriter, r *http.Request) {
	id, err := rt.Hub.store.LastEventID(r.Context())
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, apitype.EventCursor{LastID: id})
}

// streamQuery is the parsed query of GET /api/v1/events.
type streamQuery struct {
	filter    Filter
	hasSince  bool
	heartbeat time.Duration
}

func (rt *Stream) parseQuery(r *http.Request) (streamQuery, error) {
	q := r.URL.Query()
	sq := streamQuery{heartbeat: rt.Heartbeat}
	sq.filter.Since = SinceNow
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return sq, catalog.Invalid("since", "%q is not an event id: want 0 (every retained event) or the id of the last event you saw", v)
		}
		sq.filter.Since, sq.hasSince = n, true
	}
	for _, key := range []string{"topics", "topic"} {
		for _, v := range q[key] {
			for _, t := range strings.Split(v, ",") {
				if t = strings.TrimSpace(t); t != "" {
					sq.filter.Topics = append(sq.filter.Topics, t)
				}
			}
		}
	}
	sq.filter.Subject = q.Get("subject")
	if v := q.Get("heartbeat"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < minHeartbeat || d > maxHeartbeat {
			return sq, catalog.Invalid("heartbeat", "%q: want a duration from %s to %s, e.g. 15s", v, minHeartbeat, maxHeartbeat)
		}
		sq.heartbeat = d
	}
	return sq, sq.filter.Validate()
}

func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// ServeEvents answers GET /api/v1/events: with an Upgrade, the WebSocket
// stream (replay after ?since=, then live); without, the stored events
// after ?since= as JSON lines.
func (rt *Stream) ServeEvents(w http.ResponseWriter, r *http.Request) {
	rt.defaults()
	sq, err := rt.parseQuery(r)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	if !isWebSocket(r) {
		rt.stored(w, r, sq)
		return
	}
	if rt.OriginAllowed != nil && !rt.OriginAllowed(r) {
		respond.WriteError(w, r, respond.Errorf(http.StatusForbidden, apitype.CodeForbidden,
			"cross-origin WebSocket from %q refused: only pages served by this daemon may open the event stream", r.Header.Get("Origin")))
		return
	}
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		respond.WriteError(w, r, respond.Errorf(http.StatusServiceUnavailable, apitype.CodeUnavailable, "appstored is shutting down; reconnect in a moment"))
		return
	}
	rt.conns.Add(1)
	rt.mu.Unlock()
	defer rt.conns.Done()

	// The subscription lives as long as the request: the daemon cancels
	// request contexts at shutdown, and the handler returns when the
	// client goes.
	ctx := r.Context()
	sub, err := rt.Hub.Subscribe(ctx, sq.filter)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			err = respond.Errorf(http.StatusServiceUnavailable, apitype.CodeUnavailable, "appstored is shutting down; reconnect in a moment")
		}
		respond.WriteError(w, r, err)
		return
	}
	defer sub.Close()

	w.Header().Set(apitype.HeartbeatHeader, sq.heartbeat.String())
	hj := &hijacker{ResponseWriter: w, writeTimeout: rt.WriteTimeout}
	conn, err := websocket.Accept(hj, r, &websocket.AcceptOptions{OriginPatterns: originPatterns(rt.AllowedHosts)})
	if err != nil {
		return // Accept has answered the client
	}
	rt.serve(conn, hj.conn, sub, sq.heartbeat)
}

// originPatterns gives coder/websocket the hosts the guard allows in an
// Origin, with any port (the guard compares host names; coder/websocket
// matches host:port).
func originPatterns(allowed []string) []string {
	var out []string
	for _, h := range allowed {
		out = append(out, h, h+":*")
	}
	return out
}

// serve writes the subscription's events and heartbeats to conn until one
// side ends, then closes conn with a reason the client can act on.
//
// Between messages it waits on two channels only: the subscription's
// messages, and a wake-up for everything else (a heartbeat due, the
// subscription ended), signalled by callbacks. A ticker in the same
// select would cost a lock of its timer every time the loop blocks and
// wakes, that is for every message.
func (rt *Stream) serve(conn *websocket.Conn, bc *batchConn, sub *Subscription, heartbeat time.Duration) {
	wake := make(chan struct{}, 1)
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	// Nothing is expected from the client, but its control frames (pong,
	// close) must be read; a data message closes the connection. The
	// client going ends the subscription, so that the subscription's end
	// covers the client, the request (the daemon shutting down) and the
	// hub.
	gone := conn.CloseRead(context.Background())
	stopGone := context.AfterFunc(gone, sub.Close)
	defer stopGone()
	stopEnd := context.AfterFunc(sub.ctx, signal)
	defer stopEnd()
	var beatDue atomic.Bool
	beat := time.AfterFunc(heartbeat, func() { beatDue.Store(true); signal() })
	defer beat.Stop()
	for {
		// The end first: a slow consumer is told at once, not after the
		// backlog that got it cut off. Then events: a heartbeat is only
		// due when the stream is idle.
		select {
		case <-sub.Done():
			if gone.Err() != nil {
				_ = conn.CloseNow() // the client closed or broke the connection
				return
			}
			rt.closeFor(conn, sub.Err())
			return
		default:
		}
		select {
		case m := <-sub.C():
			if !rt.send(conn, bc, sub, m) {
				return
			}
			continue
		default:
		}
		select {
		case m := <-sub.C():
			if !rt.send(conn, bc, sub, m) {
				return
			}
			continue
		case <-wake:
		}
		if beatDue.Swap(false) {
			if err := bc.writeFrame(textFrame(heartbeatMessage())); err != nil {
				rt.writeFailed(conn, err)
				return
			}
			beat.Reset(heartbeat)
		}
	}
}

// send writes m and the messages already waiting behind it (up to
// maxBatch bytes) with one system call; it reports whether conn is still
// good.
func (rt *Stream) send(conn *websocket.Conn, bc *batchConn, sub *Subscription, m *Message) bool {
	var err error
	if waiting := len(sub.C()); waiting == 0 {
		err = bc.writeFrame(m.frame)
	} else {
		bc.hold()
		err = bc.writeFrame(m.frame)
		for size := len(m.frame); err == nil && waiting > 0 && size < maxBatch; waiting-- {
			m = <-sub.C() // only this goroutine receives: what len counted is there
			err = bc.writeFrame(m.frame)
			size += len(m.frame)
		}
		if rerr := bc.release(); err == nil {
			err = rerr
		}
	}
	if err != nil {
		rt.writeFailed(conn, err)
		return false
	}
	return true
}

func (rt *Stream) writeFailed(conn *websocket.Conn, err error) {
	rt.Logger.Debug("event stream: write failed", "err", err)
	_ = conn.CloseNow()
}

// closeFor closes conn with the status and reason of a subscription's end.
func (rt *Stream) closeFor(conn *websocket.Conn, err error) {
	var slow *SlowConsumerError
	switch {
	case errors.As(err, &slow):
		rt.Logger.Info("event stream: slow consumer cut off", "behind", slow.Behind)
		_ = conn.Close(websocket.StatusPolicyViolation, slow.Error()+"; reconnect with since=<last id>")
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled):
		_ = conn.Close(websocket.StatusGoingAway, ErrClosed.Error())
	default:
		rt.Logger.Warn("event stream: subscription failed", "err", err)
		_ = conn.Close(websocket.StatusTryAgainLater, textutil.Truncate(err.Error(), maxCloseReason))
	}
}

// maxCloseReason is what a close frame has room for (123 bytes) less the
// ellipsis of a shortened reason.
const maxCloseReason = 123 - len(textutil.Ellipsis)

func heartbeatMessage() []byte {
	return []byte(`{"type":"` + apitype.EventHeartbeat + `","time":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`)
}

// stored answers a plain GET with the stored events after since, one JSON
// object per line, up to the newest event at the time of the request.
func (rt *Stream) stored(w http.ResponseWriter, r *http.Request, sq streamQuery) {
	ctx := r.Context()
	if !sq.hasSince {
		respond.WriteError(w, r, catalog.Invalid("since", "required without a WebSocket: ?since=0 lists every retained event; to follow live, connect with a WebSocket (appstore events)"))
		return
	}
	if sq.filter.Since > 0 {
		b, err := rt.Hub.store.EventLogBounds(ctx)
		if err != nil {
			respond.WriteError(w, r, err)
			return
		}
		if sq.filter.Since > b.Newest {
			respond.WriteError(w, r, catalog.Invalid("since", "no event %d yet (the newest is %d): was the database reset? use since=0 to read every retained event", sq.filter.Since, b.Newest))
			return
		}
	}
	until, err := rt.Hub.store.LastEventID(ctx)
	if err != nil {
		respond.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	cursor := sq.filter.Since
	n := 0
	err = rt.Hub.replay(ctx, &sq.filter, &cursor, until, func(m *Message) error {
		if _, err := w.Write(append(m.JSON[:len(m.JSON):len(m.JSON)], '\n')); err != nil {
			return err
		}
		if n++; n%replayPage == 0 {
			return rc.Flush()
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			rt.Logger.Warn("event stream: list stored events", "err", err)
		}
		// The status is sent; abort so the client sees a broken answer
		// instead of a complete-looking, short one.
		panic(http.ErrAbortHandler)
	}
}
