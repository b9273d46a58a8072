package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/jackc/pgx/v5"
)

// BuildLogChannel is the PostgreSQL channel that carries a build's id each
// time lines are appended to its log or its status changes, so that
// followers of the log wake up instead of polling.
const BuildLogChannel = "appstore_build_logs"

// QueuedBuild describes a build to record.
type QueuedBuild struct {
	RepositoryID   int64
	Slug           string // for the event subject
	CommitSHA      string
	DockerfilePath string
	ContextPath    string
	// Target and Args are the stage and build arguments to build with
	// ("" the final stage, nil none).
	Target  string
	Args    map[string]string
	NoCache bool
}

// InsertQueuedBuild records a queued build in tx and writes build.queued.
// Ingestion calls it in the transaction that marks a repository ready, so a
// ready repository always has its build; the caller enqueues the build job
// after commit (the reconciler re-enqueues it if that fails).
func InsertQueuedBuild(ctx context.Context, tx pgx.Tx, b QueuedBuild) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO builds (repository_id, commit_sha, dockerfile_path, context_path, no_cache, target, build_args)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		b.RepositoryID, b.CommitSHA, b.DockerfilePath, b.ContextPath, b.NoCache, b.Target, buildArgsJSON(b.Args)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record build: %w", mapError(err))
	}
	_, err = insertEvent(ctx, tx, EventSpec{Type: "build.queued", Subject: b.Slug, Data: map[string]any{
		"build_id": id, "repository_id": b.RepositoryID, "slug": b.Slug, "commit_sha": b.CommitSHA,
		"status": catalog.BuildQueued, "no_cache": b.NoCache,
	}})
	return id, err
}

// buildColumns are the columns scanBuild reads, in order, from "builds b
// JOIN repositories r".
const buildColumns = `b.id, b.repository_id, r.slug, b.commit_sha, b.status, b.dockerfile_path,
	b.context_path, b.no_cache, b.cached, b.cache_key, b.image_tag, b.image_id, b.error_message,
	b.cancel_requested, b.attempts, b.log_bytes, b.log_truncated, b.created_at, b.started_at,
	b.completed_at, b.duration_ms, b.builder, b.registry_image, b.image_digest, b.target, b.build_args`

const buildFrom = `builds b JOIN repositories r ON r.id = b.repository_id`

func scanBuild(row pgx.Row, extra ...any) (*catalog.Build, error) {
	var b catalog.Build
	dest := []any{&b.ID, &b.RepositoryID, &b.Repository, &b.CommitSHA, &b.Status, &b.DockerfilePath,
		&b.ContextPath, &b.NoCache, &b.Cached, &b.CacheKey, &b.ImageTag, &b.ImageID, &b.ErrorMessage,
		&b.CancelRequested, &b.Attempts, &b.LogBytes, &b.LogTruncated, &b.CreatedAt, &b.StartedAt,
		&b.CompletedAt, &b.DurationMS, &b.Builder, &b.RegistryImage, &b.ImageDigest, &b.Target, &b.BuildArgs}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	if len(b.BuildArgs) == 0 {
		b.BuildArgs = nil
	}
	return &b, nil
}

func buildNotFound(id int64) error {
	return &catalog.NotFoundError{Kind: "build", Key: strconv.FormatInt(id, 10)}
}

