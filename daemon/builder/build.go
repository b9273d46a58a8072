// Package builder turns a repository's commit into an image on the Docker
// engine of the runner host. A Worker handles queue.KindBuild jobs: it
// claims the build in PostgreSQL (queued → running, with a lease it
// renews), reuses a cached image when the same commit, Dockerfile and
// context were built before, else gets the commit's source (a per-
// repository checkout cache) and builds it on the engine's BuildKit with
// the Dockerfile frontend running in this process (the classic builder
// for engines without BuildKit), behind a guard that checks what the
// expanded Dockerfile would fetch; it streams the progress line by line
// into build_logs and records how it ended (succeeded, failed with the
// step that failed, cancelled). Its reconciler puts back builds whose
// worker died, prunes superseded images and trims the build cache.
package builder

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	dockerbuild "github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/appconfig"
	"github.com/appstore-dev/appstore/daemon/queue"
	"github.com/appstore-dev/appstore/daemon/registry"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// Defaults of Options.
const (
	DefaultTimeout     = 20 * time.Minute
	DefaultConcurrency = 2
	DefaultLogLimit    = 2 << 20
	DefaultKeepImages  = 3
	DefaultLease       = 10 * time.Second
	DefaultMaxAttempts = 3
	DefaultReconcile   = 5 * time.Second
	DefaultPrune       = 10 * time.Minute
	DefaultPruneGrace  = 2 * time.Minute
	DefaultEngineWait  = time.Minute
	DefaultCacheSize   = 5 << 30
)

// enginePoll is how often a build that waits for the engine asks it again.
const enginePoll = 500 * time.Millisecond

// Image labels set on every image the worker builds.
const (
	LabelRepository = "appstore.repository" // the repository's slug
	LabelCommit     = "appstore.commit"     // the commit built
	LabelBuild      = "appstore.build"      // the build id
	// LabelCatalog is the identity of the catalog (store.CatalogID): the
	// pruner only touches images of its own catalog.
	LabelCatalog = "appstore.catalog"
)

// Options configure a Worker. Zero values mean the defaults.
type Options struct {
	Store  *store.Store
	Engine Engine
	// Queue receives the jobs the reconciler puts back.
	Queue queue.Enqueuer
	// SourceDir holds the per-repository checkout cache.
	SourceDir string
	// GitPolicy, CloneTimeout and MaxCloneBytes bound the clones of the
	// checkout cache, as they bound ingestion's.
	GitPolicy     giturl.Policy
	CloneTimeout  time.Duration
	MaxCloneBytes int64
	// LocalCheckout, when set, offers a checkout kept by ingestion.
	LocalCheckout LocalCheckout
	// AppConfig gives BuildKit builds the app's secrets (RUN
	// --mount=type=secret,id=NAME) and redacts them from build logs and
	// errors; nil: builds get no secrets.
	AppConfig *appconfig.Service

	// Timeout bounds one build (DefaultTimeout).
	Timeout time.Duration
	// Concurrency is how many builds this process runs at once
	// (DefaultConcurrency); further jobs wait with their build queued.
	Concurrency int
	// LogLimit caps the stored log of one build in bytes (DefaultLogLimit).
	LogLimit int64
	// KeepImages is how many images the pruner keeps per repository
	// (DefaultKeepImages).
	KeepImages int
	// Network is the network of the builds' RUN steps: "" for the
	// engine's default (its bridge), "none" for none, or a network name.
	// Never "host": RUN steps would reach the host's loopback services.
	// BuildKit puts RUN steps on the default network or none; a network
	// name makes builds use the classic builder.
	Network string
	// AllowRemoteAdd admits ADD <url> (BuildKit only) for URLs written
	// out in the Dockerfile whose host GitPolicy admits: appstored fetches
	// them itself, checking every connection (--build-allow-remote-add).
	// Off, every remote ADD is refused.
	AllowRemoteAdd bool
	// MaxRemoteBytes bounds one fetched file (DefaultMaxRemoteBytes).
	MaxRemoteBytes int64
	// CacheSize is how much build cache the engine keeps: the pruner
	// trims BuildKit's cache to it (DefaultCacheSize; --build-cache-size).
	CacheSize int64
	// Registry, when set, receives every succeeded build's image (pushed
	// as HOST[/PREFIX]/appstore/<slug>:<commit>, its digest recorded), and
	// pruning deletes there what it removes from the engine (--registry).
	Registry *registry.Registry

	// Lease is how long a running build stays claimed without a renewal;
	// the worker renews it every second (DefaultLease). The reconciler
	// takes back builds whose lease expired.
	Lease time.Duration
	// MaxAttempts is how many times a build may be started before one
	// more interruption fails it (DefaultMaxAttempts).
	MaxAttempts int
	// ReconcileInterval and PruneInterval pace the reconciler
	// (DefaultReconcile, DefaultPrune).
	ReconcileInterval time.Duration
	PruneInterval     time.Duration
	// PruneGrace protects images younger than this from the pruner: the
	// build that made one may not have recorded it yet (DefaultPruneGrace;
	// negative: none).
	PruneGrace time.Duration

	// EngineWait is how long a build job waits for an unreachable engine,
	// asking it every half second, before it hands the job back to the
	// queue for a later try (DefaultEngineWait; negative: no wait). Waiting
	// here, rather than in the queue's backoff, starts the build within a
	// second of the engine's return (a dockerd restart); the queue's
	// retries still bound the whole wait.
	EngineWait time.Duration

	// Name identifies this worker in builds.worker (default host:pid:random).
	Name   string
	Logger *slog.Logger
}

