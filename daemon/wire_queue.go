package daemon

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/appstore-dev/appstore/daemon/queue"
)

// wireQueue creates the queue every later step registers its handlers on:
// asynq on Redis when --redis-url is set (processes share the work), else
// the in-process queue. Run starts it once every step has wired itself.
func (d *Daemon) wireQueue(ctx context.Context) error {
	if d.cfg.IngestConcurrency < 0 {
		return fmt.Errorf("--ingest-concurrency %d: want a positive number (default %d)", d.cfg.IngestConcurrency, queue.DefaultConcurrency[queue.KindIngest])
	}
	logger := d.logger.With("component", "queue")
	opts := queue.Options{
		Logger: logger,
		Retry:  queue.DefaultRetryPolicy, // the ingest worker records attempts against the same policy
		Concurrency: map[queue.Kind]int{
			queue.KindIngest: int(d.cfg.IngestConcurrency), // 0: the default
			queue.KindBuild:  d.cfg.BuildConcurrency,
		},
		// The queue's limit is a backstop behind the workers' own: keep it
		// above them when an operator raises those.
		Timeout: map[queue.Kind]time.Duration{
			queue.KindIngest: max(queue.DefaultTimeout[queue.KindIngest], d.cfg.CloneTimeout+10*time.Minute),
			queue.KindSync:   max(queue.DefaultTimeout[queue.KindSync], d.cfg.CloneTimeout+5*time.Minute),
			queue.KindBuild:  max(queue.DefaultTimeout[queue.KindBuild], d.cfg.BuildTimeout+d.cfg.CloneTimeout+10*time.Minute),
		},
	}
	if d.cfg.RedisURL == "" {
		if !d.cfg.HasRole(RoleWorker) || !d.cfg.HasRole(RoleRunner) {
			logger.Warn("without --redis-url jobs run in this process only: the jobs of the roles it lacks are refused", "roles", d.cfg.Roles)
		}
		d.queue = queue.NewInline(opts)
		d.addCheck("queue", false, d.queue.Ping)
		return nil
	}
	q, err := queue.NewAsynq(d.cfg.RedisURL, opts)
	if err != nil {
		return fmt.Errorf("--redis-url: %w", err)
	}
	d.queue = q
	// Stop is idempotent: this covers a start that fails before Run
	// registered the queue's own Stop, which closes the Redis connection.
	d.onClose(q.Stop)
	// Without Redis an API process still serves the catalog, search and
	// the event stream, and stores registrations for the reconcilers to
	// enqueue later: it is degraded, not down (a load balancer must not
	// take every API out of rotation because Redis restarts). A process
	// without the api role can do nothing without its jobs: down.
	d.addCheck("queue", d.cfg.HasRole(RoleAPI), q.Ping)
	// Not fatal: the API serves the catalog without Redis, Enqueue errors
	// are logged and the reconcilers enqueue again once it is back.
	pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := q.Ping(pingCtx); err != nil {
		logger.Warn("Redis does not answer yet: jobs wait until it does", "err", err)
	}
	return nil
}

// queueWatchInterval is how often a process on Redis checks that it
// answers, to notice its return.
const queueWatchInterval = time.Second

// onQueueBack registers fn to run when Redis answers again after an
// outage: the reconcilers enqueue at once what PostgreSQL says is waiting
// (jobs whose enqueue failed meanwhile, and every job, if Redis came back
// empty) instead of at their next period.
func (d *Daemon) onQueueBack(fn func(ctx context.Context)) { d.queueBack = append(d.queueBack, fn) }

// watchQueue runs the onQueueBack hooks each time Redis answers again. It
// starts after every wire step registered its hooks.
func (d *Daemon) watchQueue() {
	if d.cfg.RedisURL == "" || len(d.queueBack) == 0 {
		return
	}
	hooks := slices.Clone(d.queueBack)
	logger := d.logger.With("component", "queue")
	d.goLoop("queue-watch", func(ctx context.Context) {
		up := true
		t := time.NewTicker(queueWatchInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			pctx, cancel := context.WithTimeout(ctx, queueWatchInterval)
			err := d.queue.Ping(pctx)
			cancel()
			switch {
			case err != nil && up && ctx.Err() == nil:
				up = false
				logger.Warn("Redis does not answer: new jobs wait in PostgreSQL until it does", "err", err)
			case err == nil && !up:
				up = true
				logger.Info("Redis answers again: enqueueing the work PostgreSQL says is waiting")
				for _, hook := range hooks {
					hook(ctx)
				}
			}
		}
	})
}
