package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/jackc/pgx/v5"
)

// Ingestion state machine of a repository (ingest_status):
//
//	queued ──claim──▶ processing ──success──▶ ready
//	   ▲                  │  └──────failure──▶ failed
//	   └───── retry ──────┘
//	ready/failed ──refresh, webhook, sync──▶ queued
//
// ingest_attempts counts the attempts of the current run: a request for a
// new run resets it, each claim increments it. ingest_claim is incremented by
// every claim and never reset: the pair (id, ingest_claim) identifies one
// attempt, so a worker whose claim was superseded (a refresh while it ran, a
// lease taken over after a crash) cannot overwrite newer state.
// ingest_lease_until is, while processing, the end of the claim's lease;
// while queued, the time by which the queue promised to deliver the job (the
// reconciler steps in after it).

// ErrClaimLost means the repository is no longer processed under this
// claim: it was re-queued (refresh, webhook), deleted, or taken over after
// the lease expired. The attempt's result must be dropped.
var ErrClaimLost = errors.New("ingestion claim lost: the repository was re-queued, deleted or taken over")

// NotClaimableError says why ClaimIngest did not claim a repository: it is
// not waiting for ingestion (ready, failed), or another worker holds a live
// lease on it.
type NotClaimableError struct {
	Slug       string
	Status     catalog.IngestStatus
	LeaseUntil *time.Time
}

func (e *NotClaimableError) Error() string {
	if e.Status == catalog.IngestProcessing && e.LeaseUntil != nil {
		return fmt.Sprintf("repository %q is being ingested by another worker (lease until %s)", e.Slug, e.LeaseUntil.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("repository %q is %s, not waiting for ingestion", e.Slug, e.Status)
}

// IngestClaim is a repository claimed by one ingestion attempt.
type IngestClaim struct {
	RepositoryID        int64
	Slug                string
	Name                string
	GitURL              string
	Branch              string // declared; "" = the remote's HEAD
	RequestedDockerfile string
	// RequestedContext is the build context the user set (appstore edit
	// --context), "" when ingestion chooses.
	RequestedContext string
	// RequestedTarget is the stage the user set (appstore edit --target),
	// "" when ingestion chooses.
	RequestedTarget string
	LastCommitSHA   string
	// Attempt is the number of this attempt in the current run (1 for the
	// first).
	Attempt int
	// Claim is the claim's token: with RepositoryID it identifies this
	// attempt in every later write.
	Claim      int64
	LeaseUntil time.Time
	// Recovered is set when the claim took over a processing repository
	// whose previous attempt's lease had expired (a crashed worker).
	Recovered bool
}

// ClaimIngest moves a queued repository (or one left processing past its
// lease) to processing for one attempt: it increments ingest_attempts, sets
// the lease, and writes the timeline step and ingestion.processing in the
// same transaction. A repository that is not waiting (ready, failed, or
// processing under a live lease) is a *NotClaimableError; a missing one
// catalog.ErrNotFound.
func (s *Store) ClaimIngest(ctx context.Context, repoID int64, lease time.Duration) (*IngestClaim, error) {
	var c IngestClaim
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var status catalog.IngestStatus
		var leaseUntil *time.Time
		var expired bool
		err := tx.QueryRow(ctx, `
			SELECT slug, name, git_url, branch, requested_dockerfile, last_commit_sha, ingest_status,
			       ingest_attempts, ingest_lease_until, coalesce(ingest_lease_until < now(), true), requested_context, requested_target
			FROM repositories WHERE id = $1 FOR UPDATE`, repoID).
			Scan(&c.Slug, &c.Name, &c.GitURL, &c.Branch, &c.RequestedDockerfile, &c.LastCommitSHA, &status,
				&c.Attempt, &leaseUntil, &expired, &c.RequestedContext, &c.RequestedTarget)
		if errors.Is(err, pgx.ErrNoRows) {
			return &catalog.NotFoundError{Kind: "repository", Key: strconv.FormatInt(repoID, 10)}
		}
		if err != nil {
			return mapError(err)
		}
		switch {
		case status == catalog.IngestQueued:
		case status == catalog.IngestProcessing && expired:
			c.Recovered = true
		default:
			return &NotClaimableError{Slug: c.Slug, Status: status, LeaseUntil: leaseUntil}
		}
		c.RepositoryID = repoID
		err = tx.QueryRow(ctx, `
			UPDATE repositories SET ingest_status = 'processing', ingest_attempts = ingest_attempts + 1,
			       ingest_claim = ingest_claim + 1,
			       ingest_lease_until = now() + make_interval(secs => $2), updated_at = now()
			WHERE id = $1 RETURNING ingest_attempts, ingest_claim, ingest_lease_until`, repoID, lease.Seconds()).
			Scan(&c.Attempt, &c.Claim, &c.LeaseUntil)
		if err != nil {
			return mapError(err)
		}
		msg := "cloning " + c.GitURL
		if c.Branch != "" {
			msg += " (branch " + c.Branch + ")"
		}
		if c.Recovered {
			msg += "; the previous attempt did not finish before its lease expired (worker stopped?)"
		}
		if err := insertIngestionEvent(ctx, tx, repoID, catalog.IngestProcessing, msg, c.Attempt, "", nil); err != nil {
			return err
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: "ingestion.processing", Subject: c.Slug, Data: map[string]any{
			"id": repoID, "slug": c.Slug, "ingest_status": catalog.IngestProcessing, "attempt": c.Attempt, "message": msg,
		}})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim repository %d for ingestion: %w", repoID, err)
	}
	return &c, nil
}