// Worker runs builds. It is safe for concurrent use.
type Worker struct {
	opts    Options
	store   *store.Store
	engine  Engine
	logger  *slog.Logger
	sources *sources
	bk      *buildkit
	fetch   fetchPolicy
	slots   chan struct{}
	name    string
	catalog string // store.CatalogID

	pruneSoon chan struct{} // a build succeeded: prune at the next chance
	// engineUse is held shared by builds and exclusively by pruning.
	engineUse sync.RWMutex

	mu      sync.Mutex
	running map[int64]context.CancelCauseFunc
}

// orDefault is v, or def when v is zero or negative (unset).
func orDefault[T ~int | ~int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// New checks opts and returns a Worker.
func New(ctx context.Context, opts Options) (*Worker, error) {
	if opts.Store == nil || opts.Engine == nil {
		return nil, errors.New("build: Store and Engine are required")
	}
	if opts.SourceDir == "" {
		return nil, errors.New("build: SourceDir is required")
	}
	opts.Timeout = orDefault(opts.Timeout, DefaultTimeout)
	opts.Concurrency = orDefault(opts.Concurrency, DefaultConcurrency)
	opts.LogLimit = orDefault(opts.LogLimit, DefaultLogLimit)
	opts.KeepImages = orDefault(opts.KeepImages, DefaultKeepImages)
	opts.Lease = orDefault(opts.Lease, DefaultLease)
	opts.MaxAttempts = orDefault(opts.MaxAttempts, DefaultMaxAttempts)
	opts.ReconcileInterval = orDefault(opts.ReconcileInterval, DefaultReconcile)
	opts.PruneInterval = orDefault(opts.PruneInterval, DefaultPrune)
	opts.MaxRemoteBytes = orDefault(opts.MaxRemoteBytes, DefaultMaxRemoteBytes)
	opts.CacheSize = orDefault(opts.CacheSize, DefaultCacheSize)
	// Only zero takes these defaults: negative means none.
	opts.PruneGrace = cmp.Or(opts.PruneGrace, DefaultPruneGrace)
	opts.EngineWait = cmp.Or(opts.EngineWait, DefaultEngineWait)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Name == "" {
		host, _ := os.Hostname()
		opts.Name = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), randomHex(3))
	}
	if err := os.MkdirAll(opts.SourceDir, 0o700); err != nil {
		return nil, fmt.Errorf("build: source cache: %w", err)
	}
	catalogID, err := opts.Store.CatalogID(ctx)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	return &Worker{
		catalog: catalogID,
		opts:    opts,
		store:   opts.Store,
		engine:  opts.Engine,
		logger:  opts.Logger,
		sources: &sources{dir: opts.SourceDir, policy: opts.GitPolicy, timeout: opts.CloneTimeout,
			maxBytes: opts.MaxCloneBytes, logger: opts.Logger, local: opts.LocalCheckout},
		bk:        &buildkit{engine: opts.Engine, network: opts.Network},
		fetch:     fetchPolicy{git: opts.GitPolicy},
		slots:     make(chan struct{}, opts.Concurrency),
		name:      opts.Name,
		running:   map[int64]context.CancelCauseFunc{},
		pruneSoon: make(chan struct{}, 1),
	}, nil
}

