// Package runner launches apps: hardened containers of a repository's latest
// succeeded build on this host's Docker engine, published on 127.0.0.1 only
// and reached through the preview proxy (http://<slug>.localhost:<port>/ or
// /apps/<slug>/). It keeps every launch's row in PostgreSQL true: readiness,
// deaths (Docker's event stream, and a periodic reconciliation), TTL expiry,
// idle stops (scale to zero) with wake on the next request, a warm pool, and
// adoption of its containers after a crash.
//
// Every container carries the labels appstore.managed, appstore.runner (this
// runner's id, kept in the data directory so that it survives restarts),
// appstore.launch, appstore.repository and appstore.build; the reconciler
// only touches containers of its own runner.
package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/client"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/appconfig"
	"github.com/appstore-dev/appstore/daemon/registry"
)

// maxEngineBackoff caps the waits between attempts to reach the engine
// (the first reconciliation, the event stream): a dockerd that restarts is
// back in seconds, and the runner must follow within 5 s (docs/reliability.md);
// a ping or an events request every 2 s costs the engine nothing.
const maxEngineBackoff = 2 * time.Second

// Defaults of Config.
const (
	DefaultStartupTimeout = 60 * time.Second
	DefaultIdleTimeout    = 15 * time.Minute
	DefaultTTL            = time.Hour
	DefaultPreviewDomain  = "localhost"
)