// RenewIngestLease extends the lease of a running attempt to now() + lease.
// The worker calls it every third of the lease while it clones and reads,
// so that the lease can be short (a dead worker's repository is taken over
// within about a lease) whatever the clone timeout. It returns ErrClaimLost
// when the claim no longer holds (re-queued, deleted, taken over).
func (s *Store) RenewIngestLease(ctx context.Context, a IngestAttempt, lease time.Duration) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE repositories SET ingest_lease_until = now() + make_interval(secs => $3)
		WHERE id = $1 AND ingest_claim = $2 AND ingest_status = 'processing'`,
		a.RepositoryID, a.Claim, lease.Seconds())
	if err != nil {
		return fmt.Errorf("renew the ingestion lease of repository %d: %w", a.RepositoryID, mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return ErrClaimLost
	}
	return nil
}

// IngestAttempt identifies the claim an outcome belongs to and what the
// attempt saw.
type IngestAttempt struct {
	RepositoryID int64
	Claim        int64  // IngestClaim.Claim
	Attempt      int    // IngestClaim.Attempt, for the timeline
	CommitSHA    string // "" when the clone did not get that far
	Duration     time.Duration
	// CardVersion is the version of the rules that read the checkout
	// (metadata.CardVersion), recorded as the repository's card_version;
	// 0 when the attempt did not get that far.
	CardVersion int
}

// Outcome returns the IngestAttempt of this claim, for the caller to fill in.
func (c *IngestClaim) Outcome() IngestAttempt {
	return IngestAttempt{RepositoryID: c.RepositoryID, Claim: c.Claim, Attempt: c.Attempt}
}

// lockClaim locks the repository row and checks that the claim still holds.
func lockClaim(ctx context.Context, tx pgx.Tx, a IngestAttempt) (slug string, manual []string, err error) {
	var status catalog.IngestStatus
	var claim int64
	err = tx.QueryRow(ctx, `SELECT slug, ingest_status, ingest_claim, manual_fields FROM repositories WHERE id = $1 FOR UPDATE`,
		a.RepositoryID).Scan(&slug, &status, &claim, &manual)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, ErrClaimLost
	}
	if err != nil {
		return "", nil, mapError(err)
	}
	if status != catalog.IngestProcessing || claim != a.Claim {
		return "", nil, ErrClaimLost
	}
	return slug, manual, nil
}

// FailIngest records the final failure of an attempt: the repository is
// failed with message as its ingest_error, and the timeline and
// ingestion.failed say so. It returns ErrClaimLost when the claim no longer
// holds (nothing is written then).
func (s *Store) FailIngest(ctx context.Context, a IngestAttempt, message string) error {
	return s.FailIngestWithCard(ctx, a, message, nil)
}

// IngestCard is what a failed attempt could still read about the app (a
// repository without a Dockerfile has a name, a description and tags):
// FailIngestWithCard writes it as CompleteIngest writes a success's, the
// fields the user set (manual_fields) and manual tags untouched, unless a
// success wrote a card before (that card, of the commit builds run, stays).
type IngestCard struct {
	Name, Description, Homepage, Emoji string
	Readme                             string
	Metadata                           json.RawMessage
	AuthorTags, AutoTags               []catalog.Tag
	// AppPort and PortSource are the port the repository names without
	// a Dockerfile (tags.yaml, the README's app_port or docker run): 0
	// and "" for none. A port the user set (requested_port) still wins.
	AppPort    int
	PortSource string
}

// FailIngestWithCard is FailIngest that also records the card the attempt
// read; a nil card records none.
func (s *Store) FailIngestWithCard(ctx context.Context, a IngestAttempt, message string, card *IngestCard) error {
	if card != nil && len(card.Metadata) > 0 && !json.Valid(card.Metadata) {
		return fmt.Errorf("record failed ingestion of repository %d: metadata is not valid JSON", a.RepositoryID)
	}
	if err := s.endAttempt(ctx, a, catalog.IngestFailed, "ingestion.failed", message, nil, card); err != nil {
		return fmt.Errorf("record failed ingestion of repository %d: %w", a.RepositoryID, err)
	}
	return nil
}

// RetryIngest records a failed attempt that the queue will retry: the
// repository goes back to queued with message as its ingest_error, and the
// reconciler leaves it alone until retryWithin has passed (the queue's
// backoff). The timeline step is "queued" with the message and the
// attempt's duration; the event is ingestion.retrying.
func (s *Store) RetryIngest(ctx context.Context, a IngestAttempt, message string, retryWithin time.Duration) error {
	if err := s.endAttempt(ctx, a, catalog.IngestQueued, "ingestion.retrying", message, &retryWithin, nil); err != nil {
		return fmt.Errorf("record retried ingestion of repository %d: %w", a.RepositoryID, err)
	}
	return nil
}

// endAttempt records the end of an attempt that did not succeed, under its
// claim: the repository's status and ingest_error, the timeline step with
// the attempt's duration, and the event eventType. The reconciler leaves
// the repository alone for leaseFor; nil leaves no lease.
func (s *Store) endAttempt(ctx context.Context, a IngestAttempt, status catalog.IngestStatus, eventType, message string, leaseFor *time.Duration, card *IngestCard) error {
	var leaseSecs *float64
	if leaseFor != nil {
		secs := leaseFor.Seconds()
		leaseSecs = &secs
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		slug, manual, err := lockClaim(ctx, tx, a)
		if err != nil {
			return err
		}
		// make_interval is strict: a NULL lease (none) makes
		// ingest_lease_until NULL.
		_, err = tx.Exec(ctx, `
			UPDATE repositories SET ingest_status = $2, ingest_error = $3,
			       ingest_lease_until = now() + make_interval(secs => $4),
			       card_version = CASE WHEN $5 > 0 THEN $5 ELSE card_version END, updated_at = now()
			WHERE id = $1`, a.RepositoryID, string(status), message, leaseSecs, a.CardVersion)
		if err != nil {
			return mapError(err)
		}
		if card != nil {
			// A repository ingested before keeps the card of its last good
			// commit, the one its builds run: a failure's card, read from a
			// commit that cannot be built, stands in only where there is
			// none.
			var ingested bool
			if err := tx.QueryRow(ctx, `SELECT coalesce(last_commit_sha, '') <> '' FROM repositories WHERE id = $1`, a.RepositoryID).Scan(&ingested); err != nil {
				return mapError(err)
			}
			if ingested {
				card = nil
			}
		}
		if card != nil {
			var port *int32
			if card.AppPort > 0 {
				p := int32(card.AppPort)
				port = &p
			}
			// The card describes this commit: its port too, as a success
			// writes it.
			if _, err := tx.Exec(ctx, `UPDATE repositories SET app_port = $2, port_source = $3 WHERE id = $1`,
				a.RepositoryID, port, card.PortSource); err != nil {
				return mapError(err)
			}
			if err := writeCard(ctx, tx, a.RepositoryID, manual, card); err != nil {
				return err
			}
		}
		ms := a.Duration.Milliseconds()
		if err := insertIngestionEvent(ctx, tx, a.RepositoryID, status, message, a.Attempt, a.CommitSHA, &ms); err != nil {
			return err
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: eventType, Subject: slug, Data: map[string]any{
			"id": a.RepositoryID, "slug": slug, "ingest_status": status, "attempt": a.Attempt,
			"message": message, "commit_sha": a.CommitSHA, "duration_ms": ms,
		}})
		return err
	})
}

// IngestSuccess is what a successful attempt learned.
type IngestSuccess struct {
	IngestAttempt
	// Branch is the branch cloned. It becomes default_branch when the
	// repository declares none (it is then what the remote HEAD named).
	Branch string
	// Name, Description and Homepage are applied unless the user set the
	// field (manual_fields). An empty Name keeps the current one.
	Name        string
	Description string
	Homepage    string
	// Emoji is the app's emoji ("" for none).
	Emoji string

	DockerfilePath string
	ContextPath    string
	// BuildTarget and BuildArgs are the stage and build arguments builds
	// use ("" the final stage, nil none).
	BuildTarget string
	BuildArgs   map[string]string
	AppPort     int // 0 = unknown
	PortSource  string
	Readme      string
	// Metadata is stored as the repository's metadata (a JSON object).
	Metadata json.RawMessage

	AuthorTags []catalog.Tag
	AutoTags   []catalog.Tag
	// Message is the timeline step's text.
	Message string
}

// IngestCompletion is what CompleteIngest did.
type IngestCompletion struct {
	Slug    string
	BuildID int64
	// NewBuild is false when an identical build (same commit, Dockerfile
	// and context) was still queued or running and is reused.
	NewBuild bool
}

// CompleteIngest records a successful attempt in one transaction: the
// repository's fields (name, description and homepage only where the user
// did not set them), its author and auto tags (manual tags untouched), the
// timeline step, a queued build for the commit, and the events. The caller
// enqueues the build job after it returns; if that fails, the reconciler
// re-enqueues queued builds. ErrClaimLost means nothing was written.
func (s *Store) CompleteIngest(ctx context.Context, in IngestSuccess) (*IngestCompletion, error) {
	meta := in.Metadata
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	if !json.Valid(meta) {
		return nil, fmt.Errorf("record ingestion of repository %d: metadata is not valid JSON", in.RepositoryID)
	}
	var out IngestCompletion
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		slug, manual, err := lockClaim(ctx, tx, in.IngestAttempt)
		if err != nil {
			return err
		}
		out.Slug = slug
		var port *int32
		if in.AppPort > 0 {
			p := int32(in.AppPort)
			port = &p
		}
		_, err = tx.Exec(ctx, `
			UPDATE repositories SET
				default_branch = CASE WHEN branch = '' AND $2 <> '' THEN $2 ELSE default_branch END,
				dockerfile_path = $3, context_path = $4, app_port = $5, port_source = $6,
				last_commit_sha = $7, last_ingested_at = now(),
				card_version = CASE WHEN $8 > 0 THEN $8 ELSE card_version END,
				build_target = $9, build_args = $10::jsonb,
				ingest_status = 'ready', ingest_error = '', ingest_lease_until = NULL, updated_at = now()
			WHERE id = $1`,
			in.RepositoryID, in.Branch, in.DockerfilePath, in.ContextPath, port, in.PortSource,
			in.CommitSHA, in.CardVersion, in.BuildTarget, buildArgsJSON(in.BuildArgs))
		if err != nil {
			return mapError(err)
		}
		if err := writeCard(ctx, tx, in.RepositoryID, manual, &IngestCard{
			Name: in.Name, Description: in.Description, Homepage: in.Homepage, Emoji: in.Emoji,
			Readme: in.Readme, Metadata: meta, AuthorTags: in.AuthorTags, AutoTags: in.AutoTags,
		}); err != nil {
			return err
		}
		ms := in.Duration.Milliseconds()
		if err := insertIngestionEvent(ctx, tx, in.RepositoryID, catalog.IngestReady, in.Message, in.Attempt, in.CommitSHA, &ms); err != nil {
			return err
		}
		// A refresh of an unchanged commit while its build is still
		// waiting or running would only queue the same work twice.
		err = tx.QueryRow(ctx, `
			SELECT id FROM builds
			WHERE repository_id = $1 AND commit_sha = $2 AND dockerfile_path = $3 AND context_path = $4
			  AND target = $5 AND build_args = $6::jsonb
			  AND status IN ('queued', 'running') AND NOT no_cache
			ORDER BY id DESC LIMIT 1`, in.RepositoryID, in.CommitSHA, in.DockerfilePath, in.ContextPath,
			in.BuildTarget, buildArgsJSON(in.BuildArgs)).Scan(&out.BuildID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			out.NewBuild = true
			out.BuildID, err = InsertQueuedBuild(ctx, tx, QueuedBuild{
				RepositoryID: in.RepositoryID, Slug: slug, CommitSHA: in.CommitSHA,
				DockerfilePath: in.DockerfilePath, ContextPath: in.ContextPath,
				Target: in.BuildTarget, Args: in.BuildArgs,
			})
			if err != nil {
				return err
			}
		case err != nil:
			return mapError(err)
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: "ingestion.ready", Subject: slug, Data: map[string]any{
			"id": in.RepositoryID, "slug": slug, "ingest_status": catalog.IngestReady, "attempt": in.Attempt,
			"message": in.Message, "commit_sha": in.CommitSHA, "duration_ms": ms, "build_id": out.BuildID,
			"dockerfile_path": in.DockerfilePath, "tags": len(in.AuthorTags) + len(in.AutoTags),
		}})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record ingestion of repository %d: %w", in.RepositoryID, err)
	}
	return &out, nil
}

// writeCard writes what ingestion read about the app: name, description
// and homepage unless the user set them (manual_fields; an empty name
// keeps the current one), emoji, README text, metadata, and the author and
// auto tags (manual tags untouched).
func writeCard(ctx context.Context, tx pgx.Tx, id int64, manual []string, c *IngestCard) error {
	keep := func(field string) bool { return slices.Contains(manual, field) }
	// What a repository declares passes the sanitisers of every write
	// path (metadata.Extract applied them already; they are idempotent).
	name, description := catalog.CleanText(c.Name, catalog.MaxNameLen), catalog.CleanText(c.Description, catalog.MaxDescriptionLen)
	homepage, err := catalog.CleanHomepage(c.Homepage)
	if err != nil {
		homepage = ""
	}
	meta := c.Metadata
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	_, err = tx.Exec(ctx, `
		UPDATE repositories SET
			name = CASE WHEN $2 OR $3 = '' THEN name ELSE $3 END,
			description = CASE WHEN $4 THEN description ELSE $5 END,
			homepage = CASE WHEN $6 THEN homepage ELSE $7 END,
			emoji = $8, readme = $9, metadata = $10
		WHERE id = $1`,
		id, keep("name"), name, keep("description"), description, keep("homepage"), homepage,
		c.Emoji, c.Readme, meta)
	if err != nil {
		return mapError(err)
	}
	if err := ReplaceTags(ctx, tx, id, catalog.SourceAuthor, c.AuthorTags); err != nil {
		return err
	}
	return ReplaceTags(ctx, tx, id, catalog.SourceAuto, c.AutoTags)
}

func insertIngestionEvent(ctx context.Context, tx pgx.Tx, repoID int64, status catalog.IngestStatus, msg string, attempt int, commit string, durationMS *int64) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO ingestion_events (repository_id, status, message, attempt, commit_sha, duration_ms, actor)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, repoID, string(status), msg, attempt, commit, durationMS, catalog.ActorName(ctx))
	if err != nil {
		return fmt.Errorf("record timeline step: %w", mapError(err))
	}
	return nil
}

// requeueGrace is how long a freshly queued repository is left to the job
// enqueued right after; the reconciler re-enqueues it after that.
const requeueGrace = time.Minute

// RequestIngest queues a new ingestion run of the repository with slug
// (refresh, webhook, sync), with reason as the timeline's message. A
// repository already queued is left as it is (changed is false); one being
// processed is re-queued, so the running attempt's result is dropped
// (ErrClaimLost) and a new attempt sees the latest commit. The caller
// enqueues the job.
func (s *Store) RequestIngest(ctx context.Context, slug, reason string) (repo *catalog.Repository, changed bool, err error) {
	id, err := s.RepositoryIDBySlug(ctx, slug)
	if err != nil {
		return nil, false, err
	}
	if changed, err = s.RequestIngestByID(ctx, id, reason); err != nil {
		return nil, false, err
	}
	repo, err = s.RepositoryByID(ctx, id)
	return repo, changed, err
}

// RequestIngestByID is RequestIngest by repository id.
func (s *Store) RequestIngestByID(ctx context.Context, id int64, reason string) (changed bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var slug string
		var status catalog.IngestStatus
		err := tx.QueryRow(ctx, `SELECT slug, ingest_status FROM repositories WHERE id = $1 FOR UPDATE`, id).Scan(&slug, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return &catalog.NotFoundError{Kind: "repository", Key: strconv.FormatInt(id, 10)}
		}
		if err != nil {
			return mapError(err)
		}
		if status == catalog.IngestQueued {
			return nil
		}
		changed = true
		_, err = tx.Exec(ctx, `
			UPDATE repositories SET ingest_status = 'queued', ingest_attempts = 0, ingest_error = '',
			       ingest_lease_until = now() + make_interval(secs => $2), updated_at = now()
			WHERE id = $1`, id, requeueGrace.Seconds())
		if err != nil {
			return mapError(err)
		}
		if err := insertIngestionEvent(ctx, tx, id, catalog.IngestQueued, reason, 0, "", nil); err != nil {
			return err
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: "ingestion.queued", Subject: slug, Data: map[string]any{
			"id": id, "slug": slug, "ingest_status": catalog.IngestQueued, "message": reason, "previous_status": status,
		}})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("queue ingestion of repository %d: %w", id, err)
	}
	return changed, nil
}

// TimelineOptions select timeline steps.
type TimelineOptions struct {
	// After, when set, returns the steps with a greater id, oldest first
	// (for polling). Otherwise the newest Limit steps are returned, oldest
	// first.
	After int64
	Limit int // 1..1000, default 100
}

// IngestionTimeline returns the ingestion steps of the repository with
// slug, oldest first.
func (s *Store) IngestionTimeline(ctx context.Context, slug string, o TimelineOptions) ([]catalog.IngestionEvent, error) {
	if o.Limit <= 0 {
		o.Limit = 100
	}
	if o.Limit > 1000 {
		o.Limit = 1000
	}
	id, err := s.RepositoryIDBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT * FROM (
			SELECT id, repository_id, status, message, attempt, commit_sha, duration_ms, created_at, actor
			FROM ingestion_events
			WHERE repository_id = $1 AND ($2 = 0 OR id > $2)
			ORDER BY CASE WHEN $2 = 0 THEN -id ELSE id END
			LIMIT $3) e
		ORDER BY id`, id, o.After, o.Limit)
	if err != nil {
		return nil, fmt.Errorf("timeline of %q: %w", slug, mapError(err))
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.IngestionEvent, error) {
		var e catalog.IngestionEvent
		err := r.Scan(&e.ID, &e.RepositoryID, &e.Status, &e.Message, &e.Attempt, &e.CommitSHA, &e.DurationMS, &e.CreatedAt, &e.Actor)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("timeline of %q: %w", slug, mapError(err))
	}
	if evs == nil {
		evs = []catalog.IngestionEvent{}
	}
	return evs, nil
}