// Name is this worker's identity in builds.worker.
func (w *Worker) Name() string { return w.name }

// Close releases the worker's connection to BuildKit.
func (w *Worker) Close() error {
	w.bk.close()
	return nil
}

// transientError is a build failure that another try may not have.
type transientError struct{ msg string }

func (e *transientError) Error() string { return e.msg }

// Causes of a build's context ending, told apart with context.Cause.
var (
	errCancelled = errors.New("cancelled by request")
	errTimedOut  = errors.New("build timed out")
	errLeaseLost = errors.New("lease lost")
)

// Cancel stops a build running in this process at once, and reports
// whether there was one. The API calls it after recording the request, so
// that a build in this process does not wait for the next lease renewal
// to notice; builds in other processes notice within a second.
func (w *Worker) Cancel(buildID int64) bool {
	w.mu.Lock()
	cancel, ok := w.running[buildID]
	w.mu.Unlock()
	if ok {
		cancel(errCancelled)
	}
	return ok
}

// Handle is the queue.Handler of queue.KindBuild jobs.
func (w *Worker) Handle(ctx context.Context, job queue.Job) error {
	ctx = catalog.WithCause(ctx, catalog.CauseBuild)
	if job.Kind != queue.KindBuild || job.BuildID <= 0 {
		return queue.Permanent(fmt.Errorf("build worker got a %s job without a build id", job.Kind))
	}
	// Wait for a slot with the build still queued: it can be cancelled
	// meanwhile, and it shows as waiting, not running.
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-w.slots }()

	// An unreachable engine leaves the build queued, waiting for it
	// (EngineWait), then for the queue's next try; only the last try
	// records the failure.
	engineErr := w.awaitEngine(ctx, job)
	if engineErr != nil && !job.LastAttempt() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.logger.Warn("Docker engine still not reachable; the queue tries the build again later", "build", job.BuildID, "attempt", job.Attempt, "err", engineErr)
		return engineErr
	}

	// While PostgreSQL restarts, wait for it here (bounded) rather than
	// in the queue's backoff.
	var work *store.BuildWork
	var claimed bool
	waitCtx, cancelWait := context.WithTimeout(ctx, finishTimeout)
	err := store.WhileUnavailable(waitCtx, func() (err error) {
		work, claimed, err = w.store.ClaimBuild(ctx, job.BuildID, w.name, w.opts.Lease)
		return err
	})
	cancelWait()
	if errors.Is(err, catalog.ErrNotFound) {
		// Deleted with its repository: nothing to do, ever.
		return queue.Permanent(err)
	}
	if err != nil {
		return err
	}
	if !claimed {
		w.logger.Debug("build not claimed", "build", job.BuildID, "status", work.Status)
		return nil
	}
	log := w.logger.With("build", work.ID, "repository", work.Repository, "commit", textutil.ShortSHA(work.CommitSHA), "attempt", work.Attempts)
	if engineErr != nil {
		_, err := w.finish(ctx, work, nil, store.BuildOutcome{Status: catalog.BuildFailed, Error: engineErr.Error()}, log)
		return err
	}
	return w.run(ctx, job, work, log)
}

