package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/ingest/gitclone"
	"github.com/appstore-dev/appstore/daemon/ingest/metadata"
	"github.com/appstore-dev/appstore/daemon/queue"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// syncBatch bounds how many repositories one scheduling pass claims; the
// rest are due at the next tick.
const syncBatch = 500

// ScheduleSync claims the repositories whose remote was not compared for
// SyncInterval and enqueues a sync job for each. The claim is in the store
// (last_synced_at), so several worker processes split the repositories and
// a restart does not make all of them due at once. It returns how many jobs
// it enqueued.
func (w *Worker) ScheduleSync(ctx context.Context) (int, error) {
	ids, err := w.st.ClaimSyncDue(ctx, w.cfg.SyncInterval, syncBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, id := range ids {
		if err := w.q.Enqueue(ctx, queue.Job{Kind: queue.KindSync, RepositoryID: id}); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// RunSync schedules syncs every min(SyncInterval, 1m) until ctx ends.
func (w *Worker) RunSync(ctx context.Context) {
	t := time.NewTicker(min(w.cfg.SyncInterval, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := w.ScheduleSync(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Warn("scheduling syncs failed; trying again at the next tick", "err", err)
		}
		if n > 0 {
			w.log.Debug("sync jobs enqueued", "count", n)
		}
	}
}

// HandleSync is the queue handler of KindSync jobs: it asks the remote for
// its head (no objects are fetched) and queues a re-ingestion when the
// head moved past the commit the last ingestion read, or when the card of
// that commit was derived by older rules (card_version below
// metadata.CardVersion). Failed repositories
// are retried this way once a new commit appears (the author fixed the
// Dockerfile); a failure before any commit was read (unreachable, too
// large) waits for a refresh instead of failing every interval.
func (w *Worker) HandleSync(ctx context.Context, job queue.Job) error {
	ctx = catalog.WithCause(ctx, catalog.CauseSync)
	t, err := w.st.SyncTargetByID(ctx, job.RepositoryID)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	log := w.log.With("slug", t.Slug, "repository_id", t.RepositoryID)
	if t.Status != catalog.IngestReady && t.Status != catalog.IngestFailed {
		return nil // an ingestion is already on its way
	}
	if t.SeenCommit == "" {
		return nil
	}
	sha, branch, err := gitclone.RemoteHead(ctx, t.GitURL, t.Branch, w.cfg.Policy)
	if err != nil {
		// The next interval tries again; a retry storm against a remote
		// that is down helps nobody.
		log.Info("sync could not read the remote head", "err", err)
		return nil
	}
	reason := fmt.Sprintf("sync: %s moved from %s to %s", branchName(branch), textutil.ShortSHA(t.SeenCommit), textutil.ShortSHA(sha))
	if sha == t.SeenCommit {
		if t.CardVersion >= metadata.CardVersion {
			return nil
		}
		// Same commit, but its card was derived by older rules: read it
		// again so that cards of repositories registered before the
		// rules changed are refreshed too.
		reason = fmt.Sprintf("sync: app cards are now read differently; reading %s again", textutil.ShortSHA(sha))
	}
	changed, err := w.st.RequestIngestByID(ctx, t.RepositoryID, reason)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return nil
		}
		return err
	}
	if changed {
		log.Info("re-ingesting", "reason", reason, "commit", sha, "previous", t.SeenCommit)
	}
	if err := w.q.Enqueue(ctx, queue.Job{Kind: queue.KindIngest, RepositoryID: t.RepositoryID}); err != nil {
		log.Warn("enqueue re-ingestion failed; the reconciler delivers it", "err", err)
	}
	return nil
}

func branchName(b string) string {
	if b == "" {
		return "the default branch"
	}
	return b
}
