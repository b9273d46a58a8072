package queue

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/internal/testenv"
)

func TestNewAsynqRejectsBadURL(t *testing.T) {
	_, err := NewAsynq("http://localhost:6379", Options{})
	if err == nil || !strings.Contains(err.Error(), "redis://") {
		t.Fatalf("err %v, want one that shows the expected form", err)
	}
}

// Between the wrapper taking (no) rerun marker and asynq deleting the task,
// a marker would never be read. The wrapper leaves a closing flag for that
// window, and Enqueue waits for the task to go instead of dropping the job.
func TestAsynqEnqueueWaitsForClosingTask(t *testing.T) {
	r := testenv.StartRedis(t)
	q, err := NewAsynq(r.URL(), Options{PollInterval: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	})
	runs := make(chan int, 4)
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before Stop, should the test fail early
	var n atomic.Int32
	q.Handle(KindIngest, func(ctx context.Context, _ Job) error {
		runs <- int(n.Add(1))
		if n.Load() == 1 {
			<-release
		}
		return nil
	})
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	job := Job{Kind: KindIngest, RepositoryID: 1}
	if err := q.Enqueue(ctx, job); err != nil {
		t.Fatal(err)
	}
	<-runs
	// The handler is still running, but pretend it already took its
	// markers: the state of the window.
	qname, id := queueName(KindIngest), job.Key()
	if err := q.rdb.Set(ctx, closingKey(qname, id), "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	enqueued := make(chan error, 1)
	go func() { enqueued <- q.Enqueue(ctx, job) }()
	select {
	case err := <-enqueued:
		t.Fatalf("Enqueue returned (%v) while the task was closing, before it was gone", err)
	case <-time.After(200 * time.Millisecond): // the window in which a wrong Enqueue returns
	}
	unblock()
	select {
	case err := <-enqueued:
		if err != nil {
			t.Fatalf("enqueue after the task closed: %v", err)
		}
	case <-time.After(finishingWait + time.Second):
		t.Fatal("Enqueue did not return after the task closed")
	}
	select {
	case <-runs:
	case <-time.After(10 * time.Second):
		t.Fatal("the job enqueued during the window did not run")
	}
	if keys, err := q.rdb.Keys(ctx, rerunKey(qname, "*")).Result(); err != nil || len(keys) != 0 {
		t.Errorf("rerun markers left behind: %v %v", keys, err)
	}
}
