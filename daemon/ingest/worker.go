// Package ingest turns registered Git repositories into catalog entries: for
// each ingest job it claims the repository, makes a shallow clone
// (gitclone), reads its Dockerfile and metadata (metadata), and records the
// outcome in one transaction together with a queued build. Around the worker
// it runs the reconciler (puts back work a crash or a lost message left
// behind) and the periodic sync (re-ingests when the remote head moved).
//
// PostgreSQL is the source of truth: a job only says "look at repository 7";
// the claim in the store decides whether there is anything to do, so
// duplicate, late or replayed jobs are harmless.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/giturl"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/daemon/ingest/gitclone"
	"github.com/appstore-dev/appstore/daemon/ingest/metadata"
	"github.com/appstore-dev/appstore/daemon/queue"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// Config configures a Worker. Store, Queue and DataDir are required.
type Config struct {
	Store *store.Store
	// Queue receives the build of each successful ingestion and the
	// re-ingestions the sync decides.
	Queue queue.Enqueuer
	// Policy guards every Git connection (see giturl.Policy).
	Policy giturl.Policy
	// DataDir is appstored's data directory: clones are made under
	// DataDir/ingest, and checkouts kept for builds under
	// DataDir/checkouts (see CheckoutPath).
	DataDir string
	// CloneTimeout and MaxCloneBytes bound each clone (defaults of
	// gitclone).
	CloneTimeout  time.Duration
	MaxCloneBytes int64
	// KeepCheckouts leaves the checkout of each successful ingestion for a
	// build on this host (set when the process also has the runner role).
	KeepCheckouts bool
	// Limits bound what metadata.Extract reads.
	Limits metadata.Limits
	// Retry is the queue's retry policy: the worker says in the timeline
	// when the next attempt comes, and treats the last one as final.
	Retry queue.RetryPolicy
	// SyncInterval is how long after the last comparison a repository's
	// remote head is compared again (default 15m).
	SyncInterval time.Duration
	// ReconcileInterval is how often the reconciler looks for lost work
	// (default 10s: one indexed query).
	ReconcileInterval time.Duration
	// Lease is how long a claim holds without renewal (default
	// DefaultLease). A running attempt renews it every third of it, so a
	// repository whose worker died is taken over about a lease later, not
	// after the whole attempt timeout.
	Lease time.Duration
	// Lifetime, when set, is cancelled when the process starts to stop:
	// running attempts are interrupted then, recorded as such, and resume
	// after the restart. An ingestion is cheap to redo, so waiting for a
	// clone of several minutes would only hold up the shutdown.
	Lifetime context.Context
	Logger   *slog.Logger
}

// Worker runs ingest and sync jobs, the reconciler and the sync scheduler.
type Worker struct {
	cfg   Config
	st    *store.Store
	q     queue.Enqueuer
	log   *slog.Logger
	retry queue.RetryPolicy
	// attemptTimeout bounds one attempt (clone + extract); the lease is
	// renewed while it runs (renewLease).
	attemptTimeout time.Duration
	lease          time.Duration
	tmpDir         string
}

// extractBudget is the time an attempt allows for reading the metadata after
// the clone.
const extractBudget = 2 * time.Minute

// leaseMargin is added to a retry's backoff for the time by which the
// queue promised to deliver it (the reconciler steps in after that).
const leaseMargin = time.Minute

// DefaultLease is Config.Lease's default: long enough to ride out a short
// database outage (renewals fail meanwhile), short enough that a crashed
// worker's repository is taken over within a minute.
const DefaultLease = 30 * time.Second

// recordTimeout bounds the transaction that records an attempt's outcome.
const recordTimeout = 30 * time.Second

