package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

// succeededBuild records a finished build the way the build worker does,
// directly in SQL, so that launches have something to start from.
func succeededBuild(t *testing.T, st *store.Store, repoID int64, sha string) int64 {
	t.Helper()
	var id int64
	err := st.Pool().QueryRow(context.Background(), `
		INSERT INTO builds (repository_id, commit_sha, status, image_tag, image_id, completed_at)
		VALUES ($1, $2, 'succeeded', 'appstore/x:' || left($2, 7), 'sha256:' || $2, now()) RETURNING id`,
		repoID, sha).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// builtDash is a store with the app dash and a succeeded build of it,
// what every launch starts from.
func builtDash(t *testing.T) (st *store.Store, repo *catalog.Repository, build int64) {
	t.Helper()
	st = storetest.New(t)
	repo = createRepo(t, st, "https://github.com/acme/dash.git")
	return st, repo, succeededBuild(t, st, repo.ID, "aaaaaaaaaaaa")
}

func launchEvents(t *testing.T, st *store.Store) []string {
	t.Helper()
	evs, err := st.Events(context.Background(), store.EventFilter{Topics: []string{"launch"}})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	return types
}

func TestLaunchTargetExplainsMissingBuilds(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	repo := createRepo(t, st, "https://github.com/acme/dash.git")
	tg, err := st.LaunchTarget(ctx, "dash")
	if err != nil {
		t.Fatal(err)
	}
	if tg.Build != nil || tg.LatestBuild != nil || tg.RepositoryID != repo.ID {
		t.Fatalf("target of an unbuilt repository: %+v", tg)
	}
	if _, err := st.LaunchTarget(ctx, "nope"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("unknown slug: %v, want not found", err)
	}

	ok := succeededBuild(t, st, repo.ID, "aaaaaaaaaaaa")
	if _, err := st.Pool().Exec(ctx, `INSERT INTO builds (repository_id, commit_sha, status) VALUES ($1, 'bbbb', 'failed')`, repo.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET app_port = 3000, port_source = 'tags.yaml', metadata = '{"resources":"medium"}' WHERE id = $1`, repo.ID); err != nil {
		t.Fatal(err)
	}
	tg, err = st.LaunchTarget(ctx, "dash")
	if err != nil {
		t.Fatal(err)
	}
	if tg.Build == nil || tg.Build.ID != ok || tg.Build.ImageTag != "appstore/x:aaaaaaa" {
		t.Errorf("build %+v, want the succeeded #%d", tg.Build, ok)
	}
	if tg.LatestBuild == nil || tg.LatestBuild.Status != catalog.BuildFailed {
		t.Errorf("latest build %+v, want the failed one", tg.LatestBuild)
	}
	if tg.AppPort != 3000 || tg.PortSource != "tags.yaml" || tg.Profile != "medium" {
		t.Errorf("port %d from %q, profile %q", tg.AppPort, tg.PortSource, tg.Profile)
	}
}

func TestLaunchLifecycleWritesOneEventPerTransition(t *testing.T) {
	st, repo, build := builtDash(t)
	ctx := context.Background()
	nl := store.NewLaunch{RepositoryID: repo.ID, BuildID: build, AppPort: 8080, Profile: "small", Runner: "r1", TTL: time.Hour}

	l, origin, err := st.BeginLaunch(ctx, nl)
	if err != nil {
		t.Fatal(err)
	}
	if origin != store.LaunchCreated || l.Status != catalog.LaunchStarting || l.Repository != "dash" || l.ExpiresAt == nil {
		t.Fatalf("begin: %v %+v", origin, l)
	}
	if d := time.Until(*l.ExpiresAt); d < 59*time.Minute || d > time.Hour+time.Minute {
		t.Errorf("expires in %v, want about 1h", d)
	}
	// A second request for the same build and profile gets the same launch.
	again, origin, err := st.BeginLaunch(ctx, nl)
	if err != nil || origin != store.LaunchReused || again.ID != l.ID {
		t.Fatalf("second begin: %v %v %+v", err, origin, again)
	}
	// Another profile is another launch.
	other, origin, err := st.BeginLaunch(ctx, store.NewLaunch{RepositoryID: repo.ID, BuildID: build, AppPort: 8080, Profile: "medium", Runner: "r1", TTL: time.Hour})
	if err != nil || origin != store.LaunchCreated || other.ID == l.ID {
		t.Fatalf("other profile: %v %v %+v", err, origin, other)
	}

	ok, err := st.RecordLaunchContainer(ctx, l.ID, "c0ffee", "appstore-dash-1", 40001, "http://127.0.0.1:40001")
	if err != nil || !ok {
		t.Fatalf("record container: %v %v", ok, err)
	}
	run, changed, err := st.TransitionLaunch(ctx, l.ID, store.LaunchChange{To: catalog.LaunchRunning, From: []catalog.LaunchStatus{catalog.LaunchStarting}})
	if err != nil || !changed || run.Status != catalog.LaunchRunning || run.StartedAt == nil || run.HostPort != 40001 || run.ContainerID != "c0ffee" {
		t.Fatalf("running: %v %v %+v", err, changed, run)
	}
	// The same transition again is a no-op without an event: concurrent
	// paths of the runner rely on it.
	_, changed, err = st.TransitionLaunch(ctx, l.ID, store.LaunchChange{To: catalog.LaunchRunning, From: []catalog.LaunchStatus{catalog.LaunchStarting}})
	if err != nil || changed {
		t.Fatalf("repeated transition: changed=%v err=%v", changed, err)
	}
	reason := "stopped by a user"
	if _, _, err := st.TransitionLaunch(ctx, l.ID, store.LaunchChange{To: catalog.LaunchStopping, From: []catalog.LaunchStatus{catalog.LaunchRunning}, Message: &reason}); err != nil {
		t.Fatal(err)
	}
	done, changed, err := st.TransitionLaunch(ctx, l.ID, store.LaunchChange{To: catalog.LaunchStopped, From: []catalog.LaunchStatus{catalog.LaunchStopping}})
	if err != nil || !changed || done.StoppedAt == nil || done.ErrorMessage != reason {
		t.Fatalf("stopped: %v %+v", err, done)
	}
	if ok, _ := st.RecordLaunchContainer(ctx, l.ID, "late", "x", 1, ""); ok {
		t.Error("recorded a container on a stopped launch")
	}
	if _, _, err := st.TransitionLaunch(ctx, 999999, store.LaunchChange{To: catalog.LaunchStopped, From: []catalog.LaunchStatus{catalog.LaunchRunning}}); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("unknown launch: %v, want not found", err)
	}

	want := []string{"launch.starting", "launch.starting", "launch.running", "launch.stopping", "launch.stopped"}
	if got := launchEvents(t, st); !equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	r, err := st.Repository(ctx, "dash")
	if err != nil || r.LaunchCount != 2 {
		t.Errorf("launch count %d (%v), want 2 (the reuse does not count)", r.LaunchCount, err)
	}

	code := 137
	msg := "killed: out of memory"
	failed, _, err := st.TransitionLaunch(ctx, other.ID, store.LaunchChange{To: catalog.LaunchFailed, From: []catalog.LaunchStatus{catalog.LaunchStarting}, Message: &msg, ExitCode: &code})
	if err != nil || failed.ExitCode == nil || *failed.ExitCode != 137 || failed.ErrorMessage != msg {
		t.Fatalf("failed: %v %+v", err, failed)
	}
	active, err := st.ListLaunches(ctx, store.LaunchFilter{Active: true})
	if err != nil || len(active) != 0 {
		t.Errorf("active launches %+v (%v), want none", active, err)
	}
	all, err := st.ListLaunches(ctx, store.LaunchFilter{Repository: "dash"})
	if err != nil || len(all) != 2 || all[0].ID != other.ID {
		t.Errorf("all launches %+v (%v), want both, newest first", all, err)
	}
}

func TestConcurrentLaunchesOfOneAppShareOneLaunch(t *testing.T) {
	st, repo, build := builtDash(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	origins := make([]store.LaunchOrigin, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, o, err := st.BeginLaunch(ctx, store.NewLaunch{RepositoryID: repo.ID, BuildID: build, Profile: "small", Runner: "r1", TTL: time.Hour})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i], origins[i] = l.ID, o
		}()
	}
	wg.Wait()
	created := 0
	for i := range ids {
		if ids[i] != ids[0] {
			t.Errorf("launch ids %v: want one launch", ids)
			break
		}
		if origins[i] == store.LaunchCreated {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d requests created a launch, want 1", created)
	}
}

func TestWarmLaunchIsAttachedOnce(t *testing.T) {
	st, repo, build := builtDash(t)
	ctx := context.Background()
	warm, origin, err := st.BeginLaunch(ctx, store.NewLaunch{RepositoryID: repo.ID, BuildID: build, Profile: "small", Runner: "r1", Warm: true})
	if err != nil || origin != store.LaunchCreated || !warm.Warm || warm.ExpiresAt != nil {
		t.Fatalf("warm: %v %v %+v", err, origin, warm)
	}
	// Not attachable while starting.
	req := store.NewLaunch{RepositoryID: repo.ID, BuildID: build, Profile: "small", Runner: "r1", TTL: 10 * time.Minute}
	if _, _, err := st.TransitionLaunch(ctx, warm.ID, store.LaunchChange{To: catalog.LaunchRunning, From: []catalog.LaunchStatus{catalog.LaunchStarting}}); err != nil {
		t.Fatal(err)
	}
	// Another runner's warm container is not ours to attach.
	l, origin, err := st.BeginLaunch(ctx, store.NewLaunch{RepositoryID: repo.ID, BuildID: build, Profile: "small", Runner: "r2", TTL: time.Minute})
	if err != nil || origin != store.LaunchCreated || l.ID == warm.ID {
		t.Fatalf("other runner: %v %v %+v", err, origin, l)
	}
	// Who started a launch: the warm one, the daemon; attached, the
	// user who asked (vic, a viewer, may stop it); reused, still vic.
	if warm.LaunchedBy != "" || warm.LaunchedByID != 0 {
		t.Errorf("the warm launch is someone's: %q %d", warm.LaunchedBy, warm.LaunchedByID)
	}
	_, hash := catalog.NewUserToken()
	vic, err := st.CreateUser(ctx, store.NewUser{Name: "vic", Role: catalog.RoleViewer, TokenHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	asVic := catalog.WithActor(ctx, *vic)
	got, origin, err := st.BeginLaunch(asVic, req)
	if err != nil || origin != store.LaunchAttached || got.ID != warm.ID || got.Warm || got.ExpiresAt == nil || got.Status != catalog.LaunchRunning {
		t.Fatalf("attach: %v %v %+v", err, origin, got)
	}
	if got.LaunchedBy != "vic" || got.LaunchedByID != vic.ID {
		t.Errorf("attached by vic: launched by %q (%d)", got.LaunchedBy, got.LaunchedByID)
	}
	if id, name, err := st.LaunchStarter(ctx, warm.ID); err != nil || id != vic.ID || name != "vic" {
		t.Errorf("starter of %d: %d %q %v", warm.ID, id, name, err)
	}
	if _, _, err := st.LaunchStarter(ctx, 1<<40); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("starter of a missing launch: %v", err)
	}
	if d := time.Until(*got.ExpiresAt); d < 9*time.Minute || d > 11*time.Minute {
		t.Errorf("attached launch expires in %v, want the request's TTL", d)
	}
	// The next request reuses the attached launch: it is the active one.
	next, origin, err := st.BeginLaunch(ctx, req)
	if err != nil || origin != store.LaunchReused || next.ID != warm.ID || next.LaunchedBy != "vic" {
		t.Fatalf("after attach: %v %v %+v", err, origin, next)
	}
	evs, err := st.Events(ctx, store.EventFilter{Topics: []string{"launch"}})
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	var data struct {
		Attached bool `json:"attached"`
	}
	if err := json.Unmarshal(last.Data, &data); err != nil || last.Type != "launch.running" || !data.Attached {
		t.Errorf("last event %s %s, want launch.running with attached", last.Type, last.Data)
	}
	// A new launch is its asker's; the account's removal leaves it no one's.
	fresh, _, err := st.BeginLaunch(asVic, store.NewLaunch{RepositoryID: repo.ID, BuildID: build, Profile: "medium", Runner: "r1", TTL: time.Minute})
	if err != nil || fresh.LaunchedByID != vic.ID {
		t.Fatalf("vic's new launch: %+v, %v", fresh, err)
	}
	if _, err := st.DeleteUser(ctx, "vic", ""); err != nil {
		t.Fatal(err)
	}
	if l, err := st.Launch(ctx, fresh.ID); err != nil || l.LaunchedBy != "" || l.LaunchedByID != 0 {
		t.Errorf("vic's launch after vic left: %+v, %v", l, err)
	}
}

func TestExpiredIdleAndTouch(t *testing.T) {
	st, repo, build := builtDash(t)
	ctx := context.Background()
	begin := func(profile string, ttl time.Duration) int64 {
		l, _, err := st.BeginLaunch(ctx, store.NewLaunch{RepositoryID: repo.ID, BuildID: build, Profile: profile, Runner: "r1", TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.TransitionLaunch(ctx, l.ID, store.LaunchChange{To: catalog.LaunchRunning, From: []catalog.LaunchStatus{catalog.LaunchStarting}}); err != nil {
			t.Fatal(err)
		}
		return l.ID
	}
	short := begin("small", -time.Second) // already past its TTL
	long := begin("medium", time.Hour)
	exp, err := st.ExpiredLaunches(ctx, "r1")
	if err != nil || len(exp) != 1 || exp[0].ID != short {
		t.Errorf("expired %+v (%v), want #%d", exp, err, short)
	}
	if exp, _ := st.ExpiredLaunches(ctx, "r2"); len(exp) != 0 {
		t.Errorf("another runner sees %+v", exp)
	}
	// Both started just now: idle for more than 0s but not 1m.
	if idle, err := st.IdleLaunches(ctx, "r1", time.Minute); err != nil || len(idle) != 0 {
		t.Errorf("idle after 1m: %+v %v", idle, err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE launches SET started_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	if err := st.TouchLaunches(ctx, map[int64]time.Time{long: time.Now()}); err != nil {
		t.Fatal(err)
	}
	idle, err := st.IdleLaunches(ctx, "r1", time.Minute)
	if err != nil || len(idle) != 1 || idle[0].ID != short {
		t.Errorf("idle %+v (%v), want only #%d (#%d served a request)", idle, err, short, long)
	}
	// An older time does not move last_request_at back.
	if err := st.TouchLaunches(ctx, map[int64]time.Time{long: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	l, err := st.Launch(ctx, long)
	if err != nil || l.LastRequestAt == nil || time.Since(*l.LastRequestAt) > time.Minute {
		t.Errorf("last request %v (%v)", l.LastRequestAt, err)
	}
}

func TestWarmCandidatesPreferTaggedThenMostLaunched(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	var ids []int64
	for _, u := range []string{"https://github.com/acme/a.git", "https://github.com/acme/b.git", "https://github.com/acme/c.git", "https://github.com/acme/d.git"} {
		r := createRepo(t, st, u)
		ids = append(ids, r.ID)
	}
	for _, id := range ids[:3] { // d has no build
		succeededBuild(t, st, id, "cccccccccccc")
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE repositories SET launch_count = 10 WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateRepository(ctx, "c", store.RepositoryUpdate{AddTags: []catalog.Tag{{Key: "warm", Value: "true"}}}); err != nil {
		t.Fatal(err)
	}
	got, err := st.WarmCandidates(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var slugs []string
	for _, c := range got {
		slugs = append(slugs, c.Slug)
	}
	if want := []string{"c", "b", "a"}; !equal(slugs, want) {
		t.Errorf("candidates %v, want %v", slugs, want)
	}
	if got, _ := st.WarmCandidates(ctx, 1); len(got) != 1 || got[0].Slug != "c" {
		t.Errorf("one candidate: %+v", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
