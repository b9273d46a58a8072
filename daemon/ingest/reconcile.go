package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/appstore-dev/appstore/daemon/queue"
)

// buildGrace is how long a queued build is left to the job enqueued with it
// before the reconciler enqueues it again.
const buildGrace = time.Minute

// ReconcileResult counts what one reconciliation put back.
type ReconcileResult struct {
	Ingestions int // ingest jobs enqueued for queued or expired repositories
	Builds     int // build jobs enqueued for queued builds
}

// Reconcile enqueues again the work a crash or a lost message left behind:
// repositories queued past the time their job was due, repositories
// processing past their lease (the worker died), and builds queued past
// a grace period. At startup every queued repository and build counts:
// an in-process queue lost whatever it held, and enqueueing a job that
// is still pending is a no-op. Duplicate deliveries are harmless: the
// claim in the store decides. Running builds are the build worker's.
func (w *Worker) Reconcile(ctx context.Context, startup bool) (ReconcileResult, error) {
	var res ReconcileResult
	ids, err := w.st.StaleIngestions(ctx, startup, 1000)
	if err != nil {
		return res, err
	}
	var errs []error
	for _, id := range ids {
		if err := w.q.Enqueue(ctx, queue.Job{Kind: queue.KindIngest, RepositoryID: id}); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Ingestions++
	}
	grace := buildGrace
	if startup {
		grace = 0
	}
	builds, err := w.st.QueuedBuilds(ctx, grace, 1000)
	if err != nil {
		return res, errors.Join(append(errs, err)...)
	}
	for _, id := range builds {
		if err := w.q.Enqueue(ctx, queue.Job{Kind: queue.KindBuild, BuildID: id}); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Builds++
	}
	return res, errors.Join(errs...)
}

// RunReconciler reconciles at once (startup) and then every
// ReconcileInterval until ctx ends; it also prunes old checkouts.
func (w *Worker) RunReconciler(ctx context.Context) {
	startup := true
	t := time.NewTicker(w.cfg.ReconcileInterval)
	defer t.Stop()
	for {
		res, err := w.Reconcile(ctx, startup)
		switch {
		case err != nil && ctx.Err() == nil:
			w.log.Warn("reconciling ingestions failed; trying again at the next tick", "err", err)
		case res.Ingestions > 0 || res.Builds > 0:
			w.log.Info("reconciler re-enqueued work", "ingestions", res.Ingestions, "builds", res.Builds, "startup", startup)
		}
		if n, err := PruneCheckouts(w.cfg.DataDir, CheckoutTTL); err != nil {
			w.log.Warn("pruning checkouts failed", "err", err)
		} else if n > 0 {
			w.log.Debug("pruned checkouts nobody built from", "count", n)
		}
		startup = false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
