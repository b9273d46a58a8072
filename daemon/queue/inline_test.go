package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/daemon/queue"
)

func newInline(t *testing.T, opts queue.Options) *queue.Inline {
	t.Helper()
	opts.Logger = testLogger(t)
	q := queue.NewInline(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return q
}

// Without Redis nothing but this process can run a job: a kind that no role
// of it handles is refused once started, not left to pile up.
func TestInlineRefusesKindsWithoutHandler(t *testing.T) {
	q := newInline(t, queue.Options{})
	q.Handle(queue.KindIngest, func(context.Context, queue.Job) error { return nil })
	start(t, q)
	err := q.Enqueue(context.Background(), queue.Job{Kind: queue.KindBuild, BuildID: 1})
	if err == nil || !strings.Contains(err.Error(), "build") || !strings.Contains(err.Error(), "--redis-url") {
		t.Fatalf("enqueue of a kind without handler: %v, want an error naming the kind and --redis-url", err)
	}
}

// Reconcilers enqueue while the daemon wires itself up, before Start.
func TestInlineRunsJobsEnqueuedBeforeStart(t *testing.T) {
	q := newInline(t, queue.Options{})
	got := make(chan queue.Job, 4)
	q.Handle(queue.KindIngest, func(_ context.Context, j queue.Job) error { got <- j; return nil })
	enqueue(t, q, queue.Job{Kind: queue.KindIngest, RepositoryID: 1})
	enqueue(t, q, queue.Job{Kind: queue.KindIngest, RepositoryID: 1})
	enqueue(t, q, queue.Job{Kind: queue.KindBuild, BuildID: 1}) // no handler: dropped at Start
	if b, _ := q.Backlog(context.Background()); b[queue.KindIngest] != 1 || b[queue.KindBuild] != 1 {
		t.Fatalf("backlog before start: %v, want one ingest (de-duplicated) and one build", b)
	}
	start(t, q)
	if j := recv(t, got, "the job enqueued before Start"); j.RepositoryID != 1 {
		t.Fatalf("got %+v", j)
	}
	waitIdle(t, q, queue.KindIngest)
	if b, _ := q.Backlog(context.Background()); b[queue.KindBuild] != 0 {
		t.Errorf("build job without handler still held after Start: %v", b)
	}
	if len(got) != 0 {
		t.Errorf("the duplicate ran too")
	}
}

// Stop does not wait for jobs that only wait (behind a busy worker, or for a
// retry an hour away): they are dropped, and their handler never runs.
func TestInlineStopDropsWaitingJobs(t *testing.T) {
	q := newInline(t, queue.Options{
		Retry:       queue.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Hour},
		Concurrency: map[queue.Kind]int{queue.KindIngest: 1},
	})
	calls := make(chan queue.Job, 4)
	busy, release := make(chan struct{}, 1), make(chan struct{})
	q.Handle(queue.KindSync, func(_ context.Context, j queue.Job) error { calls <- j; return errors.New("remote down") })
	q.Handle(queue.KindIngest, func(ctx context.Context, j queue.Job) error {
		calls <- j
		busy <- struct{}{}
		return wait(ctx, release)
	})
	start(t, q)
	enqueue(t, q, queue.Job{Kind: queue.KindSync, RepositoryID: 1})
	enqueue(t, q, queue.Job{Kind: queue.KindIngest, RepositoryID: 1})
	recv(t, busy, "the running ingestion")
	enqueue(t, q, queue.Job{Kind: queue.KindIngest, RepositoryID: 2}) // waits behind it
	for range 2 {
		recv(t, calls, "the first attempts")
	}
	waitFor := func(kind queue.Kind, n int) {
		eventually(t, 5*time.Second, "the backlog", func() bool { b, _ := q.Backlog(context.Background()); return b[kind] == n })
	}
	waitFor(queue.KindSync, 1) // waiting for its retry
	waitFor(queue.KindIngest, 2)

	stopped := make(chan error, 1)
	go func() { stopped <- q.Stop(context.Background()) }()
	// Release the running job only once Stop has begun (enqueueing a
	// duplicate of the waiting job changes nothing until then).
	eventually(t, 5*time.Second, "Stop to begin", func() bool {
		return errors.Is(q.Enqueue(context.Background(), queue.Job{Kind: queue.KindIngest, RepositoryID: 2}), queue.ErrStopped)
	})
	close(release)
	if err := recv(t, stopped, "Stop"); err != nil {
		t.Fatal(err)
	}
	if b, _ := q.Backlog(context.Background()); b[queue.KindSync] != 0 || b[queue.KindIngest] != 0 {
		t.Errorf("backlog after stop: %v", b)
	}
	if len(calls) != 0 {
		t.Errorf("%d handler call(s) after Stop began", len(calls))
	}
}
