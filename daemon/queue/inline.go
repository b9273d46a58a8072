package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Inline is the in-process queue, the embedded default when appstored runs
// without Redis. It runs the handlers of this process only, so it cannot
// share work with another appstored.
//
// Jobs live in memory: the ones waiting, waiting to retry or asked to run
// again are lost when the process stops or crashes. That is by design:
// PostgreSQL holds the state (a repository left "queued", a build left
// "queued"), and the reconcilers enqueue again whatever such a loss left
// behind when the daemon starts and periodically after.
type Inline struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	handlers map[Kind]Handler
	ready    map[Kind][]*inlineEntry // FIFO of jobs due to run, per kind
	running  map[Kind]int
	entries  map[string]*inlineEntry // by Job.Key(): at most one per key
	// periodsDone holds the keys of periodic jobs that finished, until
	// they expire (PeriodMemory): the period is over for this process.
	periodsDone map[string]time.Time
	started     bool
	stopping    bool

	// handlerCtx is the parent of every handler's context: cancelled by
	// Stop once its deadline passed, never by Start's context.
	handlerCtx    context.Context
	cancelHandler context.CancelFunc
	inflight      inflight
}

type inlineState int

const (
	inlineReady    inlineState = iota // in ready, waiting for a worker
	inlineRetrying                    // waiting for its backoff timer
	inlineRunning
)

type inlineEntry struct {
	job     Job
	attempt int
	state   inlineState
	rerun   bool // enqueued again while running: run once more after
	timer   *time.Timer
}

var _ Queue = (*Inline)(nil)
var _ Backlogger = (*Inline)(nil)

// NewInline returns an in-process queue. Register handlers, then Start.
func NewInline(opts Options) *Inline {
	opts = opts.withDefaults()
	q := &Inline{
		opts:     opts,
		log:      opts.Logger.With("queue", "inline"),
		handlers: make(map[Kind]Handler),
		ready:    make(map[Kind][]*inlineEntry),
		running:  make(map[Kind]int),
		entries:  make(map[string]*inlineEntry),

		periodsDone: make(map[string]time.Time),
	}
	q.handlerCtx, q.cancelHandler = context.WithCancel(context.Background())
	return q
}

// Handle registers the handler of kind. Call before Start.
func (q *Inline) Handle(kind Kind, h Handler) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.handlers[kind] = h
}

// Enqueue adds job. A job whose key is waiting (or waiting to retry) is
// dropped: the waiting one will do. A job whose key is running is
// remembered and runs once more after the running one finished, so that a
// refresh asked for during an ingestion is not lost. A periodic job
// (Job.Period) is dropped while its key is waiting or running, and once it
// finished, for PeriodMemory. Jobs enqueued before
// Start wait for it. After Start, a kind without a handler in this process
// is an error: nothing else could ever run it.
func (q *Inline) Enqueue(_ context.Context, job Job) error {
	if err := validate(job); err != nil {
		return err
	}
	job.Attempt, job.MaxAttempts = 0, 0
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopping {
		return ErrStopped
	}
	if q.started && q.handlers[job.Kind] == nil {
		return fmt.Errorf("queue: no %s worker in this process: without --redis-url jobs run in process, so run appstored with the role that handles %s jobs, or set --redis-url to share the work with other processes", job.Kind, job.Kind)
	}
	key := job.Key()
	if job.Periodic() && q.periodDoneLocked(key) {
		q.log.Debug("periodic job already ran in this period: dropped", "key", key)
		return nil
	}
	if e, ok := q.entries[key]; ok {
		// A periodic job runs once per period: no rerun.
		if e.state == inlineRunning && !e.rerun && !job.Periodic() {
			e.rerun = true
			q.log.Debug("job is running: it will run once more after", "key", key)
		}
		return nil
	}
	e := &inlineEntry{job: job, attempt: 1, state: inlineReady}
	q.entries[key] = e
	q.ready[job.Kind] = append(q.ready[job.Kind], e)
	q.dispatchLocked()
	return nil
}

// Start runs the jobs of the registered kinds; waiting jobs of kinds nobody
// registered are dropped with a warning.
func (q *Inline) Start(context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return errors.New("queue: already started")
	}
	if q.stopping {
		return ErrStopped
	}
	q.started = true
	for kind, list := range q.ready {
		if q.handlers[kind] != nil || len(list) == 0 {
			continue
		}
		q.log.Warn("dropping jobs that no role of this process handles", "kind", kind, "jobs", len(list))
		for _, e := range list {
			delete(q.entries, e.job.Key())
		}
		delete(q.ready, kind)
	}
	q.dispatchLocked()
	return nil
}

// dispatchLocked starts ready jobs while their kind has free workers.
func (q *Inline) dispatchLocked() {
	if !q.started || q.stopping {
		return
	}
	for kind, h := range q.handlers {
		for q.running[kind] < q.opts.Concurrency[kind] && len(q.ready[kind]) > 0 {
			e := q.ready[kind][0]
			q.ready[kind][0] = nil
			q.ready[kind] = q.ready[kind][1:]
			e.state = inlineRunning
			q.running[kind]++
			q.inflight.add()
			go q.run(e, h)
		}
	}
}

