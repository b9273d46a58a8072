package daemon

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/thumbnail"
)

// wireThumbnails serves the thumbnails on the api role and, on the runner
// role with Config.Thumbnails, starts the service that takes them: the
// runner tells it about every launch that starts to answer (wireRunner
// hooks it), and refreshes ask it for a new one. Without Chromium the
// daemon runs on without thumbnails and says so.
func (d *Daemon) wireThumbnails(ctx context.Context) error {
	thumbs := &api.Thumbnails{Store: d.Store}
	d.api.Thumbnails = thumbs
	switch {
	case !d.cfg.HasRole(RoleRunner):
		thumbs.Off = "this appstored has no runner role: thumbnails are taken by a process started with --roles including runner (and api)"
		return nil
	case !d.cfg.Thumbnails:
		thumbs.Off = "thumbnails are off on this appstored (--thumbnails=false)"
		return nil
	}
	b, err := thumbnail.New(thumbnail.Options{
		Chromium:    d.cfg.Chromium,
		Logger:      d.logger.With("component", "thumbnail"),
		LoadTimeout: d.cfg.ThumbnailLoadTimeout,
	})
	if err != nil {
		d.logger.Warn("thumbnails are off: no browser to take them", "err", err)
		thumbs.Off = "thumbnails are off on this appstored: " + err.Error()
		return nil
	}
	d.logger.Info("thumbnails on", "chromium", b.Path())
	svc := thumbnail.NewService(b, d.Store, &d.thumbRunner, d.logger.With("component", "thumbnail"), d.cfg.StartupTimeout+30*time.Second)
	d.thumbs = svc
	thumbs.Refresher = svc
	d.goLoop("thumbnails", svc.Run)
	return nil
}

// thumbnailRunner hands the thumbnail service the runner, which is made
// after the service (wireRunner gives the runner the service's hook).
type thumbnailRunner struct{ r atomic.Pointer[runner.Runner] }

func (t *thumbnailRunner) runner() (*runner.Runner, error) {
	r := t.r.Load()
	if r == nil {
		return nil, &catalog.ConflictError{Message: "the runner is not ready yet; try again in a moment"}
	}
	return r, nil
}

func (t *thumbnailRunner) PreviewURL(slug string) string {
	if r := t.r.Load(); r != nil {
		return r.PreviewURL(slug)
	}
	return ""
}

func (t *thumbnailRunner) Launch(ctx context.Context, slug string) (*catalog.Launch, bool, error) {
	r, err := t.runner()
	if err != nil {
		return nil, false, err
	}
	l, origin, err := r.Launch(ctx, slug, runner.LaunchOptions{})
	return l, origin == store.LaunchCreated, err
}

func (t *thumbnailRunner) Wait(ctx context.Context, id int64, max time.Duration) (*catalog.Launch, error) {
	r, err := t.runner()
	if err != nil {
		return nil, err
	}
	return r.Wait(ctx, id, max)
}

// thumbnailHook is the runner's OnRunning: nil without thumbnails.
func (d *Daemon) thumbnailHook() func(*catalog.Launch) {
	if d.thumbs == nil {
		return nil
	}
	return d.thumbs.Running
}
