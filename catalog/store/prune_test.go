package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

// addSteps writes timeline steps of repository id created age ago, the
// ones in withCommit recording a commit, and returns their ids in order.
func addSteps(t *testing.T, st *store.Store, id int64, age time.Duration, n int, withCommit ...int) []int64 {
	t.Helper()
	var ids []int64
	for i := range n {
		sha := ""
		if slices.Contains(withCommit, i) {
			sha = "0123456789abcdef0123456789abcdef01234567"
		}
		var eid int64
		err := st.Pool().QueryRow(context.Background(), `
			INSERT INTO ingestion_events (repository_id, status, message, commit_sha, created_at)
			VALUES ($1, 'failed', 'test step', $2, now() - make_interval(secs => $3)) RETURNING id`,
			id, sha, age.Seconds()).Scan(&eid)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, eid)
	}
	return ids
}

func stepIDs(t *testing.T, st *store.Store, id int64) []int64 {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(), `SELECT id FROM ingestion_events WHERE repository_id = $1 ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestPruneIngestionTimelineKeepsRecentAndNewestSteps(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	const keep, retention, old, recent = 5, 30 * 24 * time.Hour, 40 * 24 * time.Hour, 24 * time.Hour
	repo := func(url string) int64 {
		r := createRepo(t, st, url)
		// Registration wrote a step now: make it as old as the rest.
		if _, err := st.Pool().Exec(ctx, `UPDATE ingestion_events SET created_at = now() - interval '60 days' WHERE repository_id = $1`, r.ID); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}

	// busy: a long old history, then more recent steps than keep.
	busy := repo("https://github.com/acme/busy.git")
	busyOld := addSteps(t, st, busy, old, 30, 4, 20) // step 20 is its newest commit
	busyRecent := addSteps(t, st, busy, recent, keep+3)
	// quiet: ingested long ago, nothing since; its only commit is old.
	quiet := repo("https://github.com/acme/quiet.git")
	quietOld := addSteps(t, st, quiet, old, 9, 0)
	// young: a short history, all of it within keep.
	young := repo("https://github.com/acme/young.git")
	youngAll := stepIDs(t, st, young)
	youngAll = append(youngAll, addSteps(t, st, young, old, 2)...)

	before := len(stepIDs(t, st, busy)) + len(stepIDs(t, st, quiet)) + len(stepIDs(t, st, young))
	n, err := st.PruneIngestionTimeline(ctx, retention, keep)
	if err != nil {
		t.Fatal(err)
	}

	// busy keeps every recent step (more than keep of them) and its
	// newest commit step; older commit steps go.
	wantBusy := append([]int64{busyOld[20]}, busyRecent...)
	if got := stepIDs(t, st, busy); !slices.Equal(got, wantBusy) {
		t.Errorf("busy keeps steps %v, want %v", got, wantBusy)
	}
	// quiet keeps its newest keep steps and its commit step, old as they are.
	wantQuiet := append([]int64{quietOld[0]}, quietOld[len(quietOld)-keep:]...)
	if got := stepIDs(t, st, quiet); !slices.Equal(got, wantQuiet) {
		t.Errorf("quiet keeps steps %v, want %v", got, wantQuiet)
	}
	if got := stepIDs(t, st, young); !slices.Equal(got, youngAll) {
		t.Errorf("young keeps steps %v, want all of %v", got, youngAll)
	}
	after := len(wantBusy) + len(wantQuiet) + len(youngAll)
	if n != int64(before-after) {
		t.Errorf("PruneIngestionTimeline reported %d deleted, want %d", n, before-after)
	}

	// What the sync of a failed repository compares with survives.
	target, err := st.SyncTargetByID(ctx, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if target.SeenCommit == "" {
		t.Error("quiet lost the commit its sync compares with")
	}
	// The newest steps are still what show prints.
	tl, err := st.IngestionTimeline(ctx, "quiet", store.TimelineOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(tl) != len(wantQuiet) || tl[len(tl)-1].ID != quietOld[len(quietOld)-1] {
		t.Errorf("quiet's timeline after pruning has %d steps ending at %d, want %d ending at %d", len(tl), tl[len(tl)-1].ID, len(wantQuiet), quietOld[len(quietOld)-1])
	}

	// Nothing is left to prune: a second run (another process) deletes nothing.
	if n, err := st.PruneIngestionTimeline(ctx, retention, keep); err != nil || n != 0 {
		t.Errorf("second prune: %d deleted, err %v; want 0, nil", n, err)
	}
}

func TestPruneIngestionTimelineRefusesBadArguments(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	if _, err := st.PruneIngestionTimeline(ctx, 0, 5); err == nil {
		t.Error("retention 0 accepted")
	}
	if _, err := st.PruneIngestionTimeline(ctx, time.Hour, 0); err == nil {
		t.Error("keep 0 accepted: it would delete the newest step of a repository")
	}
}