// Config configures a Runner. Zero durations take the defaults.
type Config struct {
	Store  *store.Store
	Logger *slog.Logger
	// Docker is the engine client; nil connects to DOCKER_HOST (default
	// unix:///var/run/docker.sock).
	Docker *client.Client
	// ID names this runner in labels and launch rows. Empty reads it from
	// DataDir/runner-id, creating it the first time, so that a restarted
	// daemon recognises its containers.
	ID      string
	DataDir string

	// StartupTimeout bounds the time from container start to the app's
	// port answering (default 60s).
	StartupTimeout time.Duration
	// IdleTimeout stops launches that served no request for that long
	// (default 15m; negative: never).
	IdleTimeout time.Duration
	// DefaultTTL is a launch's lifetime when the request names none
	// (default 1h); MaxTTL bounds what a request may ask (default 24h, at
	// least DefaultTTL).
	DefaultTTL time.Duration
	MaxTTL     time.Duration
	// WarmPool is how many started containers are kept ready for the apps
	// tagged warm:true and the most launched ones.
	WarmPool int
	// Network is the Docker network app containers join (default
	// DefaultNetwork). The runner creates it when missing as a bridge with
	// inter-container traffic disabled, so that one app cannot reach
	// another's ports; "bridge" uses the engine's default network instead.
	Network string
	// Limits are the daemon-wide resource maxima.
	Limits Limits

	// Runtime is where launches run: RuntimeDocker (default), a container
	// on this engine, or RuntimeSwarm, a one-replica service on the Swarm
	// this engine manages (docs/architecture.md).
	Runtime string
	// Registry is where builds pushed their images: Swarm launches run
	// them by digest from there, with its credentials. Nil: the build's
	// local image (which only nodes that have it can run).
	Registry *registry.Registry
	// SwarmConstraints are the placement constraints of Swarm services
	// (e.g. node.labels.appstore==apps).
	SwarmConstraints []string
	// PreviewOnly makes a runner that starts nothing: it serves the
	// previews of other runners' running Swarm launches (finding their
	// tasks through the Swarm API) and writes their request times. An
	// appstored with the api role and not the runner role runs one with
	// --runtime swarm.
	PreviewOnly bool

	// PreviewDomain is the wildcard domain of preview URLs: <slug>.<domain>.
	// "localhost" (the default) needs no DNS. It may carry a scheme and
	// port ("https://apps.example.com") when a proxy in front terminates
	// TLS; without them, the daemon's own scheme and port are used.
	PreviewDomain string
	// BaseURL returns the daemon's root URL (for the port of preview URLs);
	// it is read when URLs are made, after the daemon listens.
	BaseURL func() string
	// HostAllowed decides which Host headers may use the /apps/<slug>/ path
	// fallback (the API guard's check); nil allows loopback names only.
	HostAllowed func(hostport string) bool
	// DaemonToken reports whether a bearer token (or ?access_token=
	// value) is one of the daemon's own (the API guard's IsCredential):
	// such credentials are taken off a request before it reaches an app.
	// Nil knows none.
	DaemonToken func(token string) bool

	// StopGrace is how long a container gets between SIGTERM and SIGKILL
	// (default 5s).
	StopGrace time.Duration
	// SweepInterval is how often TTLs and idle times are checked and
	// request times written (default 1s).
	SweepInterval time.Duration
	// StorageCheckInterval is how often the data volumes of running apps
	// that declare a storage size are measured, to warn when one passes
	// its size (default 1m).
	StorageCheckInterval time.Duration
	// ReconcileInterval is how often containers and rows are compared in
	// case an engine event was missed (default 30s).
	ReconcileInterval time.Duration
	// WarmInterval is how often the warm pool is topped up without being
	// asked (default 10s).
	WarmInterval time.Duration
	// WakeBackoff is how long after a failed wake the proxy answers with
	// the failure instead of starting the app again (default 30s).
	WakeBackoff time.Duration
	// BrowserWait is how long a browser's request waits for a sleeping app
	// before it gets the "starting…" page (default 2s).
	BrowserWait time.Duration

	// MaxRunning caps the launches (starting or running) of this runner
	// at once (default DefaultMaxRunning; negative: no cap);
	// MaxRunningMemory caps the sum of their memory limits (0: none).
	// Past either a launch is refused (QuotaError), or with EvictIdle the
	// least recently used idle launch is put to sleep to make room.
	MaxRunning       int
	MaxRunningMemory int64
	// CatalogMaxRunning and CatalogMaxRunningMemory cap the launches of every
	// runner of the catalogue the same way (0: none), counted by the
	// store in the transaction that records a launch. Every runner of
	// the catalogue should be given the same values.
	CatalogMaxRunning       int
	CatalogMaxRunningMemory int64
	EvictIdle               bool
	// WakeBurst and WakeInterval limit the apps one client may start by
	// preview requests: WakeBurst at once, then one per WakeInterval
	// (defaults DefaultWakeBurst, DefaultWakeInterval). ClientKey names a
	// request's client (nil: its peer address).
	WakeBurst    int
	WakeInterval time.Duration
	ClientKey    func(r *http.Request) string
	// AppConfig gives launches the apps' variables and secrets and
	// redacts the secrets from launch output and errors; nil gives apps
	// PORT only.
	AppConfig *appconfig.Service

	// OnRunning, when set, is told about every launch that starts to
	// answer (warm ones too), after it is recorded running: the thumbnail
	// service captures new builds then. It must not block.
	OnRunning func(l *catalog.Launch)
	// OnPreview, when set, is told about every request of the preview
	// proxy, with the app's slug, before it is served (usage.Counter's
	// Preview). It must not block.
	OnPreview func(slug string, r *http.Request)
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.StartupTimeout, DefaultStartupTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.DefaultTTL, DefaultTTL)
	def(&c.MaxTTL, 24*time.Hour)
	def(&c.StopGrace, 5*time.Second)
	def(&c.SweepInterval, time.Second)
	def(&c.ReconcileInterval, 30*time.Second)
	def(&c.StorageCheckInterval, time.Minute)
	def(&c.WarmInterval, 10*time.Second)
	def(&c.WakeBackoff, 30*time.Second)
	def(&c.BrowserWait, 2*time.Second)
	def(&c.WakeInterval, DefaultWakeInterval)
	if c.MaxRunning == 0 {
		c.MaxRunning = DefaultMaxRunning
	}
	if c.WakeBurst <= 0 {
		c.WakeBurst = DefaultWakeBurst
	}
	if c.MaxTTL < c.DefaultTTL {
		c.MaxTTL = c.DefaultTTL
	}
	if c.PreviewDomain == "" {
		c.PreviewDomain = DefaultPreviewDomain
	}
	if c.Network == "" {
		c.Network = DefaultNetwork
	}
	if c.Runtime == "" {
		c.Runtime = RuntimeDocker
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Runner runs launches on one Docker engine. Create it with New, call Run
// in the background, and Close at shutdown.
type Runner struct {
	cfg Config
	st  *store.Store
	eng runtime
	// docker is the runner's engine client, for what is the engine's
	// whatever the runtime (data volumes, images).
	docker *client.Client
	logger *slog.Logger
	id     string

	preview previewDomain

	// ctx lives until Close; starts and stops run on it, not on the
	// request that asked for them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// busy counts the operations (a start, a stop, a death) working on a
	// launch; the reconciler and the event watcher leave busy launches to
	// them.
	busy map[int64]int
	// starts are the starts in flight, which a stop cancels and waits for.
	starts map[int64]*startOp
	// changed is closed (and replaced) at every transition this runner
	// makes, to wake waiters without polling the database.
	changed chan struct{}
	// wakeFailures remember the last failed wake of each app, so that a
	// crashing app is not restarted by every request.
	wakeFailures map[string]wakeFailure
	closing      bool

	// storage is what the storage check remembers (storage.go).
	storage storageState

	// ready is closed after the first reconciliation: launches and
	// preview requests wait for it so that nothing is started twice
	// beside an adopted container.
	ready     chan struct{}
	readyOnce sync.Once
	engineErr error // why the engine is unavailable, while it is

	routes    routeTable
	proxyOnce sync.Once
	rp        *httputil.ReverseProxy
	warmKick  chan struct{}
	// warmFailures remember builds whose warm container failed, so that
	// the pool does not restart a broken app every round.
	warmFailures map[int64]time.Time
	// redeployFailures are the builds whose redeploy failed (see redeploy).
	redeployFailures map[int64]time.Time
	// redeployRefusals are the apps whose redeploy was refused, by slug
	// (redeploy_retry.go).
	redeployRefusals map[string]redeployRefusal
	// catalog is the catalogue's identity, which names the apps' volumes
	// (read once, catalogID).
	catalog string
	// quotaMu makes this process's admissions one at a time (admitted,
	// for its evictions); wakes limits the apps each client starts by
	// requests.
	quotaMu sync.Mutex
	wakes   wakeLimiter
}

type startOp struct {
	cancel context.CancelFunc
	done   chan struct{}
}

type wakeFailure struct {
	at      time.Time
	message string
}

// New prepares a runner. It does not contact the engine: Run does, so that
// a daemon without Docker still starts (launches then answer 503).
func New(cfg Config) (*Runner, error) {
	cfg = cfg.withDefaults()
	if cfg.Store == nil {
		return nil, errors.New("runner: no store")
	}
	if cfg.PreviewOnly && cfg.Runtime != RuntimeSwarm {
		return nil, errors.New("runner: a preview-only runner needs the Swarm runtime (a container's port is on its own runner's loopback)")
	}
	pd, err := parsePreviewDomain(cfg.PreviewDomain)
	if err != nil {
		return nil, err
	}
	if _, err := cfg.Limits.resolveProfile("", ""); err != nil {
		return nil, err
	}
	id := cfg.ID
	if id == "" {
		if id, err = runnerID(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	cli := cfg.Docker
	if cli == nil {
		cli, err = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return nil, fmt.Errorf("Docker client: %w", err)
		}
	}
	var rt runtime
	switch cfg.Runtime {
	case RuntimeDocker:
		rt = &engine{cli: cli, logger: cfg.Logger, network: cfg.Network, ownClient: cfg.Docker == nil}
	case RuntimeSwarm:
		rt = newSwarmRuntime(cli, cfg, cfg.Docker == nil)
	default:
		return nil, fmt.Errorf("runner: runtime %q: want docker or swarm", cfg.Runtime)
	}
	r := &Runner{
		cfg:          cfg,
		st:           cfg.Store,
		eng:          rt,
		docker:       cli,
		logger:       cfg.Logger,
		id:           id,
		preview:      pd,
		busy:         map[int64]int{},
		starts:       map[int64]*startOp{},
		changed:      make(chan struct{}),
		wakeFailures: map[string]wakeFailure{},
		ready:        make(chan struct{}),
		engineErr:    errors.New("the runner has not reached the Docker engine yet"),
		routes:       routeTable{bySlug: map[string]*route{}},
		warmKick:     make(chan struct{}, 1),
		warmFailures: map[int64]time.Time{},

		redeployFailures: map[int64]time.Time{},
		redeployRefusals: map[string]redeployRefusal{},
	}
	r.wakes.burst, r.wakes.interval = float64(cfg.WakeBurst), cfg.WakeInterval
	// The runner's own work (starting, following and ending launches)
	// writes its events as appstored:launch unless a request's actor or a
	// more precise cause (stop's reason) says otherwise.
	r.ctx, r.cancel = context.WithCancel(catalog.WithCause(context.Background(), catalog.CauseLaunch))
	return r, nil
}

// ID is the runner's id (the appstore.runner label of its containers).
func (r *Runner) ID() string { return r.id }

// runnerID reads DataDir/runner-id, creating it with a fresh id.
func runnerID(dataDir string) (string, error) {
	if dataDir == "" {
		return "", errors.New("runner: no data directory for the runner id (set Config.ID or Config.DataDir)")
	}
	path := filepath.Join(dataDir, "runner-id")
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read runner id: %w", err)
	}
	host, _ := os.Hostname()
	host = catalog.Slugify(host)
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := host + "-" + hex.EncodeToString(b[:])
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("write runner id: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write runner id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write runner id: %w", err)
	}
	return id, nil
}

