package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
)

// runningLaunches are the ids of dash's running launches that are not warm.
func runningLaunches(t *testing.T, st *store.Store) []int64 {
	t.Helper()
	ls, err := st.ListLaunches(context.Background(), store.LaunchFilter{Repository: "dash", Statuses: []catalog.LaunchStatus{catalog.LaunchRunning}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, l := range ls {
		if !l.Warm {
			ids = append(ids, l.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestRunLaunchReplacesOlderInOneTransaction: the launch that goes running
// moves the older launches of its app on its runner to stopping in the same
// transaction, so no moment (and no crash) has two running; warm-pool
// launches, other runners' launches and newer ones are left alone.
func TestRunLaunchReplacesOlderInOneTransaction(t *testing.T) {
	st, repo, build := builtDash(t)
	ctx := context.Background()
	begin := func(profile, runner string, warm bool) *catalog.Launch {
		t.Helper()
		l, origin, err := st.BeginLaunch(ctx, store.NewLaunch{RepositoryID: repo.ID, BuildID: build, Profile: profile, Runner: runner, TTL: time.Hour, Warm: warm})
		if err != nil || origin != store.LaunchCreated {
			t.Fatalf("begin %s on %s: %v %v", profile, runner, origin, err)
		}
		return l
	}
	first := begin("small", "r1", false)
	if l, changed, replaced, err := st.RunLaunch(ctx, first.ID); err != nil || !changed || l.Status != catalog.LaunchRunning || len(replaced) != 0 {
		t.Fatalf("first running: %v %v %v %+v", err, changed, replaced, l)
	}
	starting := begin("medium", "r1", false) // requested before the one that runs
	warm := begin("small", "r1", true)
	elsewhere := begin("small", "r2", false)
	if _, _, _, err := st.RunLaunch(ctx, elsewhere.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := st.RunLaunch(ctx, warm.ID); err != nil {
		t.Fatal(err)
	}
	second := begin("large", "r1", false)
	newer := begin("xlarge", "r1", false) // requested after: replaces second once it runs

	l, changed, replaced, err := st.RunLaunch(ctx, second.ID)
	if err != nil || !changed || l.Status != catalog.LaunchRunning || l.StartedAt == nil {
		t.Fatalf("second running: %v %v %+v", err, changed, l)
	}
	var ids []int64
	for _, o := range replaced {
		ids = append(ids, o.ID)
		if o.Status != catalog.LaunchStopping || o.StopReason != "replaced" || o.ErrorMessage != fmt.Sprintf("replaced by launch %d", second.ID) {
			t.Errorf("replaced launch %d: %s %q %q", o.ID, o.Status, o.StopReason, o.ErrorMessage)
		}
	}
	if want := []int64{first.ID, starting.ID}; !slices.Equal(ids, want) {
		t.Errorf("replaced %v, want %v (the older ones of r1, not warm)", ids, want)
	}
	for id, want := range map[int64]catalog.LaunchStatus{warm.ID: catalog.LaunchRunning, elsewhere.ID: catalog.LaunchRunning, newer.ID: catalog.LaunchStarting} {
		if got, err := st.Launch(ctx, id); err != nil || got.Status != want {
			t.Errorf("launch %d: %v %v, want it left %s", id, got.Status, err, want)
		}
	}

	// Each replaced launch has its launch.stopping, after the new one's
	// launch.running, with the reason.
	evs, err := st.Events(ctx, store.EventFilter{Topics: []string{"launch"}})
	if err != nil {
		t.Fatal(err)
	}
	type ev struct {
		Type     string
		LaunchID int64  `json:"launch_id"`
		Reason   string `json:"reason"`
	}
	var tail []ev
	for _, e := range evs[len(evs)-3:] {
		var d ev
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		d.Type = e.Type
		tail = append(tail, d)
	}
	if want := []ev{{"launch.running", second.ID, ""}, {"launch.stopping", first.ID, "replaced"}, {"launch.stopping", starting.ID, "replaced"}}; !slices.Equal(tail, want) {
		t.Errorf("last events %+v, want %+v", tail, want)
	}

	// A replaced launch cannot go running any more (its start was
	// overtaken), and the newer one replaces the second in turn.
	if _, changed, _, err := st.RunLaunch(ctx, starting.ID); err != nil || changed {
		t.Errorf("replaced starting launch went running: %v %v", changed, err)
	}
	if _, _, replaced, err := st.RunLaunch(ctx, newer.ID); err != nil || len(replaced) != 1 || replaced[0].ID != second.ID {
		t.Errorf("newer running: replaced %+v (%v), want launch %d", replaced, err, second.ID)
	}
	if got := runningLaunches(t, st); !slices.Equal(got, []int64{elsewhere.ID, newer.ID}) {
		t.Errorf("running %v, want the other runner's and the newest", got)
	}
}

// TestAttachedWarmLaunchReplacesTheOthers: a warm container attached to a
// request is the newest request, whatever its id: every other active launch
// of the app on the runner is replaced in the attaching transaction.
func TestAttachedWarmLaunchReplacesTheOthers(t *testing.T) {
	st, repo, build := builtDash(t)
	ctx := context.Background()
	warm, _, err := st.BeginLaunch(ctx, store.NewLaunch{RepositoryID: repo.ID, BuildID: build, Profile: "small", Runner: "r1", Warm: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := st.RunLaunch(ctx, warm.ID); err != nil {
		t.Fatal(err)
	}
	medium, _, err := st.BeginLaunch(ctx, store.NewLaunch{RepositoryID: repo.ID, BuildID: build, Profile: "medium", Runner: "r1", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := st.RunLaunch(ctx, medium.ID); err != nil {
		t.Fatal(err)
	}
	l, origin, replaced, err := st.BeginLaunchReplacing(ctx, store.NewLaunch{RepositoryID: repo.ID, BuildID: build, Profile: "small", Runner: "r1", TTL: time.Hour})
	if err != nil || origin != store.LaunchAttached || l.ID != warm.ID {
		t.Fatalf("attach: %v %v %+v", err, origin, l)
	}
	if len(replaced) != 1 || replaced[0].ID != medium.ID || replaced[0].Status != catalog.LaunchStopping || replaced[0].StopReason != "replaced" {
		t.Fatalf("replaced %+v, want launch %d stopping", replaced, medium.ID)
	}
	if got := runningLaunches(t, st); !slices.Equal(got, []int64{warm.ID}) {
		t.Errorf("running %v, want only the attached %d", got, warm.ID)
	}
}

// TestConcurrentRunLaunchesLeaveOneRunning: launches of one app that answer
// at the same moment serialise on the repository's lock: whatever the
// order, one is running at the end, and never two.
func TestConcurrentRunLaunchesLeaveOneRunning(t *testing.T) {
	st, repo, build := builtDash(t)
	ctx := context.Background()
	var ids []int64
	for _, p := range []string{"a", "b", "c", "d", "e", "f"} {
		l, _, err := st.BeginLaunch(ctx, store.NewLaunch{RepositoryID: repo.ID, BuildID: build, Profile: p, Runner: "r1", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, _, err := st.RunLaunch(ctx, id); err != nil {
				t.Error(err) // a deadlock between two of them would show here
			}
		}()
	}
	wg.Wait()
	if got := runningLaunches(t, st); len(got) != 1 {
		t.Errorf("running %v, want one", got)
	}
}