// New checks cfg and prepares the clone directory, removing clones that a
// stopped process left behind.
func New(cfg Config) (*Worker, error) {
	if cfg.Store == nil || cfg.Queue == nil || cfg.DataDir == "" {
		return nil, errors.New("ingest: Store, Queue and DataDir are required")
	}
	if cfg.CloneTimeout <= 0 {
		cfg.CloneTimeout = gitclone.DefaultTimeout
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = 15 * time.Minute
	}
	if cfg.ReconcileInterval <= 0 {
		cfg.ReconcileInterval = 10 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Worker{
		cfg: cfg, st: cfg.Store, q: cfg.Queue, log: cfg.Logger, retry: cfg.Retry,
		attemptTimeout: cfg.CloneTimeout + extractBudget,
		tmpDir:         filepath.Join(cfg.DataDir, "ingest"),
	}
	if w.retry.MaxAttempts <= 0 {
		w.retry.MaxAttempts = queue.DefaultRetryPolicy.MaxAttempts
	}
	w.lease = cfg.Lease
	if err := os.MkdirAll(w.tmpDir, 0o700); err != nil {
		return nil, fmt.Errorf("ingest: create clone directory: %w", err)
	}
	// Clones are temporary: whatever is here is left by a process that
	// stopped mid-clone (this data directory belongs to one process).
	entries, _ := os.ReadDir(w.tmpDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), clonePrefix) {
			_ = os.RemoveAll(filepath.Join(w.tmpDir, e.Name()))
		}
	}
	if err := os.MkdirAll(checkoutRoot(cfg.DataDir), 0o700); err != nil {
		return nil, fmt.Errorf("ingest: create checkout directory: %w", err)
	}
	// Checkouts taken by builds of a previous run: no build runs yet (the
	// queue starts after every component is wired).
	_ = os.RemoveAll(filepath.Join(checkoutRoot(cfg.DataDir), ".taken"))
	return w, nil
}

const clonePrefix = "clone-"

// Register makes q run this worker's ingest and sync jobs.
func (w *Worker) Register(q queue.Queue) {
	q.Handle(queue.KindIngest, w.HandleIngest)
	q.Handle(queue.KindSync, w.HandleSync)
}

// errSuperseded means the repository was re-queued while an attempt ran:
// the attempt's result was dropped and a new run is due.
var errSuperseded = errors.New("superseded by a newer ingestion request")

// maxRuns bounds how often one job starts over because the repository was
// re-queued while it ran (a burst of pushes).
const maxRuns = 3

// HandleIngest is the queue handler of KindIngest jobs.
func (w *Worker) HandleIngest(ctx context.Context, job queue.Job) error {
	ctx = catalog.WithCause(ctx, catalog.CauseIngest)
	if job.RepositoryID == 0 {
		return queue.Permanent(errors.New("ingest job without a repository id"))
	}
	for run := 1; ; run++ {
		err := w.attempt(ctx, job)
		if errors.Is(err, errSuperseded) && run < maxRuns {
			w.log.Info("repository re-queued while it was ingested; starting over", "repository_id", job.RepositoryID)
			continue
		}
		if errors.Is(err, errSuperseded) {
			// The newest request stays queued; the reconciler delivers it.
			return nil
		}
		return err
	}
}