// Init reaches the engine and reconciles: adopts this runner's containers
// that belong to active launches, removes the others, and settles launches
// whose containers are gone. The daemon calls it before serving so that no
// preview request starts an app that is already running; if the engine is
// not there, Run keeps trying.
func (r *Runner) Init(ctx context.Context) error {
	if err := r.eng.ping(ctx); err != nil {
		r.setEngineErr(err)
		return err
	}
	if err := r.eng.prepare(ctx); err != nil {
		r.setEngineErr(err)
		return err
	}
	if r.cfg.PreviewOnly {
		r.setEngineErr(nil)
		r.readyOnce.Do(func() { close(r.ready) })
		return nil
	}
	if err := r.reconcile(ctx); err != nil {
		r.setEngineErr(err)
		return err
	}
	r.setEngineErr(nil)
	r.readyOnce.Do(func() { close(r.ready) })
	return nil
}

func (r *Runner) setEngineErr(err error) {
	r.mu.Lock()
	r.engineErr = err
	r.mu.Unlock()
}

// Ping is the readiness check of the runner: the engine answers.
func (r *Runner) Ping(ctx context.Context) error { return r.eng.ping(ctx) }

// Run watches the engine's events and runs the sweeps (TTL, idle, request
// times), the periodic reconciliation and the warm pool until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	// Until the engine answers, retry Init.
	for backoff := 500 * time.Millisecond; ; backoff = min(backoff*2, maxEngineBackoff) {
		select {
		case <-r.ready:
		default:
			if err := r.Init(ctx); err != nil {
				r.logger.Warn("Docker engine unavailable: launches are refused until it answers", "err", err, "retry_in", backoff)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				continue
			}
		}
		break
	}
	// The loops' own changes are the runner's (appstored:launch) unless a
	// more precise cause (idle, ttl, reconcile, warm…) is set on the way.
	ctx = catalog.WithCause(ctx, catalog.CauseLaunch)
	loops := []func(context.Context){r.watchEvents, r.sweepLoop, r.reconcileLoop, r.warmLoop}
	if r.cfg.PreviewOnly {
		loops = []func(context.Context){r.sweepLoop} // request times only
	}
	var wg sync.WaitGroup
	for _, loop := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	wg.Wait()
}

