package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon/events"
)

// startHub starts a hub on st that is closed when the test ends.
func startHub(t testing.TB, st *store.Store, opts events.Options) *events.Hub {
	t.Helper()
	opts.Store = st
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := events.NewHub(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := h.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); h.Close() })
	if err := h.Check(ctx); err != nil {
		t.Fatalf("hub started but not listening: %v", err)
	}
	return h
}

func publish(t testing.TB, st *store.Store, typ, subject string) int64 {
	t.Helper()
	id, err := st.PublishEvent(context.Background(), store.EventSpec{Type: typ, Subject: subject, Data: map[string]any{"n": 1}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// next returns the next message of sub, failing the test after 10 seconds.
func next(t testing.TB, sub *events.Subscription) *events.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("next event: %v", err)
	}
	return m
}

func ids(ms []*events.Message) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.Event.ID)
	}
	return out
}

func take(t testing.TB, sub *events.Subscription, n int) []*events.Message {
	t.Helper()
	var out []*events.Message
	for range n {
		out = append(out, next(t, sub))
	}
	return out
}

// storedIDs returns the ids of the committed events after since.
func storedIDs(t testing.TB, st *store.Store, since int64) []int64 {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(), `SELECT id FROM events WHERE id > $1 ORDER BY id`, since)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReplayThenLiveInOrder(t *testing.T) {
	st := storetest.New(t)
	var published []int64
	for i := range 5 {
		published = append(published, publish(t, st, "repository.created", fmt.Sprintf("app-%d", i)))
	}
	h := startHub(t, st, events.Options{})
	ctx := context.Background()

	sub, err := h.Subscribe(ctx, events.Filter{Since: published[1]})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	live, err := h.Subscribe(ctx, events.Filter{Since: events.SinceNow})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	if got := ids(take(t, sub, 3)); !slices.Equal(got, published[2:]) {
		t.Fatalf("replay after %d: %v, want %v", published[1], got, published[2:])
	}
	later := []int64{publish(t, st, "build.queued", "app-1"), publish(t, st, "build.started", "app-1")}
	got := take(t, sub, 2)
	if !slices.Equal(ids(got), later) {
		t.Fatalf("live after replay: %v, want %v", ids(got), later)
	}
	if got[1].Event.Type != "build.started" || got[1].Event.Subject != "app-1" || got[1].Event.Time.IsZero() {
		t.Errorf("event fields lost: %+v", got[1].Event)
	}
	var wire client.Event
	if err := json.Unmarshal(got[1].JSON, &wire); err != nil || wire.ID != later[1] || string(wire.Data) != `{"n":1}` {
		t.Errorf("wire form %s: %+v %v", got[1].JSON, wire, err)
	}
	if got := ids(take(t, live, 2)); !slices.Equal(got, later) {
		t.Errorf("SinceNow subscriber got %v, want only the later events %v", got, later)
	}
	if s := h.Stats(); s.Subscribers != 2 || s.LastID != later[1] {
		t.Errorf("stats %+v", s)
	}
	sub.Close()
	if _, err := sub.Next(ctx); !errors.Is(err, events.ErrUnsubscribed) {
		t.Errorf("after Close: %v, want ErrUnsubscribed", err)
	}
}

