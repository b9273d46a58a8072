package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/daemon/queue"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// The conformance suite runs the same cases against both implementations:
// the inline queue, and asynq on a real redis-server of the test's own.

// backend makes queues on one implementation.
type backend struct {
	name string
	// shared: queues made by one env share their jobs, like appstored
	// processes on one Redis.
	shared bool
	// granularity: how much earlier than RetryPolicy.Delay a retry may
	// run (asynq keeps retry times in whole seconds).
	granularity time.Duration
	// baseDelay for the backoff case: large enough to see the growth
	// above the granularity.
	baseDelay time.Duration
	setup     func(t *testing.T) *env
}

// env is one backend instance for one test.
type env struct {
	t      *testing.T
	b      backend
	newQ   func(opts queue.Options) queue.Queue
	redis  *testenv.RedisServer // asynq only
	logger *slog.Logger
}

var backends = []backend{
	{
		name: "inline", granularity: 0, baseDelay: 40 * time.Millisecond,
		setup: func(t *testing.T) *env {
			return &env{newQ: func(opts queue.Options) queue.Queue { return queue.NewInline(opts) }}
		},
	},
	{
		name: "asynq", shared: true, granularity: time.Second, baseDelay: time.Second,
		setup: func(t *testing.T) *env {
			r := testenv.StartRedis(t)
			return &env{redis: r, newQ: func(opts queue.Options) queue.Queue {
				q, err := queue.NewAsynq(r.URL(), opts)
				if err != nil {
					t.Fatal(err)
				}
				return q
			}}
		},
	},
}

type conformanceCase struct {
	name   string
	shared bool // needs queues that share jobs (several processes)
	redis  bool // needs the Redis server (asynq)
	run    func(t *testing.T, e *env)
}

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range conformanceCases {
				t.Run(c.name, func(t *testing.T) {
					if c.shared && !b.shared {
						t.Skipf("%s queues do not share jobs between processes", b.name)
					}
					t.Parallel()
					e := b.setup(t)
					if c.redis && e.redis == nil {
						t.Skipf("%s has no Redis", b.name)
					}
					e.t, e.b, e.logger = t, b, testLogger(t)
					c.run(t, e)
				})
			}
		})
	}
}

// options are the defaults of a test: three attempts, fast polling.
func (e *env) options() queue.Options {
	return queue.Options{
		Logger:        e.logger,
		Retry:         queue.RetryPolicy{MaxAttempts: 3, BaseDelay: e.b.baseDelay, MaxDelay: time.Minute},
		PollInterval:  20 * time.Millisecond,
		ShutdownGrace: 2 * time.Second,
	}
}

// queue makes a queue that the test's cleanup stops.
func (e *env) queue(opts queue.Options) queue.Queue {
	q := e.newQ(opts)
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			e.t.Errorf("stop: %v", err)
		}
	})
	return q
}

func start(t *testing.T, q queue.Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
}

