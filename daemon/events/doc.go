// Package events is appstored's real-time event stream: a Hub that holds one
// LISTEN connection to PostgreSQL and fans the durable event log out to
// subscribers, and the HTTP routes that serve it (a WebSocket at
// GET /api/v1/events, JSON lines without one).
//
// # Ordering
//
// Every state change writes an events row in its own transaction, under
// pg_advisory_xact_lock(7070) (catalog/store.InsertEvent), so event ids
// become visible in id order: once a reader has seen id N, no event with a
// smaller id can commit later. Reading "id > last" therefore never skips an
// event, and both the hub's live fetches and a subscriber's replay are gap
// free. The events_notify trigger NOTIFYs appstore_events with the new id on
// commit; the hub treats notifications only as a wake-up and always reads
// the table, so a lost or coalesced notification costs latency, never an
// event.
//
// # Fan-out
//
// The hub reads new events in pages after each batch of notifications,
// encodes each once, and offers it to every matching subscriber without
// blocking: a live subscriber has a bounded buffer, and one whose buffer is
// full is cut off with a *SlowConsumerError ("slow consumer: N events
// behind"); it resumes by subscribing again from the last id it got. Others
// never wait for it.
//
// A subscription first replays the stored events after Filter.Since, then
// continues live. It is registered with the hub before the replay queries
// run; live events that arrive meanwhile are held back and those at or
// below the last replayed id are dropped, so the seam has neither gap nor
// duplicate. When Since is older than what pruning kept, the stream starts
// with a stream.truncated message.
//
// # Reconnection
//
// When the LISTEN connection fails (PostgreSQL restarts, the backend is
// terminated) the hub reconnects with backoff and, once listening again,
// reads every event after the last one it delivered: nothing is lost, only
// delayed. The connection is pinged after IdleCheck of silence.
//
// # Build logs
//
// The hub also LISTENs on appstore_build_logs. The contract with the
// builds worker: after it commits new build_logs rows of build B it runs
// pg_notify('appstore_build_logs', B::text) (in the same transaction, so
// the notification is sent on commit). A follower of B's log
// (GET /builds/{id}/logs?follow=1) does, in this order:
//
//  1. notify, cancel := hub.SubscribeBuildLog(B); defer cancel()
//  2. read the rows of B with id > last, send them, remember last
//  3. wait for <-notify (or the build's end, or the request's end) and go
//     to 2; a closed notify channel means the hub shut down.
//
// Subscribing before reading means a line committed between the read and
// the wait still wakes the follower. Wake-ups are coalesced (the channel
// has room for one) and also sent after the hub reconnects, since
// notifications may have been missed while it was away; a follower must
// treat a wake-up as "look again", never as "exactly one new line".
package events
