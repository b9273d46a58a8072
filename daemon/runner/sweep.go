package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/appstore-dev/appstore/catalog"
)

// sweepLoop writes the proxy's request times and stops launches whose TTL
// passed (expired) or that served nothing for IdleTimeout (stopped, reason
// idle: scale to zero; the next request wakes the app).
func (r *Runner) sweepLoop(ctx context.Context) {
	t := time.NewTicker(r.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// Keep the last request times of a clean shutdown.
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r.flushRequests(flushCtx)
			cancel()
			return
		case <-t.C:
			r.sweep(ctx)
		}
	}
}

func (r *Runner) sweep(ctx context.Context) {
	r.flushRequests(ctx)
	if r.cfg.PreviewOnly {
		return
	}
	r.redeploy(ctx)
	r.checkStorage(ctx)
	expired, err := r.st.ExpiredLaunches(ctx, r.id)
	if err != nil {
		r.logger.Warn("find expired launches", "err", err)
	}
	for _, l := range expired {
		if r.isBusy(l.ID) {
			continue
		}
		ttl := ""
		if l.ExpiresAt != nil {
			ttl = fmt.Sprintf(" of %v", l.ExpiresAt.Sub(l.CreatedAt).Round(time.Second))
		}
		msg := fmt.Sprintf("its time to live%s ran out; launch it again with `appstore launch %s`", ttl, l.Repository)
		id := l.ID
		r.goWork(func(ctx context.Context) {
			if _, err := r.stop(ctx, id, catalog.LaunchExpired, msg, "ttl"); err != nil {
				r.logger.Warn("expire launch", "launch", id, "err", err)
			}
		})
	}
	if r.cfg.IdleTimeout < 0 {
		return
	}
	idle, err := r.st.IdleLaunches(ctx, r.id, r.cfg.IdleTimeout)
	if err != nil {
		r.logger.Warn("find idle launches", "err", err)
	}
	for _, l := range idle {
		if r.isBusy(l.ID) || r.routes.inUse(l.ID) {
			continue
		}
		msg := fmt.Sprintf("idle for %v: stopped to free its resources; the next request to its preview URL starts it again", r.cfg.IdleTimeout)
		id := l.ID
		r.goWork(func(ctx context.Context) {
			if _, err := r.stop(ctx, id, catalog.LaunchStopped, msg, "idle"); err != nil {
				r.logger.Warn("stop idle launch", "launch", id, "err", err)
			}
		})
	}
}

// flushRequests writes the last request time of every route that served one
// since the last flush, in one statement.
func (r *Runner) flushRequests(ctx context.Context) {
	batch := r.routes.pending(time.Now())
	if len(batch) == 0 {
		return
	}
	if err := r.st.TouchLaunches(ctx, batch); err != nil {
		r.logger.Warn("record last request times", "err", err)
		return
	}
	r.routes.flushed(batch)
}
