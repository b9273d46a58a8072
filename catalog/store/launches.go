package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/internal/textutil"
	"github.com/jackc/pgx/v5"
)

// Launches. A launch row is written before its container exists (status
// starting) so that a crash at any point leaves a row the runner's
// reconciler can settle; every status change goes through TransitionLaunch,
// which only moves a launch from the states it names, so that the runner's
// concurrent paths (readiness, the Docker event watcher, TTL, a user's stop)
// can race without double transitions or double events.

// launchColumns are the columns scanLaunch reads from "launches l JOIN
// repositories r".
const launchColumns = `l.id, l.repository_id, r.slug, l.build_id, l.container_id, l.container_name,
	l.host_port, l.app_port, l.instance_url, l.status, l.resource_profile, l.warm, l.runner,
	l.error_message, l.exit_code, l.created_at, l.started_at, l.stopped_at, l.expires_at,
	l.last_request_at, l.stop_reason,
	(SELECT max(sb.id) FROM builds sb WHERE sb.repository_id = l.repository_id AND sb.status = 'succeeded'),
	l.status IN ('starting', 'running') AND l.config_version < r.config_version,
	coalesce(l.launched_by, 0), coalesce((SELECT lu.name FROM users lu WHERE lu.id = l.launched_by), '')`

const launchFrom = `launches l JOIN repositories r ON r.id = l.repository_id`

func scanLaunch(row pgx.Row) (*catalog.Launch, error) {
	var l catalog.Launch
	var hostPort, appPort, exitCode *int32
	err := row.Scan(&l.ID, &l.RepositoryID, &l.Repository, &l.BuildID, &l.ContainerID, &l.ContainerName,
		&hostPort, &appPort, &l.InstanceURL, &l.Status, &l.ResourceProfile, &l.Warm, &l.Runner,
		&l.ErrorMessage, &exitCode, &l.CreatedAt, &l.StartedAt, &l.StoppedAt, &l.ExpiresAt,
		&l.LastRequestAt, &l.StopReason, &l.LatestBuildID, &l.ConfigChanged, &l.LaunchedByID, &l.LaunchedBy)
	if err != nil {
		return nil, err
	}
	l.Outdated = l.BuildID != nil && l.LatestBuildID != nil && *l.LatestBuildID > *l.BuildID
	if hostPort != nil {
		l.HostPort = int(*hostPort)
	}
	if appPort != nil {
		l.AppPort = int(*appPort)
	}
	if exitCode != nil {
		c := int(*exitCode)
		l.ExitCode = &c
	}
	return &l, nil
}

func collectLaunches(rows pgx.Rows) ([]catalog.Launch, error) {
	defer rows.Close()
	out := []catalog.Launch{}
	for rows.Next() {
		l, err := scanLaunch(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *l)
	}
	return out, rows.Err()
}

// launchEvent is the data of every launch.* event: enough for a consumer
// (CLI progress, web view) to act without fetching the launch.
func launchEvent(l *catalog.Launch, extra map[string]any) EventSpec {
	data := map[string]any{
		"launch_id": l.ID, "repository_id": l.RepositoryID, "slug": l.Repository,
		"status": l.Status, "profile": l.ResourceProfile, "warm": l.Warm,
	}
	if l.BuildID != nil {
		data["build_id"] = *l.BuildID
	}
	if l.HostPort != 0 {
		data["host_port"] = l.HostPort
	}
	if l.ContainerID != "" {
		data["container_id"] = l.ContainerID
	}
	if l.ErrorMessage != "" {
		data["error"] = l.ErrorMessage
	}
	if l.ExitCode != nil {
		data["exit_code"] = *l.ExitCode
	}
	if l.ExpiresAt != nil {
		data["expires_at"] = l.ExpiresAt.UTC()
	}
	for k, v := range extra {
		data[k] = v
	}
	return EventSpec{Type: "launch." + string(l.Status), Subject: l.Repository, Data: data}
}