// awaitEngine pings the engine and, while it does not answer, asks again
// every enginePoll for up to EngineWait. It returns the last error.
func (w *Worker) awaitEngine(ctx context.Context, job queue.Job) error {
	ping := func() error {
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return PingEngine(pingCtx, w.engine)
	}
	err := ping()
	if err == nil || w.opts.EngineWait < 0 {
		return err
	}
	w.logger.Warn("build waits for the Docker engine", "build", job.BuildID, "attempt", job.Attempt, "for", w.opts.EngineWait, "err", err)
	deadline := time.NewTimer(w.opts.EngineWait)
	defer deadline.Stop()
	tick := time.NewTicker(enginePoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return err
		case <-deadline.C:
			return err
		case <-tick.C:
		}
		if err = ping(); err == nil {
			w.logger.Info("Docker engine answers again; the build goes on", "build", job.BuildID)
			return nil
		}
	}
}

// run builds a claimed build and records how it ended.
func (w *Worker) run(ctx context.Context, job queue.Job, work *store.BuildWork, log *slog.Logger) error {
	started := time.Now()
	log.Info("build started")
	// The log outlives the build's context: the lines saying why it was
	// cancelled or timed out must still be stored.
	logs := newLogSink(context.WithoutCancel(ctx), w.store, work.ID, w.opts.LogLimit, log)

	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	bctx, cancelTimeout := context.WithTimeoutCause(bctx, w.opts.Timeout, errTimedOut)
	defer cancelTimeout()
	w.mu.Lock()
	w.running[work.ID] = cancel
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, work.ID)
		w.mu.Unlock()
	}()
	heartbeatDone := make(chan struct{})
	go func() {
		defer close(heartbeatDone)
		w.heartbeat(bctx, work.ID, cancel, log)
	}()

	var secrets map[string][]byte
	var redact *appconfig.Redactor
	var buildErr error
	if w.opts.AppConfig != nil {
		secrets, redact, buildErr = w.opts.AppConfig.Secrets(bctx, work.Repository)
		// The build's log and its error never show a secret's value.
		logs.setRedactor(redact)
	}
	var outcome store.BuildOutcome
	if buildErr == nil {
		outcome, buildErr = w.build(bctx, work, logs, secrets)
	}
	if buildErr != nil && !redact.Empty() {
		buildErr = &redactedError{err: buildErr, msg: redact.String(buildErr.Error())}
	}
	cancel(nil)
	<-heartbeatDone

	cause := context.Cause(bctx)
	switch {
	case errors.Is(cause, errLeaseLost):
		logs.addf("This worker lost the build (its lease expired); another worker has taken it over.")
		_ = logs.close()
		log.Warn("build lease lost; leaving the build to whoever holds it now")
		return nil
	case errors.Is(cause, errCancelled):
		outcome = store.BuildOutcome{Status: catalog.BuildCancelled,
			Error: fmt.Sprintf("cancelled by request after %s", roundDuration(time.Since(started)))}
	case errors.Is(cause, errTimedOut):
		outcome = store.BuildOutcome{Status: catalog.BuildFailed,
			Error: fmt.Sprintf("timed out after %s (--build-timeout)", roundDuration(w.opts.Timeout))}
	case ctx.Err() != nil:
		// appstored is stopping: the build goes back to the queue and a
		// worker starts it again.
		logs.addf("Interrupted: appstored is stopping; the build will start again.")
		_ = logs.close()
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		if err := w.store.RequeueBuild(rctx, work.ID, w.name, "appstored stopped while building"); err != nil && !errors.Is(err, store.ErrLeaseLost) {
			log.Warn("putting the interrupted build back failed; the reconciler will", "err", err)
		}
		return ctx.Err()
	case buildErr != nil:
		var se *sourceError
		var ee *EngineError
		var te *transientError
		transient := errors.As(buildErr, &ee) || errors.As(buildErr, &te) || (errors.As(buildErr, &se) && !se.permanent)
		if transient && !job.LastAttempt() && work.Attempts < w.opts.MaxAttempts {
			logs.addf("error: %s", buildErr)
			logs.addf("The build will be retried.")
			_ = logs.close()
			if err := w.store.RequeueBuild(context.WithoutCancel(ctx), work.ID, w.name, buildErr.Error()); err != nil && !errors.Is(err, store.ErrLeaseLost) {
				log.Warn("putting the build back failed; the reconciler will", "err", err)
			}
			log.Warn("build failed for now; it will be retried", "err", buildErr)
			return buildErr
		}
		outcome = store.BuildOutcome{Status: catalog.BuildFailed, Error: buildErr.Error()}
	}
	return w.finishErr(ctx, work, logs, outcome, log)
}

