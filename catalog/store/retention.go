package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Batches of the pruning statements: a build carries up to its
// --build-log-limit of log lines (2 MiB by default), deleted with it.
const (
	buildPruneBatch  = 50
	launchPruneBatch = 1000
)

// PruneBuilds deletes finished builds (succeeded, failed, cancelled) that
// ended more than retention ago, with their log lines, and returns how many
// builds it deleted. Whatever their age it keeps each repository's newest
// keep builds (what `appstore builds` lists and the image pruner keeps
// images of) and every build a launch row still refers to (the launch
// shows which build it ran; PruneLaunches frees them). Queued and running
// builds are never touched. Pruning writes no event; several processes may
// prune at once.
func (s *Store) PruneBuilds(ctx context.Context, retention time.Duration, keep int) (int64, error) {
	if retention <= 0 {
		return 0, fmt.Errorf("prune builds: retention %s: want a positive duration", retention)
	}
	if keep < 1 {
		return 0, fmt.Errorf("prune builds: keep %d: want at least the newest build of each repository", keep)
	}
	// The candidates are picked with the newest builds of their
	// repository in view (builds_repo_idx: repository_id, id DESC); the
	// delete cascades to build_logs and sets launches.build_id to NULL
	// (launches_build_idx), of which there are none here.
	return s.deleteInBatches(ctx, "prune builds", buildPruneBatch, `
		DELETE FROM builds WHERE id IN (
			SELECT b.id FROM builds b
			WHERE b.status IN ('succeeded', 'failed', 'cancelled')
			  AND coalesce(b.completed_at, b.created_at) < $1
			  AND b.id < (SELECT min(k.id) FROM (
			                SELECT id FROM builds
			                WHERE repository_id = b.repository_id
			                ORDER BY id DESC LIMIT $2) k)
			  AND NOT EXISTS (SELECT 1 FROM launches l WHERE l.build_id = b.id)
			ORDER BY b.id
			LIMIT $3
			FOR UPDATE SKIP LOCKED)`, time.Now().Add(-retention), keep)
}

// PruneLaunches deletes finished launches (stopped, failed, expired) that
// ended more than retention ago and returns how many it deleted. Active
// launches (starting, running, stopping) are never touched, however old,
// nor each repository's newest launch (warm-pool containers aside): it
// says why the app is not running, and whether a request may wake it.
func (s *Store) PruneLaunches(ctx context.Context, retention time.Duration) (int64, error) {
	if retention <= 0 {
		return 0, fmt.Errorf("prune launches: retention %s: want a positive duration", retention)
	}
	return s.deleteInBatches(ctx, "prune launches", launchPruneBatch, `
		DELETE FROM launches WHERE id IN (
			SELECT l.id FROM launches l
			WHERE l.status IN ('stopped', 'failed', 'expired')
			  AND coalesce(l.stopped_at, l.created_at) < $1
			  AND l.id < (SELECT max(n.id) FROM launches n
			              WHERE n.repository_id = l.repository_id AND NOT n.warm)
			ORDER BY l.id
			LIMIT $2
			FOR UPDATE SKIP LOCKED)`, time.Now().Add(-retention))
}

// RecordWebhookDelivery records the keys of a webhook delivery (its
// delivery id, its body's digest) and reports whether it is a replay: any
// of its keys was recorded less than window ago. A replay records nothing.
// Two processes that receive the same delivery at once agree: one records
// it, the other waits for that commit and finds it.
func (s *Store) RecordWebhookDelivery(ctx context.Context, keys []string, window time.Duration) (replay bool, err error) {
	if len(keys) == 0 {
		return false, errors.New("record webhook delivery: no key")
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// A key seen within the window is kept as it is and not returned;
		// an older one counts as new.
		fresh, err := column[string](ctx, tx, `
			INSERT INTO webhook_deliveries AS d (key) SELECT unnest($1::text[])
			ON CONFLICT (key) DO UPDATE SET received_at = now()
			WHERE d.received_at < now() - make_interval(secs => $2)
			RETURNING key`, keys, window.Seconds())
		if err != nil {
			return err
		}
		if len(fresh) < len(keys) {
			replay = true
			return errReplay // roll back: a replay records nothing
		}
		return nil
	})
	if errors.Is(err, errReplay) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("record webhook delivery: %w", err)
	}
	return replay, nil
}

var errReplay = errors.New("replayed webhook delivery")

// PruneWebhookDeliveries forgets deliveries received more than window ago.
func (s *Store) PruneWebhookDeliveries(ctx context.Context, window time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_deliveries WHERE received_at < now() - make_interval(secs => $1)`, window.Seconds())
	if err != nil {
		return 0, fmt.Errorf("prune webhook deliveries: %w", mapError(err))
	}
	return tag.RowsAffected(), nil
}
