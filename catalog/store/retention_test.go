package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

// insertBuilds writes n builds of repository id that ended age ago, each
// with logLines lines of log, and returns their ids in order.
func insertBuilds(t *testing.T, st *store.Store, id int64, status string, age time.Duration, n, logLines int) []int64 {
	t.Helper()
	ctx := context.Background()
	var ids []int64
	rows, err := st.Pool().Query(ctx, `
		INSERT INTO builds (repository_id, commit_sha, status, created_at, completed_at, log_bytes)
		SELECT $1, md5(g::text), $2, now() - make_interval(secs => $3) - interval '1 minute',
		       CASE WHEN $2 IN ('queued', 'running') THEN NULL ELSE now() - make_interval(secs => $3) END, $5 * 40
		FROM generate_series(1, $4) g ORDER BY g RETURNING id`, id, status, age.Seconds(), n, logLines)
	if err != nil {
		t.Fatal(err)
	}
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
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO build_logs (build_id, line)
		SELECT b, 'step output line ' || l || ' of a build of the churn test'
		FROM unnest($1::bigint[]) b, generate_series(1, $2) l`, ids, logLines); err != nil {
		t.Fatal(err)
	}
	return ids
}

// insertLaunch writes a launch of build in status that ended age ago.
func insertLaunch(t *testing.T, st *store.Store, repo, build int64, status string, age time.Duration) int64 {
	t.Helper()
	var id int64
	err := st.Pool().QueryRow(context.Background(), `
		INSERT INTO launches (repository_id, build_id, status, created_at, stopped_at)
		VALUES ($1, $2, $3, now() - make_interval(secs => $4) - interval '1 hour',
		        CASE WHEN $3 IN ('starting', 'running', 'stopping') THEN NULL ELSE now() - make_interval(secs => $4) END)
		RETURNING id`, repo, build, status, age.Seconds()).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func countRows(t *testing.T, st *store.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPruneKeepsTheTablesBoundedUnderChurn writes 1 000 builds, with their
// logs, in ten rounds of churn across five repositories, pruning launches
// and builds after each round as the cleanup job does: the builds table,
// the logs and the launches never hold more than the kept set, and at the
// end exactly the kept set is left — each repository's newest BuildKeep
// builds, the old builds that a launch still refers to, and the build that
// has not finished.
func TestPruneKeepsTheTablesBoundedUnderChurn(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	const (
		keep, logLines   = 10, 20
		retention        = 30 * 24 * time.Hour
		old, recent      = 40 * 24 * time.Hour, 24 * time.Hour
		repos, perRepo   = 5, 20 // builds per repository and round
		rounds           = 10
		launchRetention  = 30 * 24 * time.Hour
		expectedKeptBase = repos * keep
	)
	var ids []int64
	for i := range repos {
		ids = append(ids, createRepo(t, st, fmt.Sprintf("https://github.com/acme/churn%d.git", i)).ID)
	}
	// Before the churn: a build of churn0 that never finished (queued for
	// long: a lost job), an old build of churn1 that a running launch
	// uses, one of churn2 that a launch stopped yesterday used, and one of
	// churn3 whose launch ended long ago (the launch goes, then the build).
	queued := insertBuilds(t, st, ids[0], "queued", old, 1, 0)[0]
	running := insertBuilds(t, st, ids[1], "succeeded", old, 1, logLines)[0]
	insertLaunch(t, st, ids[1], running, "running", old)
	yesterday := insertBuilds(t, st, ids[2], "succeeded", old, 1, logLines)[0]
	insertLaunch(t, st, ids[2], yesterday, "stopped", recent)
	longAgo := insertBuilds(t, st, ids[3], "failed", old, 1, logLines)[0]
	goneLaunch := insertLaunch(t, st, ids[3], longAgo, "failed", old)
	// churn3's newest launch, as old, is kept: it says why the app does
	// not run (and whether a request may wake it).
	newestOld := insertLaunch(t, st, ids[3], longAgo, "stopped", old)
	if _, err := st.Pool().Exec(ctx, `UPDATE launches SET build_id = NULL WHERE id = $1`, newestOld); err != nil {
		t.Fatal(err)
	}
	keptExtra := []int64{queued, running, yesterday}

	written := 4
	for round := range rounds {
		for _, id := range ids {
			insertBuilds(t, st, id, []string{"succeeded", "failed", "cancelled"}[round%3], old, perRepo, logLines)
			written += perRepo
		}
		if _, err := st.PruneLaunches(ctx, launchRetention); err != nil {
			t.Fatal(err)
		}
		if _, err := st.PruneBuilds(ctx, retention, keep); err != nil {
			t.Fatal(err)
		}
		builds := countRows(t, st, `SELECT count(*) FROM builds`)
		logs := countRows(t, st, `SELECT count(*) FROM build_logs`)
		if builds > expectedKeptBase+len(keptExtra) || logs > builds*logLines {
			t.Fatalf("round %d: %d builds and %d log lines after pruning, want at most %d builds", round, builds, logs, expectedKeptBase+len(keptExtra))
		}
	}
	if written < 1000 {
		t.Fatalf("wrote %d builds, want 1 000", written)
	}

	want := expectedKeptBase + len(keptExtra)
	if n := countRows(t, st, `SELECT count(*) FROM builds`); n != want {
		t.Errorf("%d builds left of %d, want %d", n, written, want)
	}
	for i, id := range ids {
		// The newest keep of each repository, whatever their age.
		if n := countRows(t, st, `SELECT count(*) FROM (SELECT id FROM builds WHERE repository_id = $1 ORDER BY id DESC LIMIT $2) k
			WHERE k.id IN (SELECT id FROM builds)`, id, keep); n != keep {
			t.Errorf("churn%d keeps %d of its newest builds, want %d", i, n, keep)
		}
	}
	for _, b := range keptExtra {
		if countRows(t, st, `SELECT count(*) FROM builds WHERE id = $1`, b) != 1 {
			t.Errorf("build %d (unfinished, or used by a launch) was pruned", b)
		}
	}
	if countRows(t, st, `SELECT count(*) FROM builds WHERE id = $1`, longAgo) != 0 || countRows(t, st, `SELECT count(*) FROM launches WHERE id = $1`, goneLaunch) != 0 {
		t.Error("the launch that ended long ago, or its build, is still there")
	}
	// The logs went with their builds: none is left without one, and each
	// kept build kept all of its lines.
	if n := countRows(t, st, `SELECT count(*) FROM build_logs l WHERE NOT EXISTS (SELECT 1 FROM builds b WHERE b.id = l.build_id)`); n != 0 {
		t.Errorf("%d log lines outlived their build", n)
	}
	if n, want := countRows(t, st, `SELECT count(*) FROM build_logs`), (want-1)*logLines; n != want {
		t.Errorf("%d log lines left, want %d (every kept finished build's)", n, want)
	}
	if n := countRows(t, st, `SELECT count(*) FROM launches`); n != 3 {
		t.Errorf("%d launches left, want the running one, yesterday's and churn3's newest", n)
	}
	if countRows(t, st, `SELECT count(*) FROM launches WHERE id = $1`, newestOld) != 1 {
		t.Error("churn3's newest launch was pruned")
	}
	// Nothing left to prune: another process's run deletes nothing.
	if n, err := st.PruneBuilds(ctx, retention, keep); err != nil || n != 0 {
		t.Errorf("second prune: %d deleted, %v", n, err)
	}
}

// TestPruneBuildsKeepsRecentOnes: builds that ended within the retention
// stay, however many there are.
func TestPruneBuildsKeepsRecentOnes(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	id := createRepo(t, st, "https://github.com/acme/recent.git").ID
	oldIDs := insertBuilds(t, st, id, "succeeded", 40*24*time.Hour, 15, 1)
	recentIDs := insertBuilds(t, st, id, "failed", time.Hour, 30, 1)
	n, err := st.PruneBuilds(ctx, 30*24*time.Hour, 10)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(oldIDs)) || countRows(t, st, `SELECT count(*) FROM builds`) != len(recentIDs) {
		t.Errorf("pruned %d, %d left; want the %d old ones pruned and the %d recent ones kept", n, countRows(t, st, `SELECT count(*) FROM builds`), len(oldIDs), len(recentIDs))
	}
	for _, bad := range []struct {
		retention time.Duration
		keep      int
	}{{0, 10}, {time.Hour, 0}} {
		if _, err := st.PruneBuilds(ctx, bad.retention, bad.keep); err == nil {
			t.Errorf("PruneBuilds(%s, %d) accepted", bad.retention, bad.keep)
		}
	}
	if _, err := st.PruneLaunches(ctx, 0); err == nil {
		t.Error("PruneLaunches(0) accepted")
	}
}

// TestRecordWebhookDelivery: a delivery is new once; its replay within the
// window — by id, or by body under another id — is refused and records
// nothing; after the window it counts as new again; of two processes that
// record the same delivery at once, exactly one gets it.
func TestRecordWebhookDelivery(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	const window = 24 * time.Hour
	record := func(keys ...string) bool {
		t.Helper()
		replay, err := st.RecordWebhookDelivery(ctx, keys, window)
		if err != nil {
			t.Fatal(err)
		}
		return replay
	}
	if record("github:body:aaa", "github:id:1") {
		t.Fatal("a first delivery is a replay")
	}
	if !record("github:body:aaa", "github:id:1") {
		t.Error("the same delivery again is not a replay")
	}
	if !record("github:body:aaa", "github:id:2") {
		t.Error("the same body under a new delivery id is not a replay")
	}
	if !record("github:body:bbb", "github:id:1") {
		t.Error("a reused delivery id is not a replay")
	}
	// The refused ones recorded nothing: the new body is still new.
	if record("github:body:bbb", "github:id:3") {
		t.Error("a replay's keys were recorded")
	}
	// Past the window it is new again.
	if _, err := st.Pool().Exec(ctx, `UPDATE webhook_deliveries SET received_at = now() - interval '25 hours' WHERE key LIKE '%aaa' OR key = 'github:id:1'`); err != nil {
		t.Fatal(err)
	}
	if record("github:body:aaa", "github:id:1") {
		t.Error("a delivery older than the window is still a replay")
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE webhook_deliveries SET received_at = now() - interval '25 hours' WHERE key = 'github:id:3'`); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PruneWebhookDeliveries(ctx, window); err != nil || n != 1 {
		t.Errorf("PruneWebhookDeliveries: %d, %v; want the one past the window", n, err)
	}

	// Two processes, one delivery.
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replay, err := st.RecordWebhookDelivery(ctx, []string{"gitea:body:ccc", "gitea:id:x"}, window)
			if err != nil {
				t.Error(err)
				return
			}
			if !replay {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if fresh != 1 {
		t.Errorf("%d of 8 concurrent recordings of one delivery found it new, want 1", fresh)
	}
}
