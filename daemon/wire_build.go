package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/builder"
	"github.com/appstore-dev/appstore/daemon/ingest"
	"github.com/appstore-dev/appstore/daemon/queue"
)

// wireBuild starts the build worker on the runner role (images must land
// on the engine of the host that runs them) with its reconciler, and
// serves the builds API on the api role.
func (d *Daemon) wireBuild(ctx context.Context) error {
	cfg := d.cfg
	switch {
	case cfg.BuildTimeout < 0:
		return fmt.Errorf("--build-timeout %s: want a positive duration such as 20m", cfg.BuildTimeout)
	case cfg.BuildConcurrency < 0:
		return fmt.Errorf("--build-concurrency %d: want a positive number", cfg.BuildConcurrency)
	case cfg.BuildLogLimit < 0 || cfg.BuildLogLimit > 0 && cfg.BuildLogLimit < 1024:
		return fmt.Errorf("--build-log-limit %d: want at least 1024 bytes (default 2 MiB)", cfg.BuildLogLimit)
	case cfg.KeepImages < 0:
		return fmt.Errorf("--keep-images %d: want a positive number", cfg.KeepImages)
	case cfg.BuildCacheSize < 0:
		return fmt.Errorf("--build-cache-size %d: want a size in bytes such as 5GiB", cfg.BuildCacheSize)
	case cfg.BuildNetwork == "host" || strings.HasPrefix(cfg.BuildNetwork, "container:"):
		return fmt.Errorf("--build-network %s: refused, build steps would share the network of the host (or of a container) and reach its private services; use none, a network name, or leave it empty for the engine's default", cfg.BuildNetwork)
	}
	logger := d.logger.With("component", "build")

	var worker *builder.Worker
	if cfg.HasRole(RoleRunner) {
		engine, err := builder.NewEngine()
		if err != nil {
			return err
		}
		d.onClose(func(context.Context) error { return engine.Close() })
		if err := builder.PingEngine(ctx, engine); err != nil {
			logger.Warn("builds will wait until the Docker engine answers", "err", err)
		}
		var local builder.LocalCheckout
		if cfg.HasRole(RoleWorker) {
			// Ingestion on this host keeps its clone for the build.
			local = ingest.LocalCheckout(cfg.DataDir)
		}
		worker, err = builder.New(ctx, builder.Options{
			AppConfig:      d.appConfig,
			Store:          d.Store,
			Engine:         engine,
			Queue:          d.queue,
			SourceDir:      filepath.Join(cfg.DataDir, "build-sources"),
			GitPolicy:      d.gitPolicy,
			CloneTimeout:   cfg.CloneTimeout,
			MaxCloneBytes:  cfg.MaxCloneBytes,
			LocalCheckout:  local,
			Timeout:        cfg.BuildTimeout,
			Concurrency:    cfg.BuildConcurrency,
			LogLimit:       cfg.BuildLogLimit,
			KeepImages:     cfg.KeepImages,
			Network:        cfg.BuildNetwork,
			AllowRemoteAdd: cfg.BuildAllowRemoteAdd,
			CacheSize:      cfg.BuildCacheSize,
			Registry:       cfg.Registry,
			Logger:         logger,
		})
		if err != nil {
			return err
		}
		d.onClose(func(context.Context) error { return worker.Close() })
		// Optional: search and the catalog keep working while Docker is
		// down; builds wait in the queue. When it answers, the check says
		// which builder builds run on.
		d.checks = append(d.checks, readyCheck{name: "docker", optional: true,
			check: func(ctx context.Context) error { return builder.PingEngine(ctx, engine) },
			detail: func(ctx context.Context) string {
				_, description := worker.Builder(ctx)
				return "builds use " + description
			}})
		if d.queue != nil {
			d.queue.Handle(queue.KindBuild, worker.Handle)
		}
		d.goLoop("build-reconciler", worker.RunReconciler)
		d.onQueueBack(func(ctx context.Context) {
			if err := worker.Reconcile(ctx); err != nil {
				logger.Warn("re-enqueueing builds after Redis returned failed; the reconciler tries again", "err", err)
			}
		})
	}

	builds := &api.Builds{Store: d.Store, Logger: logger}
	if d.queue != nil {
		builds.Queue = d.queue
	}
	if d.Events != nil {
		builds.Notifier = d.Events
	}
	if worker != nil {
		builds.CancelRunning = worker.Cancel
	}
	d.api.Builds = builds
	return nil
}
