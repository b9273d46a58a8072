package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/jackc/pgx/v5"
)

// RunLaunch moves launch id from starting to running, writing
// launch.running, as TransitionLaunch does. When the launch is not a
// warm-pool one, the same transaction moves the older launches of its app
// on its runner (starting or running, not warm) to stopping, stop_reason
// replaced, "replaced by launch <id>", each with launch.stopping (reason
// replaced), and returns them: the caller removes their containers and
// ends them. Two launches of one app are never running at once, even when
// the process dies right after the commit: the reconciler of the next
// start finishes the stops it finds.
//
// It runs under BeginLaunch's lock of the repository, so that concurrent
// launches of one app going running, or a warm container being attached,
// replace each other in one order.
func (s *Store) RunLaunch(ctx context.Context, id int64) (l *catalog.Launch, changed bool, replaced []catalog.Launch, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// The same key as BeginLaunch's lock: 'launch:' and the
		// repository's id in decimal.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('launch:' || repository_id::text)) FROM launches WHERE id = $1`, id); err != nil {
			return mapError(err)
		}
		var err error
		l, changed, err = transitionLaunchTx(ctx, tx, id, LaunchChange{
			To: catalog.LaunchRunning, From: []catalog.LaunchStatus{catalog.LaunchStarting},
		})
		if err != nil || !changed || l.Warm {
			return err
		}
		replaced, err = replaceOlderTx(ctx, tx, l, false)
		return err
	})
	if err != nil {
		return nil, false, nil, fmt.Errorf("launch %d to running: %w", id, err)
	}
	return l, changed, replaced, nil
}

// replaceOlderTx moves the active launches of l's app on l's runner (not
// warm) that l replaces to stopping, with their events, and returns them
// by id. A launch that goes running replaces the ones requested before it
// (lower ids; a newer one still starting replaces it in turn once it
// runs). An attached warm container is the newest request whatever its id
// (the pool made it earlier): it replaces every other.
func replaceOlderTx(ctx context.Context, tx pgx.Tx, l *catalog.Launch, attached bool) ([]catalog.Launch, error) {
	rows, err := tx.Query(ctx, `
		UPDATE launches l SET status = 'stopping', stop_reason = 'replaced',
			error_message = 'replaced by launch ' || $2::bigint
		FROM repositories r
		WHERE r.id = l.repository_id AND l.repository_id = $1 AND l.runner = $3
		  AND NOT l.warm AND l.id <> $2 AND ($4 OR l.id < $2) AND l.status IN ('starting', 'running')
		RETURNING `+launchColumns, l.RepositoryID, l.ID, l.Runner, attached)
	if err != nil {
		return nil, fmt.Errorf("replace older launches: %w", mapError(err))
	}
	older, err := collectLaunches(rows)
	if err != nil {
		return nil, fmt.Errorf("replace older launches: %w", mapError(err))
	}
	slices.SortFunc(older, func(a, b catalog.Launch) int { return cmp.Compare(a.ID, b.ID) })
	for i := range older {
		if _, err := insertEvent(ctx, tx, launchEvent(&older[i], map[string]any{"reason": "replaced"})); err != nil {
			return nil, err
		}
	}
	return older, nil
}