// StaleIngestions returns the ids of repositories whose ingestion job may
// have been lost: queued past the time the queue promised to deliver
// (requeueGrace after the last change when no promise was recorded), and
// processing past their lease (a worker that died). With all, every queued
// repository counts, whatever its promise: at start-up, when an in-process
// queue lost everything it held.
func (s *Store) StaleIngestions(ctx context.Context, all bool, limit int) ([]int64, error) {
	if limit <= 0 {
		limit = 1000
	}
	ids, err := column[int64](ctx, s.pool, `
		SELECT id FROM repositories
		WHERE (ingest_status = 'queued'
		       AND ($1 OR coalesce(ingest_lease_until, updated_at + make_interval(secs => $2)) < now()))
		   OR (ingest_status = 'processing' AND coalesce(ingest_lease_until < now(), true))
		ORDER BY updated_at LIMIT $3`, all, requeueGrace.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("list stale ingestions: %w", err)
	}
	return ids, nil
}

// ClaimSyncDue returns up to limit repositories (ready or failed) whose
// remote was not compared with the ingested commit for interval, and marks
// them as compared now. Several processes calling it at once get disjoint
// sets (SKIP LOCKED).
func (s *Store) ClaimSyncDue(ctx context.Context, interval time.Duration, limit int) ([]int64, error) {
	if limit <= 0 {
		limit = 500
	}
	ids, err := column[int64](ctx, s.pool, `
		UPDATE repositories SET last_synced_at = now()
		WHERE id IN (
			SELECT id FROM repositories
			WHERE ingest_status IN ('ready', 'failed')
			  AND coalesce(last_synced_at, last_ingested_at, updated_at) <= now() - make_interval(secs => $1)
			ORDER BY coalesce(last_synced_at, last_ingested_at, updated_at)
			LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING id`, interval.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("claim repositories due for sync: %w", err)
	}
	return ids, nil
}

