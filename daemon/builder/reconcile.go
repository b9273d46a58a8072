package builder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon/queue"
	"github.com/appstore-dev/appstore/daemon/registry"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// queuedGrace is how old a queued build must be before the reconciler
// enqueues it again: younger ones have their job on the way.
const queuedGrace = 2 * time.Second

// RunReconciler reconciles at once and then every ReconcileInterval, and
// prunes every PruneInterval and soon after a build made a new image,
// until ctx ends.
func (w *Worker) RunReconciler(ctx context.Context) {
	lastPrune := time.Time{}
	t := time.NewTicker(w.opts.ReconcileInterval)
	defer t.Stop()
	for {
		if err := w.Reconcile(ctx); err != nil && ctx.Err() == nil {
			w.logger.Warn("build reconciler pass failed", "err", err)
		}
		if time.Since(lastPrune) >= w.opts.PruneInterval {
			lastPrune = time.Now()
			if err := w.Prune(ctx); err != nil && ctx.Err() == nil {
				w.logger.Warn("image pruning failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.pruneSoon:
			lastPrune = time.Time{}
		}
	}
}

// Reconcile makes one pass: running builds whose lease expired (their
// worker crashed or was killed) are put back in the queue, or failed after
// MaxAttempts starts; queued builds without a job (an enqueue lost to a
// crash, jobs of the in-process queue lost with their process) are
// enqueued again. Enqueueing a build that already has a job is harmless:
// the queue keeps one job per build.
func (w *Worker) Reconcile(ctx context.Context) error {
	ctx = catalog.WithCause(ctx, catalog.CauseReconcile)
	requeued, failed, err := w.store.RecoverBuilds(ctx, w.opts.MaxAttempts)
	if err != nil {
		return err
	}
	for _, id := range requeued {
		w.logger.Warn("build put back in the queue: its worker stopped while building", "build", id)
	}
	for _, id := range failed {
		w.logger.Warn("build ended by the reconciler: its worker stopped while building too often", "build", id)
	}
	if w.opts.Queue == nil {
		return nil
	}
	ids, err := w.store.QueuedBuildIDs(ctx, queuedGrace)
	if err != nil {
		return err
	}
	// The builds just put back are due at once, however young.
	for _, id := range requeued {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	var errs []error
	for _, id := range ids {
		if err := w.opts.Queue.Enqueue(ctx, queue.Job{Kind: queue.KindBuild, BuildID: id}); err != nil {
			errs = append(errs, fmt.Errorf("enqueue build %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// Prune removes from the engine the images this worker built that are no
// longer needed: every repository keeps the images of its KeepImages
// newest succeeded builds, images that an active launch uses stay, and so
// do images of builds still in progress and images younger than a few
// minutes. An image a container still uses is left for a later pass. It
// also removes the checkouts of deleted repositories.
func (w *Worker) Prune(ctx context.Context) error {
	// The keep set is read before the engine is listed: an image listed
	// afterwards either belongs to a build the set already knows, or is
	// younger than PruneGrace.
	keep, err := w.store.ImagesToKeep(ctx, w.opts.KeepImages)
	if err != nil {
		return err
	}
	images, err := w.engine.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelBuild), filters.Arg("label", LabelCatalog+"="+w.catalog))})
	if err != nil {
		return engineError(w.engine, fmt.Errorf("list images: %w", err))
	}
	removed := 0
	// Not while a build runs (it may reuse a parent layer that removing
	// an image takes along); waiting here would hold up new builds.
	if !w.engineUse.TryLock() {
		w.logger.Debug("builds are running: pruning waits for the next pass")
		return nil
	}
	defer w.engineUse.Unlock()
	for _, img := range images {
		if time.Since(time.Unix(img.Created, 0)) < w.opts.PruneGrace || keep.Launched[img.ID] {
			continue
		}
		// A rebuild of a commit took the tag from an older image of
		// it: untagged, that one is only in the way.
		dangling := !slices.ContainsFunc(img.RepoTags, func(t string) bool { return t != "<none>:<none>" })
		if !dangling && keep.Images[img.ID] {
			continue
		}
		if id, err := strconv.ParseInt(img.Labels[LabelBuild], 10, 64); err == nil && keep.Builds[id] {
			continue
		}
		_, err := w.engine.ImageRemove(ctx, img.ID, image.RemoveOptions{PruneChildren: true})
		switch {
		case err == nil:
			removed++
			w.logger.Info("pruned a superseded image", "image", textutil.ShortSHA(img.ID), "tags", img.RepoTags,
				"repository", img.Labels[LabelRepository], "build", img.Labels[LabelBuild])
		case isNotFound(err):
		default:
			// Most often a container (a stopped launch) still uses it.
			w.logger.Debug("image not pruned", "image", textutil.ShortSHA(img.ID), "err", err)
		}
	}
	w.pruneRegistry(ctx)
	if ids, err := w.store.RepositoryIDs(ctx); err == nil {
		w.sources.prune(ids)
	}
	// BuildKit's cache (layers of earlier builds, cache mounts) grows
	// with every build: keep it under --build-cache-size, the least
	// recently used going first. The engine leaves alone what a build
	// uses now.
	report, err := w.engine.BuildCachePrune(ctx, build.CachePruneOptions{All: true, KeepStorage: w.opts.CacheSize})
	switch {
	case err != nil:
		w.logger.Warn("trimming the engine's build cache failed", "err", err)
	case report.SpaceReclaimed > 0:
		w.logger.Info("trimmed the engine's build cache", "freed", formatBytes(int64(report.SpaceReclaimed)),
			"entries", len(report.CachesDeleted), "keep", formatBytes(w.opts.CacheSize))
	}
	if removed > 0 {
		w.logger.Info("image pruning done", "removed", removed)
	}
	return nil
}

// pruneRegistry deletes from the registry (--registry) the pushed images
// that the same keep policy as the engine's no longer keeps, by digest
// (which takes their tags along), and forgets their digests. The registry
// frees their layers at its own garbage collection.
func (w *Worker) pruneRegistry(ctx context.Context) {
	reg := w.opts.Registry
	if reg == nil {
		return
	}
	list, err := w.store.RegistryImagesToPrune(ctx, w.opts.KeepImages)
	if err != nil {
		w.logger.Warn("registry pruning: list", "err", err)
		return
	}
	for _, img := range list {
		if err := reg.Delete(ctx, img.Slug, img.Digest); err != nil {
			w.logger.Warn("registry pruning: delete", "repository", img.Slug, "digest", img.Digest, "err", err)
			continue
		}
		if err := w.store.ForgetRegistryImage(ctx, img.Digest); err != nil {
			w.logger.Warn("registry pruning: record", "digest", img.Digest, "err", err)
			continue
		}
		w.logger.Info("pruned a superseded image from the registry", "repository", img.Slug, "digest", img.Digest, "registry", reg.String())
	}
	// The images of removed apps: their builds went with them, so the
	// registry's own catalog says what is left under the prefix.
	known, err := w.store.RepositorySlugs(ctx)
	if err != nil {
		w.logger.Warn("registry pruning: repositories", "err", err)
		return
	}
	apps, err := reg.Apps(ctx)
	if err != nil {
		w.logger.Debug("registry pruning: the registry's catalog", "err", err)
		return
	}
	for _, slug := range apps {
		if known[slug] {
			continue
		}
		tags, err := reg.Tags(ctx, slug)
		if err != nil {
			w.logger.Warn("registry pruning: tags of a removed app", "repository", slug, "err", err)
			continue
		}
		for _, tag := range tags {
			digest, err := reg.Digest(ctx, slug, tag)
			if err == nil {
				err = reg.Delete(ctx, slug, digest)
			}
			if err != nil && !errors.Is(err, registry.ErrNotFound) {
				w.logger.Warn("registry pruning: delete an image of a removed app", "repository", slug, "tag", tag, "err", err)
				continue
			}
			w.logger.Info("pruned an image of a removed app from the registry", "repository", slug, "tag", tag, "registry", reg.String())
		}
	}
}
