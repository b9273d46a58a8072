package queue

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// Options configure either implementation. Zero values mean the defaults
// documented on each field.
type Options struct {
	// Logger receives the queue's log lines; nil discards them.
	Logger *slog.Logger
	// Retry is the policy of every kind (zero fields: DefaultRetryPolicy).
	Retry RetryPolicy
	// Concurrency is how many jobs of a kind one process runs at once;
	// kinds not in the map take DefaultConcurrency.
	Concurrency map[Kind]int
	// Timeout bounds one attempt of a kind (its context's deadline); kinds
	// not in the map take DefaultTimeout. Handlers keep their own, tighter
	// limits (clone time, build time): this is the backstop.
	Timeout map[Kind]time.Duration
	// PollInterval (asynq only) is how often idle workers look for jobs and
	// due retries move back to pending (default 1s). Retries are therefore
	// late by up to this much.
	PollInterval time.Duration
	// ShutdownGrace is how long Stop waits for handlers to return after it
	// cancelled their contexts (default 5s).
	ShutdownGrace time.Duration
}

// DefaultConcurrency is the per-process concurrency of each kind. Builds
// are heavy (the Docker engine does the work), cleanups must not race.
var DefaultConcurrency = map[Kind]int{KindIngest: 4, KindBuild: 2, KindSync: 2, KindCleanup: 1}

// DefaultTimeout bounds one attempt of each kind.
var DefaultTimeout = map[Kind]time.Duration{
	KindIngest:  30 * time.Minute,
	KindBuild:   time.Hour,
	KindSync:    10 * time.Minute,
	KindCleanup: 30 * time.Minute,
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Retry = o.Retry.withDefaults()
	conc := make(map[Kind]int, len(Kinds))
	timeout := make(map[Kind]time.Duration, len(Kinds))
	for _, k := range Kinds {
		conc[k] = DefaultConcurrency[k]
		if n := o.Concurrency[k]; n > 0 {
			conc[k] = n
		}
		timeout[k] = DefaultTimeout[k]
		if d := o.Timeout[k]; d > 0 {
			timeout[k] = d
		}
	}
	o.Concurrency, o.Timeout = conc, timeout
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 5 * time.Second
	}
	return o
}

func validate(job Job) error {
	if !job.Kind.Valid() {
		return fmt.Errorf("queue: unknown job kind %q: want one of %v", job.Kind, Kinds)
	}
	return nil
}

// call runs h, turning a panic into an error so that one bad job cannot take
// the daemon down; the job is retried like any other failure.
func call(ctx context.Context, h Handler, job Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler of %s panicked: %v\n%s", job.Key(), p, debug.Stack())
		}
	}()
	return h(ctx, job)
}

// inflight counts running handlers so that Stop can wait for them with a
// deadline (a WaitGroup cannot be waited on with a context, and asynq may
// start a handler while Stop is already waiting).
type inflight struct {
	mu      sync.Mutex
	n       int
	changed chan struct{} // closed and replaced whenever n drops
}

func (f *inflight) add() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	f.n--
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
	f.mu.Unlock()
}

// wait returns nil once nothing runs, or ctx's error with the number still
// running.
func (f *inflight) wait(ctx context.Context) (running int, err error) {
	for {
		f.mu.Lock()
		if f.n == 0 {
			f.mu.Unlock()
			return 0, nil
		}
		if f.changed == nil {
			f.changed = make(chan struct{})
		}
		ch, n := f.changed, f.n
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
}

// logOutcome logs what happened to an attempt; handlers record the details
// in the catalog, this is the operator's view.
func logOutcome(log *slog.Logger, job Job, err error, final bool, retryIn time.Duration, took time.Duration) {
	attrs := []any{"kind", job.Kind, "key", job.Key(), "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "took", took.Round(time.Millisecond)}
	switch {
	case err == nil:
		log.Debug("job done", attrs...)
	case final:
		log.Error("job failed", append(attrs, "permanent", IsPermanent(err), "err", err)...)
	default:
		log.Warn("job failed, will retry", append(attrs, "retry_in", retryIn, "err", err)...)
	}
}
