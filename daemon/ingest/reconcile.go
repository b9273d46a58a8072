package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/queue"
)

// ReconcileResult counts what one reconciliation put back.
type ReconcileResult struct {
	Ingestions int // ingest jobs enqueued for queued or expired repositories
}

// Reconcile enqueues again the ingestions a crash or a lost message left
// behind: repositories queued past the time their job was due, and
// repositories processing past their lease (the worker died). At startup
// every queued repository counts: an in-process queue lost whatever it
// held, and enqueueing a job that is still pending is a no-op. Duplicate
// deliveries are harmless: the claim in the store decides.
//
// Builds, queued or running, are the build worker's reconciler's: it runs
// where builds run (the runner role), so it never enqueues a build into a
// process that cannot run it.
func (w *Worker) Reconcile(ctx context.Context, startup bool) (ReconcileResult, error) {
	ctx = catalog.WithCause(ctx, catalog.CauseReconcile)
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
		case res.Ingestions > 0:
			w.log.Info("reconciler re-enqueued ingestions", "count", res.Ingestions, "startup", startup)
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