// attempt runs one claimed attempt and records its outcome.
func (w *Worker) attempt(ctx context.Context, job queue.Job) error {
	if w.cfg.Lifetime != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(w.cfg.Lifetime, cancel)()
	}
	log := w.log.With("repository_id", job.RepositoryID, "job_attempt", job.Attempt)
	// While PostgreSQL restarts, wait for it here (bounded) rather than
	// in the queue's backoff, which would start the attempt up to 16 s
	// after the server is back.
	var claim *store.IngestClaim
	waitCtx, cancelWait := context.WithTimeout(ctx, recordTimeout)
	err := store.WhileUnavailable(waitCtx, func() (err error) {
		claim, err = w.st.ClaimIngest(ctx, job.RepositoryID, w.lease)
		return err
	})
	cancelWait()
	var nc *store.NotClaimableError
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		log.Debug("ingest job for a deleted repository; nothing to do")
		return nil
	case errors.As(err, &nc):
		log.Debug("ingest job has nothing to do", "reason", nc.Error())
		return nil
	case err != nil:
		return err
	}
	log = log.With("slug", claim.Slug, "attempt", claim.Attempt)
	maxAttempts := job.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = w.retry.MaxAttempts
	}
	// The store counts attempts across re-deliveries (a reconciler
	// re-enqueue restarts the queue's count): the larger count decides.
	final := job.LastAttempt() || claim.Attempt >= maxAttempts
	// Outcomes are recorded even when ctx ended (that is an outcome too),
	// each within its own bound.
	record := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	}
	if claim.Attempt > maxAttempts {
		// Earlier attempts claimed the repository and never reported:
		// something kills the worker on this repository (memory?).
		msg := fmt.Sprintf("gave up after %d attempts: the last ones did not finish (did appstored crash or stop while cloning this repository?); fix the cause, then run appstore refresh %s", claim.Attempt-1, claim.Slug)
		return w.fail(ctx, log, claim.Outcome(), msg, errors.New(msg))
	}

	start := time.Now()
	ictx, cancelAttempt := context.WithCancelCause(ctx)
	stopRenewing := w.renewLease(ictx, claim, cancelAttempt, log)
	out, err := w.ingest(ictx, claim, log)
	stopRenewing()
	claimLost := errors.Is(context.Cause(ictx), store.ErrClaimLost)
	cancelAttempt(nil)
	a := claim.Outcome()
	a.Duration = time.Since(start)
	if claimLost {
		if out != nil {
			out.cleanup()
		}
		log.Warn("the ingestion claim was lost while the attempt ran (re-queued, deleted, or taken over after a renewal gap); its result is dropped")
		return errSuperseded
	}
	if out != nil {
		defer out.cleanup()
		if out.clone != nil {
			a.CommitSHA = out.clone.CommitSHA
		}
	}
	if err != nil {
		msg := err.Error()
		switch {
		case ctx.Err() != nil:
			// Not the repository's fault: appstored is stopping (or the
			// queue's backstop timeout hit). Back to queued; the queue or,
			// after a restart, the reconciler brings it back.
			msg = "interrupted: appstored stopped this attempt (" + msg + "); it will be retried"
			rctx, cancel := record()
			defer cancel()
			if rerr := store.WhileUnavailable(rctx, func() error { return w.st.RetryIngest(rctx, a, msg, w.retry.Delay(job.Attempt)+leaseMargin) }); rerr != nil && !errors.Is(rerr, store.ErrClaimLost) {
				log.Error("recording an interrupted ingestion failed", "err", rerr)
			}
			return err
		case isPermanent(err):
			// A repository without a Dockerfile still has a card.
			return w.failWithCard(ctx, log, a, msg, err, out.card())
		case final:
			// Neither the sync nor a retry comes back to a failure of the
			// machine or the network: the person who can fix it says when.
			return w.fail(ctx, log, a, fmt.Sprintf("%s (gave up after %d attempts; once that is fixed, `appstore refresh %s` tries again)", msg, claim.Attempt, claim.Slug), err)
		}
		delay := w.retry.Delay(job.Attempt)
		msg = fmt.Sprintf("attempt %d of %d failed: %s; retrying in about %s", claim.Attempt, maxAttempts, msg, delay.Round(time.Second))
		rctx, cancel := record()
		defer cancel()
		if rerr := store.WhileUnavailable(rctx, func() error { return w.st.RetryIngest(rctx, a, msg, delay+leaseMargin) }); rerr != nil {
			if errors.Is(rerr, store.ErrClaimLost) {
				return errSuperseded
			}
			log.Error("recording a failed ingestion attempt failed", "err", rerr)
		}
		log.Warn("ingestion attempt failed; the queue retries it", "err", err, "duration", a.Duration)
		return err
	}

	rctx, cancel := record()
	defer cancel()
	var done *store.IngestCompletion
	err = store.WhileUnavailable(rctx, func() (err error) {
		done, err = w.st.CompleteIngest(rctx, out.success(a))
		return err
	})
	if errors.Is(err, store.ErrClaimLost) {
		return errSuperseded
	}
	if err != nil {
		// The repository stays processing until its lease expires; then
		// the reconciler puts it back.
		return fmt.Errorf("record ingestion of %s: %w", claim.Slug, err)
	}
	log.Info("repository ingested", "commit", a.CommitSHA, "dockerfile", out.meta.DockerfilePath,
		"tags", len(out.meta.Tags), "duration", a.Duration, "build_id", done.BuildID, "new_build", done.NewBuild)
	if w.cfg.KeepCheckouts && out.dir != "" {
		if err := keepCheckout(w.cfg.DataDir, claim.RepositoryID, a.CommitSHA, out.dir); err != nil {
			log.Warn("keeping the checkout for the build failed; the build clones again", "err", err)
		} else {
			out.dir = "" // moved: nothing to clean up
		}
	}
	if err := w.q.Enqueue(rctx, queue.Job{Kind: queue.KindBuild, BuildID: done.BuildID, RepositoryID: claim.RepositoryID}); err != nil {
		log.Warn("enqueue build failed; the reconciler re-enqueues queued builds", "build_id", done.BuildID, "err", err)
	}
	return nil
}

