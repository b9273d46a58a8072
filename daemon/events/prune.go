package events

import (
	"context"
	"fmt"
	"time"
)

// pruneBatch is how many events one pruning transaction deletes, to keep
// transactions short on a large log.
const pruneBatch = 10000

// Prune deletes the events older than retention and returns how many it
// deleted. It deletes a prefix of the log, every id up to the newest event
// that is older than retention (ids follow commit order, creation times
// follow transaction starts, so a few events just younger than retention
// may go too), and raises events_pruned.through in the same transactions,
// so that a subscriber resuming below it gets a stream.truncated message
// rather than a silent gap. Several processes may prune at once.
func (h *Hub) Prune(ctx context.Context, retention time.Duration) (int64, error) {
	if retention <= 0 {
		return 0, fmt.Errorf("prune events: retention %s: want a positive duration", retention)
	}
	pool := h.store.Pool()
	var bound int64
	err := pool.QueryRow(ctx,
		`SELECT coalesce(max(id), 0) FROM events WHERE created_at < now() - make_interval(secs => $1)`,
		retention.Seconds()).Scan(&bound)
	if err != nil {
		return 0, fmt.Errorf("prune events: find the newest expired event: %w", err)
	}
	var total int64
	for bound > 0 {
		var n int64
		err := pool.QueryRow(ctx, `
			WITH gone AS (
				DELETE FROM events
				WHERE id IN (SELECT id FROM events WHERE id <= $1 ORDER BY id LIMIT $2)
				RETURNING id
			), mark AS (
				UPDATE events_pruned SET through = greatest(through, (SELECT coalesce(max(id), 0) FROM gone))
			)
			SELECT count(*) FROM gone`, bound, pruneBatch).Scan(&n)
		if err != nil {
			return total, fmt.Errorf("prune events: %w", err)
		}
		total += n
		if n < pruneBatch {
			break
		}
	}
	return total, nil
}
