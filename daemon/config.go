// Package daemon wires appstored together: the catalog on PostgreSQL (a
// server given by URL, or an embedded cluster it owns), the queue, the
// workers, the runner, the event stream and the HTTP API.
package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/appstore-dev/appstore/daemon/registry"
)

// Roles a process can take. A process with every role is the default; scale
// out by running more processes with a subset against the same PostgreSQL
// and Redis.
const (
	RoleAPI    = "api"    // HTTP API, search, event stream, web view, preview proxy
	RoleWorker = "worker" // ingestion and builds from the queue
	RoleRunner = "runner" // containers on this host's Docker engine
)

// AllRoles is the default.
var AllRoles = []string{RoleAPI, RoleWorker, RoleRunner}

// Config is everything appstored is told at start. Zero values mean the
// defaults documented on each field.
type Config struct {
	// Addr is the listen address (default 127.0.0.1:7070).
	Addr string
	// DataDir holds the embedded PostgreSQL cluster, clone caches and other
	// state (default $XDG_DATA_HOME/appstore, else ~/.local/share/appstore).
	DataDir string
	// DatabaseURL points at a PostgreSQL server; empty starts the embedded one.
	DatabaseURL string
	// RedisURL selects the asynq queue on Redis; empty runs jobs in process.
	RedisURL string
	// Token guards mutating API calls. Required when the daemon is
	// exposed (see Exposed); at least MinTokenLen bytes.
	Token string
	// AllowedHosts are extra host names accepted in Host/Origin headers.
	// One that is not a loopback name makes the daemon exposed.
	AllowedHosts []string
	// Roles this process takes (default all).
	Roles []string
	// SecretKeyFile is the key that encrypts the apps' secrets (32 bytes,
	// base64). Empty: DataDir/secrets.key, created with mode 0600 at the
	// first start. Every process of one catalog needs the same key.
	SecretKeyFile string

	// GitAllowPrivate lets Git URLs resolve to private addresses on an
	// exposed daemon.
	GitAllowPrivate bool
	// AllowLocalRepos admits file:// URLs and local paths on an exposed
	// daemon (a trusted server whose token holders may read its disk).
	AllowLocalRepos bool
	// SyncInterval is how often remotes are checked for new commits
	// (default 15m; negative is refused). See SyncOff.
	SyncInterval time.Duration
	// SyncOff turns periodic sync off (--sync-interval 0): remotes are
	// only compared on a refresh or a webhook.
	SyncOff bool
	// WebhookSecret verifies push webhooks.
	WebhookSecret string
	// MaxCloneBytes bounds a clone (default 200 MiB).
	MaxCloneBytes int64
	// CloneTimeout bounds a clone (default 5m).
	CloneTimeout time.Duration
	// IngestConcurrency is how many ingestions this process runs at once (default 4).
	IngestConcurrency int64
	// EventRetention is how long events are kept for replay (default 7 days).
	EventRetention time.Duration
	// TimelineRetention is how long ingestion timeline steps are kept
	// (default 30 days); the newest TimelineKeep steps of each repository
	// are kept whatever their age.
	TimelineRetention time.Duration
	// ServiceToken guards registering, changing and importing services;
	// empty disables those routes.
	ServiceToken string
	// HealthInterval is how often registered services are health-checked
	// unless they set their own interval (default 30s).
	HealthInterval time.Duration
	// ServiceAllowLoopback admits loopback health and base URLs of
	// services on an exposed daemon (local-only daemons always do).
	ServiceAllowLoopback bool
	// BuildRetention is how long finished builds and their logs are kept
	// (default 30 days); the newest BuildKeep of each repository and every
	// build a launch uses are kept whatever their age.
	BuildRetention time.Duration
	// LaunchRetention is how long finished launches are kept (default 30
	// days).
	LaunchRetention time.Duration
	// StatsRetention is how long the daily usage of each app is kept
	// (default 400 days).
	StatsRetention time.Duration
	// UsageFlushInterval is how often the preview counts of this process
	// are written (default 10s).
	UsageFlushInterval time.Duration

	// Runner and previews (daemon/runner; zero values take its defaults).
	PreviewDomain  string        // wildcard domain of preview URLs, <slug>.<domain> (default localhost)
	IdleTimeout    time.Duration // stop launches that served nothing that long (default 15m; negative: never)
	StartupTimeout time.Duration // time an app has to answer on its port (default 60s)
	LaunchTTL      time.Duration // lifetime of a launch that asks for none (default 1h)
	WarmPool       int           // started containers kept ready for the most launched apps
	AppNetwork     string        // Docker network of app containers (default appstore-apps, no traffic between apps)
	MaxMemory      int64         // bytes; larger resource profiles are refused (0: no limit)
	MaxCPUs        float64       // CPUs; larger resource profiles are refused (0: no limit)
	MaxPids        int64         // processes; larger resource profiles are refused (0: no limit)
	// Quotas of the runner: launches at once (default 20, negative: no
	// cap), the sum of their memory limits (0: no cap), and whether the
	// least recently used idle app is put to sleep to make room instead of
	// refusing.
	MaxRunning       int
	MaxRunningMemory int64
	// The same caps over every runner of the catalogue (0: none),
	// decided in the database (docs/operations.md, "Quotas").
	CatalogMaxRunning       int
	CatalogMaxRunningMemory int64
	EvictIdle               bool

	// Apps across hosts (docs/operations.md): the registry builds push to,
	// and where launches run (see runner.Config.Runtime).
	Registry         *registry.Registry // --registry with its credentials; nil: images stay on the builder's engine
	Runtime          string             // "docker" (default) or "swarm"
	SwarmConstraints []string           // placement constraints of Swarm services (--swarm-constraint)

	// Thumbnails (daemon/thumbnail, runner role): screenshots of the apps
	// for their cards, taken by a headless Chromium. Off unless set
	// (appstored turns them on by default).
	Thumbnails           bool
	Chromium             string        // the browser; "" looks for chromium on PATH
	ThumbnailLoadTimeout time.Duration // how long a page may take to load (default 15s)

	// Image builds (daemon/builder; zero values take its defaults).
	BuildTimeout     time.Duration // time limit of one build (default 20m)
	BuildConcurrency int           // builds this process runs at once (default 2)
	BuildLogLimit    int64         // bytes of a build's log kept in the database (default 2 MiB)
	KeepImages       int           // images the pruner keeps per repository (default 3)
	BuildNetwork     string        // network of RUN steps: "" engine default, "none", or a network name (classic builder); never "host"
	// BuildAllowRemoteAdd admits ADD <url> for URLs written out in the
	// Dockerfile whose host the Git policy admits; appstored fetches them.
	BuildAllowRemoteAdd bool
	BuildCacheSize      int64 // bytes of build cache the engine keeps (default 5 GiB)

	// Logger receives every log line of the daemon; nil discards.
	Logger *slog.Logger
	// Version is reported by /api/v1/version.
	Version string
	Commit  string
}

