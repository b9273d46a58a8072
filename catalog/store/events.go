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

// insertEvent writes an event in tx, with the actor of ctx (the user whose
// request caused it; catalog.ActorName). The events_notify trigger sends its
// id on the appstore_events channel when tx commits.
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
		`INSERT INTO events (type, subject, data, actor) VALUES ($1, $2, $3, $4) RETURNING id`,
		e.Type, e.Subject, data, catalog.ActorName(ctx)).Scan(&id)
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
		SELECT id, type, subject, data, created_at, actor FROM events
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
		err := r.Scan(&e.ID, &e.Type, &e.Subject, &data, &e.Time, &e.Actor)
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

// eventPruneBatch is how many events one pruning transaction deletes, to
// keep transactions short on a large log.
const eventPruneBatch = 10000

// PruneEvents deletes the events older than retention and returns how many
// it deleted. It deletes a prefix of the log, every id up to the newest
// event that is older than retention (ids follow commit order, creation
// times follow transaction starts, so a few events just younger than
// retention may go too), and raises events_pruned.through in the same
// transactions, so that a subscriber resuming below it gets a
// stream.truncated message rather than a silent gap. Several processes may
// prune at once.
func (s *Store) PruneEvents(ctx context.Context, retention time.Duration) (int64, error) {
	if retention <= 0 {
		return 0, fmt.Errorf("prune events: retention %s: want a positive duration", retention)
	}
	var bound int64
	err := s.pool.QueryRow(ctx,
		`SELECT coalesce(max(id), 0) FROM events WHERE created_at < now() - make_interval(secs => $1)`,
		retention.Seconds()).Scan(&bound)
	if err != nil {
		return 0, fmt.Errorf("prune events: find the newest expired event: %w", mapError(err))
	}
	var total int64
	for bound > 0 {
		var n int64
		err := s.pool.QueryRow(ctx, `
			WITH gone AS (
				DELETE FROM events
				WHERE id IN (SELECT id FROM events WHERE id <= $1 ORDER BY id LIMIT $2)
				RETURNING id
			), mark AS (
				UPDATE events_pruned SET through = greatest(through, (SELECT coalesce(max(id), 0) FROM gone))
			)
			SELECT count(*) FROM gone`, bound, eventPruneBatch).Scan(&n)
		if err != nil {
			return total, fmt.Errorf("prune events: %w", mapError(err))
		}
		total += n
		if n < eventPruneBatch {
			break
		}
	}
	return total, nil
}

// EventLogBounds are the ends of the event log.
type EventLogBounds struct {
	// PrunedThrough: events up to this id were pruned.
	PrunedThrough int64
	// Newest is the highest id handed out, committed or not.
	Newest int64
}

// EventLogBounds reads the ends of the event log: how far it was pruned
// and the newest id handed out.
func (s *Store) EventLogBounds(ctx context.Context) (EventLogBounds, error) {
	var b EventLogBounds
	err := s.pool.QueryRow(ctx, `
		SELECT (SELECT through FROM events_pruned),
		       (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_id_seq)`).
		Scan(&b.PrunedThrough, &b.Newest)
	if err != nil {
		return b, fmt.Errorf("read event log bounds: %w", mapError(err))
	}
	return b, nil
}

// ListenConfig is the configuration of a connection of its own, outside
// the pool, with the pool's settings: the event hub LISTENs on it.
// applicationName tells it apart in pg_stat_activity.
func (s *Store) ListenConfig(applicationName string) *pgx.ConnConfig {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = applicationName
	return cfg
}