// LaunchTarget is what a launch of a repository starts from: the repository's
// port and profile hints and its latest succeeded build.
type LaunchTarget struct {
	RepositoryID int64
	Slug         string
	// AppPort is the repository's port from ingestion (tags.yaml, README
	// app_port, EXPOSE, in that order); 0 when nothing said.
	AppPort    int
	PortSource string
	// Profile is the resource profile the repository asks for
	// (tags.yaml resources:, kept in metadata by ingestion); "" if none.
	Profile string
	// Tags are the repository's "key:value" tags.
	Tags []string
	// Storage is the data directory the repository declares (tags.yaml
	// storage:, kept in metadata by ingestion); nil if none. GitURLKey
	// tells the app's volume from that of a removed app of the same slug.
	Storage   *catalog.Storage
	GitURLKey string
	// IngestStatus is the repository's, to say why there is no build.
	IngestStatus catalog.IngestStatus
	// Build is the latest succeeded build; nil when there is none.
	Build *LaunchBuild
	// LatestBuild is the newest build of any status, to explain why there
	// is no succeeded one; nil when the repository was never built.
	LatestBuild *catalog.BuildSummary
}

// LaunchBuild is the part of a build a launch needs.
type LaunchBuild struct {
	ID        int64
	CommitSHA string
	ImageTag  string
	ImageID   string
	// RegistryImage and ImageDigest say where the image was pushed
	// (empty without --registry): Swarm launches run it by digest.
	RegistryImage string
	ImageDigest   string
}

const launchTargetQuery = `
	SELECT r.id, r.slug, coalesce(r.requested_port, r.app_port), CASE WHEN r.requested_port IS NOT NULL THEN 'manual' ELSE r.port_source END,
	       coalesce(nullif(r.requested_profile, ''), r.metadata->>'resources', ''), r.tags, r.ingest_status,
	       coalesce(r.metadata->'storage'->>'path', ''), coalesce((r.metadata->'storage'->>'size_bytes')::bigint, 0), r.git_url_key,
	       s.id, s.commit_sha, s.image_tag, s.image_id, s.registry_image, s.image_digest,
	       b.id, b.status, b.commit_sha, b.image_tag
	FROM repositories r
	LEFT JOIN LATERAL (
		SELECT id, commit_sha, image_tag, image_id, registry_image, image_digest FROM builds
		WHERE repository_id = r.id AND status = 'succeeded' ORDER BY id DESC LIMIT 1
	) s ON true
	LEFT JOIN LATERAL (
		SELECT id, status, commit_sha, image_tag FROM builds
		WHERE repository_id = r.id ORDER BY id DESC LIMIT 1
	) b ON true`

func scanLaunchTarget(row pgx.Row) (*LaunchTarget, error) {
	var t LaunchTarget
	var port *int32
	var sID, bID *int64
	var sSHA, sTag, sImage, sRegistry, sDigest, bStatus, bSHA, bTag *string
	var storagePath string
	var storageSize int64
	err := row.Scan(&t.RepositoryID, &t.Slug, &port, &t.PortSource, &t.Profile, &t.Tags, &t.IngestStatus,
		&storagePath, &storageSize, &t.GitURLKey,
		&sID, &sSHA, &sTag, &sImage, &sRegistry, &sDigest, &bID, &bStatus, &bSHA, &bTag)
	if err != nil {
		return nil, err
	}
	if port != nil {
		t.AppPort = int(*port)
	}
	if storagePath != "" {
		t.Storage = &catalog.Storage{Path: storagePath, SizeBytes: storageSize}
	}
	if sID != nil {
		t.Build = &LaunchBuild{ID: *sID, CommitSHA: *sSHA, ImageTag: *sTag, ImageID: *sImage, RegistryImage: *sRegistry, ImageDigest: *sDigest}
	}
	if bID != nil {
		t.LatestBuild = &catalog.BuildSummary{ID: *bID, Status: catalog.BuildStatus(*bStatus), CommitSHA: *bSHA, ImageTag: *bTag}
	}
	return &t, nil
}

// LaunchTarget returns what a launch of the repository slug would start.
func (s *Store) LaunchTarget(ctx context.Context, slug string) (*LaunchTarget, error) {
	t, err := scanLaunchTarget(s.pool.QueryRow(ctx, launchTargetQuery+` WHERE r.slug = $1`, slug))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "repository", Key: slug}
	}
	if err != nil {
		return nil, fmt.Errorf("launch target %q: %w", slug, mapError(err))
	}
	return t, nil
}