func (w *Worker) finishErr(ctx context.Context, work *store.BuildWork, logs *logSink, o store.BuildOutcome, log *slog.Logger) error {
	_, err := w.finish(ctx, work, logs, o, log)
	if errors.Is(err, store.ErrLeaseLost) {
		return nil
	}
	return err
}

// finish writes the closing line of the log, stores the log's last batch,
// then records the outcome, in that order: a follower that sees the final
// status has every line.
func (w *Worker) finish(ctx context.Context, work *store.BuildWork, logs *logSink, o store.BuildOutcome, log *slog.Logger) (*catalog.Build, error) {
	ctx = context.WithoutCancel(ctx)
	if logs == nil {
		logs = newLogSink(ctx, w.store, work.ID, w.opts.LogLimit, log)
	}
	switch o.Status {
	case catalog.BuildSucceeded:
		if o.Cached {
			logs.addf("Build succeeded from the cache: %s", o.ImageTag)
		} else {
			logs.addf("Build succeeded: %s (%s)", o.ImageTag, textutil.ShortSHA(o.ImageID))
		}
	case catalog.BuildCancelled:
		logs.addf("Build cancelled: %s", o.Error)
	default:
		logs.addf("Build failed: %s", textutil.FirstLine(o.Error))
	}
	if err := logs.close(); err != nil {
		log.Warn("build log incomplete", "err", err)
	}
	// PostgreSQL restarting must not cost a finished build: its outcome is
	// recorded once the server is back (within the bound), instead of the
	// build being taken back after its lease and done again.
	rctx, cancel := context.WithTimeout(ctx, finishTimeout)
	defer cancel()
	var b *catalog.Build
	err := store.WhileUnavailable(rctx, func() (err error) {
		b, err = w.store.FinishBuild(rctx, work.ID, w.name, o)
		return err
	})
	if err != nil {
		log.Warn("recording the end of the build failed", "status", o.Status, "err", err)
		return nil, err
	}
	var ms int64
	if b.DurationMS != nil {
		ms = *b.DurationMS
	}
	log.Info("build finished", "status", b.Status, "cached", b.Cached, "image", b.ImageTag, "duration_ms", ms,
		"error", textutil.FirstLine(b.ErrorMessage))
	if b.Status == catalog.BuildSucceeded && !b.Cached {
		// A new image may supersede an old one: let the reconciler
		// prune soon, off this build's path.
		select {
		case w.pruneSoon <- struct{}{}:
		default:
		}
	}
	return b, nil
}

// finishTimeout bounds the recording of a build's outcome, retries while
// the database is away included.
const finishTimeout = 30 * time.Second

// heartbeat renews the lease every second and stops the build when its
// cancellation is requested or the lease was lost.
func (w *Worker) heartbeat(ctx context.Context, id int64, cancel context.CancelCauseFunc, log *slog.Logger) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		cancelRequested, err := w.store.RenewBuildLease(rctx, id, w.name, w.opts.Lease)
		rcancel()
		switch {
		case errors.Is(err, store.ErrLeaseLost):
			cancel(errLeaseLost)
			return
		case err != nil:
			if ctx.Err() == nil {
				log.Warn("renewing the build lease failed", "err", err)
			}
		case cancelRequested:
			cancel(errCancelled)
			return
		}
	}
}

