package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/appstore-dev/appstore/internal/backoff"
)

// SinceNow as EventsOptions.Since follows only the events committed after
// the call starts.
const SinceNow int64 = -1

// EventsOptions select the events of Events and StoredEvents.
type EventsOptions struct {
	// Since is the id after which events are delivered: 0 replays every
	// retained event first, SinceNow none. To wait for the outcome of an
	// action, take LastEventID before the action and pass it here, so no
	// event of the action can be missed.
	Since int64
	// Topics are event topics, the part of the type before the dot
	// ("repository", "ingestion", "build", "launch", "service"); empty
	// means all.
	Topics []string
	// Subject is an exact subject (a repository slug); empty means all.
	Subject string
	// Heartbeat asks the daemon for this heartbeat interval (1s to 5m);
	// zero takes the daemon's default (15s). A stream that stays silent
	// for three intervals is taken for dead and reconnected.
	Heartbeat time.Duration
	// ReconnectFor bounds how long Events keeps trying to reconnect after
	// the stream was lost before it gives up with the last error
	// (default 1 minute; negative: until ctx is done).
	ReconnectFor time.Duration
	// OnReconnect, when set, is called each time the stream was lost,
	// with the reason and the wait before the next attempt.
	OnReconnect func(err error, wait time.Duration)
}

// LastEventID returns the id of the newest event in the log (0 when there
// is none).
func (c *Client) LastEventID(ctx context.Context) (int64, error) {
	cur, err := doJSON[EventCursor](ctx, c, http.MethodGet, apiPath("events", "last"), nil, nil)
	if err != nil {
		return 0, err
	}
	return cur.LastID, nil
}

// StoredEvents yields the stored events after opts.Since (which must be 0 or
// more) that pass its filters, up to the newest at the time of the call,
// and ends. It does not follow; Events does.
func (c *Client) StoredEvents(ctx context.Context, opts EventsOptions) iter.Seq2[Event, error] {
	q := eventsQuery(opts)
	if opts.Since < 0 {
		q.Set("since", "0")
	}
	return streamJSONLines[Event](ctx, c, apiPath("events"), q)
}

func eventsQuery(opts EventsOptions) url.Values {
	q := url.Values{}
	q.Set("since", strconv.FormatInt(opts.Since, 10))
	if len(opts.Topics) > 0 {
		q.Set("topics", strings.Join(opts.Topics, ","))
	}
	if opts.Subject != "" {
		q.Set("subject", opts.Subject)
	}
	if opts.Heartbeat > 0 {
		q.Set("heartbeat", opts.Heartbeat.String())
	}
	return q
}

// Reconnection backoff of Events.
const (
	reconnectMin = 200 * time.Millisecond
	reconnectMax = 5 * time.Second
)

// Events follows the event stream over a WebSocket: the stored events after
// opts.Since, then live ones, in id order. When the connection is lost (the
// daemon restarts, a proxy drops it, heartbeats stop) it reconnects with
// backoff and resumes after the last id it yielded, so the caller sees
// every event once, in order. A stream.truncated message is yielded as an
// event with id 0; heartbeats are not.
//
// An error is yielded once and ends the sequence: the first connection
// failed, the daemon refused the request (a bad filter, a missing token),
// reconnecting failed for longer than opts.ReconnectFor, or ctx is done.
// To stop at a condition, break out of the loop.
func (c *Client) Events(ctx context.Context, opts EventsOptions) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		last := opts.Since
		if last < 0 {
			id, err := c.LastEventID(ctx)
			if err != nil {
				yield(Event{}, err)
				return
			}
			last = id
		}
		reconnectFor := opts.ReconnectFor
		if reconnectFor == 0 {
			reconnectFor = time.Minute
		}
		var lostAt time.Time // when the stream was lost; zero before the first connection
		delay := reconnectMin
		// pause tells OnReconnect and waits before the next dial; false
		// when ctx ended meanwhile (the error is yielded then).
		pause := func(err error, wait time.Duration) bool {
			if opts.OnReconnect != nil {
				opts.OnReconnect(err, wait)
			}
			if !backoff.Sleep(ctx, wait) {
				yield(Event{}, fmt.Errorf("events: %w", ctx.Err()))
				return false
			}
			return true
		}
		for {
			conn, heartbeat, err := c.dialEvents(ctx, last, opts)
			if err != nil {
				if ctxErr := ctx.Err(); ctxErr != nil {
					yield(Event{}, fmt.Errorf("events: %w", ctxErr))
					return
				}
				if lostAt.IsZero() || !retryable(err) || (reconnectFor > 0 && time.Since(lostAt) > reconnectFor) {
					yield(Event{}, err)
					return
				}
				wait := backoff.Jitter(delay)
				delay = min(delay*2, reconnectMax)
				if !pause(err, wait) {
					return
				}
				continue
			}
			delay = reconnectMin
			stopped, err := readEvents(ctx, conn, heartbeat, &last, yield)
			if stopped {
				_ = conn.Close(websocket.StatusNormalClosure, "")
				return
			}
			_ = conn.CloseNow()
			if ctxErr := ctx.Err(); ctxErr != nil {
				yield(Event{}, fmt.Errorf("events: %w", ctxErr))
				return
			}
			var protoErr *streamProtocolError
			if errors.As(err, &protoErr) {
				yield(Event{}, err)
				return
			}
			lostAt = time.Now()
			// A slow consumer was cut off by a daemon that is still up:
			// come back at once. Otherwise the daemon may be restarting.
			wait := time.Duration(0)
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				wait = backoff.Jitter(delay)
				delay = min(delay*2, reconnectMax)
			}
			if !pause(err, wait) {
				return
			}
		}
	}
}

