package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/runner"
)

// wireRunner starts the runner component of the configured roles. The
// launch API is served by every API process (reading launches needs only
// the catalog); starting and stopping them, their output and the preview
// proxy need the runner role in the same process, since containers publish
// their ports on this host's loopback only.
func (d *Daemon) wireRunner(ctx context.Context) error {
	launches := &api.Launches{Store: d.Store}
	d.api.Launches = launches
	if !d.cfg.HasRole(RoleRunner) {
		if d.cfg.HasRole(RoleAPI) && d.cfg.Runtime == RuntimeSwarm {
			return d.wirePreviews(ctx)
		}
		return nil
	}
	if d.cfg.WarmPool < 0 || d.cfg.MaxMemory < 0 || d.cfg.MaxCPUs < 0 || d.cfg.MaxPids < 0 || d.cfg.StartupTimeout < 0 || d.cfg.LaunchTTL < 0 {
		return fmt.Errorf("--warm-pool, --max-memory, --max-cpus, --max-pids, --startup-timeout and --launch-ttl cannot be negative")
	}
	r, err := runner.New(runner.Config{
		Store:            d.Store,
		Logger:           d.logger.With("component", "runner"),
		DataDir:          d.cfg.DataDir,
		StartupTimeout:   d.cfg.StartupTimeout,
		IdleTimeout:      d.cfg.IdleTimeout,
		DefaultTTL:       d.cfg.LaunchTTL,
		WarmPool:         d.cfg.WarmPool,
		Network:          d.cfg.AppNetwork,
		Limits:           runner.Limits{Memory: d.cfg.MaxMemory, CPUs: d.cfg.MaxCPUs, Pids: d.cfg.MaxPids},
		Runtime:          d.cfg.Runtime,
		Registry:         d.cfg.Registry,
		SwarmConstraints: d.cfg.SwarmConstraints,
		PreviewDomain:    d.cfg.PreviewDomain,
		BaseURL:          func() string { return d.URL },
		HostAllowed:      d.api.Guard.HostAllowed,
		DaemonToken:      d.api.Guard.IsCredential,
		OnRunning:        d.thumbnailHook(),
		OnPreview:        d.usageCounter(ctx),
		AppConfig:        d.appConfig,

		MaxRunning:              d.cfg.MaxRunning,
		MaxRunningMemory:        d.cfg.MaxRunningMemory,
		CatalogMaxRunning:       d.cfg.CatalogMaxRunning,
		CatalogMaxRunningMemory: d.cfg.CatalogMaxRunningMemory,
		EvictIdle:               d.cfg.EvictIdle,
		ClientKey:               d.api.Guard.ClientKey,
	})
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	d.thumbRunner.r.Store(r)
	// Adopt or remove the containers of a previous run before serving, so
	// that a preview request does not start an app that already runs.
	initCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	if err := r.Init(initCtx); err != nil {
		d.logger.Warn("Docker engine not reachable: launches are refused until it answers", "err", err)
	}
	cancel()
	d.addCheck("runner", true, r.Ping)
	d.goLoop("runner", r.Run)
	d.onClose(r.Close)
	launches.Runner = r
	// Removing an app stops its launches first.
	if d.api.Repositories == nil {
		d.api.Repositories = &api.Repositories{}
	}
	d.api.Repositories.StopLaunches = r.StopRepository
	d.api.Repositories.Volumes = r
	d.api.Volumes = &api.Volumes{Runner: r}
	if d.cfg.HasRole(RoleAPI) {
		d.api.Previews = r.Preview
	}
	return nil
}

// wirePreviews serves, on an api process without the runner role, the
// previews of the Swarm launches that runners started: the tasks are found
// through the Swarm API of this host's engine (a manager, or DOCKER_HOST
// pointing at one). Starting, stopping and logs still need a runner.
func (d *Daemon) wirePreviews(ctx context.Context) error {
	r, err := runner.New(runner.Config{
		Store:         d.Store,
		Logger:        d.logger.With("component", "previews"),
		DataDir:       d.cfg.DataDir,
		Runtime:       d.cfg.Runtime,
		Registry:      d.cfg.Registry,
		PreviewDomain: d.cfg.PreviewDomain,
		BaseURL:       func() string { return d.URL },
		HostAllowed:   d.api.Guard.HostAllowed,
		DaemonToken:   d.api.Guard.IsCredential,
		OnPreview:     d.usageCounter(ctx),
		PreviewOnly:   true,
	})
	if err != nil {
		return fmt.Errorf("previews: %w", err)
	}
	initCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	if err := r.Init(initCtx); err != nil {
		d.logger.Warn("Swarm manager not reachable: previews answer 503 until it is", "err", err)
	}
	cancel()
	d.goLoop("previews", r.Run)
	d.onClose(r.Close)
	d.api.Previews = r.Preview
	return nil
}