// renewLease renews the claim's lease every third of it until stop is
// called. A renewal that finds the claim lost cancels the attempt with
// store.ErrClaimLost as the cause; one that fails otherwise (the database
// is away) is retried at the next tick: the lease leaves room for two.
func (w *Worker) renewLease(ctx context.Context, claim *store.IngestClaim, cancel context.CancelCauseFunc, log *slog.Logger) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		every := w.lease / 3
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rctx, rcancel := context.WithTimeout(ctx, every)
			err := w.st.RenewIngestLease(rctx, claim.Outcome(), w.lease)
			rcancel()
			switch {
			case errors.Is(err, store.ErrClaimLost):
				cancel(store.ErrClaimLost)
				return
			case err != nil && ctx.Err() == nil:
				log.Warn("renewing the ingestion lease failed; trying again", "err", err)
			}
		}
	}()
	return func() { close(done); <-finished }
}

// fail records a final failure and tells the queue not to retry.
func (w *Worker) fail(ctx context.Context, log *slog.Logger, a store.IngestAttempt, msg string, cause error) error {
	return w.failWithCard(ctx, log, a, msg, cause, nil)
}

// failWithCard is fail that also records the card the attempt read (nil
// for none).
func (w *Worker) failWithCard(ctx context.Context, log *slog.Logger, a store.IngestAttempt, msg string, cause error, card *store.IngestCard) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	// Retrying this commit cannot help: its card counts as read by the
	// current rules, so the sync does not come back to it until it moves.
	a.CardVersion = metadata.CardVersion
	if err := store.WhileUnavailable(ctx, func() error { return w.st.FailIngestWithCard(ctx, a, msg, card) }); err != nil {
		if errors.Is(err, store.ErrClaimLost) {
			return errSuperseded
		}
		log.Error("recording a failed ingestion failed", "err", err)
		return err
	}
	log.Info("ingestion failed", "err", msg, "commit", a.CommitSHA, "duration", a.Duration)
	return queue.Permanent(cause)
}

func isPermanent(err error) bool {
	return gitclone.IsPermanent(err) || metadata.IsPermanent(err) || queue.IsPermanent(err)
}

// outcome is what an attempt produced, and the clone to clean up.
type outcome struct {
	dir   string
	clone *gitclone.Result
	meta  *metadata.Result
	name  string
}

func (o *outcome) cleanup() {
	if o.dir != "" {
		_ = os.RemoveAll(o.dir)
	}
}