// WarmCandidates returns up to n repositories that have a succeeded build,
// those tagged warm:true first, then the most launched.
func (s *Store) WarmCandidates(ctx context.Context, n int) ([]LaunchTarget, error) {
	if n <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, launchTargetQuery+`
		WHERE s.id IS NOT NULL
		ORDER BY ('warm:true' = ANY(r.tags)) DESC, r.launch_count DESC, r.id
		LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("warm candidates: %w", mapError(err))
	}
	defer rows.Close()
	var out []LaunchTarget
	for rows.Next() {
		t, err := scanLaunchTarget(rows)
		if err != nil {
			return nil, fmt.Errorf("warm candidates: %w", mapError(err))
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("warm candidates: %w", mapError(err))
	}
	return out, nil
}

// NewLaunch is a launch to begin.
type NewLaunch struct {
	RepositoryID int64
	BuildID      int64
	AppPort      int
	Profile      string
	// Runner is the runner that will own the container.
	Runner string
	// TTL is how long the launch may live from now; ignored for warm ones.
	TTL time.Duration
	// ExactTTL makes a reused launch end TTL from now, sooner or later
	// than before (the user asked for that TTL); otherwise reuse only
	// extends the expiry.
	ExactTTL bool
	// Warm asks for a warm-pool container: it has no TTL, does not count as
	// a launch of the repository, and is attached to a later launch.
	Warm bool
	// Redeploys, when not 0, is the running launch this one replaces with
	// a newer build (the runner's redeploy, not a request): its
	// launch.starting says so (redeploy_of).
	Redeploys int64
	// ConfigVersion is the app's configuration version that the launch's
	// environment was read at (AppConfig.Version): a warm container is
	// attached only when it has the same, and a launch whose app's
	// version moved on is marked ConfigChanged.
	ConfigVersion int64
	// Fresh always inserts a new launch (`appstore launch --restart`):
	// no reuse, no warm container; the launch it then replaces is stopped
	// once the new one runs.
	Fresh bool
	// Memory is the launch's memory limit (its profile's), recorded for
	// the memory caps of LaunchQuota.
	Memory int64
	// Quota, when not nil, admits the launch under its caps in the same
	// transaction (admitTx); past one BeginLaunch returns a *QuotaRefusal.
	Quota *LaunchQuota
}

// LaunchOrigin says how BeginLaunch satisfied a request.
type LaunchOrigin int

const (
	// LaunchCreated is a new launch in status starting: the caller starts
	// its container.
	LaunchCreated LaunchOrigin = iota
	// LaunchReused is an active launch of the same build and profile that
	// was already there; its expiry was extended to cover the TTL.
	LaunchReused
	// LaunchAttached is a warm-pool container, running, that now belongs
	// to the request.
	LaunchAttached
)

func (o LaunchOrigin) String() string {
	switch o {
	case LaunchReused:
		return "reused"
	case LaunchAttached:
		return "attached"
	}
	return "created"
}

// BeginLaunch records a launch of a repository. Under a lock per repository
// (so concurrent requests, from any process, see each other) it reuses an
// active launch of the same build and profile on the same runner, else
// attaches a warm-pool container of that build and profile, else inserts a
// new launch in status starting with launch.starting. Reuse extends the
// expiry; attaching sets it and writes launch.running with attached=true.
// Warm requests always insert.
//
// An attached launch runs at once: the other active launches of its app on
// its runner move to stopping (replaced) in the same transaction, as in
// RunLaunch; BeginLaunchReplacing returns them to the caller, who ends them.
func (s *Store) BeginLaunch(ctx context.Context, n NewLaunch) (*catalog.Launch, LaunchOrigin, error) {
	l, origin, _, err := s.BeginLaunchReplacing(ctx, n)
	return l, origin, err
}

// BeginLaunchReplacing is BeginLaunch that also returns the launches an
// attached warm container replaced (now stopping, stop_reason replaced):
// the caller removes their containers and ends them, or the reconciler
// does after a crash.
func (s *Store) BeginLaunchReplacing(ctx context.Context, n NewLaunch) (*catalog.Launch, LaunchOrigin, []catalog.Launch, error) {
	var out *catalog.Launch
	var origin LaunchOrigin
	var replaced []catalog.Launch
	ttl := n.TTL.Seconds()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('launch:' || $1))`, strconv.FormatInt(n.RepositoryID, 10)); err != nil {
			return mapError(err)
		}
		if err := admitTx(ctx, tx, n); err != nil {
			return err
		}
		if !n.Warm && !n.Fresh {
			l, err := scanLaunch(tx.QueryRow(ctx, `
				UPDATE launches l SET expires_at = CASE WHEN $6 THEN now() + make_interval(secs => $5)
					ELSE greatest(l.expires_at, now() + make_interval(secs => $5)) END
				FROM repositories r
				WHERE r.id = l.repository_id AND l.id = (
					SELECT id FROM launches
					WHERE repository_id = $1 AND build_id = $2 AND resource_profile = $3 AND runner = $4
					  AND NOT warm AND status IN ('starting', 'running')
					ORDER BY id DESC LIMIT 1)
				RETURNING `+launchColumns, n.RepositoryID, n.BuildID, n.Profile, n.Runner, ttl, n.ExactTTL))
			if err == nil {
				out, origin = l, LaunchReused
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return mapError(err)
			}
			l, err = scanLaunch(tx.QueryRow(ctx, `
				UPDATE launches l SET warm = false, expires_at = now() + make_interval(secs => $5),
				       last_request_at = now(), launched_by = nullif($7::bigint, 0)
				FROM repositories r
				WHERE r.id = l.repository_id AND l.id = (
					SELECT id FROM launches
					WHERE repository_id = $1 AND build_id = $2 AND resource_profile = $3 AND runner = $4
					  AND warm AND status = 'running' AND config_version = $6
					ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
				RETURNING `+launchColumns, n.RepositoryID, n.BuildID, n.Profile, n.Runner, ttl, n.ConfigVersion, catalog.ActorID(ctx)))
			switch {
			case err == nil:
				out, origin = l, LaunchAttached
				if err := countLaunch(ctx, tx, n.RepositoryID); err != nil {
					return err
				}
				if _, err = insertEvent(ctx, tx, launchEvent(l, map[string]any{"attached": true})); err != nil {
					return err
				}
				replaced, err = replaceOlderTx(ctx, tx, l, true)
				return err
			case !errors.Is(err, pgx.ErrNoRows):
				return mapError(err)
			}
		}
		var expires any
		if !n.Warm {
			expires = time.Now().Add(n.TTL)
		}
		var id int64
		err := tx.QueryRow(ctx, `
			INSERT INTO launches (repository_id, build_id, app_port, resource_profile, runner, warm, expires_at, config_version, launched_by, memory_limit)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, nullif($9::bigint, 0), $10) RETURNING id`,
			n.RepositoryID, n.BuildID, n.AppPort, n.Profile, n.Runner, n.Warm, expires, n.ConfigVersion, catalog.ActorID(ctx), max(n.Memory, 0)).Scan(&id)
		if err != nil {
			return fmt.Errorf("record launch: %w", mapError(err))
		}
		if !n.Warm {
			if err := countLaunch(ctx, tx, n.RepositoryID); err != nil {
				return err
			}
		}
		l, err := scanLaunch(tx.QueryRow(ctx, `SELECT `+launchColumns+` FROM `+launchFrom+` WHERE l.id = $1`, id))
		if err != nil {
			return mapError(err)
		}
		out, origin = l, LaunchCreated
		var extra map[string]any
		if n.Redeploys != 0 {
			extra = map[string]any{"redeploy_of": n.Redeploys}
		}
		_, err = insertEvent(ctx, tx, launchEvent(l, extra))
		return err
	})
	if err != nil {
		return nil, 0, nil, fmt.Errorf("begin launch: %w", err)
	}
	return out, origin, replaced, nil
}

