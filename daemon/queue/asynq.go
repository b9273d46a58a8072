package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Asynq is the queue on Redis (github.com/hibiken/asynq): several appstored
// processes on one Redis share the work, each running the kinds of its roles.
//
// Layout: one asynq queue per kind ("appstore.ingest", …), one asynq server
// per kind this process handles (so that each kind has its own
// concurrency), the task type is the kind and the payload the JSON of Job.
//
// De-duplication uses asynq's TaskID, set to Job.Key(): Redis holds at most
// one task per ID while it is pending, scheduled, waiting to retry or
// active, so at most one job per key is pending or running across all
// processes. asynq's Unique option was not used: its lock is a TTL guess
// (too short and a second job runs next to a long build, too long and a
// refresh is refused after the job ended) and it is released only on success.
// TaskID has its own edge, which Enqueue handles: a task that failed
// finally stays archived under its ID (hibiken/asynq#492), so a conflict
// with an archived (or completed) task deletes it and enqueues again.
//
// Periodic jobs (Job.Period) are the exception: they run once per period,
// so their completed task is kept under its ID for PeriodMemory
// (asynq.Retention) and any conflict drops the new job, whatever the
// existing task's state.
//
// Running ⇒ run once more after: a conflict with an active task sets a
// rerun marker in Redis; when the handler returns, the wrapper takes the
// marker and, if there was one, returns errRerun, which asynq treats as a
// non-failure retry with no delay: the same task (same ID, so still
// exclusive) runs again with the same attempt number. Between taking the
// marker and asynq removing the task there is a short window in which a
// marker would be missed; the wrapper closes it by leaving a "closing" flag,
// and Enqueue waits (up to a few seconds) for such a task to go away
// instead of setting a marker nobody reads.
//
// MaxRetry is MaxAttempts (one spare): the wrapper itself ends a job on its
// last attempt (asynq.SkipRetry), and the spare lets a rerun asked for
// during the last attempt happen instead of being archived.
//
// What Redis keeps is what survives: with appendonly and noeviction
// (docs/operations.md) a crash of appstored loses nothing (an active task
// whose process died is retried once its lease expires, within about a
// minute and a half), and the reconcilers cover the rest.
type Asynq struct {
	opts Options
	log  *slog.Logger

	rdb       *redis.Client
	client    *asynq.Client
	inspector *asynq.Inspector
	rerunOnce *redis.Script
	finishCmd *redis.Script

	mu       sync.Mutex
	handlers map[Kind]Handler
	servers  []*asynq.Server
	started  bool
	stopped  bool

	// handlerCtx is cancelled by Stop once its deadline passed; every
	// handler's context is cancelled with it.
	handlerCtx    context.Context
	cancelHandler context.CancelFunc
	inflight      inflight
}

var _ Queue = (*Asynq)(nil)
var _ Backlogger = (*Asynq)(nil)

const (
	// queuePrefix names the asynq queues: "appstore.ingest", …
	queuePrefix = "appstore."
	// asynqQueuesKey is asynq's set of known queues (asynq:queues). The
	// client adds a queue to it once per process, so after Redis lost its
	// data the inspector no longer finds the queue; it is added back then.
	asynqQueuesKey = "asynq:queues"
	// rerunTTL bounds a rerun marker nobody took (longer than any attempt).
	rerunTTL = 24 * time.Hour
	// closingTTL bounds the "closing" flag of a process that died between
	// its handler's end and asynq marking the task done.
	closingTTL = time.Minute
	// finishingWait is how long Enqueue waits for a task that is closing.
	finishingWait = 5 * time.Second
)

// errRerun and errRequeue hand a task back to asynq without counting a
// failure: the same task runs again at once.
var (
	errRerun   = errors.New("run again: the job was enqueued while it ran")
	errRequeue = errors.New("interrupted by shutdown: handed back to the queue")
)

