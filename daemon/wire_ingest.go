package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/ingest"
	"github.com/appstore-dev/appstore/daemon/queue"
)

// GitPolicy is the policy every Git URL goes through, at registration and
// at each clone: local paths only while appstored listens on loopback (every
// client is local then), and private addresses when on loopback or allowed
// by --git-allow-private.
func (c Config) GitPolicy() giturl.Policy {
	loopback := c.Loopback()
	return giturl.Policy{AllowLocal: loopback, AllowPrivate: loopback || c.GitAllowPrivate}
}

// registrationPolicy is the policy as the API applies it when a repository
// is registered: every refusal of the policy stands (local paths off
// loopback, private or special addresses, a host that resolves to one), but
// a host that does not resolve now, or not within a few seconds, is let
// through. The clone checks again at connect time, which is the check that
// matters (DNS can change in between anyway), and its failure lands in the
// repository's timeline with the same message; refusing the registration
// would only make appstored's own DNS a precondition of the catalog.
type registrationPolicy struct{ giturl.Policy }

func (p registrationPolicy) Check(ctx context.Context, u *giturl.URL) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := p.Policy.Check(ctx, u)
	var pe *giturl.PolicyError
	if errors.As(err, &pe) && pe.Err != nil && !pe.Addr.IsValid() {
		return nil // did not resolve: the clone will say so
	}
	return err
}

// wireIngest gives the API its repository and webhook handlers (served on
// the api role), and
// runs the ingest worker, its reconciler and the periodic sync on the worker
// role. Several worker processes share the work: the store's claims and
// leases decide who ingests a repository, and the sync scheduler claims due
// repositories with SKIP LOCKED.
func (d *Daemon) wireIngest(ctx context.Context) error {
	logger := d.logger.With("component", "ingest")
	policy := d.gitPolicy

	var ingester api.Ingester
	if d.queue != nil {
		ingester = ingest.Ingester{Queue: d.queue}
	}
	d.api.Repositories = &api.Repositories{Store: d.Store, Logger: logger, GitPolicy: registrationPolicy{policy}, Ingest: ingester}
	d.api.Webhooks = &api.Webhooks{Store: d.Store, Logger: logger, Ingest: ingester, Secret: d.cfg.WebhookSecret}
	if !d.cfg.HasRole(RoleWorker) {
		return nil
	}
	if d.queue == nil {
		logger.Warn("no queue: repositories stay queued until a process with a queue ingests them")
		return nil
	}
	w, err := ingest.New(ingest.Config{
		Store: d.Store, Queue: d.queue, Policy: policy, DataDir: d.cfg.DataDir,
		CloneTimeout: d.cfg.CloneTimeout, MaxCloneBytes: d.cfg.MaxCloneBytes,
		// A build on this host takes the checkout instead of cloning
		// again (ingest.LocalCheckout); elsewhere it would only use disk.
		KeepCheckouts: d.cfg.HasRole(RoleRunner),
		Retry:         queue.DefaultRetryPolicy,
		SyncInterval:  d.cfg.SyncInterval,
		// Shutdown interrupts running ingestions at once (they resume
		// after the restart) instead of waiting out a long clone.
		Lifetime: d.ctx,
		Logger:   logger,
	})
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	w.Register(d.queue)
	d.goLoop("ingest-reconciler", w.RunReconciler)
	d.onQueueBack(func(ctx context.Context) {
		// As at start: Redis may have come back empty.
		if res, err := w.Reconcile(ctx, true); err != nil {
			logger.Warn("re-enqueueing ingestions after Redis returned failed; the reconciler tries again", "err", err)
		} else if res.Ingestions > 0 {
			logger.Info("re-enqueued ingestions after Redis returned", "count", res.Ingestions)
		}
	})
	if d.cfg.SyncOff {
		logger.Info("periodic sync is off (--sync-interval 0): new commits are ingested only on refresh or a push webhook")
		return nil
	}
	d.goLoop("ingest-sync", w.RunSync)
	return nil
}
