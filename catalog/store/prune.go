package store

import (
	"context"
	"fmt"
	"time"
)

// timelinePruneBatch is how many timeline steps one pruning statement
// deletes, to keep transactions short on a large table.
const timelinePruneBatch = 10000

// PruneIngestionTimeline deletes the ingestion timeline steps
// (ingestion_events) older than retention and returns how many it deleted.
// Whatever their age, it keeps the newest keep steps of every repository, so
// that `appstore show` of an app ingested long ago still has a timeline, and
// each repository's newest step that recorded a commit, which the sync of a
// failed repository compares the remote with (SyncTargetByID). Pruning is
// housekeeping, not a state change of a repository: it writes no event.
// Several processes may prune at once.
func (s *Store) PruneIngestionTimeline(ctx context.Context, retention time.Duration, keep int) (int64, error) {
	if retention <= 0 {
		return 0, fmt.Errorf("prune ingestion timeline: retention %s: want a positive duration", retention)
	}
	if keep < 1 {
		return 0, fmt.Errorf("prune ingestion timeline: keep %d: want at least the newest step of each repository", keep)
	}
	// One cutoff for every batch, so that the batches agree on what is old.
	// The correlated subqueries walk ingestion_events_repo_idx
	// (repository_id, id) backwards from each candidate's repository.
	return s.deleteInBatches(ctx, "prune ingestion timeline", timelinePruneBatch, `
		DELETE FROM ingestion_events
		WHERE id IN (
			SELECT e.id FROM ingestion_events e
			WHERE e.created_at < $1
			  AND e.id < (SELECT min(k.id) FROM (
			                SELECT id FROM ingestion_events
			                WHERE repository_id = e.repository_id
			                ORDER BY id DESC LIMIT $2) k)
			  AND e.id <> coalesce((SELECT max(c.id) FROM ingestion_events c
			                        WHERE c.repository_id = e.repository_id AND c.commit_sha <> ''), 0)
			LIMIT $3)`, time.Now().Add(-retention), keep)
}

// deleteInBatches runs a DELETE whose last parameter is the most rows it
// may delete (batch, appended to args) until a run deletes fewer, and
// returns how many it deleted in all: short transactions on large tables.
// Every run gets the same arguments, so the batches agree on what goes.
func (s *Store) deleteInBatches(ctx context.Context, what string, batch int, sql string, args ...any) (int64, error) {
	args = append(args, batch)
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, sql, args...)
		if err != nil {
			return total, fmt.Errorf("%s: %w", what, mapError(err))
		}
		n := tag.RowsAffected()
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}