// RecordLaunchContainer stores the container of a starting launch. It is not
// a status change and writes no event. It reports false when the launch is
// no longer starting (it was stopped meanwhile): the caller then removes the
// container it made.
func (s *Store) RecordLaunchContainer(ctx context.Context, id int64, containerID, name string, hostPort int, instanceURL string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE launches SET container_id = $2, container_name = $3, host_port = nullif($4, 0), instance_url = $5
		WHERE id = $1 AND status = 'starting'`, id, containerID, name, hostPort, instanceURL)
	if err != nil {
		return false, fmt.Errorf("record container of launch %d: %w", id, mapError(err))
	}
	return tag.RowsAffected() == 1, nil
}

// LaunchChange is a status transition of a launch.
type LaunchChange struct {
	To catalog.LaunchStatus
	// From are the statuses the launch may be in; in any other the change
	// is not made.
	From []catalog.LaunchStatus
	// Message replaces error_message when not nil: why the launch failed
	// or stopped ("idle for 15m0s", "TTL of 1h0m0s reached", the last lines
	// of a crashed app's output).
	Message *string
	// ExitCode records the container's exit code when not nil.
	ExitCode *int
	// Event carries extra fields for the event's data ("reason": "idle").
	Event map[string]any
	// StopReason, when not empty, is recorded as the launch's stop_reason
	// (user, idle, ttl, replaced, shutdown, removed, warm-pool).
	StopReason string
}

// TransitionLaunch moves launch id to ch.To if it is in one of ch.From, and
// writes launch.<to> in the same transaction. It returns the launch as it
// is afterwards and whether it changed; a launch in another status is
// returned unchanged, without error. started_at is set on the first
// running, stopped_at on a terminal status.
func (s *Store) TransitionLaunch(ctx context.Context, id int64, ch LaunchChange) (*catalog.Launch, bool, error) {
	if len(ch.From) == 0 {
		return nil, false, fmt.Errorf("transition launch %d to %s: no source status given", id, ch.To)
	}
	var out *catalog.Launch
	changed := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, changed, err = transitionLaunchTx(ctx, tx, id, ch)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("launch %d to %s: %w", id, ch.To, err)
	}
	return out, changed, nil
}

// transitionLaunchTx is TransitionLaunch inside tx.
func transitionLaunchTx(ctx context.Context, tx pgx.Tx, id int64, ch LaunchChange) (*catalog.Launch, bool, error) {
	if ch.Message != nil {
		// A message may quote the app's output: whatever it printed (NUL,
		// invalid UTF-8, escapes) must not make the transition fail.
		m := textutil.CleanLines(*ch.Message)
		ch.Message = &m
	}
	from := make([]string, len(ch.From))
	for i, f := range ch.From {
		from[i] = string(f)
	}
	var out *catalog.Launch
	changed := false
	err := func() error {
		l, err := scanLaunch(tx.QueryRow(ctx, `
			UPDATE launches l SET
				status = $2,
				error_message = coalesce($3, l.error_message),
				exit_code = coalesce($4, l.exit_code),
				started_at = CASE WHEN $2 = 'running' THEN coalesce(l.started_at, now()) ELSE l.started_at END,
				stopped_at = CASE WHEN $2 IN ('stopped', 'failed', 'expired') THEN now() ELSE l.stopped_at END,
				stop_reason = CASE WHEN $6 <> '' THEN $6 ELSE l.stop_reason END
			FROM repositories r
			WHERE r.id = l.repository_id AND l.id = $1 AND l.status = ANY($5)
			RETURNING `+launchColumns, id, ch.To, ch.Message, ch.ExitCode, from, ch.StopReason))
		if errors.Is(err, pgx.ErrNoRows) {
			l, err = scanLaunch(tx.QueryRow(ctx, `SELECT `+launchColumns+` FROM `+launchFrom+` WHERE l.id = $1`, id))
			if errors.Is(err, pgx.ErrNoRows) {
				return &catalog.NotFoundError{Kind: "launch", Key: strconv.FormatInt(id, 10)}
			}
			if err != nil {
				return mapError(err)
			}
			out = l
			return nil
		}
		if err != nil {
			return mapError(err)
		}
		out, changed = l, true
		_, err = insertEvent(ctx, tx, launchEvent(l, ch.Event))
		return err
	}()
	return out, changed, err
}

// Launch returns the launch with id.
func (s *Store) Launch(ctx context.Context, id int64) (*catalog.Launch, error) {
	l, err := scanLaunch(s.pool.QueryRow(ctx, `SELECT `+launchColumns+` FROM `+launchFrom+` WHERE l.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "launch", Key: strconv.FormatInt(id, 10)}
	}
	if err != nil {
		return nil, fmt.Errorf("get launch %d: %w", id, mapError(err))
	}
	return l, nil
}