// DefaultAddr is where appstored listens and the CLI looks by default.
const DefaultAddr = "127.0.0.1:7070"

// DefaultDataDir returns $XDG_DATA_HOME/appstore, else ~/.local/share/appstore.
func DefaultDataDir() (string, error) {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "appstore"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no data directory: set --data-dir or XDG_DATA_HOME: %w", err)
	}
	return filepath.Join(home, ".local", "share", "appstore"), nil
}

// withDefaults fills defaults and checks the combination.
func (c Config) withDefaults() (Config, error) {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.DataDir == "" {
		d, err := DefaultDataDir()
		if err != nil {
			return c, err
		}
		c.DataDir = d
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, fmt.Errorf("data dir %q: %w", c.DataDir, err)
	}
	c.DataDir = abs
	if len(c.Roles) == 0 {
		c.Roles = AllRoles
	}
	for _, r := range c.Roles {
		if !slices.Contains(AllRoles, r) {
			return c, fmt.Errorf("unknown role %q: want a comma-separated subset of %s", r, strings.Join(AllRoles, ","))
		}
	}
	if c.SyncInterval < 0 {
		return c, fmt.Errorf("--sync-interval %s: want a positive duration such as 15m, or 0 to turn periodic sync off", c.SyncInterval)
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = 15 * time.Minute
	}
	if c.MaxCloneBytes == 0 {
		c.MaxCloneBytes = 200 << 20
	}
	if c.CloneTimeout == 0 {
		c.CloneTimeout = 5 * time.Minute
	}
	// Durations where zero is the default and a negative value is refused.
	for _, d := range []struct {
		v        *time.Duration
		def      time.Duration
		flag, eg string
	}{
		{&c.EventRetention, 7 * 24 * time.Hour, "--event-retention", "168h"},
		{&c.TimelineRetention, 30 * 24 * time.Hour, "--timeline-retention", "720h"},
		{&c.BuildRetention, 30 * 24 * time.Hour, "--build-retention", "720h"},
		{&c.LaunchRetention, 30 * 24 * time.Hour, "--launch-retention", "720h"},
		{&c.StatsRetention, DefaultStatsRetention, "--stats-retention", "9600h"},
		{&c.HealthInterval, 30 * time.Second, "--health-interval", "30s"},
	} {
		if *d.v < 0 {
			return c, fmt.Errorf("%s %s: want a positive duration such as %s", d.flag, *d.v, d.eg)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if err := c.checkRuntime(); err != nil {
		return c, err
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return c, fmt.Errorf("--addr %q: want host:port, e.g. 127.0.0.1:7070: %w", c.Addr, err)
	}
	for _, s := range []struct{ flag, value string }{
		{"--token (APPSTORE_TOKEN)", c.Token},
		{"--service-token (APPSTORE_SERVICE_TOKEN)", c.ServiceToken},
		{"--webhook-secret (APPSTORE_WEBHOOK_SECRET)", c.WebhookSecret},
	} {
		if s.value != "" && len(s.value) < MinTokenLen {
			return c, fmt.Errorf("%s is %d bytes, too short to resist guessing: use at least %d random bytes, e.g. the output of `openssl rand -hex 32`", s.flag, len(s.value), MinTokenLen)
		}
	}
	// A process without the api role serves only its health: it needs no
	// token, but takes the exposed Git and service policies all the same
	// (give it the API's --allowed-host).
	if c.Exposed() && c.Token == "" && c.HasRole(RoleAPI) {
		return c, errors.New("appstored is exposed (" + c.exposedBecause() + ") and has no token: anyone who can reach it could change the catalog and start apps. " +
			"Set --token (APPSTORE_TOKEN), e.g. APPSTORE_TOKEN=$(openssl rand -hex 32), or keep it local-only: --addr 127.0.0.1:7070 and no --allowed-host beyond loopback names")
	}
	return c, nil
}

// MinTokenLen is the shortest --token, --service-token and
// --webhook-secret accepted, in bytes.
const MinTokenLen = 16

// Check fills the defaults and reports what is wrong with the
// configuration, as Start would, without starting anything: appstored
// calls it to refuse a bad configuration before it opens the database.
func (c Config) Check() error {
	_, err := c.withDefaults()
	return err
}

// Loopback reports whether Addr only accepts local connections.
func (c Config) Loopback() bool {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return false
	}
	return isLoopbackName(host)
}

// Exposed reports whether clients beyond this host can reach the daemon:
// it listens beyond loopback, or an --allowed-host names a host that is not
// a loopback name (the daemon sits behind a proxy that forwards that name
// to it). A local-only daemon trusts its clients as much as the host's
// users; an exposed one needs a token, refuses local repositories unless
// AllowLocalRepos, private Git addresses unless GitAllowPrivate, and
// loopback services unless ServiceAllowLoopback.
func (c Config) Exposed() bool { return c.exposedBecause() != "" }

// exposedBecause says why the daemon is exposed, or "" when it is not.
func (c Config) exposedBecause() string {
	if !c.Loopback() {
		return "--addr " + c.Addr + " is not a loopback address"
	}
	for _, h := range c.AllowedHosts {
		if !isLoopbackName(strings.TrimPrefix(h, "*.")) {
			return "--allowed-host " + h + " names a host beyond loopback, reached through a proxy"
		}
	}
	return ""
}

// isLoopbackName reports whether host (without port) names this host
// only: localhost, *.localhost (RFC 6761), 127.0.0.0/8, ::1.
func isLoopbackName(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// HasRole reports whether this process takes role.
func (c Config) HasRole(role string) bool { return slices.Contains(c.Roles, role) }
