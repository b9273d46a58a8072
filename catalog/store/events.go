package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/jackc/pgx/v5"
)

// eventLock is the transaction-scoped advisory lock taken before an event is
// inserted. It makes event ids become visible in id order: a reader that has
// seen id N will never later see a committed event with an id below N, so
// "replay since N, then live" has no gap. Writers insert their event last in
// the transaction to keep the lock short.
const eventLock = 7070

// EventSpec is an event to write.
type EventSpec struct {
	Type    string
	Subject string
	Data    any
}

// insertEvent writes an event in tx. The events_notify trigger sends its id on
// the appstore_events channel when tx commits.
func insertEvent(ctx context.Context, tx pgx.Tx, e EventSpec) (int64, error) {
	data := []byte("{}")
	if e.Data != nil {
		var err error
		if data, err = json.Marshal(e.Data); err != nil {
			return 0, fmt.Errorf("event %s: encode data: %w", e.Type, err)
		}
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, eventLock); err != nil {
		return 0, fmt.Errorf("event %s: lock: %w", e.Type, err)
	}
	var id int64
	err := tx.QueryRow(ctx,
		`INSERT INTO events (type, subject, data) VALUES ($1, $2, $3) RETURNING id`,
		e.Type, e.Subject, data).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("event %s: insert: %w", e.Type, mapError(err))
	}
	return id, nil
}

// InsertEvent writes an event in tx; for packages of the daemon that change
// state in their own transactions.
func InsertEvent(ctx context.Context, tx pgx.Tx, e EventSpec) (int64, error) {
	return insertEvent(ctx, tx, e)
}

// PublishEvent writes an event in a transaction of its own, for events that
// accompany no stored change.
func (s *Store) PublishEvent(ctx context.Context, e EventSpec) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		id, err = insertEvent(ctx, tx, e)
		return err
	})
	return id, err
}

// EventFilter selects events.
type EventFilter struct {
	Since   int64    // only events with a greater id
	Topics  []string // event topics (type prefix before the dot); empty = all
	Subject string   // exact subject; empty = all
	Limit   int      // 0 = 1000
}

// Events returns events after f.Since in id order.
func (s *Store) Events(ctx context.Context, f EventFilter) ([]catalog.Event, error) {
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 1000
	}
	if f.Topics == nil {
		f.Topics = []string{} // a nil slice is SQL NULL, and cardinality(NULL) is not 0
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, type, subject, data, created_at FROM events
		WHERE id > $1
		  AND (cardinality($2::text[]) = 0 OR split_part(type, '.', 1) = ANY($2))
		  AND ($3 = '' OR subject = $3)
		ORDER BY id LIMIT $4`, f.Since, f.Topics, f.Subject, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", mapError(err))
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Event, error) {
		var e catalog.Event
		var data []byte
		err := r.Scan(&e.ID, &e.Type, &e.Subject, &data, &e.Time)
		e.Data = data
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", mapError(err))
	}
	return evs, nil
}

// LastEventID returns the newest event id, 0 when there is none.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("last event id: %w", mapError(err))
	}
	return id, nil
}

// PruneEvents deletes events older than the retention, returning how many.
func (s *Store) PruneEvents(ctx context.Context, retention time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM events WHERE created_at < now() - make_interval(secs => $1)`, retention.Seconds())
	if err != nil {
		return 0, fmt.Errorf("prune events: %w", mapError(err))
	}
	return tag.RowsAffected(), nil
}