// TestNoGapNoDuplicateAtTheSeam has writers commit (and roll back) events
// while subscribers join with every kind of since; each subscriber must see
// exactly the committed ids after its since, in increasing order. A tiny
// holdback forces replays to read the table again while live events pour in.
func TestNoGapNoDuplicateAtTheSeam(t *testing.T) {
	st := storetest.New(t)
	for range 50 {
		publish(t, st, "repository.created", "seed")
	}
	h := startHub(t, st, events.Options{Buffer: 100000, ReplayHoldback: 4})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const writers, perWriter = 6, 150
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				err := st.InTx(ctx, func(tx pgx.Tx) error {
					_, err := store.InsertEvent(ctx, tx, store.EventSpec{Type: "build.log", Subject: fmt.Sprintf("w%d", w)})
					if err == nil && i%7 == 3 {
						return errRollback // burns an id: the sequence must skip it
					}
					return err
				})
				if err != nil && !errors.Is(err, errRollback) {
					errs <- err
					return
				}
			}
		}()
	}

	type result struct {
		since int64
		got   []int64
		err   error
	}
	results := make(chan result, 64)
	var subs sync.WaitGroup
	for i := range 24 {
		// Join while the writers run, with since 0, now, an old id, or
		// the newest committed id.
		time.Sleep(time.Duration(rand.IntN(15)) * time.Millisecond) // spread the joins over the writes
		since := events.SinceNow
		switch i % 4 {
		case 0:
			since = 0
		case 1:
			last, err := st.LastEventID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			since = rand.Int64N(last + 1)
		case 2:
			last, err := st.LastEventID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			since = last
		}
		sub, err := h.Subscribe(ctx, events.Filter{Since: since})
		if err != nil {
			t.Fatal(err)
		}
		subs.Add(1)
		go func() {
			defer subs.Done()
			defer sub.Close()
			r := result{since: since}
			for {
				m, err := sub.Next(ctx)
				if err != nil {
					r.err = err
					results <- r
					return
				}
				r.got = append(r.got, m.Event.ID)
				if i%3 == 0 && len(r.got) < 40 {
					time.Sleep(time.Millisecond) // a slowish reader keeps replays long
				}
				if m.Event.Type == "test.final" {
					results <- r
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	// The subscribers stop at this one.
	final := publish(t, st, "test.final", "")
	subs.Wait()
	close(results)
	for r := range results {
		if r.err != nil {
			t.Errorf("since %d: subscription ended: %v", r.since, r.err)
			continue
		}
		if !slices.IsSorted(r.got) || len(slices.Compact(slices.Clone(r.got))) != len(r.got) {
			t.Errorf("since %d: ids not strictly increasing", r.since)
		}
		since := r.since
		if since == events.SinceNow {
			if len(r.got) == 0 {
				t.Errorf("SinceNow subscriber got nothing")
				continue
			}
			since = r.got[0] - 1
		}
		want := storedIDs(t, st, since)
		if !slices.Equal(r.got, want) {
			t.Errorf("since %d: got %d events (%v…), want %d committed ids (%v…); missing %v, extra %v",
				r.since, len(r.got), head(r.got), len(want), head(want), diff(want, r.got), diff(r.got, want))
		}
		if r.got[len(r.got)-1] != final {
			t.Errorf("since %d: stopped at %d, want %d", r.since, r.got[len(r.got)-1], final)
		}
	}
	t.Logf("stats %+v", h.Stats())
}

var errRollback = errors.New("rollback on purpose")

func head(s []int64) []int64 { return s[:min(len(s), 5)] }

// diff returns the elements of a not in b (at most 10).
func diff(a, b []int64) []int64 {
	var out []int64
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
			if len(out) == 10 {
				break
			}
		}
	}
	return out
}

func TestTopicAndSubjectFilters(t *testing.T) {
	ctx := context.Background()
	kinds := []struct{ typ, subject string }{
		{"repository.created", "dash"},
		{"build.queued", "dash"},
		{"build.queued", "notes"},
		{"ingestion.ready", "dash"},
		{"build.succeeded", "dash"},
		{"service.updated", "search"},
	}
	for _, tc := range []struct {
		name   string
		filter events.Filter
		want   []int // indexes into kinds
		marker string
	}{
		{"build topic", events.Filter{Topics: []string{"build"}}, []int{1, 2, 4}, "build.marker"},
		{"subject", events.Filter{Subject: "dash"}, []int{0, 1, 3, 4}, "marker.dash"},
		{"topic and subject", events.Filter{Topics: []string{"build", "ingestion"}, Subject: "dash"}, []int{1, 3, 4}, "ingestion.marker"},
		{"no match", events.Filter{Topics: []string{"launch"}}, nil, "launch.marker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storetest.New(t)
			h := startHub(t, st, events.Options{})
			var stored []int64
			for _, k := range kinds {
				stored = append(stored, publish(t, st, k.typ, k.subject))
			}
			// Replay the stored kinds, then the same kinds again live.
			sub, err := h.Subscribe(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			var want []int64
			for _, i := range tc.want {
				want = append(want, stored[i])
			}
			got := ids(take(t, sub, len(want)))
			var live []int64
			for _, k := range kinds {
				live = append(live, publish(t, st, k.typ, k.subject))
			}
			var wantLive []int64
			for _, i := range tc.want {
				wantLive = append(wantLive, live[i])
			}
			// A marker that passes the filter comes after everything
			// else: whatever arrives before it is all the filter let by.
			marker := publish(t, st, tc.marker, "dash")
			for {
				m := next(t, sub)
				if m.Event.ID == marker {
					break
				}
				got = append(got, m.Event.ID)
			}
			if !slices.Equal(got, append(want, wantLive...)) {
				t.Errorf("got %v, want %v then %v", got, want, wantLive)
			}
		})
	}
}

func TestFilterValidation(t *testing.T) {
	st := storetest.New(t)
	h := startHub(t, st, events.Options{})
	last := publish(t, st, "repository.created", "x")
	for _, tc := range []struct {
		filter events.Filter
		field  string
	}{
		{events.Filter{Since: -5}, "since"},
		{events.Filter{Topics: []string{"Build"}}, "topics"},
		{events.Filter{Topics: []string{"build.queued"}}, "topics"},
		{events.Filter{Subject: "a\nb"}, "subject"},
		{events.Filter{Since: last + 100}, "since"},
	} {
		_, err := h.Subscribe(context.Background(), tc.filter)
		var inv *catalog.InvalidError
		if !errors.As(err, &inv) || inv.Field != tc.field {
			t.Errorf("%+v: %v, want an invalid %s", tc.filter, err, tc.field)
		}
	}
}

func TestSlowConsumerIsCutOffWhileAFastOneKeepsUp(t *testing.T) {
	st := storetest.New(t)
	h := startHub(t, st, events.Options{Buffer: 8})
	ctx := context.Background()
	slow, err := h.Subscribe(ctx, events.Filter{Since: events.SinceNow})
	if err != nil {
		t.Fatal(err)
	}
	fast, err := h.Subscribe(ctx, events.Filter{Since: events.SinceNow})
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	var got []int64
	for range 40 {
		want = append(want, publish(t, st, "build.log", "x"))
		// The fast one reads as events come; the slow one never does.
		got = append(got, next(t, fast).Event.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("fast consumer got %v, want %v", got, want)
	}
	select {
	case <-slow.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("slow consumer was not cut off")
	}
	var sc *events.SlowConsumerError
	if err := slow.Err(); !errors.As(err, &sc) || sc.Behind != 9 || err.Error() != "slow consumer: 9 events behind" {
		t.Errorf("slow consumer ended with %v", err)
	}
	// What it had buffered is still its to read, in order, before the end.
	if got := ids(take(t, slow, 8)); !slices.Equal(got, want[:8]) {
		t.Errorf("slow consumer's buffer %v, want %v", got, want[:8])
	}
	if s := h.Stats(); s.SlowConsumers != 1 || s.Subscribers != 1 {
		t.Errorf("stats %+v: want one slow consumer cut, one subscriber left", s)
	}
}

// terminateListener ends the hub's LISTEN backend from another session, as
// a PostgreSQL restart or an administrator would.
func terminateListener(t *testing.T, st *store.Store) {
	t.Helper()
	var n int
	err := st.Pool().QueryRow(context.Background(), `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'appstored-events'`).Scan(&n)
	if err != nil || n == 0 {
		t.Fatalf("terminate the hub's backend: %d terminated, %v", n, err)
	}
}

func TestReconnectsAndCatchesUpAfterTheBackendIsTerminated(t *testing.T) {
	st := storetest.New(t)
	h := startHub(t, st, events.Options{ReconnectMin: 50 * time.Millisecond, ReconnectMax: 200 * time.Millisecond})
	ctx := context.Background()
	sub, err := h.Subscribe(ctx, events.Filter{Since: events.SinceNow})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	logs, cancelLogs := h.SubscribeBuildLog(7)
	defer cancelLogs()

	var want []int64
	for range 3 {
		want = append(want, publish(t, st, "build.started", "a"))
	}
	got := ids(take(t, sub, 3))

	terminateListener(t, st)
	// Written while the hub has no LISTEN connection: their notifications
	// are lost, and the hub must find them in the table when it is back.
	for range 3 {
		want = append(want, publish(t, st, "build.succeeded", "a"))
	}
	got = append(got, ids(take(t, sub, 3))...)
	if !slices.Equal(got, want) {
		t.Fatalf("across the reconnect got %v, want %v", got, want)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Stats().Reconnects == 0 || h.Check(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("hub did not report the reconnection: %+v", h.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Build-log followers are woken after a reconnection: they may have
	// missed notifications too.
	select {
	case <-logs:
	case <-time.After(10 * time.Second):
		t.Fatal("build log follower not woken after the reconnection")
	}
	// And live delivery works on the new connection.
	id := publish(t, st, "build.queued", "a")
	if m := next(t, sub); m.Event.ID != id {
		t.Errorf("after reconnect got %d, want %d", m.Event.ID, id)
	}
}

func TestBuildLogNotifications(t *testing.T) {
	st := storetest.New(t)
	h := startHub(t, st, events.Options{})
	ctx := context.Background()
	notify := func(buildID string) {
		t.Helper()
		if _, err := st.Pool().Exec(ctx, `SELECT pg_notify($1, $2)`, events.BuildLogChannel, buildID); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatalf("%s: channel closed", what)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no wake-up", what)
		}
	}
	b42, cancel42 := h.SubscribeBuildLog(42)
	b42b, cancel42b := h.SubscribeBuildLog(42)
	defer cancel42b()
	b43, cancel43 := h.SubscribeBuildLog(43)
	defer cancel43()

	notify("43")
	wait(b43, "follower of 43")
	select {
	case <-b42:
		t.Fatal("follower of 42 woken by build 43")
	default:
	}
	// A burst is coalesced into one pending wake-up per follower.
	for range 5 {
		notify("42")
	}
	wait(b42, "follower of 42")
	wait(b42b, "second follower of 42")
	notify("not-a-number") // ignored, and the hub keeps going
	cancel42()
	notify("42")
	wait(b42b, "second follower of 42 after the first cancelled")
	select {
	case <-b42:
		// One coalesced wake-up from the burst may have been left over;
		// what matters is that nothing arrives after this drain.
	default:
	}
	notify("42")
	wait(b42b, "second follower again")
	select {
	case <-b42:
		t.Fatal("cancelled follower still woken")
	default:
	}

	h.Close()
	if _, ok := <-b43; ok {
		// drain a pending wake-up, then it must be closed
		if _, ok := <-b43; ok {
			t.Fatal("build log channel open after the hub closed")
		}
	}
	if _, err := h.Subscribe(ctx, events.Filter{Since: events.SinceNow}); !errors.Is(err, events.ErrClosed) {
		t.Errorf("subscribe after close: %v, want ErrClosed", err)
	}
}

func TestCloseEndsSubscriptions(t *testing.T) {
	st := storetest.New(t)
	h := startHub(t, st, events.Options{})
	sub, err := h.Subscribe(context.Background(), events.Filter{Since: 0})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	select {
	case <-sub.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("subscription still running after Close")
	}
	if !errors.Is(sub.Err(), events.ErrClosed) {
		t.Errorf("ended with %v, want ErrClosed", sub.Err())
	}
}

func TestSubscriptionEndsWithItsContext(t *testing.T) {
	st := storetest.New(t)
	h := startHub(t, st, events.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := h.Subscribe(ctx, events.Filter{Since: events.SinceNow})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-sub.Done()
	if !errors.Is(sub.Err(), context.Canceled) {
		t.Errorf("ended with %v", sub.Err())
	}
	if n := h.Stats().Subscribers; n != 0 {
		t.Errorf("%d subscribers left", n)
	}
}

func TestPruneAndTruncation(t *testing.T) {
	st := storetest.New(t)
	var all []int64
	for range 6 {
		all = append(all, publish(t, st, "repository.updated", "a"))
	}
	ctx := context.Background()
	// The first four are from last week.
	if _, err := st.Pool().Exec(ctx, `UPDATE events SET created_at = now() - interval '8 days' WHERE id <= $1`, all[3]); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, st, events.Options{})
	if _, err := st.PruneEvents(ctx, 0); err == nil {
		t.Error("Prune with retention 0 did not fail")
	}
	n, err := st.PruneEvents(ctx, 7*24*time.Hour)
	if err != nil || n != 4 {
		t.Fatalf("pruned %d, %v; want 4", n, err)
	}
	if left := storedIDs(t, st, 0); !slices.Equal(left, all[4:]) {
		t.Fatalf("left %v, want %v", left, all[4:])
	}
	if n, err := st.PruneEvents(ctx, 7*24*time.Hour); err != nil || n != 0 {
		t.Errorf("second prune: %d, %v", n, err)
	}

	// Resuming from a pruned id: told, then the rest.
	sub, err := h.Subscribe(ctx, events.Filter{Since: all[1]})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	m := next(t, sub)
	var td client.StreamTruncated
	if m.Event.Type != client.EventStreamTruncated || m.Event.ID != 0 || json.Unmarshal(m.Event.Data, &td) != nil ||
		td.Since != all[1] || td.PrunedThrough != all[3] {
		t.Fatalf("first message %s, want stream.truncated since %d pruned through %d", m.JSON, all[1], all[3])
	}
	if got := ids(take(t, sub, 2)); !slices.Equal(got, all[4:]) {
		t.Errorf("after the truncation: %v, want %v", got, all[4:])
	}
	// From the last pruned id or later, or from 0 (everything retained),
	// nothing is missing.
	for _, since := range []int64{0, all[3]} {
		sub, err := h.Subscribe(ctx, events.Filter{Since: since})
		if err != nil {
			t.Fatal(err)
		}
		if m := next(t, sub); m.Event.ID != all[4] {
			t.Errorf("since %d: first %s, want event %d", since, m.JSON, all[4])
		}
		sub.Close()
	}
}