// Close stops every active launch of this runner (status stopped, "appstored
// shut down") and waits for the runner's work to end. A crash skips this;
// the next start's reconciliation then adopts or removes the containers.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	var errs []error
	select {
	case <-r.ready:
		ls, err := r.st.ListLaunches(ctx, store.LaunchFilter{Runner: r.id, Active: true, Limit: 1000})
		if err != nil {
			errs = append(errs, err)
		}
		var wg sync.WaitGroup
		for _, l := range ls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := r.stop(ctx, l.ID, catalog.LaunchStopped, "appstored shut down", "shutdown"); err != nil {
					r.logger.Warn("stop launch at shutdown", "launch", l.ID, "err", err)
				}
			}()
		}
		wg.Wait()
		// Whatever is left (a container whose launch row went away with
		// its repository, say) belongs to no active launch now.
		if err := r.reconcile(ctx); err != nil {
			errs = append(errs, err)
		}
	default:
	}
	r.cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("runner: work still running at shutdown: %w", ctx.Err()))
	}
	_ = r.eng.close()
	return errors.Join(errs...)
}

// unavailableError is answered 503 by the API.
type unavailableError struct{ msg string }

func (e *unavailableError) Error() string     { return e.msg }
func (e *unavailableError) Unavailable() bool { return true }