// Build returns the build with id.
func (s *Store) Build(ctx context.Context, id int64) (*catalog.Build, error) {
	b, err := scanBuild(s.pool.QueryRow(ctx, `SELECT `+buildColumns+` FROM `+buildFrom+` WHERE b.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, buildNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get build %d: %w", id, mapError(err))
	}
	return b, nil
}

// BuildStatus returns only the status of a build: what a follower of its
// log checks between batches.
func (s *Store) BuildStatus(ctx context.Context, id int64) (catalog.BuildStatus, error) {
	var st catalog.BuildStatus
	err := s.pool.QueryRow(ctx, `SELECT status FROM builds WHERE id = $1`, id).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", buildNotFound(id)
	}
	if err != nil {
		return "", fmt.Errorf("get build %d: %w", id, mapError(err))
	}
	return st, nil
}

// BuildListOptions page ListBuilds.
type BuildListOptions struct {
	Limit  int    // 1..500, default 50
	Cursor string // from a previous page
}

// ListBuilds returns the builds of a repository, newest first, and a cursor
// for the next page ("" when this is the last).
func (s *Store) ListBuilds(ctx context.Context, slug string, o BuildListOptions) ([]*catalog.Build, string, error) {
	if o.Limit <= 0 {
		o.Limit = 50
	}
	if o.Limit > 500 {
		o.Limit = 500
	}
	before := int64(0)
	if o.Cursor != "" {
		var err error
		if before, err = decodeCursor(o.Cursor); err != nil {
			return nil, "", catalog.Invalid("cursor", "is not a cursor from a previous page")
		}
	}
	repoID, err := s.RepositoryIDBySlug(ctx, slug)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+buildColumns+` FROM `+buildFrom+`
		WHERE b.repository_id = $1 AND ($2 = 0 OR b.id < $2)
		ORDER BY b.id DESC LIMIT $3`, repoID, before, o.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list builds of %q: %w", slug, mapError(err))
	}
	builds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*catalog.Build, error) { return scanBuild(r) })
	if err != nil {
		return nil, "", fmt.Errorf("list builds of %q: %w", slug, mapError(err))
	}
	next := ""
	if len(builds) > o.Limit {
		builds = builds[:o.Limit]
		next = encodeCursor(builds[len(builds)-1].ID)
	}
	if builds == nil {
		builds = []*catalog.Build{}
	}
	return builds, next, nil
}

// CreateBuild queues a build of the commit that ingestion last recorded for
// the repository, with its Dockerfile and context. When a build of that
// commit, Dockerfile and context is already queued or running (and no
// cancel is pending), that build is returned with created false instead of
// queueing a second one; a no-cache request only reuses a no-cache build.
// A repository that has not been ingested yet is a *catalog.ConflictError.
func (s *Store) CreateBuild(ctx context.Context, slug string, noCache bool) (b *catalog.Build, created bool, err error) {
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var repoID int64
		var commit, dockerfile, contextPath, target string
		var args map[string]string
		var status catalog.IngestStatus
		// FOR SHARE: a concurrent re-ingestion that changes the commit
		// waits for us, so the build matches one ingestion.
		err := tx.QueryRow(ctx, `SELECT id, last_commit_sha, dockerfile_path, context_path, ingest_status, build_target, build_args
			FROM repositories WHERE slug = $1 FOR SHARE`, slug).Scan(&repoID, &commit, &dockerfile, &contextPath, &status, &target, &args)
		if errors.Is(err, pgx.ErrNoRows) {
			return &catalog.NotFoundError{Kind: "repository", Key: slug}
		}
		if err != nil {
			return mapError(err)
		}
		if commit == "" || dockerfile == "" {
			msg := fmt.Sprintf("repository %q has no ingested commit with a Dockerfile yet (ingestion is %s)", slug, status)
			switch status {
			case catalog.IngestFailed:
				msg += ": fix the error shown by `appstore show " + slug + "`, then refresh it"
			default:
				msg += ": wait for ingestion to finish (`appstore show " + slug + "`), then build"
			}
			return &catalog.ConflictError{Message: msg}
		}
		err = tx.QueryRow(ctx, `SELECT id FROM builds
			WHERE repository_id = $1 AND status IN ('queued', 'running') AND NOT cancel_requested
			  AND commit_sha = $2 AND dockerfile_path = $3 AND context_path = $4 AND (no_cache OR NOT $5)
			  AND target = $6 AND build_args = $7::jsonb
			ORDER BY id DESC LIMIT 1`, repoID, commit, dockerfile, contextPath, noCache, target, buildArgsJSON(args)).Scan(&id)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return mapError(err)
		}
		created = true
		id, err = InsertQueuedBuild(ctx, tx, QueuedBuild{RepositoryID: repoID, Slug: slug, CommitSHA: commit,
			DockerfilePath: dockerfile, ContextPath: contextPath, Target: target, Args: args, NoCache: noCache})
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("build %q: %w", slug, err)
	}
	b, err = s.Build(ctx, id)
	return b, created, err
}

// BuildWork is what a worker needs to run a claimed build.
type BuildWork struct {
	catalog.Build
	GitURL string
	Branch string // the branch the user declared; "" = the remote's HEAD
}

// ErrLeaseLost means the build is no longer running under this worker: the
// reconciler took it back after the lease expired, or it was finished.
var ErrLeaseLost = errors.New("the build is no longer running under this worker")

// ClaimBuild moves a queued build to running under worker, with a lease
// that the worker renews while it builds, and writes build.started. It
// returns the build and true when claimed. A build that is not queued is
// returned with false and left alone (another worker has it, or it ended);
// a queued build whose cancellation was requested is cancelled instead.
func (s *Store) ClaimBuild(ctx context.Context, id int64, worker string, lease time.Duration) (*BuildWork, bool, error) {
	var w *BuildWork
	claimed := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		w = &BuildWork{}
		b, err := scanBuild(tx.QueryRow(ctx, `SELECT `+buildColumns+`, r.git_url, r.branch FROM `+buildFrom+`
			WHERE b.id = $1 FOR UPDATE OF b`, id), &w.GitURL, &w.Branch)
		if errors.Is(err, pgx.ErrNoRows) {
			return buildNotFound(id)
		}
		if err != nil {
			return mapError(err)
		}
		w.Build = *b
		if b.Status != catalog.BuildQueued {
			return nil
		}
		if b.CancelRequested {
			return s.finishTx(ctx, tx, b, BuildOutcome{Status: catalog.BuildCancelled, Error: "cancelled before it started"})
		}
		err = tx.QueryRow(ctx, `UPDATE builds SET status = 'running', started_at = now(), completed_at = NULL,
				duration_ms = NULL, attempts = attempts + 1, worker = $2,
				lease_until = now() + make_interval(secs => $3), error_message = '',
				log_bytes = 0, log_truncated = false
			WHERE id = $1 RETURNING status, started_at, attempts`, id, worker, lease.Seconds()).
			Scan(&w.Status, &w.StartedAt, &w.Attempts)
		if err != nil {
			return mapError(err)
		}
		w.CompletedAt, w.DurationMS, w.ErrorMessage, w.LogBytes, w.LogTruncated = nil, nil, "", 0, false
		// A retried build starts a fresh log: the interrupted attempt's
		// lines would otherwise interleave with the new ones.
		if _, err := tx.Exec(ctx, `DELETE FROM build_logs WHERE build_id = $1`, id); err != nil {
			return mapError(err)
		}
		claimed = true
		if err := notifyBuild(ctx, tx, id); err != nil {
			return err
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: "build.started", Subject: b.Repository, Data: map[string]any{
			"build_id": id, "repository_id": b.RepositoryID, "slug": b.Repository, "commit_sha": b.CommitSHA,
			"status": catalog.BuildRunning, "attempt": w.Attempts, "worker": worker,
		}})
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("claim build %d: %w", id, err)
	}
	if !claimed {
		// Re-read: a cancellation just above changed the row.
		b, err := s.Build(ctx, id)
		if err != nil {
			return nil, false, err
		}
		w.Build = *b
	}
	return w, claimed, nil
}

// RenewBuildLease extends the lease of a running build held by worker and
// reports whether its cancellation was requested. ErrLeaseLost means the
// worker must stop: the build was taken back or finished meanwhile.
func (s *Store) RenewBuildLease(ctx context.Context, id int64, worker string, lease time.Duration) (cancelRequested bool, err error) {
	err = s.pool.QueryRow(ctx, `UPDATE builds SET lease_until = now() + make_interval(secs => $3)
		WHERE id = $1 AND worker = $2 AND status = 'running' RETURNING cancel_requested`,
		id, worker, lease.Seconds()).Scan(&cancelRequested)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, ErrLeaseLost
	}
	if err != nil {
		return false, fmt.Errorf("renew lease of build %d: %w", id, mapError(err))
	}
	return cancelRequested, nil
}

// BuildOutcome is how a running build ended.
type BuildOutcome struct {
	Status   catalog.BuildStatus // succeeded, failed or cancelled
	ImageID  string
	ImageTag string
	CacheKey string
	Cached   bool
	Error    string // for failed and cancelled: what happened, for people
	Builder  string // which builder ran: "buildkit", "classic", or "" (none)
	// RegistryImage and ImageDigest are the reference the image was
	// pushed as and the digest the registry answered (--registry).
	RegistryImage string
	ImageDigest   string
}

// FinishBuild records the end of a running build held by worker and
// writes build.succeeded, build.failed or build.cancelled. ErrLeaseLost
// means the build no longer belonged to the worker and nothing changed.
func (s *Store) FinishBuild(ctx context.Context, id int64, worker string, o BuildOutcome) (*catalog.Build, error) {
	if !o.Status.Terminal() {
		return nil, fmt.Errorf("finish build %d: status %q is not final", id, o.Status)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b, err := lockHeldBuild(ctx, tx, id, worker)
		if err != nil {
			return err
		}
		return s.finishTx(ctx, tx, b, o)
	})
	if err != nil {
		return nil, fmt.Errorf("finish build %d: %w", id, err)
	}
	return s.Build(ctx, id)
}

// lockHeldBuild locks build id in tx if it is still running under worker.
// ErrLeaseLost means another worker took it over or it already ended: the
// caller must not change it.
func lockHeldBuild(ctx context.Context, tx pgx.Tx, id int64, worker string) (*catalog.Build, error) {
	b, err := scanBuild(tx.QueryRow(ctx, `SELECT `+buildColumns+` FROM `+buildFrom+`
		WHERE b.id = $1 AND b.status = 'running' AND b.worker = $2 FOR UPDATE OF b`, id, worker))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrLeaseLost
	}
	if err != nil {
		return nil, mapError(err)
	}
	return b, nil
}

// finishTx moves b (locked in tx) to o.Status and writes its event.
func (s *Store) finishTx(ctx context.Context, tx pgx.Tx, b *catalog.Build, o BuildOutcome) error {
	var duration *int64
	err := tx.QueryRow(ctx, `UPDATE builds SET status = $2, completed_at = now(),
			duration_ms = CASE WHEN started_at IS NULL THEN NULL
			                   ELSE (extract(epoch FROM now() - started_at) * 1000)::bigint END,
			image_id = CASE WHEN $3 = '' THEN image_id ELSE $3 END,
			image_tag = CASE WHEN $4 = '' THEN image_tag ELSE $4 END,
			cache_key = CASE WHEN $5 = '' THEN cache_key ELSE $5 END,
			cached = $6, error_message = left($7, 8000), lease_until = NULL,
			builder = CASE WHEN $8 = '' THEN builder ELSE $8 END,
			registry_image = CASE WHEN $9 = '' THEN registry_image ELSE $9 END,
			image_digest = CASE WHEN $10 = '' THEN image_digest ELSE $10 END
		WHERE id = $1 RETURNING duration_ms`,
		b.ID, o.Status, o.ImageID, o.ImageTag, o.CacheKey, o.Cached, o.Error, o.Builder, o.RegistryImage, o.ImageDigest).Scan(&duration)
	if err != nil {
		return mapError(err)
	}
	if err := notifyBuild(ctx, tx, b.ID); err != nil {
		return err
	}
	data := map[string]any{
		"build_id": b.ID, "repository_id": b.RepositoryID, "slug": b.Repository, "commit_sha": b.CommitSHA,
		"status": o.Status, "cached": o.Cached,
	}
	if duration != nil {
		data["duration_ms"] = *duration
	}
	if o.ImageTag != "" {
		data["image_tag"], data["image_id"] = o.ImageTag, o.ImageID
	}
	if o.Builder != "" {
		data["builder"] = o.Builder
	}
	if o.ImageDigest != "" {
		data["registry_image"], data["image_digest"] = o.RegistryImage, o.ImageDigest
	}
	if o.Error != "" {
		data["error"] = o.Error
	}
	_, err = insertEvent(ctx, tx, EventSpec{Type: "build." + string(o.Status), Subject: b.Repository, Data: data})
	return err
}

// RequeueBuild puts a running build held by worker back in the queue (the
// worker is shutting down, or could not reach what it needs for now) and
// writes build.requeued.
func (s *Store) RequeueBuild(ctx context.Context, id int64, worker, reason string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b, err := lockHeldBuild(ctx, tx, id, worker)
		if err != nil {
			return err
		}
		return requeueTx(ctx, tx, b, reason)
	})
	if err != nil {
		return fmt.Errorf("requeue build %d: %w", id, err)
	}
	return nil
}

func requeueTx(ctx context.Context, tx pgx.Tx, b *catalog.Build, reason string) error {
	if _, err := tx.Exec(ctx, `UPDATE builds SET status = 'queued', worker = '', lease_until = NULL,
		started_at = NULL WHERE id = $1`, b.ID); err != nil {
		return mapError(err)
	}
	if err := notifyBuild(ctx, tx, b.ID); err != nil {
		return err
	}
	_, err := insertEvent(ctx, tx, EventSpec{Type: "build.requeued", Subject: b.Repository, Data: map[string]any{
		"build_id": b.ID, "repository_id": b.RepositoryID, "slug": b.Repository, "commit_sha": b.CommitSHA,
		"status": catalog.BuildQueued, "attempts": b.Attempts, "reason": reason,
	}})
	return err
}

// RequestBuildCancel cancels a build. A queued build is cancelled at once
// (it never starts); a running one is marked cancel_requested, which its
// worker sees within a second and stops the engine build. It returns the
// build as it is afterwards. A build that already ended is a
// *catalog.ConflictError.
func (s *Store) RequestBuildCancel(ctx context.Context, id int64) (*catalog.Build, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b, err := scanBuild(tx.QueryRow(ctx, `SELECT `+buildColumns+` FROM `+buildFrom+` WHERE b.id = $1 FOR UPDATE OF b`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return buildNotFound(id)
		}
		if err != nil {
			return mapError(err)
		}
		switch {
		case b.Status.Terminal():
			return &catalog.ConflictError{Message: fmt.Sprintf("build %d already %s: there is nothing to cancel", id, b.Status)}
		case b.Status == catalog.BuildQueued:
			return s.finishTx(ctx, tx, b, BuildOutcome{Status: catalog.BuildCancelled, Error: "cancelled before it started"})
		case b.CancelRequested:
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE builds SET cancel_requested = true WHERE id = $1`, id); err != nil {
			return mapError(err)
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: "build.cancel_requested", Subject: b.Repository, Data: map[string]any{
			"build_id": id, "repository_id": b.RepositoryID, "slug": b.Repository, "status": b.Status,
		}})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cancel build %d: %w", id, err)
	}
	return s.Build(ctx, id)
}

