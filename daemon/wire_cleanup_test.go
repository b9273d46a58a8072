package daemon_test

import (
	"context"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

func TestSyncIntervalZeroStartsNoSyncLoop(t *testing.T) {
	var log testenv.LockedBuffer
	d := daemontest.Start(t, daemon.Config{SyncOff: true, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	loops := d.Loops()
	if slices.Contains(loops, "ingest-sync") {
		t.Errorf("sync is off but the loops are %v", loops)
	}
	// The rest of the worker is wired as usual.
	for _, want := range []string{"ingest-reconciler", "cleanup-tick"} {
		if !slices.Contains(loops, want) {
			t.Errorf("loop %q missing from %v", want, loops)
		}
	}
	if !strings.Contains(log.String(), "periodic sync is off") {
		t.Errorf("no log line says that periodic sync is off:\n%s", log.String())
	}

	// The default runs it: the check above can fail.
	if loops := daemontest.Start(t, daemon.Config{}).Loops(); !slices.Contains(loops, "ingest-sync") {
		t.Errorf("default configuration: no sync loop in %v", loops)
	}

	_, err := daemon.Start(context.Background(), daemon.Config{SyncInterval: -time.Minute, DataDir: t.TempDir(), Addr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "--sync-interval -1m0s") || !strings.Contains(err.Error(), "0 to turn periodic sync off") {
		t.Errorf("negative --sync-interval: %v; want a refusal that says what to give", err)
	}
}

func count(t *testing.T, st *store.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCleanupJobPrunesTheDatabase starts a worker on a catalog with old
// and recent events and timeline steps: the cleanup job it enqueues at
// start prunes the old ones past the retentions and keeps the rest.
func TestCleanupJobPrunesTheDatabase(t *testing.T) {
	st, url := storetest.NewWithURL(t)
	ctx := context.Background()
	const eventRetention, timelineRetention = 7 * 24 * time.Hour, 30 * 24 * time.Hour

	// Old events first: ids follow time, as in a real log.
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO events (type, subject, created_at)
		SELECT 'test.old', 'old', now() - interval '10 days' FROM generate_series(1, 50)`); err != nil {
		t.Fatal(err)
	}
	var repoIDs []int64
	for _, name := range []string{"busy", "quiet"} {
		u, err := giturl.Parse("https://github.com/acme/" + name + ".git")
		if err != nil {
			t.Fatal(err)
		}
		r, err := st.CreateRepository(ctx, store.NewRepository{GitURL: u.CloneURL(), GitURLKey: u.Key(), Name: u.Name(), Owner: u.Owner()})
		if err != nil {
			t.Fatal(err)
		}
		repoIDs = append(repoIDs, r.ID)
	}
	busy, quiet := repoIDs[0], repoIDs[1]
	// Nothing for the worker to ingest: only the cleanup runs.
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET ingest_status = 'ready'`); err != nil {
		t.Fatal(err)
	}
	// busy: 40 old steps and 3 recent ones; quiet: 25 old steps only.
	steps := `INSERT INTO ingestion_events (repository_id, status, message, created_at)
		SELECT $1, 'ready', 'test step', now() - make_interval(days => $2) FROM generate_series(1, $3)`
	for _, s := range []struct {
		repo    int64
		daysAgo int
		n       int
	}{{busy, 40, 40}, {busy, 1, 3}, {quiet, 40, 25}} {
		if _, err := st.Pool().Exec(ctx, steps, s.repo, s.daysAgo, s.n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE ingestion_events SET created_at = now() - interval '60 days' WHERE message = 'registered'`); err != nil {
		t.Fatal(err)
	}
	// quiet: 25 builds that ended 40 days ago, with their logs, a launch
	// of its oldest build that stopped as long ago, and a newer launch
	// (kept: a repository's newest launch says why the app is stopped).
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO builds (repository_id, status, created_at, completed_at)
		SELECT $1, 'succeeded', now() - interval '41 days', now() - interval '40 days' FROM generate_series(1, 25)`, quiet); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO build_logs (build_id, line) SELECT id, 'a line' FROM builds CROSS JOIN generate_series(1, 5)`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO launches (repository_id, build_id, status, created_at, stopped_at)
		SELECT $1, min(id), 'stopped', now() - interval '41 days', now() - interval '40 days' FROM builds`, quiet); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO launches (repository_id, status, created_at, stopped_at)
		VALUES ($1, 'stopped', now() - interval '40 days', now() - interval '39 days')`, quiet); err != nil {
		t.Fatal(err)
	}
	recentEvents := count(t, st, `SELECT count(*) FROM events WHERE created_at > now() - interval '1 day'`)
	if recentEvents == 0 {
		t.Fatal("registering wrote no events")
	}

	daemontest.Start(t, daemon.Config{
		DatabaseURL: url, Roles: []string{daemon.RoleWorker}, SyncOff: true,
		EventRetention: eventRetention, TimelineRetention: timelineRetention,
	})

	deadline := time.Now().Add(20 * time.Second)
	for count(t, st, `SELECT count(*) FROM events WHERE type = 'test.old'`) > 0 ||
		count(t, st, `SELECT count(*) FROM ingestion_events WHERE repository_id = $1`, busy) > daemon.TimelineKeep ||
		count(t, st, `SELECT count(*) FROM builds`) > daemon.BuildKeep {
		if time.Now().After(deadline) {
			t.Fatal("the cleanup job did not prune old events, timeline steps and builds within 20s of the worker's start")
		}
		time.Sleep(20 * time.Millisecond)
	}

	if n := count(t, st, `SELECT count(*) FROM events WHERE created_at > now() - interval '1 day'`); n < recentEvents {
		t.Errorf("%d of %d recent events left", n, recentEvents)
	}
	if through := count(t, st, `SELECT through::int FROM events_pruned`); through < 50 {
		t.Errorf("events_pruned.through = %d, want at least the 50 pruned ids", through)
	}
	// busy: its 3 recent steps and the newest old ones up to TimelineKeep.
	if n := count(t, st, `SELECT count(*) FROM ingestion_events WHERE repository_id = $1`, busy); n != daemon.TimelineKeep {
		t.Errorf("busy has %d steps, want %d", n, daemon.TimelineKeep)
	}
	if n := count(t, st, `SELECT count(*) FROM ingestion_events WHERE repository_id = $1 AND created_at > now() - interval '2 days'`, busy); n != 3 {
		t.Errorf("busy keeps %d recent steps, want 3", n)
	}
	// quiet: only old steps, and still its newest TimelineKeep, the
	// newest included.
	if n := count(t, st, `SELECT count(*) FROM ingestion_events WHERE repository_id = $1`, quiet); n != daemon.TimelineKeep {
		t.Errorf("quiet has %d steps, want %d", n, daemon.TimelineKeep)
	}
	// Builds: quiet's newest BuildKeep with their logs; the old launch is
	// gone, and with it what held its build.
	if n := count(t, st, `SELECT count(*) FROM launches WHERE build_id IS NOT NULL`); n != 0 {
		t.Errorf("%d launches of builds left, want the one stopped 40 days ago pruned", n)
	}
	if n := count(t, st, `SELECT count(*) FROM launches`); n != 1 {
		t.Errorf("%d launches left, want quiet's newest", n)
	}
	if n := count(t, st, `SELECT count(*) FROM build_logs`); n != daemon.BuildKeep*5 {
		t.Errorf("%d log lines left, want those of the %d kept builds", n, daemon.BuildKeep)
	}
	tl, err := st.IngestionTimeline(ctx, "quiet", store.TimelineOptions{Limit: 1})
	if err != nil || len(tl) != 1 || tl[0].ID != int64(count(t, st, `SELECT max(id)::int FROM ingestion_events WHERE repository_id = $1`, quiet)) {
		t.Errorf("quiet's newest step after pruning: %v, %v", tl, err)
	}
}

// TestTwoWorkersOnRedisRunTheCleanupOnce starts two worker processes on one
// PostgreSQL and one Redis: both tick at start, and the period's cleanup job
// is enqueued and run once between them.
func TestTwoWorkersOnRedisRunTheCleanupOnce(t *testing.T) {
	_, url := storetest.NewWithURL(t)
	redisURL := testenv.Redis(t)
	var logs [2]testenv.LockedBuffer
	for i := range logs {
		daemontest.Start(t, daemon.Config{
			DatabaseURL: url, RedisURL: redisURL, Roles: []string{daemon.RoleWorker}, SyncOff: true,
			Logger: slog.New(slog.NewTextHandler(&logs[i], &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
	}
	enqueued := regexp.MustCompile(`msg="job enqueued".* key=(cleanup:period:\S+)`)
	dropped := regexp.MustCompile(`msg="periodic job already enqueued or ran in this period: dropped".* key=(cleanup:period:\S+)`)
	done := regexp.MustCompile(`msg="job done".* key=(cleanup:period:\S+)`)
	matches := func(re *regexp.Regexp) map[string]int {
		out := map[string]int{}
		for i := range logs {
			for _, m := range re.FindAllStringSubmatch(logs[i].String(), -1) {
				out[m[1]]++
			}
		}
		return out
	}
	// Each process has decided about its tick once its log says so;
	// every enqueued job has run once its "job done" is there.
	deadline := time.Now().Add(20 * time.Second)
	for {
		decided := 0
		for i := range logs {
			if enqueued.MatchString(logs[i].String()) || dropped.MatchString(logs[i].String()) {
				decided++
			}
		}
		runs := matches(done)
		allRan := len(matches(enqueued)) > 0
		for key := range matches(enqueued) {
			allRan = allRan && runs[key] > 0
		}
		if decided == len(logs) && allRan {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: %d of %d processes enqueued their cleanup, runs %v\nlog 1:\n%s\nlog 2:\n%s", decided, len(logs), runs, logs[0].String(), logs[1].String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Two processes ticked in one period (the odd start across a period's
	// edge gives two keys, each of which must still run once).
	for key, n := range matches(enqueued) {
		if n != 1 {
			t.Errorf("%s enqueued %d times, want once", key, n)
		}
	}
	for key, n := range matches(done) {
		if n != 1 {
			t.Errorf("%s ran %d times, want once", key, n)
		}
	}
	if len(matches(enqueued)) == 1 && len(matches(dropped)) != 1 {
		t.Errorf("one period and two processes, but %d dropped enqueues, want 1", len(matches(dropped)))
	}
}