// dialEvents opens the WebSocket and returns it with the stream's
// heartbeat interval.
func (c *Client) dialEvents(ctx context.Context, since int64, opts EventsOptions) (*websocket.Conn, time.Duration, error) {
	o := opts
	o.Since = since
	req, err := c.NewRequest(ctx, http.MethodGet, apiPath("events"), eventsQuery(o), nil)
	if err != nil {
		return nil, 0, err
	}
	header := req.Header.Clone()
	header.Del("Accept")
	// coder/websocket refuses clients with an overall timeout: the stream
	// is bounded by ctx instead.
	hc := *c.httpClient()
	hc.Timeout = 0
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(dialCtx, req.URL.String(), &websocket.DialOptions{HTTPClient: &hc, HTTPHeader: header})
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, 0, fmt.Errorf("events: %w", ctxErr)
		}
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
			return nil, 0, newAPIError(resp.StatusCode, body)
		}
		return nil, 0, &UnreachableError{URL: c.URL(), Err: err}
	}
	conn.SetReadLimit(maxStreamLine)
	heartbeat := 15 * time.Second
	if d, err := time.ParseDuration(resp.Header.Get(HeartbeatHeader)); err == nil && d > 0 {
		heartbeat = d
	}
	return conn, heartbeat, nil
}

// streamProtocolError is a message the client cannot understand;
// reconnecting would not help.
type streamProtocolError struct{ err error }

func (e *streamProtocolError) Error() string { return "event stream: " + e.err.Error() }
func (e *streamProtocolError) Unwrap() error { return e.err }

// readEvents yields the events read from conn, skipping heartbeats and
// anything at or below *last, until the connection fails (err) or the
// consumer stops (stopped).
func readEvents(ctx context.Context, conn *websocket.Conn, heartbeat time.Duration, last *int64, yield func(Event, error) bool) (stopped bool, err error) {
	dead := max(3*heartbeat, 3*time.Second)
	for {
		readCtx, cancel := context.WithTimeout(ctx, dead)
		typ, data, err := conn.Read(readCtx)
		timedOut := readCtx.Err() != nil && ctx.Err() == nil
		cancel()
		if err != nil {
			if timedOut {
				return false, fmt.Errorf("no event or heartbeat from appstored for %s: %w", dead, err)
			}
			return false, err
		}
		if typ != websocket.MessageText {
			return false, &streamProtocolError{fmt.Errorf("unexpected binary message")}
		}
		var e Event
		if err := json.Unmarshal(data, &e); err != nil {
			return false, &streamProtocolError{fmt.Errorf("decode message: %w", err)}
		}
		if e.Type == EventHeartbeat {
			continue
		}
		if e.ID > 0 {
			if e.ID <= *last {
				continue // already yielded before a reconnection
			}
			*last = e.ID
		}
		if !yield(e, nil) {
			return true, nil
		}
	}
}

// retryable reports whether a failed connection attempt may succeed later:
// the daemon is down, restarting or overloaded, but did not refuse us.
func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode >= 500 || ae.StatusCode == http.StatusTooManyRequests
	}
	var ue *UnreachableError
	return errors.As(err, &ue)
}
