package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

// quotaApps registers n apps with a succeeded build each.
func quotaApps(t *testing.T, st *store.Store, n int) (repos, builds []int64) {
	t.Helper()
	for i := range n {
		repo := createRepo(t, st, fmt.Sprintf("https://github.com/acme/app%d.git", i))
		repos = append(repos, repo.ID)
		builds = append(builds, succeededBuild(t, st, repo.ID, fmt.Sprintf("%012d", i)))
	}
	return repos, builds
}

// TestCatalogQuotaAdmitsExactlyTheCapAcrossRunners: two runners, each with
// its own connection pool on the one catalogue database, race to launch
// twelve apps under a catalogue cap of 5: exactly 5 launches are recorded,
// every other is refused with a *QuotaRefusal of the catalogue that names
// what runs — whatever the interleaving.
func TestCatalogQuotaAdmitsExactlyTheCapAcrossRunners(t *testing.T) {
	stA, url := storetest.NewWithURL(t)
	stB, err := store.Open(context.Background(), url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stB.Close)
	repos, builds := quotaApps(t, stA, 12)
	quota := &store.LaunchQuota{CatalogMaxRunning: 5, MaxRunning: 20}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		admitted []int64
		refused  []*store.QuotaRefusal
		start    = make(chan struct{})
	)
	for i := range repos {
		st, runner := stA, "runner-a"
		if i%2 == 1 {
			st, runner = stB, "runner-b"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			l, origin, err := st.BeginLaunch(context.Background(), store.NewLaunch{
				RepositoryID: repos[i], BuildID: builds[i], Profile: "small", Runner: runner,
				TTL: 3600e9, Memory: 256 << 20, Quota: quota,
			})
			mu.Lock()
			defer mu.Unlock()
			var q *store.QuotaRefusal
			switch {
			case errors.As(err, &q):
				refused = append(refused, q)
			case err != nil:
				t.Errorf("launch %d: %v", i, err)
			case origin != store.LaunchCreated:
				t.Errorf("launch %d: origin %v", i, origin)
			default:
				admitted = append(admitted, l.ID)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(admitted) != 5 || len(refused) != 7 {
		t.Fatalf("%d admitted, %d refused; want 5 and 7", len(admitted), len(refused))
	}
	var n int
	if err := stA.Pool().QueryRow(context.Background(), `SELECT count(*) FROM launches WHERE status = 'starting'`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("%d launches recorded (%v), want 5", n, err)
	}
	for _, q := range refused {
		if q.Scope != store.QuotaCatalog || q.Memory || q.Max != 5 || len(q.Running) != 5 {
			t.Errorf("refusal %+v, want the catalogue's count cap with the 5 that run", q)
		}
		for _, l := range q.Running {
			if l.Status != catalog.LaunchStarting || l.Repository == "" {
				t.Errorf("refusal names %+v", l)
			}
		}
	}
	// A launch of an app that already runs on its runner is admitted at
	// the cap (it replaces that launch); on another runner it is a launch
	// more, and refused.
	var runningRepo int64
	var runningRunner string
	if err := stA.Pool().QueryRow(context.Background(), `SELECT repository_id, runner FROM launches WHERE id = $1`, admitted[0]).Scan(&runningRepo, &runningRunner); err != nil {
		t.Fatal(err)
	}
	build := builds[0]
	for i, r := range repos {
		if r == runningRepo {
			build = builds[i]
		}
	}
	fresh := store.NewLaunch{RepositoryID: runningRepo, BuildID: build, Profile: "small", Runner: runningRunner, TTL: 3600e9, Fresh: true, Memory: 256 << 20, Quota: quota}
	if _, _, err := stA.BeginLaunch(context.Background(), fresh); err != nil {
		t.Errorf("relaunch of a running app at the cap: %v", err)
	}
	fresh.Runner = "runner-c"
	var q *store.QuotaRefusal
	if _, _, err := stB.BeginLaunch(context.Background(), fresh); !errors.As(err, &q) {
		t.Errorf("the same app on another runner at the cap: %v, want refused", err)
	}
	// Warm-pool containers are not launches: never refused.
	warm := store.NewLaunch{RepositoryID: repos[11], BuildID: builds[11], Profile: "small", Runner: "runner-a", Warm: true, Quota: quota}
	if _, _, err := stA.BeginLaunch(context.Background(), warm); err != nil {
		t.Errorf("warm launch at the cap: %v", err)
	}
}

// TestQuotaCountsRunnerAndCatalogMemory: the runner's caps count its own
// launches only, the catalogue's every runner's, memory by the limit each
// launch was recorded with (its profile's where none was recorded).
func TestQuotaCountsRunnerAndCatalogMemory(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repos, builds := quotaApps(t, st, 4)
	begin := func(i int, runner string, mem int64, q *store.LaunchQuota) error {
		_, _, err := st.BeginLaunch(ctx, store.NewLaunch{RepositoryID: repos[i], BuildID: builds[i], Profile: "medium", Runner: runner, TTL: 3600e9, Memory: mem, Quota: q})
		return err
	}
	perRunner := &store.LaunchQuota{MaxRunning: 1}
	if err := begin(0, "a", 512<<20, perRunner); err != nil {
		t.Fatal(err)
	}
	if err := begin(1, "b", 512<<20, perRunner); err != nil {
		t.Errorf("runner b's first launch under a per-runner cap of 1: %v", err)
	}
	var q *store.QuotaRefusal
	if err := begin(2, "a", 512<<20, perRunner); !errors.As(err, &q) || q.Scope != store.QuotaRunner || len(q.Running) != 1 || q.Running[0].RepositoryID != repos[0] {
		t.Errorf("runner a's second launch: %v %+v, want refused naming app0 only", err, q)
	}
	// An older row without a recorded limit counts its profile's.
	if _, err := st.Pool().Exec(ctx, `UPDATE launches SET memory_limit = 0 WHERE repository_id = $1`, repos[1]); err != nil {
		t.Fatal(err)
	}
	catalogMem := &store.LaunchQuota{CatalogMaxMemory: 1536 << 20, ProfileMemory: map[string]int64{"medium": 512 << 20}}
	q = nil
	if err := begin(2, "c", 768<<20, catalogMem); !errors.As(err, &q) || q.Scope != store.QuotaCatalog || !q.Memory || q.Used != 1024<<20 || q.Max != 1536<<20 {
		t.Errorf("768 MiB more over 1 GiB running under 1.5 GiB: %v %+v", err, q)
	}
	if err := begin(2, "c", 512<<20, catalogMem); err != nil {
		t.Errorf("512 MiB more over 1 GiB running under 1.5 GiB: %v", err)
	}
	// Stopping launches are on their way out: not counted.
	if _, err := st.Pool().Exec(ctx, `UPDATE launches SET status = 'stopping' WHERE repository_id = $1`, repos[0]); err != nil {
		t.Fatal(err)
	}
	if err := begin(3, "a", 512<<20, perRunner); err != nil {
		t.Errorf("runner a's launch once its other one is stopping: %v", err)
	}
}
