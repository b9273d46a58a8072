package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/jackc/pgx/v5"
)

// Launch quotas. A launch (not a warm-pool container) that asks for
// NewLaunch.Quota is admitted in BeginLaunch's transaction: under a lock
// that every admitted launch of the scope takes, the store counts the
// active launches (starting or running, not warm; stopping ones are on
// their way out) and the sum of their memory limits, and refuses with a
// *QuotaRefusal past a cap. Two launches racing for the last place, from
// any process, are admitted one after the other and the second sees the
// first's row. A launch of an app that already has an active launch on the
// same runner is admitted whatever the counts: it replaces (or is) that
// launch.

// LaunchQuota are the caps a launch is admitted under. A cap of 0 is none.
type LaunchQuota struct {
	// MaxRunning and MaxMemory cap the launches of NewLaunch.Runner.
	MaxRunning int
	MaxMemory  int64
	// CatalogMaxRunning and CatalogMaxMemory cap the launches of every
	// runner of the catalogue.
	CatalogMaxRunning int
	CatalogMaxMemory  int64
	// ProfileMemory is the memory limit of each profile name, counted for
	// launches recorded without one (memory_limit 0: older rows).
	ProfileMemory map[string]int64
}

// QuotaScope is what a cap counts: the launches of one runner, or of the
// whole catalogue.
type QuotaScope string

const (
	QuotaRunner  QuotaScope = "runner"
	QuotaCatalog QuotaScope = "catalog"
)

// QuotaRefusal is BeginLaunch's answer to a launch past a cap of its
// LaunchQuota: nothing was recorded.
type QuotaRefusal struct {
	Scope QuotaScope
	// Memory is true when the memory cap refused it, false for the count.
	Memory bool
	// Max is the cap passed (a count, or bytes when Memory).
	Max int64
	// Used is the sum of the memory limits of Running.
	Used int64
	// Running are the launches the cap counts, the runner's or the
	// catalogue's, by slug.
	Running []catalog.Launch
}

func (q *QuotaRefusal) Error() string {
	if q.Memory {
		return fmt.Sprintf("launch refused: the %s's running launches have %d bytes of memory limits, cap %d", q.Scope, q.Used, q.Max)
	}
	return fmt.Sprintf("launch refused: %d launches run on the %s, cap %d", len(q.Running), q.Scope, q.Max)
}

// quotaLockKey is the advisory lock every admission of a scope takes: the
// catalogue's when a catalogue cap is set (it orders the runners' caps
// too), else the runner's.
func quotaLockKey(q *LaunchQuota, runner string) string {
	if q.CatalogMaxRunning > 0 || q.CatalogMaxMemory > 0 {
		return "launch-quota"
	}
	return "launch-quota:" + runner
}

// admitTx admits n under n.Quota inside BeginLaunch's transaction, after
// the repository's lock (always taken before the quota's, never after: no
// deadlock with RunLaunch, which takes the repository's only).
func admitTx(ctx context.Context, tx pgx.Tx, n NewLaunch) error {
	q := n.Quota
	if q == nil || n.Warm || q.MaxRunning <= 0 && q.MaxMemory <= 0 && q.CatalogMaxRunning <= 0 && q.CatalogMaxMemory <= 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, quotaLockKey(q, n.Runner)); err != nil {
		return mapError(err)
	}
	catalogWide := q.CatalogMaxRunning > 0 || q.CatalogMaxMemory > 0
	rows, err := tx.Query(ctx, `
		SELECT id, repository_id, runner, resource_profile, memory_limit FROM launches
		WHERE status IN ('starting', 'running') AND NOT warm AND ($1 OR runner = $2)`, catalogWide, n.Runner)
	if err != nil {
		return fmt.Errorf("count running launches: %w", mapError(err))
	}
	type counted struct {
		id, repo     int64
		runner, prof string
		memory       int64
	}
	var all []counted
	for rows.Next() {
		var c counted
		if err := rows.Scan(&c.id, &c.repo, &c.runner, &c.prof, &c.memory); err != nil {
			rows.Close()
			return fmt.Errorf("count running launches: %w", mapError(err))
		}
		if c.memory <= 0 {
			c.memory = q.ProfileMemory[c.prof]
		}
		all = append(all, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count running launches: %w", mapError(err))
	}
	var runnerIDs, catalogIDs []int64
	var runnerMem, catalogMem int64
	for _, c := range all {
		if c.runner == n.Runner && c.repo == n.RepositoryID {
			return nil // it replaces (or is) the app's own launch
		}
		catalogIDs = append(catalogIDs, c.id)
		catalogMem += c.memory
		if c.runner == n.Runner {
			runnerIDs = append(runnerIDs, c.id)
			runnerMem += c.memory
		}
	}
	refuse := func(scope QuotaScope, memory bool, max, used int64, ids []int64) error {
		running, err := launchesByID(ctx, tx, ids)
		if err != nil {
			return err
		}
		return &QuotaRefusal{Scope: scope, Memory: memory, Max: max, Used: used, Running: running}
	}
	switch {
	case q.MaxRunning > 0 && len(runnerIDs)+1 > q.MaxRunning:
		return refuse(QuotaRunner, false, int64(q.MaxRunning), runnerMem, runnerIDs)
	case q.MaxMemory > 0 && runnerMem+n.Memory > q.MaxMemory:
		return refuse(QuotaRunner, true, q.MaxMemory, runnerMem, runnerIDs)
	case q.CatalogMaxRunning > 0 && len(catalogIDs)+1 > q.CatalogMaxRunning:
		return refuse(QuotaCatalog, false, int64(q.CatalogMaxRunning), catalogMem, catalogIDs)
	case q.CatalogMaxMemory > 0 && catalogMem+n.Memory > q.CatalogMaxMemory:
		return refuse(QuotaCatalog, true, q.CatalogMaxMemory, catalogMem, catalogIDs)
	}
	return nil
}

// launchesByID reads the launches ids, by slug.
func launchesByID(ctx context.Context, tx pgx.Tx, ids []int64) ([]catalog.Launch, error) {
	rows, err := tx.Query(ctx, `SELECT `+launchColumns+` FROM `+launchFrom+` WHERE l.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("running launches: %w", mapError(err))
	}
	ls, err := collectLaunches(rows)
	if err != nil {
		return nil, fmt.Errorf("running launches: %w", mapError(err))
	}
	slices.SortFunc(ls, func(a, b catalog.Launch) int {
		return cmp.Or(cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.ID, b.ID))
	})
	return ls, nil
}