// IsUnavailable reports whether err says the runner cannot serve now (no
// engine, shutting down, another runner's launch).
func IsUnavailable(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}

// available waits (briefly) for the first reconciliation and reports why
// launches cannot be made, if they cannot.
func (r *Runner) available(ctx context.Context) error {
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	select {
	case <-r.ready:
	case <-wait.Done():
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return &unavailableError{"appstored is shutting down; launch again once it is back"}
	}
	select {
	case <-r.ready:
		return nil
	default:
		return &unavailableError{fmt.Sprintf("launches are unavailable: %v (is dockerd running? `docker info` must work for the user running appstored)", r.engineErr)}
	}
}

// notify wakes everything waiting for a transition.
func (r *Runner) notify() {
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *Runner) changes() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// hold marks a launch busy; the returned func releases it.
func (r *Runner) hold(id int64) func() {
	r.mu.Lock()
	r.busy[id]++
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		if r.busy[id]--; r.busy[id] <= 0 {
			delete(r.busy, id)
		}
		r.mu.Unlock()
	}
}

func (r *Runner) isBusy(id int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.busy[id] > 0
}

// goWork runs fn on the runner's lifetime, counted for Close.
func (r *Runner) goWork(fn func(ctx context.Context)) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() {
			if p := recover(); p != nil {
				r.logger.Error("runner task panicked", "panic", p)
			}
		}()
		fn(r.ctx)
	}()
}

// previewDomain is the parsed --preview-domain.
type previewDomain struct {
	scheme string // "" = the daemon's
	host   string // lower-case domain
	port   string // "" = the daemon's (when scheme is ""), else none
}

func parsePreviewDomain(s string) (previewDomain, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if !strings.Contains(s, "://") {
		s = strings.TrimPrefix(s, "*.")
		if s == "" || strings.ContainsAny(s, "/:@ ") {
			return previewDomain{}, fmt.Errorf("--preview-domain %q: want a domain such as localhost or apps.example.com, or a URL such as https://apps.example.com", s)
		}
		return previewDomain{host: strings.Trim(s, ".")}, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
		return previewDomain{}, fmt.Errorf("--preview-domain %q: want http(s)://domain[:port] without a path, e.g. https://apps.example.com", s)
	}
	return previewDomain{scheme: u.Scheme, host: strings.TrimPrefix(u.Hostname(), "*."), port: u.Port()}, nil
}

// PreviewURL is where the app slug is served: http://<slug>.<domain>:<port>/.
func (r *Runner) PreviewURL(slug string) string {
	scheme, port := r.preview.scheme, r.preview.port
	if scheme == "" {
		scheme = "http"
		if r.cfg.BaseURL != nil {
			if u, err := url.Parse(r.cfg.BaseURL()); err == nil && u.Scheme != "" {
				scheme, port = u.Scheme, u.Port()
			}
		}
	}
	host := slug + "." + r.preview.host
	if port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		host += ":" + port
	}
	return scheme + "://" + host + "/"
}

// PathURL is the /apps/<slug>/ fallback on the daemon's own address.
func (r *Runner) PathURL(slug string) string {
	base := ""
	if r.cfg.BaseURL != nil {
		base = strings.TrimRight(r.cfg.BaseURL(), "/")
	}
	return base + "/apps/" + slug + "/"
}

// Decorate fills the fields of a launch that are not stored: its preview URL.
func (r *Runner) Decorate(l *catalog.Launch) *catalog.Launch {
	if l != nil && l.Repository != "" {
		l.PreviewURL = r.PreviewURL(l.Repository)
	}
	return l
}