func (q *Inline) run(e *inlineEntry, h Handler) {
	defer q.inflight.done()
	job := e.job
	job.Attempt, job.MaxAttempts = e.attempt, q.opts.Retry.MaxAttempts
	ctx, cancel := context.WithTimeout(q.handlerCtx, q.opts.Timeout[job.Kind])
	start := time.Now()
	err := call(ctx, h, job)
	cancel()
	q.finish(e, job, err, time.Since(start))
}

func (q *Inline) finish(e *inlineEntry, job Job, err error, took time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.running[job.Kind]--
	key := job.Key()
	final := err == nil || IsPermanent(err) || job.LastAttempt()
	retryIn := q.opts.Retry.Delay(job.Attempt)
	if err != nil && q.handlerCtx.Err() != nil {
		q.log.Info("job cancelled by stop", "key", key, "attempt", job.Attempt, "err", err)
	} else {
		logOutcome(q.log, job, err, final, retryIn, took)
	}
	switch {
	case q.stopping:
		delete(q.entries, key)
		if !final || e.rerun {
			q.log.Info("job dropped at stop; the reconcilers enqueue it again on the next start", "key", key)
		}
	case !final:
		// The retry also covers a rerun asked for meanwhile: it reads
		// the latest state anyway.
		e.attempt++
		e.rerun = false
		e.state = inlineRetrying
		e.timer = time.AfterFunc(retryIn, func() { q.retryDue(e) })
	case e.rerun:
		// Same attempt number as the run it follows, like asynq (see
		// Asynq): a rerun after a final failure still gets one try.
		e.rerun = false
		e.state = inlineReady
		q.ready[job.Kind] = append(q.ready[job.Kind], e)
	default:
		delete(q.entries, key)
		if job.Periodic() {
			q.periodsDone[key] = time.Now().Add(PeriodMemory)
		}
	}
	q.dispatchLocked()
}

// periodDoneLocked reports whether the periodic job key finished within
// PeriodMemory, forgetting the keys that expired.
func (q *Inline) periodDoneLocked(key string) bool {
	now := time.Now()
	for k, until := range q.periodsDone {
		if now.After(until) {
			delete(q.periodsDone, k)
		}
	}
	_, done := q.periodsDone[key]
	return done
}

func (q *Inline) retryDue(e *inlineEntry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopping || q.entries[e.job.Key()] != e || e.state != inlineRetrying {
		return
	}
	e.timer = nil
	e.state = inlineReady
	q.ready[e.job.Kind] = append(q.ready[e.job.Kind], e)
	q.dispatchLocked()
}

// Stop stops taking work and drops the jobs that wait (the reconcilers
// recover them), waits for running handlers until ctx is done, then cancels
// their contexts and waits ShutdownGrace more. It is safe to call twice.
func (q *Inline) Stop(ctx context.Context) error {
	q.mu.Lock()
	if !q.stopping {
		q.stopping = true
		dropped := 0
		for key, e := range q.entries {
			if e.state == inlineRunning {
				continue
			}
			if e.timer != nil {
				e.timer.Stop()
			}
			delete(q.entries, key)
			dropped++
		}
		clear(q.ready)
		if dropped > 0 {
			q.log.Info("dropping waiting jobs at stop; the reconcilers enqueue them again on the next start", "jobs", dropped)
		}
	}
	q.mu.Unlock()
	return stopWait(ctx, &q.inflight, q.cancelHandler, q.opts.ShutdownGrace, q.log)
}

// stopWait waits for running handlers until ctx is done, then cancels them
// and allows grace for them to return.
func stopWait(ctx context.Context, f *inflight, cancel context.CancelFunc, grace time.Duration, log *slog.Logger) error {
	n, err := f.wait(ctx)
	if err == nil {
		cancel()
		return nil
	}
	log.Warn("stop deadline passed: cancelling running jobs", "jobs", n)
	cancel()
	graceCtx, cancelGrace := context.WithTimeout(context.Background(), grace)
	defer cancelGrace()
	if n, err := f.wait(graceCtx); err != nil {
		return fmt.Errorf("queue: %d job(s) still running %s after their contexts were cancelled: a handler ignores its context", n, grace)
	}
	return nil
}

// Ping always succeeds: the inline queue has no backend to lose.
func (q *Inline) Ping(context.Context) error { return nil }

// Backlog counts the jobs of this process that are not finished.
func (q *Inline) Backlog(context.Context) (map[Kind]int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make(map[Kind]int, len(Kinds))
	for _, k := range Kinds {
		out[k] = 0
	}
	for _, e := range q.entries {
		out[e.job.Kind]++
	}
	return out, nil
}