// LaunchFilter selects launches.
type LaunchFilter struct {
	Repository string                 // slug; "" = all
	Statuses   []catalog.LaunchStatus // any of; empty = all
	Active     bool                   // starting, running or stopping
	Runner     string                 // "" = all
	Warm       *bool                  // nil = both
	Before     int64                  // only ids below (paging); 0 = none
	Limit      int                    // 1..1000, default 100
}

// ListLaunches returns launches newest first.
func (s *Store) ListLaunches(ctx context.Context, f LaunchFilter) ([]catalog.Launch, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 {
		f.Limit = 1000
	}
	statuses := []string{}
	for _, st := range f.Statuses {
		statuses = append(statuses, string(st))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+launchColumns+` FROM `+launchFrom+`
		WHERE ($1 = '' OR r.slug = $1)
		  AND (cardinality($2::text[]) = 0 OR l.status = ANY($2))
		  AND (NOT $3 OR l.status IN ('starting', 'running', 'stopping'))
		  AND ($4 = '' OR l.runner = $4)
		  AND ($5::boolean IS NULL OR l.warm = $5)
		  AND ($6 = 0 OR l.id < $6)
		ORDER BY l.id DESC LIMIT $7`,
		f.Repository, statuses, f.Active, f.Runner, f.Warm, f.Before, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list launches: %w", mapError(err))
	}
	ls, err := collectLaunches(rows)
	if err != nil {
		return nil, fmt.Errorf("list launches: %w", mapError(err))
	}
	return ls, nil
}

