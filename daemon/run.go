package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/appstore-dev/appstore/apitype"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/appconfig"
	"github.com/appstore-dev/appstore/daemon/events"
	"github.com/appstore-dev/appstore/daemon/localpg"
	"github.com/appstore-dev/appstore/daemon/metrics"
	"github.com/appstore-dev/appstore/daemon/queue"
	"github.com/appstore-dev/appstore/daemon/thumbnail"
	"github.com/appstore-dev/appstore/daemon/usage"
)

// Daemon is a started appstored. Tests start one in process with Start; the
// binary calls Run.
type Daemon struct {
	cfg    Config
	logger *slog.Logger

	// Store is the catalog.
	Store *store.Store
	// URL is the base URL the API listens on (http://127.0.0.1:7070).
	URL string
	// Events is the event stream's hub (every role has one): subscribe
	// to the event log, or to a build's new log lines.
	Events *events.Hub

	pg *localpg.Cluster
	// api is the HTTP surface: the route table and its handlers. Each
	// wire step fills in the handlers of its area.
	api *api.Server
	// thumbs takes the apps' thumbnails (nil when off), through
	// thumbRunner once wireRunner made the runner.
	thumbs      *thumbnail.Service
	thumbRunner thumbnailRunner
	// usage counts preview requests (nil without previews).
	usage *usage.Counter
	// appConfig gives apps their variables and secrets (wireAppConfig).
	appConfig *appconfig.Service
	// gitPolicy is the one Git URL policy of registration, clones, sync
	// and builds (Config.GitPolicy).
	gitPolicy giturl.Policy
	// queue delivers jobs; wireQueue creates it, later wire steps register
	// their handlers, and it starts after every step ran.
	queue    queue.Queue
	handler  http.Handler
	server   *http.Server
	listener net.Listener
	checks   []readyCheck
	metrics  *metrics.Metrics

	// queueBack run when Redis answers again after an outage (onQueueBack).
	queueBack []func(ctx context.Context)

	// loops names the background loops started (goLoop), for tests.
	loops []string
	// ctx lives until Shutdown; background loops use it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// closers run in reverse order at Shutdown, after the loops ended.
	closers []func(context.Context) error
}

type readyCheck struct {
	name     string
	optional bool // the daemon is degraded, not down, without it
	check    func(ctx context.Context) error
	// detail, when set, says more about a passing check (which builder
	// builds run on).
	detail func(ctx context.Context) string
}

// Run starts appstored and serves until ctx is done, then shuts down cleanly.
func Run(ctx context.Context, cfg Config) error {
	d, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	d.logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return d.Shutdown(shutdownCtx)
}

// Start opens the catalog, wires every component of the configured roles and
// starts serving. The caller must call Shutdown.
func Start(ctx context.Context, cfg Config) (_ *Daemon, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, logger: cfg.Logger}
	d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			d.cancel()
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = d.runClosers(closeCtx)
		}
	}()

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := d.openStore(ctx); err != nil {
		return nil, err
	}
	d.gitPolicy = cfg.GitPolicy()
	d.api = &api.Server{
		Store:  d.Store,
		Logger: d.logger.With("component", "api"),
		Guard: &api.Guard{
			Loopback:     cfg.Loopback(),
			Exposed:      cfg.Exposed(),
			AllowedHosts: cfg.AllowedHosts,
			Token:        cfg.Token,
			ServiceToken: cfg.ServiceToken,
		},
		// Every process listens: the API role serves the API, the others
		// only their health, so that supervisors can watch workers and
		// runners too.
		HealthOnly: !cfg.HasRole(RoleAPI),
		Roles:      strings.Join(cfg.Roles, ","),
		Version:    apitype.VersionInfo{Version: cfg.Version, Commit: cfg.Commit, API: 1},
		Ready:      d.ready,
	}
	d.addCheck("database", false, d.Store.Ping)

	// Each area wires itself in its own file (wire_*.go).
	for _, wire := range []func(context.Context) error{
		d.wireQueue,
		d.wireEvents,
		d.wireCleanup,
		d.wireIngest,
		d.wireAppConfig,
		d.wireBuild,
		d.wireThumbnails,
		d.wireRunner,
		d.wireServices,
		d.wireWeb,
		d.wireSearch,
		d.wireMetrics,
	} {
		if err := wire(ctx); err != nil {
			return nil, err
		}
	}
	if d.queue != nil {
		if err := d.queue.Start(d.ctx); err != nil {
			return nil, fmt.Errorf("start queue: %w", err)
		}
		q := d.queue
		d.onClose(q.Stop)
		d.watchQueue()
	}

	if err := d.serve(); err != nil {
		return nil, err
	}
	d.logger.Info("appstored started", "addr", d.URL, "roles", cfg.Roles, "data_dir", cfg.DataDir,
		"embedded_postgres", d.pg != nil, "version", cfg.Version)
	return d, nil
}