// CacheKey identifies what a build produces: the repository, the commit
// (which fixes the content of every file, the Dockerfile's included), the
// Dockerfile path, the context path, and the stage and build arguments
// when there are any. Builds with one key make the same image, so a
// succeeded one is reused.
func CacheKey(repositoryID int64, commit, dockerfile, contextPath, target string, args map[string]string) string {
	h := sha256.New()
	parts := []string{"appstore-build-v1", strconv.FormatInt(repositoryID, 10), commit, dockerfile, contextPath}
	if target != "" || len(args) > 0 {
		// Builds of the final stage without arguments keep the keys
		// they always had.
		parts = append(parts, "target", target)
		for _, k := range slices.Sorted(maps.Keys(args)) {
			parts = append(parts, "arg", k, args[k])
		}
	}
	for _, part := range parts {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ImageTag is the tag of a build's image: appstore/<slug>:<short commit>.
func ImageTag(slug, commit string) string {
	return "appstore/" + slug + ":" + textutil.ShortSHA(commit)
}

// build does the work and returns the outcome. An error is a failure to
// record as failed (or retried, for transient ones); a context ended by
// cancellation or timeout is decided by the caller from its cause. With a
// registry, the image is pushed there before the build counts as
// succeeded.
func (w *Worker) build(ctx context.Context, work *store.BuildWork, logs *logSink, secrets map[string][]byte) (store.BuildOutcome, error) {
	o, err := w.buildImage(ctx, work, logs, secrets)
	if err != nil || o.Status != catalog.BuildSucceeded || w.opts.Registry == nil {
		return o, err
	}
	return w.push(ctx, work, o, logs)
}

// buildImage makes the build's image on the engine (or finds it cached).
func (w *Worker) buildImage(ctx context.Context, work *store.BuildWork, logs *logSink, secrets map[string][]byte) (store.BuildOutcome, error) {
	key := CacheKey(work.RepositoryID, work.CommitSHA, work.DockerfilePath, work.ContextPath, work.Target, work.BuildArgs)
	tag := ImageTag(work.Repository, work.CommitSHA)
	if !work.NoCache {
		if o, ok := w.fromCache(ctx, work, key, tag, logs); ok {
			return o, nil
		}
	}
	choice, bk := w.bk.choose(ctx)
	logs.addf("Building %s at %s with %s: Dockerfile %s%s, context %s%s", work.Repository, textutil.ShortSHA(work.CommitSHA),
		choice, work.DockerfilePath, stageNote(work), displayPath(work.ContextPath), map[bool]string{true: ", without the build cache (--no-cache)", false: ""}[work.NoCache])

	dir, release, err := w.sources.checkout(ctx, work, logs.addf)
	if err != nil {
		return store.BuildOutcome{Builder: choice.Kind}, err
	}
	defer release()
	labels := map[string]string{
		LabelRepository: work.Repository,
		LabelCommit:     work.CommitSHA,
		LabelBuild:      strconv.FormatInt(work.ID, 10),
		LabelCatalog:    w.catalog,
	}
	// The image the tag names now, if any: a rebuild leaves it dangling.
	var previous string
	if img, err := w.engine.ImageInspect(ctx, tag); err == nil {
		previous = img.ID
	}
	var o store.BuildOutcome
	if choice.Kind == BuilderBuildKit {
		o, err = w.buildKitBuild(ctx, bk, work, dir, tag, labels, logs, secrets)
	} else {
		o, err = w.classicBuild(ctx, work, dir, tag, labels, logs)
	}
	o.Builder = choice.Kind
	if err != nil {
		return o, err
	}
	o.CacheKey = key
	if previous != "" && previous != o.ImageID {
		// Off the build's path: the build is done once its image is.
		go func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			w.removeDangling(rctx, previous, tag)
		}()
	}
	return o, nil
}

// removeDangling removes the image a rebuild took the tag from, if
// nothing else names it. An image a container still uses stays: the
// pruner tries again later.
func (w *Worker) removeDangling(ctx context.Context, id, tag string) {
	// Removing takes the image's untagged parents along, which a build
	// running now may be reusing as cache: then the pruner does it later.
	if !w.engineUse.TryLock() {
		w.logger.Debug("builds are running: the image a rebuild replaced waits for the pruner", "image", textutil.ShortSHA(id), "tag", tag)
		return
	}
	defer w.engineUse.Unlock()
	img, err := w.engine.ImageInspect(ctx, id)
	if err != nil || len(img.RepoTags) > 0 || img.Config == nil || img.Config.Labels[LabelCatalog] != w.catalog {
		return
	}
	if _, err := w.engine.ImageRemove(ctx, id, image.RemoveOptions{PruneChildren: true}); err != nil {
		w.logger.Debug("the image a rebuild replaced stays for now", "image", textutil.ShortSHA(id), "tag", tag, "err", err)
		return
	}
	w.logger.Info("removed the image a rebuild replaced", "image", textutil.ShortSHA(id), "tag", tag)
}

// classicBuild builds with the engine's classic builder: the context sent
// as a tar archive, the JSON stream read line by line.
func (w *Worker) classicBuild(ctx context.Context, work *store.BuildWork, dir, tag string, labels map[string]string, logs *logSink) (store.BuildOutcome, error) {
	inline := labels
	if work.Target != "" {
		// A LABEL appended to the Dockerfile would go to its last stage,
		// not the target: the engine's label option goes to the target.
		inline = nil
	}
	bc, err := archiveContext(dir, work.ContextPath, work.DockerfilePath, inline)
	if err != nil {
		return store.BuildOutcome{}, err
	}
	defer bc.tar.Close()
	if err := checkClassicSources(ctx, bc.dockerfileData, work.DockerfilePath, w.engine, work.BuildArgs); err != nil {
		return store.BuildOutcome{}, err
	}
	if bc.ignoreFile != "" {
		logs.addf("Applying %s (%d patterns)", bc.ignoreFile, bc.patterns)
	}

	opts := dockerbuild.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  bc.dockerfile,
		NoCache:     work.NoCache,
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
		Version:     dockerbuild.BuilderV1,
		NetworkMode: w.opts.Network,
		Target:      work.Target,
	}
	if len(work.BuildArgs) > 0 {
		opts.BuildArgs = map[string]*string{}
		for k, v := range work.BuildArgs {
			opts.BuildArgs[k] = &v
		}
	}
	if !bc.labelled {
		opts.Labels = labels
	}
	// Pruning removes untagged parent layers, which a build may be
	// about to reuse as cache: the two never overlap in this process.
	w.engineUse.RLock()
	defer w.engineUse.RUnlock()
	resp, err := w.engine.ImageBuild(ctx, bc.tar, opts)
	if err != nil {
		if ctx.Err() != nil {
			return store.BuildOutcome{}, ctx.Err()
		}
		return store.BuildOutcome{}, w.describeEngineError(work, err)
	}
	defer resp.Body.Close()
	p := &outputParser{emit: logs.add}
	if bc.labelled {
		p.addedSteps = 1
	}
	if err := p.parse(resp.Body); err != nil {
		if ctx.Err() != nil {
			return store.BuildOutcome{}, ctx.Err()
		}
		// The engine went away mid-build (a dockerd restart): another
		// try starts over.
		w.bk.forget()
		return store.BuildOutcome{}, &transientError{msg: fmt.Sprintf("the Docker engine at %s broke off the build: %v", w.engine.DaemonHost(), err)}
	}
	if ctx.Err() != nil {
		return store.BuildOutcome{}, ctx.Err()
	}
	if msg := p.failure(); msg != "" {
		if strings.Contains(p.errMsg, "No such image") || strings.Contains(p.errMsg, `unable to find image "sha256:`) {
			// A cache layer vanished under the build (another
			// appstored or an operator pruned the engine; the engine
			// words it either way): worth another try, which builds
			// that layer again.
			return store.BuildOutcome{}, &transientError{msg: msg}
		}
		return store.BuildOutcome{}, errors.New(msg)
	}
	// The aux message carries the id; inspecting the tag confirms the
	// image is there under the name launches use.
	inspect, err := w.engine.ImageInspect(ctx, tag)
	if err != nil {
		return store.BuildOutcome{}, engineError(w.engine, fmt.Errorf("the engine reported success but %s cannot be inspected: %w", tag, err))
	}
	if p.imageID != "" && p.imageID != inspect.ID {
		return store.BuildOutcome{}, fmt.Errorf("the engine built %s but %s names %s: another build replaced the tag meanwhile", textutil.ShortSHA(p.imageID), tag, textutil.ShortSHA(inspect.ID))
	}
	return store.BuildOutcome{Status: catalog.BuildSucceeded, ImageID: inspect.ID, ImageTag: tag}, nil
}

