package runner

import (
	"cmp"
	"context"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
)

// The warm pool keeps WarmPool containers started and ready, one per app,
// for the apps tagged warm:true first and then the most launched ones (with
// a succeeded build), on each app's default profile. A launch of such an app
// attaches its warm container in one transaction (no container start), and
// the pool starts a replacement in the background. A warm container is a
// launch row with warm=true: it has no TTL, is never stopped as idle, is not
// routed and does not count as a launch until it is attached.

// warmRetry is how long a build whose warm container failed is left out of
// the pool.
const warmRetry = 5 * time.Minute

func (r *Runner) kickWarm() {
	select {
	case r.warmKick <- struct{}{}:
	default:
	}
}

func (r *Runner) warmLoop(ctx context.Context) {
	// Run once even without a pool, to retire the warm containers of a
	// previous run with a larger one.
	r.fillWarm(ctx)
	t := time.NewTicker(r.cfg.WarmInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.warmKick:
		}
		r.fillWarm(ctx)
	}
}

type warmWant struct {
	target  store.LaunchTarget
	profile Profile
}

// fillWarm retires warm containers that are no longer wanted (another app
// is more launched now, a newer build succeeded) and starts the missing
// ones.
func (r *Runner) fillWarm(ctx context.Context) {
	ctx = catalog.WithCause(ctx, catalog.CauseWarm)
	r.mu.Lock()
	closing := r.closing
	r.mu.Unlock()
	if closing {
		return
	}
	cands, err := r.st.WarmCandidates(ctx, r.cfg.WarmPool)
	if err != nil {
		r.logger.Warn("warm pool: candidates", "err", err)
		return
	}
	warm := true
	current, err := r.st.ListLaunches(ctx, store.LaunchFilter{Runner: r.id, Active: true, Warm: &warm, Limit: 1000})
	if err != nil {
		r.logger.Warn("warm pool: current", "err", err)
		return
	}
	want := map[int64]warmWant{}
	for _, c := range cands {
		p, err := r.cfg.Limits.resolveProfile("", c.Profile)
		if err != nil {
			continue
		}
		want[c.RepositoryID] = warmWant{target: c, profile: p}
	}
	have := map[int64]bool{}
	for _, l := range current {
		w, ok := want[l.RepositoryID]
		keep := ok && !have[l.RepositoryID] && l.BuildID != nil && *l.BuildID == w.target.Build.ID && l.ResourceProfile == w.profile.Name && !l.ConfigChanged
		if keep {
			have[l.RepositoryID] = true
			continue
		}
		if l.Status == catalog.LaunchStopping || r.isBusy(l.ID) && l.Status != catalog.LaunchStarting {
			continue
		}
		id := l.ID
		r.goWork(func(ctx context.Context) {
			if _, err := r.stop(ctx, id, catalog.LaunchStopped, "no longer wanted in the warm pool", "warm-pool"); err != nil {
				r.logger.Warn("warm pool: retire", "launch", id, "err", err)
			}
		})
	}
	r.mu.Lock()
	for b, at := range r.warmFailures {
		if time.Since(at) > warmRetry {
			delete(r.warmFailures, b)
		}
	}
	r.mu.Unlock()
	for _, c := range cands {
		w, ok := want[c.RepositoryID]
		if !ok || have[c.RepositoryID] {
			continue
		}
		r.mu.Lock()
		_, failed := r.warmFailures[c.Build.ID]
		r.mu.Unlock()
		if failed {
			continue
		}
		t := w.target
		ref, port, err := r.imageAndPort(ctx, &t)
		if err != nil {
			r.logger.Debug("warm pool: cannot start", "slug", t.Slug, "err", err)
			continue
		}
		vol, err := r.volumeFor(ctx, &t)
		if err == nil {
			// A launch of an app over its storage size is refused: a warm
			// container of it would wait for nothing.
			err = r.refuseOverSize(ctx, &t, vol)
		}
		if err != nil {
			r.logger.Debug("warm pool: cannot start", "slug", t.Slug, "err", err)
			continue
		}
		env, err := r.appEnv(ctx, t.Slug)
		if err != nil {
			r.logger.Debug("warm pool: cannot start", "slug", t.Slug, "err", err)
			continue
		}
		l, _, err := r.st.BeginLaunch(ctx, store.NewLaunch{
			RepositoryID: t.RepositoryID, BuildID: t.Build.ID, AppPort: port, Profile: w.profile.Name,
			Runner: r.id, Warm: true, ConfigVersion: env.version, Memory: w.profile.Memory,
		})
		if err != nil {
			r.logger.Warn("warm pool: record", "slug", t.Slug, "err", err)
			continue
		}
		r.logger.Info("warm pool: starting", "launch", l.ID, "slug", t.Slug, "build", t.Build.ID)
		r.spawn(l, containerSpec{Image: ref, LocalImage: cmp.Or(t.Build.ImageID, t.Build.ImageTag), LaunchID: l.ID, BuildID: t.Build.ID, Slug: t.Slug, Runner: r.id, AppPort: port, Profile: w.profile, Env: env.env, Volume: vol})
	}
}