// openStore connects to the configured PostgreSQL, or starts the embedded
// cluster, and migrates the schema.
func (d *Daemon) openStore(ctx context.Context) error {
	url := d.cfg.DatabaseURL
	if url == "" {
		pg, err := localpg.Start(ctx, localpg.Options{
			DataDir: d.cfg.DataDir,
			Logger:  d.logger.With("component", "postgres"),
		})
		if err != nil {
			return fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		d.pg = pg
		d.onClose(func(ctx context.Context) error { return pg.Stop(ctx) })
		if err := pg.CreateDatabase(ctx, "appstore"); err != nil {
			return fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		url = pg.URL("appstore")
	}
	st, err := store.Open(ctx, url, d.logger.With("component", "store"))
	if err != nil {
		if d.cfg.DatabaseURL != "" {
			return fmt.Errorf("%w (check --database-url / APPSTORE_DATABASE_URL, or leave it empty to use the embedded PostgreSQL)", err)
		}
		return err
	}
	d.Store = st
	d.onClose(func(context.Context) error { st.Close(); return nil })
	if _, err := store.Migrate(ctx, st.Pool(), d.logger.With("component", "migrate")); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func (d *Daemon) serve() error {
	ln, err := net.Listen("tcp", d.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another appstored running? choose another --addr)", d.cfg.Addr, err)
	}
	d.listener = ln
	d.URL = "http://" + ln.Addr().String()
	if d.handler == nil {
		d.handler = d.api.Handler()
	}
	d.server = &http.Server{
		Handler:           d.handler,
		ReadHeaderTimeout: 10 * time.Second,
		// Without it an idle keep-alive connection is kept forever (the
		// default is ReadTimeout's, which is unset so as not to cut
		// streams): anyone who can connect could exhaust descriptors.
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(d.logger.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return d.ctx },
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.logger.Error("HTTP server stopped", "err", err)
		}
	}()
	return nil
}

// streamGrace is how long Shutdown lets requests in flight finish before
// it ends those that never finish by themselves.
const streamGrace = 3 * time.Second

// Shutdown stops serving (letting requests in flight finish), stops the
// background loops, then closes the components in reverse order.
func (d *Daemon) Shutdown(ctx context.Context) error {
	var errs []error
	if d.server != nil {
		graceCtx, cancel := context.WithTimeout(ctx, streamGrace)
		err := d.server.Shutdown(graceCtx)
		cancel()
		if err != nil && ctx.Err() == nil {
			// Streams never go idle (a followed build log, say, of a web
			// view left open): end them by cancelling the request
			// contexts, whose base is d.ctx, and wait for them to return.
			d.cancel()
			err = d.server.Shutdown(ctx)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("HTTP shutdown: %w", err))
		}
	}
	d.cancel()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("background loops did not stop: %w", ctx.Err()))
	}
	errs = append(errs, d.runClosers(ctx))
	d.logger.Info("appstored stopped")
	return errors.Join(errs...)
}

func (d *Daemon) runClosers(ctx context.Context) error {
	var errs []error
	for i := len(d.closers) - 1; i >= 0; i-- {
		if err := d.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	d.closers = nil
	return errors.Join(errs...)
}

// onClose registers fn to run at Shutdown, after everything started later.
func (d *Daemon) onClose(fn func(context.Context) error) { d.closers = append(d.closers, fn) }

// goLoop runs fn in the background until Shutdown.
func (d *Daemon) goLoop(name string, fn func(ctx context.Context)) {
	d.loops = append(d.loops, name)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() {
			if p := recover(); p != nil {
				d.logger.Error("background loop panicked", "loop", name, "panic", p)
			}
		}()
		fn(d.ctx)
	}()
}

// addCheck adds a dependency to /readyz.
func (d *Daemon) addCheck(name string, optional bool, check func(ctx context.Context) error) {
	d.checks = append(d.checks, readyCheck{name: name, optional: optional, check: check})
}

// ready runs every check concurrently: "ok" when all pass, "degraded" when
// only optional ones fail, "down" otherwise.
func (d *Daemon) ready(ctx context.Context) apitype.Health {
	h := apitype.Health{Status: apitype.HealthOK, Checks: make(map[string]apitype.HealthCheck, len(d.checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range d.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.check(ctx)
			hc := apitype.HealthCheck{OK: err == nil, Optional: c.optional}
			if err != nil {
				hc.Message = err.Error()
			} else if c.detail != nil {
				hc.Message = c.detail(ctx)
			}
			mu.Lock()
			defer mu.Unlock()
			h.Checks[c.name] = hc
			switch {
			case err != nil && !c.optional:
				h.Status = apitype.HealthDown
			case err != nil && h.Status == apitype.HealthOK:
				h.Status = apitype.HealthDegraded
			}
		}()
	}
	wg.Wait()
	return h
}

// Migrate opens the configured database (starting the embedded cluster when
// no URL is given), applies pending migrations and stops. It returns the
// versions applied.
func Migrate(ctx context.Context, cfg Config) ([]int, error) {
	var applied []int
	err := offline(ctx, cfg, func(st *store.Store, logger *slog.Logger) error {
		var err error
		applied, err = store.Migrate(ctx, st.Pool(), logger)
		return err
	})
	return applied, err
}

// offline opens the catalog of cfg (the embedded PostgreSQL when there is
// no --database-url) for a command that runs without serving, calls fn,
// and closes it all.
func offline(ctx context.Context, cfg Config, fn func(st *store.Store, logger *slog.Logger) error) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	d := &Daemon{cfg: cfg, logger: cfg.Logger}
	defer d.runClosers(context.WithoutCancel(ctx)) //nolint:errcheck
	url := cfg.DatabaseURL
	if url == "" {
		pg, err := localpg.Start(ctx, localpg.Options{DataDir: cfg.DataDir, Logger: d.logger})
		if err != nil {
			return fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		d.onClose(pg.Stop)
		if err := pg.CreateDatabase(ctx, "appstore"); err != nil {
			return err
		}
		url = pg.URL("appstore")
	}
	st, err := store.Open(ctx, url, d.logger)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st, d.logger)
}
