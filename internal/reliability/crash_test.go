package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/gitserver"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// TestCrashSurvival kills appstored with SIGKILL at random points of
// ingestion, builds and launches (crashKills times, rotating over the
// three), restarting it each time on the same data directory and
// database, then lets a last incarnation settle and checks that nothing is
// stuck, lost, duplicated or orphaned (checkFinalState).
//
// With the in-process queue (inline) the reconcilers recover everything;
// on Redis (asynq, the long form only) a killed process's running jobs are
// also held by asynq until its own lease (30 s) expires, so recovery takes
// longer.
//
// APPSTORE_CRASH_SEED replays a run (the seed is logged).
func TestCrashSurvival(t *testing.T) {
	testenv.Docker(t)
	gitserver.RequireGit(t)
	t.Run("inline", func(t *testing.T) { crashSurvival(t, crashKills, "") })
	if crashKillsRedis > 0 {
		t.Run("redis", func(t *testing.T) { crashSurvival(t, crashKillsRedis, testenv.Redis(t)) })
	}
}

func crashSurvival(t *testing.T, kills int, redisURL string) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("APPSTORE_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (APPSTORE_CRASH_SEED=%d replays the same points), %d kills", seed, seed, kills)
	rng := rand.New(rand.NewPCG(seed, 0))

	db, st := newCatalog(t)
	dataDir := t.TempDir()
	cleanupDocker(t, dataDir)
	args := []string{"--database-url", db, "--data-dir", dataDir, "--startup-timeout", "20s"}
	if redisURL != "" {
		args = append(args, "--redis-url", redisURL)
	}
	p := newProc(t, "appstored", nil, args...)
	cli := docker(t)
	ctx := context.Background()
	git := gitserver.HTTP(t)
	led := newLedger()
	dups := watchDuplicates(st)

	next := 0
	newApp := func(c *client.Client) string {
		name := fmt.Sprintf("crash%d", next)
		next++
		repo := gitserver.NewRepoFiles(t, name, appFiles(t, name, "2s"))
		git.Add(repo)
		r, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: git.URL(repo)})
		if err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
		led.repo(r.Slug)
		return r.Slug
	}
	// waitState waits (up to 30 s) for a row in the state the kill should
	// interrupt; false when the daemon got past it first.
	waitState := func(sql string) bool {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			var n int
			if err := st.Pool().QueryRow(ctx, sql).Scan(&n); err == nil && n > 0 {
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
		return false
	}
	builtApps := func() []string {
		rows, err := st.Pool().Query(ctx, `SELECT DISTINCT r.slug FROM repositories r JOIN builds b ON b.repository_id = r.id
			WHERE b.status = 'succeeded' AND NOT EXISTS (SELECT 1 FROM builds q WHERE q.repository_id = r.id AND q.status IN ('queued', 'running'))
			ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		slugs, err := collectStrings(rows)
		if err != nil {
			t.Fatal(err)
		}
		return slugs
	}
	pause := func(max time.Duration) time.Duration {
		d := time.Duration(rng.Int64N(int64(max)))
		time.Sleep(d)
		return d
	}

	for round := range kills {
		p.start()
		c := p.Client()
		phase := []string{"ingestion", "build", "launch"}[round%3]
		var what string
		switch phase {
		case "ingestion":
			a, b := newApp(c), newApp(c)
			reached := waitState(`SELECT count(*) FROM repositories WHERE ingest_status = 'processing'`)
			what = fmt.Sprintf("registered %s and %s, processing seen %v, killed %s later", a, b, reached, pause(1500*time.Millisecond))
		case "build":
			a := newApp(c)
			if built := builtApps(); len(built) > 0 {
				slug := built[rng.IntN(len(built))]
				_, err := c.CreateBuild(ctx, slug, client.CreateBuildRequest{NoCache: true})
				led.build(slug, err == nil)
				what = "rebuild of " + slug + ", "
			}
			reached := waitState(`SELECT count(*) FROM builds WHERE status = 'running'`)
			what += fmt.Sprintf("registered %s, a build running seen %v, killed %s later", a, reached, pause(3*time.Second))
		case "launch":
			// Builds interrupted by the last kill get back to work first.
			var built []string
			eventually(t, 2*time.Minute, "an app built to launch", func() (bool, string) {
				built = builtApps()
				return len(built) > 0, "no repository has a succeeded build and none in progress"
			})
			rng.Shuffle(len(built), func(i, j int) { built[i], built[j] = built[j], built[i] })
			for _, slug := range built[:min(2, len(built))] {
				_, err := c.StartLaunch(ctx, slug, client.LaunchRequest{})
				led.launch(slug, err == nil)
				what += "launch of " + slug + ", "
			}
			what += fmt.Sprintf("killed %s later", pause(1500*time.Millisecond))
		}
		p.kill()
		t.Logf("kill %d (%s): %s", round+1, phase, what)
	}

	// The last incarnation is left alone until everything settled.
	start := time.Now()
	p.start()
	took := awaitSettled(t, st, 5*time.Minute)
	t.Logf("settled %s after the last restart (%s)", took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	for _, d := range dups.finish() {
		t.Errorf("duplicate at one moment: %s", d)
	}
	checkFinalState(t, st, cli, runnerID(t, dataDir), p.URL(), led)
	t.Logf("asked: %s", led)
	logOutcome(t, st)
}

// logOutcome logs the counts of final states, for docs/reliability.md.
func logOutcome(t *testing.T, st *store.Store) {
	t.Helper()
	var repos, builds, buildsOK, interrupted, launches, launchesRunning, requeued int
	err := st.Pool().QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM repositories),
		(SELECT count(*) FROM builds),
		(SELECT count(*) FROM builds WHERE status = 'succeeded'),
		(SELECT count(*) FROM builds WHERE attempts > 1),
		(SELECT count(*) FROM launches),
		(SELECT count(*) FROM launches WHERE status = 'running'),
		(SELECT count(*) FROM events WHERE type = 'build.requeued')`).
		Scan(&repos, &builds, &buildsOK, &interrupted, &launches, &launchesRunning, &requeued)
	if err != nil {
		t.Fatal(err)
	}
	var recovered int
	_ = st.Pool().QueryRow(context.Background(), `SELECT count(DISTINCT repository_id) FROM ingestion_events WHERE attempt > 1`).Scan(&recovered)
	t.Logf("outcome: %d repositories (%d needed more than one attempt), %d builds (%d succeeded, %d started more than once, %d requeued), %d launches (%d running)",
		repos, recovered, builds, buildsOK, interrupted, requeued, launches, launchesRunning)
}

func collectStrings(rows interface {
	Next() bool
	Scan(...any) error
	Close()
	Err() error
}) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