// ingest clones and reads the repository. The outcome is returned even on
// error, for its clean-up and what the clone saw.
func (w *Worker) ingest(ctx context.Context, claim *store.IngestClaim, log *slog.Logger) (*outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
	dir, err := os.MkdirTemp(w.tmpDir, fmt.Sprintf("%s%d-", clonePrefix, claim.RepositoryID))
	if err != nil {
		return nil, fmt.Errorf("create clone directory: %w", err)
	}
	out := &outcome{dir: dir}
	out.clone, err = gitclone.Clone(ctx, gitclone.Options{
		URL: claim.GitURL, Branch: claim.Branch, Dir: dir,
		Timeout: w.cfg.CloneTimeout, MaxBytes: w.cfg.MaxCloneBytes,
		Policy: w.cfg.Policy, Logger: log, Partial: true,
	})
	if err != nil && (out.clone == nil || !out.clone.Partial) {
		return out, err
	}
	if err != nil {
		// The clone failed for good after the transfer (too large, an
		// entry git refuses), but part of it could be checked out: the
		// card is read from that, and the clone's error is the failure.
		cloneErr := err
		if out.meta, err = metadata.Extract(ctx, dir, metadata.Options{Dockerfile: claim.RequestedDockerfile, Context: claim.RequestedContext,
			Target: claim.RequestedTarget, Limits: w.cfg.Limits, Logger: log}); out.meta == nil {
			log.Warn("reading the card of a partial checkout failed", "err", err)
			return out, cloneErr
		}
		out.meta.Warnings = append([]string{fmt.Sprintf("only part of the repository was read (%d files, %d entries left out), because its clone failed: %s",
			out.clone.Files, out.clone.Skipped, cloneErr)}, out.meta.Warnings...)
		out.setName(claim)
		return out, fmt.Errorf("%w; the card shows what the %d files that could be checked out safely say", cloneErr, out.clone.Files)
	}
	out.meta, err = metadata.Extract(ctx, dir, metadata.Options{Dockerfile: claim.RequestedDockerfile, Context: claim.RequestedContext, Target: claim.RequestedTarget, Limits: w.cfg.Limits, Logger: log})
	out.setName(claim)
	if err != nil {
		// A repository that cannot be built comes back with its card.
		return out, err
	}
	return out, nil
}

// setName takes the card's name: without a declared name the repository
// is called after its URL, as at registration; a name that is not
// acceptable is ignored.
func (o *outcome) setName(claim *store.IngestClaim) {
	if o.meta == nil {
		return
	}
	o.name = o.meta.Name
	if o.name == "" {
		if u, err := giturl.Parse(claim.GitURL); err == nil {
			o.name = u.Name()
		}
	}
	if catalog.ValidateName(o.name) != nil {
		o.name = ""
	}
}

// storedMetadata is the repository's metadata column; hf and build are
// catalog.RepositoryMetadata's keys.
type storedMetadata struct {
	Dockerfile *metadata.DockerfileInfo `json:"dockerfile,omitempty"`
	Build      *catalog.BuildChoice     `json:"build,omitempty"`
	HF         *catalog.HFMetadata      `json:"hf,omitempty"`
	Resources  string                   `json:"resources,omitempty"`
	Storage    *catalog.Storage         `json:"storage,omitempty"`
	Env        []catalog.DeclaredEnv    `json:"env,omitempty"`
	Facts      map[string]string        `json:"facts,omitempty"`
	Warnings   []string                 `json:"warnings,omitempty"`
	Clone      cloneStats               `json:"clone"`
}

type cloneStats struct {
	Branch     string `json:"branch"`
	Bytes      int64  `json:"bytes"`
	TreeBytes  int64  `json:"tree_bytes"`
	Files      int    `json:"files"`
	DurationMS int64  `json:"duration_ms"`
}

// card is what the attempt read about the app, for the record of a
// failure; nil when the checkout was not read.
func (o *outcome) card() *store.IngestCard {
	if o == nil || o.meta == nil || o.clone == nil {
		return nil
	}
	m := o.meta
	card := &store.IngestCard{
		Name: o.name, Description: m.Description, Homepage: m.Homepage, Emoji: m.Emoji,
		Readme: m.Readme, Metadata: o.storedMetadata(), AppPort: m.Port, PortSource: m.PortSource,
	}
	card.AuthorTags, card.AutoTags = splitTags(m.Tags)
	return card
}