// fromCache finishes a build from a succeeded build with the same cache
// key whose image is still on the engine, without building.
func (w *Worker) fromCache(ctx context.Context, work *store.BuildWork, key, tag string, logs *logSink) (store.BuildOutcome, bool) {
	prev, err := w.store.CachedBuild(ctx, key, work.ID)
	if err != nil {
		if !errors.Is(err, catalog.ErrNotFound) {
			w.logger.Warn("build cache lookup failed; building", "build", work.ID, "err", err)
		}
		return store.BuildOutcome{}, false
	}
	img, err := w.engine.ImageInspect(ctx, prev.ImageID)
	if err != nil {
		if isNotFound(err) {
			logs.addf("Build #%d made this image before, but %s is gone from the engine: building again", prev.ID, textutil.ShortSHA(prev.ImageID))
		} else {
			logs.addf("Build #%d made this image before, but the engine cannot say if it still has it (%v): building again", prev.ID, textutil.FirstLine(err.Error()))
		}
		return store.BuildOutcome{}, false
	}
	if !slices.Contains(img.RepoTags, tag) {
		if err := w.engine.ImageTag(ctx, img.ID, tag); err != nil {
			logs.addf("Build #%d made this image before, but tagging it as %s failed (%v): building again", prev.ID, tag, textutil.FirstLine(err.Error()))
			return store.BuildOutcome{}, false
		}
	}
	logs.addf("Commit %s, Dockerfile %s and context %s were built by build #%d: reusing its image %s as %s (build with --no-cache to rebuild)",
		textutil.ShortSHA(work.CommitSHA), work.DockerfilePath, displayPath(work.ContextPath), prev.ID, textutil.ShortSHA(img.ID), tag)
	return store.BuildOutcome{Status: catalog.BuildSucceeded, ImageID: img.ID, ImageTag: tag, CacheKey: key, Cached: true}, true
}