func enqueue(t *testing.T, q queue.Queue, job queue.Job) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Enqueue(ctx, job); err != nil {
		t.Fatalf("enqueue %s: %v", job.Key(), err)
	}
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitIdle waits until no job of kind is left waiting, running or
// retrying; after it, nothing more will run unless enqueued.
func waitIdle(t *testing.T, q queue.Queue, kind queue.Kind) {
	t.Helper()
	b := q.(queue.Backlogger)
	deadline := time.Now().Add(15 * time.Second)
	for {
		m, err := b.Backlog(context.Background())
		if err != nil {
			t.Fatalf("backlog: %v", err)
		}
		if m[kind] == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %s backlog is still %d after 15s", kind, m[kind])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait blocks until gate closes or ctx is done (so that a failing test's
// cleanup can stop the queue).
func wait(ctx context.Context, gate <-chan struct{}) error {
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type attempt struct {
	at  time.Time
	job queue.Job
}

var conformanceCases = []conformanceCase{
	{name: "delivers jobs with their attempt", run: func(t *testing.T, e *env) {
		q := e.queue(e.options())
		got := make(chan queue.Job, 4)
		h := func(_ context.Context, job queue.Job) error { got <- job; return nil }
		q.Handle(queue.KindIngest, h)
		q.Handle(queue.KindBuild, h)
		start(t, q)
		enqueue(t, q, queue.Job{Kind: queue.KindIngest, RepositoryID: 7})
		enqueue(t, q, queue.Job{Kind: queue.KindBuild, RepositoryID: 7, BuildID: 9})
		jobs := map[queue.Kind]queue.Job{}
		for range 2 {
			j := recv(t, got, "a job")
			jobs[j.Kind] = j
		}
		want := map[queue.Kind]queue.Job{
			queue.KindIngest: {Kind: queue.KindIngest, RepositoryID: 7, Attempt: 1, MaxAttempts: 3},
			queue.KindBuild:  {Kind: queue.KindBuild, RepositoryID: 7, BuildID: 9, Attempt: 1, MaxAttempts: 3},
		}
		for k, w := range want {
			if jobs[k] != w {
				t.Errorf("%s job = %+v, want %+v", k, jobs[k], w)
			}
			if jobs[k].LastAttempt() {
				t.Errorf("%s: LastAttempt on attempt 1 of 3", k)
			}
		}
	}},

	{name: "retries with growing backoff up to MaxAttempts", run: func(t *testing.T, e *env) {
		opts := e.options()
		q := e.queue(opts)
		calls := make(chan attempt, 10)
		q.Handle(queue.KindIngest, func(_ context.Context, job queue.Job) error {
			calls <- attempt{time.Now(), job}
			return errors.New("remote unreachable")
		})
		start(t, q)
		job := queue.Job{Kind: queue.KindIngest, RepositoryID: 3}
		enqueue(t, q, job)
		var got []attempt
		for i := range 3 {
			a := recv(t, calls, fmt.Sprintf("attempt %d", i+1))
			got = append(got, a)
			if a.job.Attempt != i+1 || a.job.MaxAttempts != 3 || a.job.LastAttempt() != (i == 2) {
				t.Errorf("call %d: attempt %d/%d last=%v, want %d/3 last=%v", i+1, a.job.Attempt, a.job.MaxAttempts, a.job.LastAttempt(), i+1, i == 2)
			}
		}
		gaps := []time.Duration{got[1].at.Sub(got[0].at), got[2].at.Sub(got[1].at)}
		for i, g := range gaps {
			if min := opts.Retry.Delay(i+1) - e.b.granularity; g < min {
				t.Errorf("retry %d came after %s, want at least %s (Delay(%d)=%s)", i+1, g, min, i+1, opts.Retry.Delay(i+1))
			}
		}
		if gaps[1] <= gaps[0] {
			t.Errorf("backoff did not grow: %v", gaps)
		}
		// After the last attempt nothing is left: no fourth attempt, and
		// the same job can be enqueued again and starts over.
		waitIdle(t, q, queue.KindIngest)
		if len(calls) != 0 {
			t.Fatalf("%d call(s) after the last attempt", len(calls))
		}
		enqueue(t, q, job)
		if a := recv(t, calls, "the job enqueued again"); a.job.Attempt != 1 {
			t.Errorf("job enqueued again after its final failure starts at attempt %d, want 1", a.job.Attempt)
		}
	}},

	{name: "permanent errors are not retried", run: func(t *testing.T, e *env) {
		opts := e.options()
		opts.Retry.MaxAttempts = 5
		q := e.queue(opts)
		calls := make(chan queue.Job, 10)
		q.Handle(queue.KindIngest, func(_ context.Context, job queue.Job) error {
			calls <- job
			return fmt.Errorf("read Dockerfile: %w", queue.Permanent(errors.New("line 3: unknown instruction")))
		})
		start(t, q)
		job := queue.Job{Kind: queue.KindIngest, RepositoryID: 4}
		enqueue(t, q, job)
		if j := recv(t, calls, "the first attempt"); j.Attempt != 1 {
			t.Fatalf("attempt %d", j.Attempt)
		}
		waitIdle(t, q, queue.KindIngest)
		if len(calls) != 0 {
			t.Fatalf("a permanent error was retried (%d more calls)", len(calls))
		}
		enqueue(t, q, job)
		if j := recv(t, calls, "the job enqueued again"); j.Attempt != 1 {
			t.Errorf("enqueued again: attempt %d, want 1", j.Attempt)
		}
	}},

	{name: "pending duplicates are dropped", run: func(t *testing.T, e *env) {
		opts := e.options()
		opts.Concurrency = map[queue.Kind]int{queue.KindIngest: 1}
		q := e.queue(opts)
		other := q // where the duplicates come from
		if e.b.shared {
			other = e.queue(opts) // an api-only process: enqueues, runs nothing
			start(t, other)
		}
		var mu sync.Mutex
		runs := map[string]int{}
		gate, started := make(chan struct{}), make(chan struct{}, 1)
		q.Handle(queue.KindIngest, func(ctx context.Context, job queue.Job) error {
			mu.Lock()
			runs[job.Key()]++
			mu.Unlock()
			if job.RepositoryID == 1 {
				started <- struct{}{}
				return wait(ctx, gate)
			}
			return nil
		})
		start(t, q)
		enqueue(t, q, queue.Job{Kind: queue.KindIngest, RepositoryID: 1})
		recv(t, started, "the blocking job")
		// The only worker is busy: these stay pending.
		for _, id := range []int64{2, 3, 2, 3, 2} {
			enqueue(t, other, queue.Job{Kind: queue.KindIngest, RepositoryID: id})
			enqueue(t, q, queue.Job{Kind: queue.KindIngest, RepositoryID: id})
		}
		close(gate)
		waitIdle(t, q, queue.KindIngest)
		mu.Lock()
		defer mu.Unlock()
		want := map[string]int{"ingest:repo:1": 1, "ingest:repo:2": 1, "ingest:repo:3": 1}
		if fmt.Sprint(runs) != fmt.Sprint(want) {
			t.Errorf("runs %v, want %v", runs, want)
		}
	}},

	{name: "a job enqueued while it runs runs once more after it", run: func(t *testing.T, e *env) {
		testRerun(t, e, nil)
	}},

	{name: "a job enqueued while it fails finally runs once more after it", run: func(t *testing.T, e *env) {
		testRerun(t, e, queue.Permanent(errors.New("no Dockerfile")))
	}},

	{name: "a periodic job runs once per period", run: func(t *testing.T, e *env) {
		opts := e.options()
		q := e.queue(opts)
		other := q // another appstored ticking in the same period
		if e.b.shared {
			other = e.queue(opts)
			start(t, other)
		}
		var mu sync.Mutex
		runs := map[string]int{}
		gate, started := make(chan struct{}), make(chan string, 4)
		q.Handle(queue.KindCleanup, func(ctx context.Context, job queue.Job) error {
			mu.Lock()
			runs[job.Period]++
			mu.Unlock()
			started <- job.Period
			if job.Period == "p1" {
				if err := wait(ctx, gate); err != nil {
					return err
				}
			}
			if job.Period == "p3" {
				return queue.Permanent(errors.New("database gone"))
			}
			return nil
		})
		start(t, q)
		p1 := queue.Job{Kind: queue.KindCleanup, Period: "p1"}
		if got, want := p1.Key(), "cleanup:period:p1"; got != want {
			t.Fatalf("key %q, want %q", got, want)
		}
		enqueue(t, q, p1)
		recv(t, started, "the first period's job")
		// Running: dropped, not run again after it (unlike other jobs).
		enqueue(t, other, p1)
		enqueue(t, q, p1)
		close(gate)
		waitIdle(t, q, queue.KindCleanup)
		// Finished: dropped too, from either process. Enqueue decides
		// before it returns, so an idle backlog right after means
		// nothing was queued.
		enqueue(t, other, p1)
		enqueue(t, q, p1)
		backlog, err := q.(queue.Backlogger).Backlog(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if backlog[queue.KindCleanup] != 0 {
			t.Errorf("the period that ran was enqueued again: backlog %d", backlog[queue.KindCleanup])
		}
		// A final failure also ends the period.
		enqueue(t, q, queue.Job{Kind: queue.KindCleanup, Period: "p3"})
		if p := recv(t, started, "the failing period's job"); p != "p3" {
			t.Fatalf("ran period %q, want p3", p)
		}
		waitIdle(t, q, queue.KindCleanup)
		enqueue(t, other, queue.Job{Kind: queue.KindCleanup, Period: "p3"})
		// The next period runs; it is the only one that does.
		enqueue(t, other, queue.Job{Kind: queue.KindCleanup, Period: "p2"})
		if p := recv(t, started, "the next period's job"); p != "p2" {
			t.Fatalf("ran period %q, want p2", p)
		}
		waitIdle(t, q, queue.KindCleanup)
		mu.Lock()
		defer mu.Unlock()
		want := map[string]int{"p1": 1, "p2": 1, "p3": 1}
		if fmt.Sprint(runs) != fmt.Sprint(want) {
			t.Errorf("runs %v, want %v", runs, want)
		}
	}},

	{name: "runs at most Concurrency jobs of a kind at once", run: func(t *testing.T, e *env) {
		opts := e.options()
		opts.Concurrency = map[queue.Kind]int{queue.KindIngest: 2}
		q := e.queue(opts)
		var mu sync.Mutex
		active, maxActive, done := 0, 0, 0
		gate := make(chan struct{})
		q.Handle(queue.KindIngest, func(ctx context.Context, job queue.Job) error {
			mu.Lock()
			active++
			maxActive = max(maxActive, active)
			mu.Unlock()
			err := wait(ctx, gate)
			mu.Lock()
			active--
			done++
			mu.Unlock()
			return err
		})
		start(t, q)
		for id := range int64(5) {
			enqueue(t, q, queue.Job{Kind: queue.KindIngest, RepositoryID: id + 1})
		}
		eventually(t, 10*time.Second, "two running jobs", func() bool { mu.Lock(); defer mu.Unlock(); return active == 2 })
		// Not a synchronisation: the window in which a third worker, if
		// the limit were broken, would start and raise maxActive.
		<-time.After(200 * time.Millisecond)
		close(gate)
		eventually(t, 10*time.Second, "five done jobs", func() bool { mu.Lock(); defer mu.Unlock(); return done == 5 })
		if maxActive != 2 {
			t.Errorf("%d jobs ran at once, want 2", maxActive)
		}
	}},

	{name: "Stop waits for a running handler", run: func(t *testing.T, e *env) {
		q := e.queue(e.options())
		started, release := make(chan struct{}, 1), make(chan struct{})
		var handlerErr error
		var returnedAt time.Time
		q.Handle(queue.KindIngest, func(ctx context.Context, _ queue.Job) error {
			started <- struct{}{}
			<-release
			handlerErr, returnedAt = ctx.Err(), time.Now()
			return nil
		})
		start(t, q)
		enqueue(t, q, queue.Job{Kind: queue.KindIngest, RepositoryID: 1})
		recv(t, started, "the handler")
		stopDone := make(chan error, 1)
		var stoppedAt time.Time
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := q.Stop(ctx)
			stoppedAt = time.Now()
			stopDone <- err
		}()
		select {
		case err := <-stopDone:
			t.Fatalf("Stop returned (%v) while a handler was running", err)
		case <-time.After(300 * time.Millisecond):
		}
		close(release)
		if err := recv(t, stopDone, "Stop"); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if handlerErr != nil {
			t.Errorf("the handler's context was cancelled (%v) although Stop's deadline was far", handlerErr)
		}
		if stoppedAt.Before(returnedAt) {
			t.Errorf("Stop returned at %s, before the handler at %s", stoppedAt, returnedAt)
		}
		if err := q.Enqueue(context.Background(), queue.Job{Kind: queue.KindIngest, RepositoryID: 2}); !errors.Is(err, queue.ErrStopped) {
			t.Errorf("enqueue after stop: %v, want ErrStopped", err)
		}
	}},

	{name: "Stop cancels handlers when its context expires", run: func(t *testing.T, e *env) {
		q := e.queue(e.options())
		started, cancelled := make(chan queue.Job, 1), make(chan error, 1)
		q.Handle(queue.KindIngest, func(ctx context.Context, job queue.Job) error {
			started <- job
			<-ctx.Done()
			cancelled <- ctx.Err()
			return ctx.Err()
		})
		start(t, q)
		enqueue(t, q, queue.Job{Kind: queue.KindIngest, RepositoryID: 1})
		recv(t, started, "the handler")
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		t0 := time.Now()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
		// Its context's 300 ms, then the grace for the cancelled handler
		// (which returns at once), and room for a loaded machine (asynq's
		// own shutdown talks to Redis): not the handler's own time, which
		// is forever.
		if took := time.Since(t0); took > 300*time.Millisecond+e.options().ShutdownGrace+10*time.Second {
			t.Errorf("Stop took %s", took)
		}
		if err := recv(t, cancelled, "the handler's cancellation"); !errors.Is(err, context.Canceled) {
			t.Errorf("handler context: %v, want cancelled", err)
		}
		if !e.b.shared {
			return
		}
		// The interrupted job went back to Redis: another process takes it,
		// and the interruption did not count as a failed attempt.
		q2 := e.queue(e.options())
		got := make(chan queue.Job, 1)
		q2.Handle(queue.KindIngest, func(_ context.Context, job queue.Job) error { got <- job; return nil })
		start(t, q2)
		if j := recv(t, got, "the interrupted job in another process"); j.RepositoryID != 1 || j.Attempt != 1 {
			t.Errorf("got %+v, want repository 1 at attempt 1", j)
		}
	}},

	{name: "refuses unknown kinds", run: func(t *testing.T, e *env) {
		q := e.queue(e.options())
		err := q.Enqueue(context.Background(), queue.Job{Kind: "compile", RepositoryID: 1})
		if err == nil || !strings.Contains(err.Error(), `"compile"`) || !strings.Contains(err.Error(), "ingest") {
			t.Errorf("enqueue of an unknown kind: %v, want an error naming it and the known kinds", err)
		}
	}},

	{name: "a panicking handler is retried", run: func(t *testing.T, e *env) {
		q := e.queue(e.options())
		calls := make(chan queue.Job, 4)
		q.Handle(queue.KindSync, func(_ context.Context, job queue.Job) error {
			calls <- job
			if job.Attempt == 1 {
				panic("nil map")
			}
			return nil
		})
		start(t, q)
		enqueue(t, q, queue.Job{Kind: queue.KindSync, RepositoryID: 2})
		recv(t, calls, "the panicking attempt")
		if j := recv(t, calls, "the retry"); j.Attempt != 2 {
			t.Errorf("retry after a panic is attempt %d, want 2", j.Attempt)
		}
	}},

	{name: "Stop reports a handler that ignores its context", run: func(t *testing.T, e *env) {
		opts := e.options()
		opts.ShutdownGrace = 200 * time.Millisecond
		q := e.newQ(opts)
		started, release := make(chan struct{}, 1), make(chan struct{})
		defer close(release)
		q.Handle(queue.KindCleanup, func(context.Context, queue.Job) error {
			started <- struct{}{}
			<-release
			return nil
		})
		start(t, q)
		enqueue(t, q, queue.Job{Kind: queue.KindCleanup})
		recv(t, started, "the handler")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := q.Stop(ctx); err == nil || !strings.Contains(err.Error(), "ignores its context") {
			t.Errorf("stop: %v, want an error about a handler that ignores its context", err)
		}
	}},

	{name: "only registered kinds are processed", shared: true, run: func(t *testing.T, e *env) {
		ingestOnly, buildOnly := e.queue(e.options()), e.queue(e.options())
		type rec struct {
			proc string
			job  queue.Job
		}
		got := make(chan rec, 20)
		ingestOnly.Handle(queue.KindIngest, func(_ context.Context, j queue.Job) error { got <- rec{"ingest-only", j}; return nil })
		buildOnly.Handle(queue.KindBuild, func(_ context.Context, j queue.Job) error { got <- rec{"build-only", j}; return nil })
		start(t, ingestOnly)
		start(t, buildOnly)
		for id := range int64(5) {
			enqueue(t, ingestOnly, queue.Job{Kind: queue.KindBuild, RepositoryID: 1, BuildID: id + 1})
			enqueue(t, buildOnly, queue.Job{Kind: queue.KindIngest, RepositoryID: id + 1})
		}
		seen := map[string]bool{}
		for range 10 {
			r := recv(t, got, "a job")
			want := map[queue.Kind]string{queue.KindIngest: "ingest-only", queue.KindBuild: "build-only"}[r.job.Kind]
			if r.proc != want || r.job.Attempt != 1 || seen[r.job.Key()] {
				t.Errorf("%s ran %+v (seen before: %v), want it run once by %s at attempt 1", r.proc, r.job, seen[r.job.Key()], want)
			}
			seen[r.job.Key()] = true
		}
	}},

	{name: "processes share the jobs and do each once", shared: true, run: func(t *testing.T, e *env) {
		opts := e.options()
		opts.Concurrency = map[queue.Kind]int{queue.KindIngest: 1}
		var mu sync.Mutex
		runs := map[string][]string{}
		procs := map[string]bool{}
		both := make(chan struct{})
		handler := func(proc string) queue.Handler {
			return func(ctx context.Context, job queue.Job) error {
				mu.Lock()
				runs[job.Key()] = append(runs[job.Key()], proc)
				procs[proc] = true
				if len(procs) == 2 && !isClosed(both) {
					close(both)
				}
				mu.Unlock()
				// Hold the first job of each process until the other
				// process runs one too: proof that both take work.
				select {
				case <-both:
				case <-time.After(10 * time.Second):
				case <-ctx.Done():
				}
				return nil
			}
		}
		p1, p2 := e.queue(opts), e.queue(opts)
		p1.Handle(queue.KindIngest, handler("p1"))
		p2.Handle(queue.KindIngest, handler("p2"))
		start(t, p1)
		start(t, p2)
		for id := range int64(20) {
			enqueue(t, p1, queue.Job{Kind: queue.KindIngest, RepositoryID: id + 1})
		}
		eventually(t, 15*time.Second, "20 jobs done", func() bool { mu.Lock(); defer mu.Unlock(); return len(runs) == 20 })
		waitIdle(t, p1, queue.KindIngest)
		mu.Lock()
		defer mu.Unlock()
		for key, by := range runs {
			if len(by) != 1 {
				t.Errorf("%s ran %d times (%v)", key, len(by), by)
			}
		}
		if !procs["p1"] || !procs["p2"] {
			t.Errorf("only %v ran jobs", procs)
		}
	}},

	{name: "survives a Redis restart", redis: true, run: func(t *testing.T, e *env) {
		q := e.queue(e.options())
		got := make(chan queue.Job, 4)
		q.Handle(queue.KindIngest, func(_ context.Context, j queue.Job) error { got <- j; return nil })
		start(t, q)
		enqueue(t, q, queue.Job{Kind: queue.KindIngest, RepositoryID: 1})
		recv(t, got, "the job before the outage")

		e.redis.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Enqueue(ctx, queue.Job{Kind: queue.KindIngest, RepositoryID: 2}); err == nil {
			t.Fatal("enqueue succeeded while Redis was down")
		}
		if err := q.Ping(ctx); err == nil {
			t.Fatal("ping succeeded while Redis was down")
		}

		e.redis.Start()
		back := time.Now()
		// go-redis stops dialling after a run of failures and probes once
		// a second: the first calls after the restart may still fail.
		// A loaded machine takes a while to start Redis again.
		eventually(t, 30*time.Second, "a ping to answer after the restart", func() bool { return q.Ping(ctx) == nil })
		enqueue(t, q, queue.Job{Kind: queue.KindIngest, RepositoryID: 3})
		j := recv(t, got, "the job after the outage")
		if j.RepositoryID != 3 {
			t.Errorf("after the restart got %+v %s later, want repository 3", j, time.Since(back))
		}
	}},
}

// testRerun: a job enqueued (twice) while it runs runs exactly once more,
// after the running one ended (whatever its outcome), never next to it, as
// a fresh attempt. With shared queues the duplicates come from another
// process that may also run the rerun.
func testRerun(t *testing.T, e *env, firstErr error) {
	opts := e.options()
	opts.Concurrency = map[queue.Kind]int{queue.KindIngest: 4}
	type run struct {
		start, end time.Time
		attempt    int
	}
	var mu sync.Mutex
	var runs []run
	active, maxActive := 0, 0
	gate, started := make(chan struct{}), make(chan struct{}, 1)
	handler := func(ctx context.Context, job queue.Job) error {
		mu.Lock()
		active++
		maxActive = max(maxActive, active)
		n := len(runs)
		runs = append(runs, run{start: time.Now(), attempt: job.Attempt})
		mu.Unlock()
		var err error
		if n == 0 {
			started <- struct{}{}
			err = wait(ctx, gate)
			if err == nil {
				err = firstErr
			}
		}
		mu.Lock()
		active--
		runs[n].end = time.Now()
		mu.Unlock()
		return err
	}
	q := e.queue(opts)
	q.Handle(queue.KindIngest, handler)
	start(t, q)
	other := q
	if e.b.shared {
		other = e.queue(opts)
		other.Handle(queue.KindIngest, handler)
		start(t, other)
	}
	job := queue.Job{Kind: queue.KindIngest, RepositoryID: 5}
	enqueue(t, q, job)
	recv(t, started, "the first run")
	enqueue(t, other, job)
	enqueue(t, q, job)
	close(gate)
	eventually(t, 15*time.Second, "the second run", func() bool { mu.Lock(); defer mu.Unlock(); return len(runs) == 2 && !runs[1].end.IsZero() })
	waitIdle(t, q, queue.KindIngest)
	mu.Lock()
	defer mu.Unlock()
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2: %+v", len(runs), runs)
	}
	if maxActive != 1 {
		t.Errorf("%d runs of one key at once", maxActive)
	}
	if runs[1].start.Before(runs[0].end) {
		t.Errorf("the rerun started at %s, before the first run ended at %s", runs[1].start, runs[0].end)
	}
	if runs[1].attempt != 1 {
		t.Errorf("the rerun is attempt %d, want 1", runs[1].attempt)
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// testLogger collects the queue's log and prints it when the test failed.
func testLogger(t *testing.T) *slog.Logger {
	buf := &testenv.LockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("queue log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