func (o *outcome) storedMetadata() json.RawMessage {
	m, c := o.meta, o.clone
	sm := storedMetadata{
		Build: m.Build, HF: m.HF, Resources: m.Resources, Storage: m.Storage, Env: m.Env, Facts: m.Facts, Warnings: m.Warnings,
		Clone: cloneStats{Branch: c.Branch, Bytes: c.Bytes, TreeBytes: c.TreeBytes, Files: c.Files, DurationMS: c.Duration.Milliseconds()},
	}
	if m.DockerfilePath != "" {
		sm.Dockerfile = &m.Dockerfile
	}
	meta, _ := json.Marshal(sm)
	return meta
}

func splitTags(tags []catalog.Tag) (author, auto []catalog.Tag) {
	for _, t := range tags {
		if t.Source == catalog.SourceAuthor {
			author = append(author, t)
		} else {
			auto = append(auto, t)
		}
	}
	return author, auto
}

func (o *outcome) success(a store.IngestAttempt) store.IngestSuccess {
	m, c := o.meta, o.clone
	a.CardVersion = metadata.CardVersion
	s := store.IngestSuccess{
		IngestAttempt: a, Branch: c.Branch,
		Name: o.name, Description: m.Description, Homepage: m.Homepage, Emoji: m.Emoji,
		DockerfilePath: m.DockerfilePath, ContextPath: m.ContextPath,
		AppPort: m.Port, PortSource: m.PortSource, Readme: m.Readme, Metadata: o.storedMetadata(),
	}
	if m.Build != nil {
		s.BuildTarget, s.BuildArgs = m.Build.Target, m.Build.Args
	}
	s.AuthorTags, s.AutoTags = splitTags(m.Tags)
	s.Message = summary(c, m)
	return s
}

// summary is the timeline's line for a successful attempt.
func summary(c *gitclone.Result, m *metadata.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ingested %s", textutil.ShortSHA(c.CommitSHA))
	if c.Branch != "" {
		fmt.Fprintf(&b, " of %s", c.Branch)
	}
	fmt.Fprintf(&b, ": %s", m.DockerfilePath)
	if m.ContextPath != "" && m.ContextPath != "." {
		fmt.Fprintf(&b, " (context %s)", m.ContextPath)
	}
	if m.Port > 0 {
		fmt.Fprintf(&b, ", port %d from %s", m.Port, m.PortSource)
	}
	fmt.Fprintf(&b, ", %d tag", len(m.Tags))
	if len(m.Tags) != 1 {
		b.WriteString("s")
	}
	if n := len(m.Warnings); n > 0 {
		fmt.Fprintf(&b, ", %d warning", n)
		if n > 1 {
			b.WriteString("s")
		}
		// The timeline is where a person learns that a manifest could not
		// be read: the first few warnings are spelled out.
		shown := m.Warnings[:min(n, timelineWarnings)]
		parts := make([]string, len(shown))
		for i, w := range shown {
			parts[i] = textutil.Truncate(w, 200)
		}
		fmt.Fprintf(&b, ": %s", strings.Join(parts, "; "))
		if n > len(shown) {
			fmt.Fprintf(&b, "; %d more in the metadata", n-len(shown))
		}
	}
	return b.String()
}

// timelineWarnings is how many warnings a timeline step spells out.
const timelineWarnings = 3

// Ingester enqueues ingest jobs for the API (api.Ingester). The store
// already records the repository as queued, so a failed enqueue only delays
// the work until the reconciler puts it back.
type Ingester struct {
	Queue queue.Enqueuer
}

// EnqueueIngest enqueues the ingestion of a repository.
func (i Ingester) EnqueueIngest(ctx context.Context, repositoryID int64) error {
	if i.Queue == nil {
		return errors.New("no queue: the reconciler will deliver the job")
	}
	return i.Queue.Enqueue(ctx, queue.Job{Kind: queue.KindIngest, RepositoryID: repositoryID})
}