// notifyBuild wakes the followers of a build's log when tx commits.
func notifyBuild(ctx context.Context, tx pgx.Tx, id int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, BuildLogChannel, strconv.FormatInt(id, 10)); err != nil {
		return fmt.Errorf("notify %s: %w", BuildLogChannel, mapError(err))
	}
	return nil
}

// AppendBuildLog stores lines of a build's output in order, records how
// many bytes the log holds and whether it was truncated, and notifies
// BuildLogChannel, all in one transaction. Lines must be valid UTF-8
// without NUL bytes (PostgreSQL text cannot hold NUL).
func (s *Store) AppendBuildLog(ctx context.Context, id int64, lines []string, logBytes int64, truncated bool) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if len(lines) > 0 {
			_, err := tx.Exec(ctx, `INSERT INTO build_logs (build_id, line)
				SELECT $1, u.line FROM unnest($2::text[]) WITH ORDINALITY AS u(line, n) ORDER BY u.n`, id, lines)
			if err != nil {
				return mapError(err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE builds SET log_bytes = $2, log_truncated = $3 WHERE id = $1`,
			id, logBytes, truncated); err != nil {
			return mapError(err)
		}
		return notifyBuild(ctx, tx, id)
	})
	if err != nil {
		return fmt.Errorf("append to the log of build %d: %w", id, err)
	}
	return nil
}

// BuildLogs returns up to limit lines of a build's log with ids above
// since, in order. limit ≤ 0 means 1000.
func (s *Store) BuildLogs(ctx context.Context, id, since int64, limit int) ([]catalog.LogLine, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `SELECT id, build_id, line, created_at FROM build_logs
		WHERE build_id = $1 AND id > $2 ORDER BY id LIMIT $3`, id, since, limit)
	if err != nil {
		return nil, fmt.Errorf("read the log of build %d: %w", id, mapError(err))
	}
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.LogLine, error) {
		var l catalog.LogLine
		err := r.Scan(&l.ID, &l.BuildID, &l.Line, &l.Time)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the log of build %d: %w", id, mapError(err))
	}
	return lines, nil
}

// CachedBuild returns the newest succeeded build with cacheKey and an
// image, other than build except, or a *catalog.NotFoundError.
func (s *Store) CachedBuild(ctx context.Context, cacheKey string, except int64) (*catalog.Build, error) {
	b, err := scanBuild(s.pool.QueryRow(ctx, `SELECT `+buildColumns+` FROM `+buildFrom+`
		WHERE b.cache_key = $1 AND b.status = 'succeeded' AND b.image_id <> '' AND b.id <> $2
		ORDER BY b.id DESC LIMIT 1`, cacheKey, except))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "cached build", Key: cacheKey}
	}
	if err != nil {
		return nil, fmt.Errorf("look up the build cache: %w", mapError(err))
	}
	return b, nil
}

// RecoverBuilds is the reconciler's pass over builds whose worker is gone:
// every running build whose lease expired is put back in the queue
// (build.requeued) while it has been started fewer than maxAttempts times,
// and failed (build.failed) after that. It returns the ids requeued.
func (s *Store) RecoverBuilds(ctx context.Context, maxAttempts int) (requeued, failed []int64, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// SKIP LOCKED: a worker finishing its build right now, or
		// another reconciler, holds the row; leave it to them.
		rows, err := tx.Query(ctx, `SELECT `+buildColumns+` FROM `+buildFrom+`
			WHERE b.status = 'running' AND (b.lease_until IS NULL OR b.lease_until < now())
			ORDER BY b.id FOR UPDATE OF b SKIP LOCKED`)
		if err != nil {
			return mapError(err)
		}
		builds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*catalog.Build, error) { return scanBuild(r) })
		if err != nil {
			return mapError(err)
		}
		for _, b := range builds {
			if b.CancelRequested {
				if err := s.finishTx(ctx, tx, b, BuildOutcome{Status: catalog.BuildCancelled,
					Error: "cancelled: its worker stopped before it could stop the build"}); err != nil {
					return err
				}
				failed = append(failed, b.ID)
				continue
			}
			if b.Attempts < maxAttempts {
				if err := requeueTx(ctx, tx, b, "its worker stopped (appstored was stopped or crashed) while building"); err != nil {
					return err
				}
				requeued = append(requeued, b.ID)
				continue
			}
			msg := fmt.Sprintf("the build was interrupted %d times (appstored was stopped or crashed while building); start a new build with `appstore build %s`", b.Attempts, b.Repository)
			if err := s.finishTx(ctx, tx, b, BuildOutcome{Status: catalog.BuildFailed, Error: msg}); err != nil {
				return err
			}
			failed = append(failed, b.ID)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("recover builds: %w", err)
	}
	return requeued, failed, nil
}

// QueuedBuildIDs returns the queued builds created more than olderThan
// ago, oldest first, for the reconciler to enqueue again (a lost job, an
// enqueue that failed after commit, a restart of the in-process queue).
func (s *Store) QueuedBuildIDs(ctx context.Context, olderThan time.Duration) ([]int64, error) {
	ids, err := column[int64](ctx, s.pool, `SELECT id FROM builds WHERE status = 'queued'
		AND created_at < now() - make_interval(secs => $1) ORDER BY id LIMIT 1000`, olderThan.Seconds())
	if err != nil {
		return nil, fmt.Errorf("list queued builds: %w", err)
	}
	return ids, nil
}

// ImageKeepSet says which images the pruner must leave on the engine.
type ImageKeepSet struct {
	// Images are the image ids of the newest keep succeeded builds of
	// every repository, and those of builds that an active launch
	// (starting, running, stopping) uses.
	Images map[string]bool
	// Builds are the ids of builds that are queued or running: their
	// images may exist on the engine before the database knows them.
	Builds map[int64]bool
	// Launched are the image ids that an active launch uses (a subset of
	// Images): the only untagged images the pruner keeps.
	Launched map[string]bool
}

// ImagesToKeep computes the ImageKeepSet for keeping the newest keep
// images of each repository.
func (s *Store) ImagesToKeep(ctx context.Context, keep int) (*ImageKeepSet, error) {
	if keep < 1 {
		keep = 1
	}
	set := &ImageKeepSet{Images: map[string]bool{}, Builds: map[int64]bool{}, Launched: map[string]bool{}}
	images, err := column[string](ctx, s.pool, `
		WITH images AS (
			SELECT repository_id, image_id, max(id) AS newest FROM builds
			WHERE status = 'succeeded' AND image_id <> '' GROUP BY repository_id, image_id
		), ranked AS (
			SELECT image_id, row_number() OVER (PARTITION BY repository_id ORDER BY newest DESC) AS n FROM images
		)
		SELECT image_id FROM ranked WHERE n <= $1`, keep)
	if err != nil {
		return nil, fmt.Errorf("images to keep: %w", err)
	}
	for _, id := range images {
		set.Images[id] = true
	}
	launched, err := column[string](ctx, s.pool, `
		SELECT b.image_id FROM launches l JOIN builds b ON b.id = l.build_id
		WHERE l.status IN ('starting', 'running', 'stopping') AND b.image_id <> ''`)
	if err != nil {
		return nil, fmt.Errorf("images to keep: %w", err)
	}
	for _, id := range launched {
		set.Images[id] = true
		set.Launched[id] = true
	}
	active, err := column[int64](ctx, s.pool, `SELECT id FROM builds WHERE status IN ('queued', 'running')`)
	if err != nil {
		return nil, fmt.Errorf("images to keep: %w", err)
	}
	for _, id := range active {
		set.Builds[id] = true
	}
	return set, nil
}

// RepositoryIDs returns the ids of every registered repository, for
// cleaning up per-repository caches of deleted ones.
func (s *Store) RepositoryIDs(ctx context.Context) (map[int64]bool, error) {
	ids, err := column[int64](ctx, s.pool, `SELECT id FROM repositories`)
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// CatalogID returns the random identity of this catalog (migration 0005).
// Images built for it carry it as a label, so that catalogs sharing a
// Docker engine leave each other's images alone.
func (s *Store) CatalogID(ctx context.Context) (string, error) {
	var id string
	if err := s.pool.QueryRow(ctx, `SELECT id FROM catalog_identity`).Scan(&id); err != nil {
		return "", fmt.Errorf("catalog identity: %w", mapError(err))
	}
	return id, nil
}

// buildArgsJSON is the jsonb value of build arguments: an object, {} for
// none.
func buildArgsJSON(args map[string]string) string {
	if len(args) == 0 {
		return "{}"
	}
	b, err := json.Marshal(args)
	if err != nil {
		return "{}"
	}
	return string(b)
}
