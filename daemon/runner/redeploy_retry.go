package runner

import (
	"context"
	"errors"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
)

// Redeploy refusals. A redeploy whose new launch fails (the build does not
// start or answer) is given up for that build (redeployFailed). One that is
// refused before anything starts — the app's data volume is over its
// declared size, a volume another repository left holds its name, a
// required variable or secret is not set — is not the build's fault: the
// cause can go away (data deleted, size raised, volume removed, secret
// set), and the redeploy is tried again, at once when the declared size
// changed, else once per StorageCheckInterval (the pace at which the
// storage check measures volumes). The running launch keeps serving
// meanwhile, and gets one launch.redeploy_refused event per build, saying
// why and what to do.

// redeployRefusal is the last refusal of an app's redeploy.
type redeployRefusal struct {
	build int64
	at    time.Time
	// size is the storage size the app declared then.
	size int64
	// launch is the running launch told of it (launch.redeploy_refused).
	launch int64
}

// refusedRedeploy reports whether the redeploy of t's build is to wait: it
// was refused less than StorageCheckInterval ago with the same declared
// size.
func (r *Runner) refusedRedeploy(t *store.LaunchTarget) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, ok := r.redeployRefusals[t.Slug]
	if !ok || rf.build != t.Build.ID {
		return false
	}
	return storageSize(t) == rf.size && time.Since(rf.at) < r.cfg.StorageCheckInterval
}

// isRedeployRefusal tells a refusal whose cause may go away from a failure.
func isRedeployRefusal(err error) bool {
	var conflict *catalog.ConflictError
	var missing *catalog.MissingConfigError
	return errors.As(err, &conflict) || errors.As(err, &missing)
}

// redeployRefused remembers the refusal of the redeploy of t's build that
// would replace old, and tells old's app once per build.
func (r *Runner) redeployRefused(ctx context.Context, t *store.LaunchTarget, old *catalog.Launch, err error) {
	r.mu.Lock()
	rf, ok := r.redeployRefusals[t.Slug]
	first := !ok || rf.build != t.Build.ID || rf.launch != old.ID
	r.redeployRefusals[t.Slug] = redeployRefusal{build: t.Build.ID, at: time.Now(), size: storageSize(t), launch: old.ID}
	r.mu.Unlock()
	if !first {
		r.logger.Debug("redeploy still refused", "slug", t.Slug, "build", t.Build.ID, "err", err)
		return
	}
	r.logger.Warn("redeploy refused; the running launch keeps serving, and the redeploy is tried again", "slug", t.Slug, "build", t.Build.ID, "launch", old.ID, "err", err)
	msg := r.cfg.AppConfig.Redactor(ctx, t.Slug).String(err.Error())
	if err := r.st.RedeployRefused(ctx, old, t.Build.ID, msg); err != nil {
		r.logger.Warn("record a refused redeploy", "slug", t.Slug, "err", err)
	}
}

// redeployAdmitted forgets the app's refusal once its redeploy started.
func (r *Runner) redeployAdmitted(slug string) {
	r.mu.Lock()
	delete(r.redeployRefusals, slug)
	r.mu.Unlock()
}

func storageSize(t *store.LaunchTarget) int64 {
	if t.Storage == nil {
		return 0
	}
	return t.Storage.SizeBytes
}