// ExpiredLaunches returns the running launches of runner whose TTL has
// passed (warm ones have none).
func (s *Store) ExpiredLaunches(ctx context.Context, runner string) ([]catalog.Launch, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+launchColumns+` FROM `+launchFrom+`
		WHERE l.runner = $1 AND l.status IN ('starting', 'running') AND NOT l.warm AND l.expires_at <= now()
		ORDER BY l.id`, runner)
	if err != nil {
		return nil, fmt.Errorf("expired launches: %w", mapError(err))
	}
	ls, err := collectLaunches(rows)
	if err != nil {
		return nil, fmt.Errorf("expired launches: %w", mapError(err))
	}
	return ls, nil
}

// IdleLaunches returns the running launches of runner that have served no
// request (or, never requested, have run) for longer than idle.
func (s *Store) IdleLaunches(ctx context.Context, runner string, idle time.Duration) ([]catalog.Launch, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+launchColumns+` FROM `+launchFrom+`
		WHERE l.runner = $1 AND l.status = 'running' AND NOT l.warm
		  AND coalesce(l.last_request_at, l.started_at, l.created_at) < now() - make_interval(secs => $2)
		ORDER BY l.id`, runner, idle.Seconds())
	if err != nil {
		return nil, fmt.Errorf("idle launches: %w", mapError(err))
	}
	ls, err := collectLaunches(rows)
	if err != nil {
		return nil, fmt.Errorf("idle launches: %w", mapError(err))
	}
	return ls, nil
}

// TouchLaunches records the time of the last request served by each launch,
// in one statement: the preview proxy batches them instead of writing on
// every request. A time older than the stored one is ignored.
func (s *Store) TouchLaunches(ctx context.Context, last map[int64]time.Time) error {
	if len(last) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(last))
	times := make([]time.Time, 0, len(last))
	for id, t := range last {
		ids = append(ids, id)
		times = append(times, t)
	}
	_, err := s.pool.Exec(ctx, `
		UPDATE launches l SET last_request_at = greatest(l.last_request_at, v.t)
		FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, t)
		WHERE l.id = v.id`, ids, times)
	if err != nil {
		return fmt.Errorf("record last requests: %w", mapError(err))
	}
	return nil
}

// OutdatedLaunches returns the running launches of runner that run an
// older build than their app's newest succeeded one, of apps that redeploy
// (repositories.redeploy) and have no newer launch starting or running:
// the launches a redeploy replaces.
func (s *Store) OutdatedLaunches(ctx context.Context, runner string) ([]catalog.Launch, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+launchColumns+` FROM `+launchFrom+`
		WHERE l.runner = $1 AND l.status = 'running' AND NOT l.warm AND r.redeploy
		  AND EXISTS (SELECT 1 FROM builds b WHERE b.repository_id = l.repository_id AND b.status = 'succeeded' AND b.id > l.build_id)
		  AND NOT EXISTS (SELECT 1 FROM launches n WHERE n.repository_id = l.repository_id AND n.id > l.id
		                  AND NOT n.warm AND n.status IN ('starting', 'running'))
		ORDER BY l.id`, runner)
	if err != nil {
		return nil, fmt.Errorf("outdated launches: %w", mapError(err))
	}
	ls, err := collectLaunches(rows)
	if err != nil {
		return nil, fmt.Errorf("outdated launches: %w", mapError(err))
	}
	return ls, nil
}
