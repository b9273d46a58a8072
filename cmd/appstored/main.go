// Command appstored is the appstore daemon: API, workers, runner and event
// stream in one process. See docs/operations.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/builder"
	"github.com/appstore-dev/appstore/daemon/runner"
	"github.com/appstore-dev/appstore/daemon/thumbnail"
)

// Set by the linker (see Makefile).
var (
	version = "dev"
	commit  = ""
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `appstored — the appstore daemon

Usage:
  appstored [flags]            serve the API, run workers and the runner
  appstored migrate [flags]    apply database migrations and exit
  appstored users add <name> [--role admin|member|viewer] [flags]
                               add an account (the first admin of a server) and
                               print its personal token; the daemon may run
  appstored users token <name> [flags]
                               replace an account's token and print the new one
  appstored secrets rotate-key [flags]
                               move every app secret to a new key, replace
                               the key file (--secret-key-file) and exit
  appstored version            print the version

Every flag has an environment variable: --database-url is APPSTORE_DATABASE_URL,
--addr is APPSTORE_ADDR, and so on. Flags win over the environment.

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var usersCmd, userName string
	switch cmd {
	case "version":
		fmt.Fprintf(stdout, "appstored %s %s\n", version, commit)
		return 0
	case "serve", "migrate":
	case "users":
		if len(args) < 2 || (args[0] != "add" && args[0] != "token") || strings.HasPrefix(args[1], "-") {
			fmt.Fprintln(stderr, "appstored: usage: appstored users add <name> [--role admin|member|viewer] [flags], or appstored users token <name> [flags]")
			return 2
		}
		usersCmd, userName, args = args[0], args[1], args[2:]
	case "secrets":
		if len(args) == 0 || args[0] != "rotate-key" {
			fmt.Fprintf(stderr, "appstored: secrets needs a command: appstored secrets rotate-key [flags]\n")
			return 2
		}
		cmd, args = "rotate-key", args[1:]
	case "help":
		args = []string{"-h"}
	default:
		fmt.Fprintf(stderr, "appstored: unknown command %q (want serve, migrate, users, secrets rotate-key or version)\n", cmd)
		return 2
	}

	fs := flag.NewFlagSet("appstored", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var cfg daemon.Config
	var roles, allowedHosts, logFormat, logLevel string
	var registryFlag, registryAuthFile, swarmConstraints string
	var warmPool int64
	defaultData, _ := daemon.DefaultDataDir()
	env := envFlags{fs: fs}
	env.String(&cfg.Addr, "addr", daemon.DefaultAddr, "listen address: the API, or only /healthz, /readyz, /metrics and /api/v1/version for a process without the api role")
	env.String(&cfg.DataDir, "data-dir", defaultData, "state directory (embedded PostgreSQL, caches)")
	env.String(&cfg.DatabaseURL, "database-url", "", "PostgreSQL URL; empty starts an embedded cluster under --data-dir")
	env.String(&cfg.RedisURL, "redis-url", "", "Redis URL for the asynq queue; empty runs jobs in process")
	env.String(&cfg.Token, "token", "", "the daemon token: an admin's bearer token for changes, beside the accounts' personal tokens (appstored users add); at least 16 bytes (openssl rand -hex 32); required when appstored is exposed (--addr beyond loopback, or an --allowed-host beyond it)")
	env.String(&allowedHosts, "allowed-host", "", "extra comma-separated host names accepted in Host/Origin headers; a name beyond loopback makes appstored exposed")
	env.String(&cfg.SecretKeyFile, "secret-key-file", "", "file with the key that encrypts the apps' secrets (32 bytes in base64); empty: secrets.key in --data-dir, created at the first start. Every process of one catalog needs the same key")
	env.String(&roles, "roles", strings.Join(daemon.AllRoles, ","), "comma-separated roles of this process: api, worker, runner")
	env.Bool(&cfg.GitAllowPrivate, "git-allow-private", false, "allow Git URLs that resolve to private addresses when appstored is exposed (a local-only one always does)")
	env.Bool(&cfg.AllowLocalRepos, "allow-local-repos", false, "allow file:// URLs and local paths when appstored is exposed (a trusted server: token holders can read its disk)")
	env.Duration(&cfg.SyncInterval, "sync-interval", 15*time.Minute, "how often remotes are checked for new commits; 0: never (only refresh and push webhooks re-ingest)")
	env.String(&cfg.WebhookSecret, "webhook-secret", "", "secret that signs push webhooks (GitHub, GitLab, Gitea)")
	env.Int64(&cfg.MaxCloneBytes, "max-clone-size", 200<<20, "largest repository a clone may transfer, in bytes")
	env.Duration(&cfg.CloneTimeout, "clone-timeout", 5*time.Minute, "time limit of a clone")
	env.Int64(&cfg.IngestConcurrency, "ingest-concurrency", 4, "ingestions (clone + metadata) this process runs at once; more wait queued")
	env.Duration(&cfg.EventRetention, "event-retention", 7*24*time.Hour, "how long events are kept for replay; older ones are pruned")
	env.Duration(&cfg.TimelineRetention, "timeline-retention", 30*24*time.Hour, fmt.Sprintf("how long ingestion timeline steps are kept; older ones are pruned, except the newest %d of each repository", daemon.TimelineKeep))
	env.String(&cfg.ServiceToken, "service-token", "", "token that services and operators send to register, change and import services; empty disables those routes")
	env.Duration(&cfg.HealthInterval, "health-interval", 30*time.Second, "how often registered services are health-checked (a service may set its own)")
	env.Bool(&cfg.ServiceAllowLoopback, "service-allow-loopback", false, "allow services whose health or base URL is on loopback when appstored is exposed (a local-only one always does)")
	env.Duration(&cfg.BuildRetention, "build-retention", 30*24*time.Hour, fmt.Sprintf("how long finished builds and their logs are kept; older ones are pruned, except the newest %d of each repository and those a launch uses", daemon.BuildKeep))
	env.Duration(&cfg.LaunchRetention, "launch-retention", 30*24*time.Hour, "how long finished launches (stopped, failed, expired) are kept; older ones are pruned")
	env.Duration(&cfg.StatsRetention, "stats-retention", daemon.DefaultStatsRetention, "how long each app's daily usage (launches, preview requests, visitors, active minutes) is kept; older days are pruned")
	var maxMemory, maxCPUs string
	env.String(&cfg.PreviewDomain, "preview-domain", runner.DefaultPreviewDomain, "wildcard domain of preview URLs, <slug>.<domain>; may carry a scheme and port (https://apps.example.com)")
	env.Duration(&cfg.IdleTimeout, "idle-timeout", runner.DefaultIdleTimeout, "stop launches that served no request for this long (scale to zero; the next request wakes them); negative: never")
	env.Duration(&cfg.StartupTimeout, "startup-timeout", runner.DefaultStartupTimeout, "time an app has to answer on its port before its launch fails")
	env.Duration(&cfg.LaunchTTL, "launch-ttl", runner.DefaultTTL, "lifetime of a launch that asks for none")
	env.Int64(&warmPool, "warm-pool", 0, "started containers kept ready for the apps tagged warm:true and the most launched ones")
	env.String(&cfg.AppNetwork, "app-network", runner.DefaultNetwork, "Docker network of app containers, created when missing without traffic between containers (with --runtime swarm: appstore-apps-swarm, swarm-scoped); bridge: the engine's default network")
	env.String(&maxMemory, "max-memory", "", "largest memory a launch may get (e.g. 512MiB); larger resource profiles are refused; empty: no limit")
	env.String(&maxCPUs, "max-cpus", "", "most CPUs a launch may get (e.g. 1.5); larger resource profiles are refused; empty: no limit")
	env.Int64(&cfg.MaxPids, "max-pids", 0, "most processes a launch may run; larger resource profiles are refused; 0: no limit")
	var maxRunning int64
	var maxRunningMemory string
	env.Int64(&maxRunning, "max-running", runner.DefaultMaxRunning, "most launches this runner runs at once; past it a launch or wake is refused (429) unless --evict-idle; 0: no cap")
	env.String(&maxRunningMemory, "max-running-memory", "", "most memory the running launches' limits may add up to (e.g. 8GiB); past it a launch or wake is refused (429) unless --evict-idle; empty: no cap")
	var catalogMaxRunning int64
	var catalogMaxRunningMemory string
	env.Int64(&catalogMaxRunning, "catalog-max-running", 0, "most launches every runner of the catalogue runs at once, counted in the database when each launch is recorded (give every runner the same value); past it a launch or wake is refused (429) unless --evict-idle finds an idle app on this runner; 0: no cap")
	env.String(&catalogMaxRunningMemory, "catalog-max-running-memory", "", "most memory the running launches of every runner of the catalogue may add up to in limits (e.g. 64GiB); as --catalog-max-running; empty: no cap")
	env.Bool(&cfg.EvictIdle, "evict-idle", false, "at a cap (--max-running, --max-running-memory, --catalog-max-running, --catalog-max-running-memory), put this runner's least recently used idle app to sleep to make room instead of refusing the launch")
	env.Bool(&cfg.Thumbnails, "thumbnails", true, "take a screenshot of each new build's page for its card, in a headless Chromium, when a launch of it first answers")
	env.String(&cfg.Chromium, "chromium", "", "the Chromium (or Chrome) that takes thumbnails; empty: chromium, chromium-browser or google-chrome on PATH")
	env.Duration(&cfg.ThumbnailLoadTimeout, "thumbnail-load-timeout", thumbnail.DefaultLoadTimeout, "how long a page may take to load before its thumbnail is given up (with a warning in the app's timeline)")
	var buildConcurrency, keepImages int64
	var buildCacheSize string
	env.Duration(&cfg.BuildTimeout, "build-timeout", builder.DefaultTimeout, "time limit of one image build")
	env.Int64(&buildConcurrency, "build-concurrency", builder.DefaultConcurrency, "image builds this process runs at once")
	env.Int64(&cfg.BuildLogLimit, "build-log-limit", builder.DefaultLogLimit, "bytes of a build's log kept in the database; the rest is cut with a marker")
	env.Int64(&keepImages, "keep-images", builder.DefaultKeepImages, "images kept per repository; older ones are pruned unless a launch uses them")
	env.String(&cfg.BuildNetwork, "build-network", "", "network of build steps (RUN): empty for the engine's default bridge, none to cut builds off, or a network name (builds then use the classic builder); host is refused")
	env.Bool(&cfg.BuildAllowRemoteAdd, "build-allow-remote-add", false, "let ADD fetch URLs written out in a Dockerfile whose host the Git address policy admits (appstored fetches them); off: every ADD <url> is refused")
	env.String(&buildCacheSize, "build-cache-size", "5GiB", "build cache the Docker engine keeps for builds (BuildKit's cache, cache mounts included); the cleanup trims it to this size")
	env.String(&registryFlag, "registry", "", "image registry HOST[:PORT][/PREFIX] that every build pushes to, so that Swarm nodes pull the apps from it; credentials from --registry-auth-file or APPSTORE_REGISTRY_USERNAME/APPSTORE_REGISTRY_PASSWORD")
	env.String(&registryAuthFile, "registry-auth-file", "", "file with the registry's credentials: one line user:password, or {\"username\": …, \"password\": …}")
	env.String(&cfg.Runtime, "runtime", "docker", "where launches run: docker (containers on this host's engine) or swarm (services on the Swarm this engine manages)")
	env.String(&swarmConstraints, "swarm-constraint", "", "comma-separated placement constraints of Swarm launches, e.g. node.labels.appstore==apps")
	env.String(&logFormat, "log-format", "text", "log format: text or json")
	env.String(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	var role string
	if cmd == "users" {
		// Not an environment variable: it belongs to this one command.
		fs.StringVar(&role, "role", "member", "role of the account that users add makes: admin, member or viewer")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := env.err; err != nil {
		fmt.Fprintf(stderr, "appstored: %v\n", err)
		return 2
	}
	if err := runnerFlags(&cfg, warmPool, maxMemory, maxCPUs); err != nil {
		fmt.Fprintf(stderr, "appstored: %v\n", err)
		return 2
	}
	if err := quotaFlags(&cfg, maxRunning, maxRunningMemory); err != nil {
		fmt.Fprintf(stderr, "appstored: %v\n", err)
		return 2
	}
	if err := catalogQuotaFlags(&cfg, catalogMaxRunning, catalogMaxRunningMemory); err != nil {
		fmt.Fprintf(stderr, "appstored: %v\n", err)
		return 2
	}
	if err := buildFlags(&cfg, buildConcurrency, keepImages, buildCacheSize); err != nil {
		fmt.Fprintf(stderr, "appstored: %v\n", err)
		return 2
	}
	if err := registryFlags(&cfg, registryFlag, registryAuthFile, swarmConstraints); err != nil {
		fmt.Fprintf(stderr, "appstored: %v\n", err)
		return 2
	}
	if err := syncFlag(&cfg); err != nil {
		fmt.Fprintf(stderr, "appstored: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "appstored: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	logger, err := newLogger(stderr, logFormat, logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "appstored: %v\n", err)
		return 2
	}
	cfg.Logger = logger
	cfg.Roles = splitList(roles)
	cfg.AllowedHosts = splitList(allowedHosts)
	cfg.Version, cfg.Commit = version, commit
	if err := cfg.Check(); err != nil {
		// A configuration that would be refused at start (an exposed
		// daemon without a token, a short token…) is refused before
		// anything opens, with the reason on its own line.
		fmt.Fprintf(stderr, "appstored: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "users":
		return runUsers(ctx, cfg, usersCmd, userName, role, stdout, stderr)
	case "migrate":
		applied, err := daemon.Migrate(ctx, cfg)
		if err != nil {
			logger.Error("migrate failed", "err", err)
			return 1
		}
		fmt.Fprintf(stdout, "applied %d migration(s) %v\n", len(applied), applied)
		return 0
	case "rotate-key":
		rot, err := daemon.RotateSecretKey(ctx, cfg)
		if err != nil {
			logger.Error("rotate the secrets key failed", "err", err)
			return 1
		}
		fmt.Fprintf(stdout, "resealed %d secret(s): key %s replaced by %s\n", rot.Resealed, rot.OldKeyID, rot.NewKeyID)
		return 0
	}
	if err := daemon.Run(ctx, cfg); err != nil {
		logger.Error("appstored failed", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// envFlags defines flags whose defaults come from APPSTORE_<NAME>.
type envFlags struct {
	fs  *flag.FlagSet
	err error
}

func envName(name string) string {
	return "APPSTORE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func (e *envFlags) lookup(name string) (string, bool) {
	v, ok := os.LookupEnv(envName(name))
	return v, ok && v != ""
}

func (e *envFlags) String(p *string, name, def, help string) {
	if v, ok := e.lookup(name); ok {
		def = v
	}
	e.fs.StringVar(p, name, def, help+" ("+envName(name)+")")
}

func (e *envFlags) Bool(p *bool, name string, def bool, help string) {
	if v, ok := e.lookup(name); ok {
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on":
			def = true
		case "0", "false", "no", "off":
			def = false
		default:
			e.err = errors.Join(e.err, fmt.Errorf("%s=%q: want true or false", envName(name), v))
		}
	}
	e.fs.BoolVar(p, name, def, help+" ("+envName(name)+")")
}

func (e *envFlags) Duration(p *time.Duration, name string, def time.Duration, help string) {
	if v, ok := e.lookup(name); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			e.err = errors.Join(e.err, fmt.Errorf("%s=%q: want a duration such as 15m", envName(name), v))
		} else {
			def = d
		}
	}
	e.fs.DurationVar(p, name, def, help+" ("+envName(name)+")")
}

func (e *envFlags) Int64(p *int64, name string, def int64, help string) {
	if v, ok := e.lookup(name); ok {
		var n int64
		if _, err := fmt.Sscan(v, &n); err != nil {
			e.err = errors.Join(e.err, fmt.Errorf("%s=%q: want a number", envName(name), v))
		} else {
			def = n
		}
	}
	e.fs.Int64Var(p, name, def, help+" ("+envName(name)+")")
}

// quotaFlags converts the runner's caps: --max-running 0 is no cap.
func quotaFlags(cfg *daemon.Config, maxRunning int64, maxRunningMemory string) error {
	switch {
	case maxRunning < 0 || maxRunning > 100000:
		return fmt.Errorf("--max-running %d: want a number of launches from 1 to 100000, or 0 for no cap", maxRunning)
	case maxRunning == 0:
		cfg.MaxRunning = -1
	default:
		cfg.MaxRunning = int(maxRunning)
	}
	if maxRunningMemory != "" {
		n, err := runner.ParseBytes(maxRunningMemory)
		if err != nil {
			return fmt.Errorf("--max-running-memory: %w", err)
		}
		cfg.MaxRunningMemory = n
	}
	return nil
}

// catalogQuotaFlags converts the catalogue's caps: 0 and empty are none.
func catalogQuotaFlags(cfg *daemon.Config, maxRunning int64, maxRunningMemory string) error {
	if maxRunning < 0 || maxRunning > 100000 {
		return fmt.Errorf("--catalog-max-running %d: want a number of launches from 1 to 100000, or 0 for no cap", maxRunning)
	}
	cfg.CatalogMaxRunning = int(maxRunning)
	if maxRunningMemory != "" {
		n, err := runner.ParseBytes(maxRunningMemory)
		if err != nil {
			return fmt.Errorf("--catalog-max-running-memory: %w", err)
		}
		cfg.CatalogMaxRunningMemory = n
	}
	return nil
}

// runnerFlags converts the runner's flags that are not plain numbers.
func runnerFlags(cfg *daemon.Config, warmPool int64, maxMemory, maxCPUs string) error {
	if warmPool < 0 || warmPool > 1000 {
		return fmt.Errorf("--warm-pool %d: want a number of containers from 0 to 1000", warmPool)
	}
	cfg.WarmPool = int(warmPool)
	if maxMemory != "" {
		n, err := runner.ParseBytes(maxMemory)
		if err != nil {
			return fmt.Errorf("--max-memory: %w", err)
		}
		cfg.MaxMemory = n
	}
	if maxCPUs != "" {
		f, err := strconv.ParseFloat(strings.TrimSpace(maxCPUs), 64)
		if err != nil || f < 0 {
			return fmt.Errorf("--max-cpus %q: want a number of CPUs such as 1.5", maxCPUs)
		}
		cfg.MaxCPUs = f
	}
	return nil
}

// buildFlags checks the build flags that daemon.Config holds as int.
func buildFlags(cfg *daemon.Config, concurrency, keepImages int64, cacheSize string) error {
	if concurrency < 1 || concurrency > 64 {
		return fmt.Errorf("--build-concurrency %d: want a number of builds from 1 to 64", concurrency)
	}
	if keepImages < 1 || keepImages > 1000 {
		return fmt.Errorf("--keep-images %d: want a number of images from 1 to 1000 (the newest build's image is always kept)", keepImages)
	}
	cfg.BuildConcurrency, cfg.KeepImages = int(concurrency), int(keepImages)
	n, err := runner.ParseBytes(cacheSize)
	if err != nil || n < 1<<20 {
		return fmt.Errorf("--build-cache-size %q: want a size of at least 1MiB such as 5GiB", cacheSize)
	}
	cfg.BuildCacheSize = n
	return nil
}

// syncFlag turns --sync-interval 0 into Config.SyncOff (Config keeps zero
// for "the default", like its other fields) and refuses negative values.
func syncFlag(cfg *daemon.Config) error {
	switch {
	case cfg.SyncInterval < 0:
		return fmt.Errorf("--sync-interval %s: want a positive duration such as 15m, or 0 to turn periodic sync off", cfg.SyncInterval)
	case cfg.SyncInterval == 0:
		cfg.SyncOff = true
	}
	return nil
}

// runUsers is "appstored users add|token <name>": it works on the database
// directly, so that a server gets its first admin before anyone has a
// token. The token goes alone to stdout, for TOKEN=$(appstored users add …).
func runUsers(ctx context.Context, cfg daemon.Config, sub, name, role string, stdout, stderr io.Writer) int {
	var token string
	var err error
	switch sub {
	case "add":
		r, perr := catalog.ParseRole(role)
		if perr != nil {
			fmt.Fprintf(stderr, "appstored: --role %q: want admin, member or viewer\n", role)
			return 2
		}
		if verr := catalog.ValidateUserName(name); verr != nil {
			fmt.Fprintf(stderr, "appstored: %v\n", verr)
			return 2
		}
		token, err = daemon.AddUser(ctx, cfg, name, r)
	case "token":
		token, err = daemon.ReplaceUserToken(ctx, cfg, name)
	}
	if err != nil {
		fmt.Fprintf(stderr, "appstored: users %s %s: %v\n", sub, name, err)
		if errors.Is(err, catalog.ErrConflict) || errors.Is(err, catalog.ErrNotFound) || errors.Is(err, catalog.ErrInvalid) {
			return 2
		}
		return 1
	}
	fmt.Fprintf(stderr, "appstored: %s's personal token follows, shown this once (the database keeps only its hash); they use it as APPSTORE_TOKEN\n", name)
	fmt.Fprintln(stdout, token)
	return 0
}