// NewAsynq returns a queue on the Redis at redisURL
// (redis://[user:password@]host:port/db, rediss:// for TLS). It does not
// connect yet: Ping reports whether Redis answers, and Enqueue fails while
// it does not.
func NewAsynq(redisURL string, opts Options) (*Asynq, error) {
	ro, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w (want redis://[user:password@]host:port/db or rediss://… for TLS)", err)
	}
	opts = opts.withDefaults()
	rdb := redis.NewClient(ro)
	q := &Asynq{
		opts:      opts,
		log:       opts.Logger.With("queue", "asynq"),
		rdb:       rdb,
		client:    asynq.NewClientFromRedisClient(rdb),
		inspector: asynq.NewInspectorFromRedisClient(rdb),
		handlers:  make(map[Kind]Handler),
		// KEYS[1] closing flag, KEYS[2] rerun marker, ARGV[1] marker TTL (s).
		// 0: the task is closing, wait for it to go away; 1: marker set.
		rerunOnce: redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
redis.call("SET", KEYS[2], "1", "EX", ARGV[1])
return 1`),
		// KEYS[1] rerun marker, KEYS[2] closing flag, ARGV[1] flag TTL (ms).
		// 1: a rerun was asked for (marker taken); 0: none, closing set.
		finishCmd: redis.NewScript(`
if redis.call("GET", KEYS[1]) then
  redis.call("DEL", KEYS[1])
  return 1
end
redis.call("SET", KEYS[2], "1", "PX", ARGV[1])
return 0`),
	}
	q.handlerCtx, q.cancelHandler = context.WithCancel(context.Background())
	return q, nil
}

func queueName(k Kind) string { return queuePrefix + string(k) }

// markerKeys share the queue's hash tag so that the scripts stay valid on a
// Redis Cluster.
func rerunKey(qname, id string) string   { return "appstore:{" + qname + "}:rerun:" + id }
func closingKey(qname, id string) string { return "appstore:{" + qname + "}:closing:" + id }

// Handle registers the handler of kind. Call before Start.
func (q *Asynq) Handle(kind Kind, h Handler) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.handlers[kind] = h
}

// Enqueue adds job to Redis. A job whose key is pending, scheduled or
// waiting to retry is dropped; one whose key is running is remembered and
// runs once more after it. Errors (Redis down) are returned: callers log
// them and the reconcilers enqueue the job again later.
func (q *Asynq) Enqueue(ctx context.Context, job Job) error {
	if err := validate(job); err != nil {
		return err
	}
	q.mu.Lock()
	stopped := q.stopped
	q.mu.Unlock()
	if stopped {
		return ErrStopped
	}
	job.Attempt, job.MaxAttempts = 0, 0
	payload, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("queue: encode %s: %w", job.Key(), err)
	}
	qname, id := queueName(job.Kind), job.Key()
	taskOpts := []asynq.Option{
		asynq.Queue(qname),
		asynq.TaskID(id),
		asynq.MaxRetry(q.opts.Retry.MaxAttempts),
		// The wrapper enforces Timeout with a context; asynq's own
		// deadline only catches a handler that ignores it.
		asynq.Timeout(q.opts.Timeout[job.Kind] + q.opts.ShutdownGrace + time.Minute),
	}
	if job.Periodic() {
		// Redis keeps the completed task under its ID for PeriodMemory,
		// so the period's later enqueues conflict with it and are
		// dropped (resolveConflict); a final failure stays archived
		// under its ID the same way.
		taskOpts = append(taskOpts, asynq.Retention(PeriodMemory))
	}
	task := asynq.NewTask(string(job.Kind), payload, taskOpts...)
	deadline := time.Now().Add(finishingWait)
	for {
		_, err := q.client.EnqueueContext(ctx, task)
		if err == nil {
			q.log.Debug("job enqueued", "key", id)
			return nil
		}
		if !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("queue: enqueue %s on Redis: %w", id, err)
		}
		next, err := q.resolveConflict(ctx, qname, id, job.Periodic())
		if err != nil {
			return fmt.Errorf("queue: enqueue %s on Redis: %w", id, err)
		}
		switch next {
		case conflictDone:
			return nil
		case conflictAgain:
			if time.Now().Before(deadline) {
				continue
			}
		case conflictWait:
			if time.Now().Before(deadline) {
				if err := pause(ctx, 20*time.Millisecond); err != nil {
					return fmt.Errorf("queue: enqueue %s: %w", id, err)
				}
				continue
			}
		}
		return fmt.Errorf("queue: enqueue %s: the job with this key is still finishing after %s; try again", id, finishingWait)
	}
}

type conflictNext int

const (
	conflictDone  conflictNext = iota // the existing task will do (or will run again)
	conflictAgain                     // the existing task is gone: enqueue again
	conflictWait                      // the existing task is closing: wait, then enqueue again
)

// resolveConflict decides what to do about an existing task with our ID.
// For a periodic job any existing task means the period is taken: it is
// waiting, running (no rerun: once per period) or finished.
func (q *Asynq) resolveConflict(ctx context.Context, qname, id string, periodic bool) (conflictNext, error) {
	info, err := q.inspector.GetTaskInfo(qname, id)
	switch {
	case errors.Is(err, asynq.ErrQueueNotFound):
		return conflictAgain, q.rdb.SAdd(ctx, asynqQueuesKey, qname).Err()
	case errors.Is(err, asynq.ErrTaskNotFound):
		return conflictAgain, nil
	case err != nil:
		return 0, err
	}
	if periodic {
		q.log.Debug("periodic job already enqueued or ran in this period: dropped", "key", id, "state", info.State.String())
		return conflictDone, nil
	}
	switch info.State {
	case asynq.TaskStateActive:
		set, err := q.rerunOnce.Run(ctx, q.rdb, []string{closingKey(qname, id), rerunKey(qname, id)}, int(rerunTTL.Seconds())).Int()
		if err != nil {
			return 0, err
		}
		if set == 0 {
			return conflictWait, nil
		}
		q.log.Debug("job is running: it will run once more after", "key", id)
		return conflictDone, nil
	case asynq.TaskStateArchived, asynq.TaskStateCompleted:
		// Finished: the archived failure must not block a new job.
		if err := q.inspector.DeleteTask(qname, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			// Most likely it became active meanwhile: look again.
			q.log.Debug("delete finished task", "key", id, "err", err)
			return conflictWait, nil
		}
		return conflictAgain, nil
	default: // pending, scheduled, retry, aggregating
		return conflictDone, nil
	}
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Start starts one asynq server per registered kind. A process without
// handlers (the api role alone) only enqueues.
func (q *Asynq) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return errors.New("queue: already started")
	}
	if q.stopped {
		return ErrStopped
	}
	q.started = true
	for _, kind := range Kinds {
		h := q.handlers[kind]
		if h == nil {
			continue
		}
		qname := queueName(kind)
		srv := asynq.NewServerFromRedisClient(q.rdb, asynq.Config{
			Concurrency:              q.opts.Concurrency[kind],
			Queues:                   map[string]int{qname: 1},
			RetryDelayFunc:           q.retryDelay,
			IsFailure:                isFailure,
			Logger:                   asynqLogger{q.log.With("kind", kind)},
			LogLevel:                 asynq.InfoLevel, // its Debug lines are per-poll chatter
			ShutdownTimeout:          q.opts.ShutdownGrace,
			TaskCheckInterval:        q.opts.PollInterval,
			DelayedTaskCheckInterval: q.opts.PollInterval,
		})
		if err := srv.Start(asynq.HandlerFunc(q.wrap(kind, qname, h))); err != nil {
			return fmt.Errorf("queue: start %s worker: %w", kind, err)
		}
		q.servers = append(q.servers, srv)
	}
	if len(q.servers) > 0 {
		q.log.Info("queue started", "redis", q.rdb.Options().Addr, "kinds", len(q.servers))
	}
	return nil
}

// retryDelay is RetryPolicy.Delay; n is the number of failures before this one.
func (q *Asynq) retryDelay(n int, err error, _ *asynq.Task) time.Duration {
	if errors.Is(err, errRerun) || errors.Is(err, errRequeue) {
		return 0
	}
	return q.opts.Retry.Delay(n + 1)
}

func isFailure(err error) bool {
	return err != nil && !errors.Is(err, errRerun) && !errors.Is(err, errRequeue)
}

// wrap adapts h to asynq: it decodes the job, sets Attempt/MaxAttempts,
// bounds the attempt, and turns the outcome into what asynq should do.
func (q *Asynq) wrap(kind Kind, qname string, h Handler) func(context.Context, *asynq.Task) error {
	return func(actx context.Context, t *asynq.Task) error {
		var job Job
		if err := json.Unmarshal(t.Payload(), &job); err != nil || job.Kind != kind {
			q.log.Error("dropping a job that does not decode", "kind", kind, "payload", string(t.Payload()), "err", err)
			return fmt.Errorf("bad payload: %w", asynq.SkipRetry)
		}
		id, _ := asynq.GetTaskID(actx)
		retried, _ := asynq.GetRetryCount(actx)
		job.Attempt, job.MaxAttempts = retried+1, q.opts.Retry.MaxAttempts

		q.inflight.add()
		defer q.inflight.done()
		// This task runs again: a closing flag of its previous run no
		// longer applies, a new enqueue must leave a marker.
		if err := q.rdb.Del(actx, closingKey(qname, id)).Err(); err != nil {
			q.log.Warn("clear closing flag", "key", id, "err", err)
		}

		ctx, cancel := context.WithTimeout(actx, q.opts.Timeout[kind])
		stopCancel := context.AfterFunc(q.handlerCtx, cancel)
		start := time.Now()
		err := call(ctx, h, job)
		stopCancel()
		cancel()
		took := time.Since(start)

		if err != nil && q.handlerCtx.Err() != nil {
			q.log.Info("job cancelled by stop; handed back to the queue", "key", id, "attempt", job.Attempt, "err", err)
			return fmt.Errorf("%w: %w", errRequeue, err)
		}
		rerun, ferr := q.takeRerun(actx, qname, id)
		if ferr != nil {
			q.log.Warn("check for a rerun", "key", id, "err", ferr)
		}
		final := err == nil || IsPermanent(err) || job.LastAttempt()
		logOutcome(q.log, job, err, final, q.opts.Retry.Delay(job.Attempt), took)
		switch {
		case !final:
			return err // the retry also covers a rerun asked for meanwhile
		case rerun:
			q.log.Debug("job was enqueued while it ran: running it once more", "key", id)
			if err != nil {
				return fmt.Errorf("%w (after: %v)", errRerun, err)
			}
			return errRerun
		case err != nil:
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		return nil
	}
}

// takeRerun takes the rerun marker, or sets the closing flag when there is
// none, in one step.
func (q *Asynq) takeRerun(actx context.Context, qname, id string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(actx), 5*time.Second)
	defer cancel()
	n, err := q.finishCmd.Run(ctx, q.rdb, []string{rerunKey(qname, id), closingKey(qname, id)}, closingTTL.Milliseconds()).Int()
	return n == 1, err
}

// Stop stops pulling jobs, waits for running handlers until ctx is done,
// then cancels them (their jobs go back to the queue for another process or
// the next start) and waits ShutdownGrace more; then it shuts the asynq
// servers down and closes the Redis connection. It is safe to call twice.
func (q *Asynq) Stop(ctx context.Context) error {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return nil
	}
	q.stopped = true
	servers := q.servers
	q.mu.Unlock()

	parallel(servers, (*asynq.Server).Stop) // stop pulling
	err := stopWait(ctx, &q.inflight, q.cancelHandler, q.opts.ShutdownGrace, q.log)
	parallel(servers, (*asynq.Server).Shutdown) // handlers are done: quick
	// The asynq client and inspector share rdb and have nothing of their
	// own to close.
	return errors.Join(err, q.rdb.Close())
}

func parallel(servers []*asynq.Server, fn func(*asynq.Server)) {
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() { defer wg.Done(); fn(s) }()
	}
	wg.Wait()
}

// Ping sends PING to Redis.
func (q *Asynq) Ping(ctx context.Context) error {
	if err := q.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", q.rdb.Options().Addr, err)
	}
	return nil
}

// Backlog counts the unfinished jobs of every kind across all processes
// (pending, scheduled, waiting to retry, active; not archived failures).
func (q *Asynq) Backlog(ctx context.Context) (map[Kind]int, error) {
	// The inspector refuses queues missing from asynq's set of queues:
	// never used yet, or Redis lost its data since this process's client
	// registered them (it does so once). Register them all first.
	names := make([]any, 0, len(Kinds))
	for _, k := range Kinds {
		names = append(names, queueName(k))
	}
	if err := q.rdb.SAdd(ctx, asynqQueuesKey, names...).Err(); err != nil {
		return nil, fmt.Errorf("queue: backlog: %w", err)
	}
	out := make(map[Kind]int, len(Kinds))
	for _, k := range Kinds {
		info, err := q.inspector.GetQueueInfo(queueName(k))
		if err != nil {
			return nil, fmt.Errorf("queue: backlog of %s: %w", k, err)
		}
		out[k] = info.Pending + info.Active + info.Scheduled + info.Retry + info.Aggregating
	}
	return out, nil
}

// asynqLogger sends asynq's log lines to slog. asynq's informational lines
// (start, "send signal TSTP…", shutdown steps) are about its own signal
// handling, which appstored does not use: they go to Debug.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }

// Fatal is never called by asynq's server; log it as an error rather than
// exit the daemon.
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