// describeEngineError words an error of the build request for people.
func (w *Worker) describeEngineError(work *store.BuildWork, err error) error {
	err = engineError(w.engine, err)
	var ee *EngineError
	if errors.As(err, &ee) {
		return err
	}
	msg := strings.TrimPrefix(err.Error(), "Error response from daemon: ")
	if isInvalid(err) {
		if m := parseErrorRE.FindStringSubmatch(msg); m != nil {
			return fmt.Errorf("%s has a syntax error: %s", work.DockerfilePath, m[1])
		}
		if strings.Contains(msg, "unknown instruction") {
			return fmt.Errorf("%s has a syntax error: %s", work.DockerfilePath, msg)
		}
		return fmt.Errorf("the Docker engine refused to build %s: %s", work.DockerfilePath, msg)
	}
	return fmt.Errorf("the Docker engine failed to start the build: %s", msg)
}

// parseErrorRE reads the legacy builder's "dockerfile parse error line 2:
// unknown instruction: COPPY".
var parseErrorRE = regexp.MustCompile(`(?i)^dockerfile parse error (line \d+: .*)$`)

// roundDuration prints 20m for 20m0s and 1.5s for 1.5s.
func roundDuration(d time.Duration) string {
	switch {
	case d >= time.Minute && d%time.Minute == 0:
		return strings.TrimSuffix(d.String(), "0s")
	case d >= time.Second:
		d = d.Round(100 * time.Millisecond)
	default:
		d = d.Round(time.Millisecond)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	return s
}

// stageNote names the stage and the build arguments of a build for its
// log's first line: " (stage app, build arguments GREETING, VERSION)".
func stageNote(work *store.BuildWork) string {
	var parts []string
	if work.Target != "" {
		parts = append(parts, "stage "+work.Target)
	}
	if len(work.BuildArgs) > 0 {
		parts = append(parts, "build arguments "+strings.Join(slices.Sorted(maps.Keys(work.BuildArgs)), ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
