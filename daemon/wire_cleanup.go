package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/queue"
)

// TimelineKeep is how many of each repository's newest ingestion timeline
// steps pruning keeps whatever their age: `appstore show` prints the last
// 10, so an app ingested long ago still shows how it got there.
const TimelineKeep = 20

// BuildKeep is how many of each repository's newest builds pruning keeps
// whatever their age (with their logs): `appstore builds` shows them, and
// the image pruner keeps the images of the newest --keep-images (3).
const BuildKeep = 10

// wireCleanup makes database pruning a queue job on the worker role. Each
// worker process ticks (once at start, then every cleanupInterval) and
// enqueues a cleanup job named after the current period; the queue runs it
// once per period however many processes tick (Job.Period), so several
// appstored processes on one PostgreSQL and Redis do not prune side by side.
// Image pruning is not here: it needs the runner host's Docker engine and
// stays with the build reconciler there; kept checkouts are files of the
// worker host and stay with the ingest reconciler.
func (d *Daemon) wireCleanup(context.Context) error {
	if !d.cfg.HasRole(RoleWorker) || d.queue == nil {
		return nil
	}
	c := &cleaner{
		store:             d.Store,
		eventRetention:    d.cfg.EventRetention,
		timelineRetention: d.cfg.TimelineRetention,
		buildRetention:    d.cfg.BuildRetention,
		launchRetention:   d.cfg.LaunchRetention,
		statsRetention:    d.cfg.StatsRetention,
		logger:            d.logger.With("component", "cleanup"),
	}
	d.queue.Handle(queue.KindCleanup, c.handle)
	interval := cleanupInterval(d.cfg.EventRetention, d.cfg.TimelineRetention, d.cfg.BuildRetention, d.cfg.LaunchRetention)
	q := d.queue
	d.goLoop("cleanup-tick", func(ctx context.Context) { c.tick(ctx, q, interval) })
	return nil
}

// cleanupInterval is a tenth of the shorter retention, between a second
// and an hour: what is pruned overstays its retention by at most that, and
// a large retention still prunes hourly, in small deletes.
func cleanupInterval(retentions ...time.Duration) time.Duration {
	shortest := time.Duration(0)
	for _, r := range retentions {
		if shortest == 0 || r < shortest {
			shortest = r
		}
	}
	return min(max(shortest/10, time.Second), time.Hour)
}

// cleanupPeriod names the period of interval that t falls in. Processes
// agree on it as far as their clocks agree, which is all a once-per-period
// job needs (a period run twice at its edge only prunes nothing the second
// time).
func cleanupPeriod(t time.Time, interval time.Duration) string {
	return t.UTC().Truncate(interval).Format(time.RFC3339)
}

type cleaner struct {
	store             *store.Store
	eventRetention    time.Duration
	timelineRetention time.Duration
	buildRetention    time.Duration
	launchRetention   time.Duration
	statsRetention    time.Duration
	logger            *slog.Logger
}

// tick enqueues the cleanup job of the current period at once, then every
// interval, until ctx ends. A failed enqueue (Redis down) waits for the
// next period: pruning late is harmless.
func (c *cleaner) tick(ctx context.Context, q queue.Enqueuer, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		job := queue.Job{Kind: queue.KindCleanup, Period: cleanupPeriod(time.Now(), interval)}
		if err := q.Enqueue(ctx, job); err != nil && ctx.Err() == nil {
			c.logger.Warn("enqueueing the cleanup job failed; the next period tries again", "period", job.Period, "interval", interval, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// handle is the queue handler of KindCleanup: it prunes the event log past
// --event-retention, the ingestion timeline past --timeline-retention,
// finished launches past --launch-retention, then builds and their logs
// past --build-retention (after the launches, which may have held some),
// and the webhook deliveries past the replay window. Each runs even if
// another fails; a failure is retried by the queue.
func (c *cleaner) handle(ctx context.Context, job queue.Job) error {
	ctx = catalog.WithCause(ctx, catalog.CausePrune)
	var errs []error
	for _, step := range []struct {
		what  string
		prune func() (int64, error)
		log   string // logged with the count, when something was pruned
		attrs []any
	}{
		{"event log", func() (int64, error) { return c.store.PruneEvents(ctx, c.eventRetention) },
			"pruned events older than --event-retention", []any{"retention", c.eventRetention}},
		{"ingestion timeline", func() (int64, error) { return c.store.PruneIngestionTimeline(ctx, c.timelineRetention, TimelineKeep) },
			"pruned ingestion timeline steps older than --timeline-retention", []any{"retention", c.timelineRetention, "kept_per_repository", TimelineKeep}},
		{"launches", func() (int64, error) { return c.store.PruneLaunches(ctx, c.launchRetention) },
			"pruned launches that ended before --launch-retention", []any{"retention", c.launchRetention}},
		{"builds", func() (int64, error) { return c.store.PruneBuilds(ctx, c.buildRetention, BuildKeep) },
			"pruned builds and their logs older than --build-retention", []any{"retention", c.buildRetention, "kept_per_repository", BuildKeep}},
		{"webhook deliveries", func() (int64, error) { return c.store.PruneWebhookDeliveries(ctx, api.WebhookReplayWindow) }, "", nil},
		{"usage", func() (int64, error) { return c.store.PruneUsage(ctx, c.statsRetention, time.Now()) },
			"pruned daily usage older than --stats-retention", []any{"retention", c.statsRetention}},
	} {
		n, err := step.prune()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", step.what, err))
		case n > 0 && step.log != "":
			c.logger.Info(step.log, append([]any{"deleted", n, "period", job.Period}, step.attrs...)...)
		}
	}
	return errors.Join(errs...)
}