// SyncTarget is what the sync compares.
type SyncTarget struct {
	RepositoryID int64
	Slug         string
	GitURL       string
	Branch       string // declared; "" = the remote's HEAD
	Status       catalog.IngestStatus
	// SeenCommit is the newest commit an ingestion of the repository read:
	// the ingested one when ready; when failed, the commit of the newest
	// timeline step that recorded one ("" when no attempt got as far as a
	// commit: such failures need a refresh, not a new commit).
	SeenCommit string
	// CardVersion is the version of the rules that derived the card (0
	// for a repository no ingestion read yet, or read before versions).
	CardVersion int
}

// SyncTargetByID returns what the sync of a repository compares.
func (s *Store) SyncTargetByID(ctx context.Context, id int64) (*SyncTarget, error) {
	var t SyncTarget
	err := s.pool.QueryRow(ctx, `
		SELECT r.id, r.slug, r.git_url, r.branch, r.ingest_status,
		       CASE WHEN r.ingest_status = 'ready' THEN r.last_commit_sha
		            ELSE coalesce((SELECT commit_sha FROM ingestion_events
		                           WHERE repository_id = r.id AND commit_sha <> ''
		                           ORDER BY id DESC LIMIT 1), '') END,
		       r.card_version
		FROM repositories r WHERE r.id = $1`, id).
		Scan(&t.RepositoryID, &t.Slug, &t.GitURL, &t.Branch, &t.Status, &t.SeenCommit, &t.CardVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "repository", Key: strconv.FormatInt(id, 10)}
	}
	if err != nil {
		return nil, fmt.Errorf("sync target %d: %w", id, mapError(err))
	}
	return &t, nil
}

// RepositoriesByURLKeys returns the repositories registered under any of
// the normalised URL keys (giturl.URL.Key), without their tags: webhooks
// match pushes to repositories with it.
func (s *Store) RepositoriesByURLKeys(ctx context.Context, keys []string) ([]*catalog.Repository, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+repoColumns+` FROM `+repoFrom+` WHERE r.git_url_key = ANY($1) ORDER BY r.id`, keys)
	if err != nil {
		return nil, fmt.Errorf("repositories by URL: %w", mapError(err))
	}
	repos, err := scanRepositoryRows(rows)
	if err != nil {
		return nil, fmt.Errorf("repositories by URL: %w", mapError(err))
	}
	return repos, nil
}
