package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/jackc/pgx/v5"
)

// NewRepository is what CreateRepository stores.
type NewRepository struct {
	GitURL    string // clone URL, cleaned
	GitURLKey string // normalised identity (giturl.URL.Key)
	Name      string
	// NameManual is set when the user chose the name; ingestion keeps it.
	NameManual bool
	Owner      string
	// OwnedBy is the user who registers the repository and owns it
	// (catalog.ActorFrom of the request; "" for the daemon's own work).
	OwnedBy             string
	Branch              string
	RequestedDockerfile string
	Tags                []catalog.Tag // manual tags
}

// repoColumns are the columns scanRepository reads, in order, from a query
// over "repositories r" with the latest build lateral-joined as "b".
const repoColumns = `r.id, r.slug, r.name, r.git_url, r.branch, r.default_branch, r.description, r.emoji,
	r.homepage, r.owner, r.requested_dockerfile, r.dockerfile_path, r.context_path, coalesce(r.requested_port, r.app_port),
	CASE WHEN r.requested_port IS NOT NULL THEN 'manual' ELSE r.port_source END, r.metadata, r.ingest_status, r.ingest_error, r.ingest_attempts,
	r.last_ingested_at, r.last_commit_sha, r.launch_count, r.star_count, r.created_at, r.updated_at,
	b.id, b.status, b.commit_sha, b.image_tag, b.cached, b.completed_at, b.builder, r.redeploy,
	(SELECT etag FROM thumbnails WHERE repository_id = r.id), r.owned_by, r.registered_by,
	r.manual_fields, coalesce(nullif(r.requested_profile, ''), r.metadata->>'resources', '')`

const repoFrom = `repositories r
	LEFT JOIN LATERAL (
		SELECT id, status, commit_sha, image_tag, cached, completed_at, builder
		FROM builds WHERE repository_id = r.id ORDER BY id DESC LIMIT 1
	) b ON true`

func scanRepository(row pgx.Row) (*catalog.Repository, error) {
	var r catalog.Repository
	var port *int32
	var meta []byte
	var bID *int64
	var bStatus, bSHA, bImage, bBuilder *string
	var bCached *bool
	var bDone *time.Time
	var thumb *string
	err := row.Scan(&r.ID, &r.Slug, &r.Name, &r.GitURL, &r.Branch, &r.DefaultBranch, &r.Description, &r.Emoji,
		&r.Homepage, &r.Owner, &r.RequestedDockerfile, &r.DockerfilePath, &r.ContextPath, &port,
		&r.PortSource, &meta, &r.IngestStatus, &r.IngestError, &r.IngestAttempts,
		&r.LastIngestedAt, &r.LastCommitSHA, &r.LaunchCount, &r.StarCount, &r.CreatedAt, &r.UpdatedAt,
		&bID, &bStatus, &bSHA, &bImage, &bCached, &bDone, &bBuilder, &r.Redeploy, &thumb, &r.OwnedBy, &r.RegisteredBy,
		&r.ManualFields, &r.Profile)
	if err != nil {
		return nil, err
	}
	for i, f := range r.ManualFields {
		r.ManualFields[i] = catalog.ManualFieldName(f)
	}
	catalog.SortFields(r.ManualFields)
	if len(r.ManualFields) == 0 {
		r.ManualFields = nil
	}
	if thumb != nil {
		r.ThumbnailURL = catalog.ThumbnailPath(r.Slug, *thumb)
	}
	if port != nil {
		r.AppPort = int(*port)
	}
	if len(meta) > 0 && string(meta) != "{}" {
		r.Metadata = meta
	}
	if bID != nil {
		r.LatestBuild = &catalog.BuildSummary{ID: *bID, Status: catalog.BuildStatus(*bStatus), CommitSHA: *bSHA, ImageTag: *bImage, Cached: *bCached, CompletedAt: bDone, Builder: *bBuilder}
	}
	r.Tags = []catalog.Tag{}
	return &r, nil
}

// scanRepositoryRows scans every row with scanRepository.
func scanRepositoryRows(rows pgx.Rows) ([]*catalog.Repository, error) {
	defer rows.Close()
	var out []*catalog.Repository
	for rows.Next() {
		r, err := scanRepository(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CreateRepository registers a repository in state queued, with its manual
// tags, the first step of its timeline and the repository.created event.
// A repository whose normalised URL is already registered is a
// *catalog.ConflictError naming the existing slug.
func (s *Store) CreateRepository(ctx context.Context, in NewRepository) (*catalog.Repository, error) {
	if err := catalog.ValidateName(in.Name); err != nil {
		return nil, err
	}
	if len(in.Tags) > catalog.MaxTagsPerRepo {
		return nil, catalog.Invalid("tags", "more than %d tags", catalog.MaxTagsPerRepo)
	}
	base := catalog.Slugify(in.Name)
	var id int64
	var slug string
	// A concurrent registration can take the slug between our check and our
	// insert; the unique index refuses it and we try the next suffix.
	for attempt := 0; ; attempt++ {
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			var existing string
			err := tx.QueryRow(ctx, `SELECT slug FROM repositories WHERE git_url_key = $1`, in.GitURLKey).Scan(&existing)
			if err == nil {
				return &catalog.ConflictError{Message: fmt.Sprintf("%s is already registered as %q", in.GitURL, existing), Slug: existing}
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return mapError(err)
			}
			// Registrations of one name queue here instead of racing for
			// the same suffix.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('slug:' || $1))`, base); err != nil {
				return mapError(err)
			}
			slug, err = freeSlug(ctx, tx, base)
			if err != nil {
				return err
			}
			manual := []string{}
			if in.NameManual {
				manual = append(manual, "name")
			}
			err = tx.QueryRow(ctx, `
				INSERT INTO repositories (slug, name, git_url, git_url_key, owner, branch, requested_dockerfile, manual_fields, owned_by, registered_by)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id`,
				slug, in.Name, in.GitURL, in.GitURLKey, in.Owner, in.Branch, in.RequestedDockerfile, manual, in.OwnedBy).Scan(&id)
			if err != nil {
				return mapError(err)
			}
			if err := addTags(ctx, tx, id, catalog.SourceManual, in.Tags); err != nil {
				return err
			}
			if err := syncTagArray(ctx, tx, id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO ingestion_events (repository_id, status, message, actor) VALUES ($1, 'queued', 'registered', $2)`, id, catalog.ActorName(ctx)); err != nil {
				return mapError(err)
			}
			_, err = insertEvent(ctx, tx, EventSpec{Type: "repository.created", Subject: slug, Data: map[string]any{
				"id": id, "slug": slug, "name": in.Name, "git_url": in.GitURL, "ingest_status": catalog.IngestQueued, "owned_by": in.OwnedBy,
			}})
			return err
		})
		if err == nil {
			break
		}
		var conflict *catalog.ConflictError
		if errors.As(err, &conflict) {
			return nil, err
		}
		if errors.Is(err, catalog.ErrConflict) && attempt < 5 {
			// Either the slug or the URL was taken concurrently; the next
			// round tells which.
			continue
		}
		return nil, fmt.Errorf("register %s: %w", in.GitURL, err)
	}
	return s.RepositoryByID(ctx, id)
}

// freeSlug returns base, or base-2, base-3… whichever is not taken.
func freeSlug(ctx context.Context, tx pgx.Tx, base string) (string, error) {
	taken, err := column[string](ctx, tx, `SELECT slug FROM repositories WHERE slug = $1 OR slug LIKE $2`, base, likeEscape(base)+"-%")
	if err != nil {
		return "", err
	}
	if !slices.Contains(taken, base) {
		return base, nil
	}
	for n := 2; ; n++ {
		cand := base + "-" + strconv.Itoa(n)
		if !slices.Contains(taken, cand) {
			return cand, nil
		}
	}
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// Repository returns the repository with slug, with its tags and latest build.
func (s *Store) Repository(ctx context.Context, slug string) (*catalog.Repository, error) {
	r, err := scanRepository(s.pool.QueryRow(ctx, `SELECT `+repoColumns+` FROM `+repoFrom+` WHERE r.slug = $1`, slug))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "repository", Key: slug}
	}
	if err != nil {
		return nil, fmt.Errorf("get repository %q: %w", slug, mapError(err))
	}
	if err := s.loadTags(ctx, []*catalog.Repository{r}); err != nil {
		return nil, err
	}
	return r, nil
}

// RepositoryByID returns the repository with id.
func (s *Store) RepositoryByID(ctx context.Context, id int64) (*catalog.Repository, error) {
	r, err := scanRepository(s.pool.QueryRow(ctx, `SELECT `+repoColumns+` FROM `+repoFrom+` WHERE r.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "repository", Key: strconv.FormatInt(id, 10)}
	}
	if err != nil {
		return nil, fmt.Errorf("get repository %d: %w", id, mapError(err))
	}
	if err := s.loadTags(ctx, []*catalog.Repository{r}); err != nil {
		return nil, err
	}
	return r, nil
}

// ListOptions filter ListRepositories.
type ListOptions struct {
	Tags   []catalog.Tag // all must be carried (any source)
	Status catalog.IngestStatus
	Limit  int    // 1..500, default 50
	Cursor string // from a previous page
}

// ListRepositories returns repositories newest first, and a cursor for the
// next page ("" when this is the last). Pages are keyed on id, so adding
// repositories while paging neither repeats nor skips any.
func (s *Store) ListRepositories(ctx context.Context, o ListOptions) ([]*catalog.Repository, string, error) {
	if o.Limit <= 0 {
		o.Limit = 50
	}
	if o.Limit > 500 {
		o.Limit = 500
	}
	if o.Status != "" && !o.Status.Valid() {
		return nil, "", catalog.Invalid("status", "%q is not one of queued, processing, ready, failed", o.Status)
	}
	before := int64(0)
	if o.Cursor != "" {
		var err error
		if before, err = decodeCursor(o.Cursor); err != nil {
			return nil, "", catalog.Invalid("cursor", "is not a cursor from a previous page")
		}
	}
	tags := make([]string, len(o.Tags))
	for i, t := range o.Tags {
		tags[i] = t.String()
	}
	rows, err := s.pool.Query(ctx, `SELECT `+repoColumns+` FROM `+repoFrom+`
		WHERE ($1 = 0 OR r.id < $1)
		  AND (cardinality($2::text[]) = 0 OR r.tags @> $2)
		  AND ($3 = '' OR r.ingest_status = $3)
		ORDER BY r.id DESC LIMIT $4`, before, tags, string(o.Status), o.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list repositories: %w", mapError(err))
	}
	repos, err := scanRepositoryRows(rows)
	if err != nil {
		return nil, "", fmt.Errorf("list repositories: %w", mapError(err))
	}
	next := ""
	if len(repos) > o.Limit {
		repos = repos[:o.Limit]
		next = encodeCursor(repos[len(repos)-1].ID)
	}
	if err := s.loadTags(ctx, repos); err != nil {
		return nil, "", err
	}
	return repos, next, nil
}

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("id:" + strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, err
	}
	s, ok := strings.CutPrefix(string(b), "id:")
	if !ok {
		return 0, errors.New("bad cursor")
	}
	return strconv.ParseInt(s, 10, 64)
}

// loadTags fills Tags of each repository, ordered by key, value, source.
func (s *Store) loadTags(ctx context.Context, repos []*catalog.Repository) error {
	if len(repos) == 0 {
		return nil
	}
	ids := make([]int64, len(repos))
	byID := make(map[int64]*catalog.Repository, len(repos))
	for i, r := range repos {
		ids[i] = r.ID
		byID[r.ID] = r
	}
	rows, err := s.pool.Query(ctx, `
		SELECT rt.repository_id, t.key, t.value, rt.source
		FROM repository_tags rt JOIN tags t ON t.id = rt.tag_id
		WHERE rt.repository_id = ANY($1)
		ORDER BY t.key, t.value, rt.source`, ids)
	if err != nil {
		return fmt.Errorf("load tags: %w", mapError(err))
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var t catalog.Tag
		if err := rows.Scan(&id, &t.Key, &t.Value, &t.Source); err != nil {
			return fmt.Errorf("load tags: %w", err)
		}
		byID[id].Tags = append(byID[id].Tags, t)
	}
	return rows.Err()
}

// RepositoryUpdate changes a repository. Nil fields are left alone; fields
// set are recorded as manual so that ingestion does not overwrite them.
type RepositoryUpdate struct {
	Name        *string
	Description *string
	Homepage    *string
	Branch      *string
	Dockerfile  *string
	AddTags     []catalog.Tag // manual
	RemoveTags  []catalog.Tag // manual
	// Redeploy turns the automatic replacement of a running launch by a
	// newer build on or off.
	Redeploy *bool
	// Context, Port and Profile override the build context, the app's
	// port and its resource profile (manual fields like the others).
	Context *string
	Port    *int
	Profile *string
	// Target is the stage of the Dockerfile builds stop at, over a
	// compose service's build.target (a manual field).
	Target *string
	// Reset clears these manual fields (catalog.EditableFields): ingestion
	// decides them again. A field both set and reset is an error.
	Reset []string
	// OwnedBy hands the app over to another user (a users.name).
	OwnedBy *string
}

// UpdateRepository applies u and writes repository.updated.
func (s *Store) UpdateRepository(ctx context.Context, slug string, u RepositoryUpdate) (*catalog.Repository, error) {
	if u.Name != nil {
		if err := catalog.ValidateName(*u.Name); err != nil {
			return nil, err
		}
	}
	// Description and homepage as catalog's sanitisers leave them, as
	// ingestion writes them (CompleteIngest).
	if u.Description != nil {
		d, err := catalog.CleanDescription(*u.Description)
		if err != nil {
			return nil, err
		}
		u.Description = &d
	}
	if u.Homepage != nil {
		h, err := catalog.CleanHomepage(*u.Homepage)
		if err != nil {
			return nil, err
		}
		u.Homepage = &h
	}
	if u.Dockerfile != nil {
		if err := catalog.ValidateRelPath("dockerfile", *u.Dockerfile); err != nil {
			return nil, err
		}
	}
	if err := checkOverrides(&u); err != nil {
		return nil, err
	}
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id FROM repositories WHERE slug = $1 FOR UPDATE`, slug).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return &catalog.NotFoundError{Kind: "repository", Key: slug}
		}
		if err != nil {
			return mapError(err)
		}
		var changed []string
		set := func(col string, v *string) error {
			if v == nil {
				return nil
			}
			changed = append(changed, col)
			_, err := tx.Exec(ctx, `UPDATE repositories SET `+col+` = $2,
				manual_fields = CASE WHEN $3 = ANY(manual_fields) THEN manual_fields ELSE array_append(manual_fields, $3) END,
				updated_at = now() WHERE id = $1`, id, *v, col)
			return mapError(err)
		}
		for _, f := range []struct {
			col string
			v   *string
		}{{"name", u.Name}, {"description", u.Description}, {"homepage", u.Homepage}, {"branch", u.Branch}, {"requested_dockerfile", u.Dockerfile},
			{"requested_context", u.Context}, {"requested_profile", u.Profile}, {"requested_target", u.Target}} {
			if err := set(f.col, f.v); err != nil {
				return err
			}
		}
		more, err := applyOverrides(ctx, tx, id, u)
		if err != nil {
			return err
		}
		changed = append(changed, more...)
		if u.Redeploy != nil {
			if _, err := tx.Exec(ctx, `UPDATE repositories SET redeploy = $2 WHERE id = $1`, id, *u.Redeploy); err != nil {
				return mapError(err)
			}
			changed = append(changed, "redeploy")
		}
		if u.OwnedBy != nil {
			if err := setOwner(ctx, tx, id, *u.OwnedBy); err != nil {
				return err
			}
			changed = append(changed, "owned_by")
		}
		if len(u.AddTags) > 0 {
			if err := addTags(ctx, tx, id, catalog.SourceManual, u.AddTags); err != nil {
				return err
			}
			changed = append(changed, "tags")
		}
		if len(u.RemoveTags) > 0 {
			if err := removeTags(ctx, tx, id, catalog.SourceManual, u.RemoveTags); err != nil {
				return err
			}
			changed = append(changed, "tags")
		}
		if len(changed) == 0 {
			return nil
		}
		if err := syncTagArray(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE repositories SET updated_at = now() WHERE id = $1`, id); err != nil {
			return mapError(err)
		}
		data := map[string]any{"id": id, "slug": slug, "changed": slices.Compact(changed)}
		if u.OwnedBy != nil {
			data["owned_by"] = *u.OwnedBy
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: "repository.updated", Subject: slug, Data: data})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update repository %q: %w", slug, err)
	}
	return s.RepositoryByID(ctx, id)
}

// DeleteRepository removes a repository with its tags, builds, timeline and
// launches (rows; containers are the runner's business, told by the event).
func (s *Store) DeleteRepository(ctx context.Context, slug string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `DELETE FROM repositories WHERE slug = $1 RETURNING id`, slug).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return &catalog.NotFoundError{Kind: "repository", Key: slug}
		}
		if err != nil {
			return mapError(err)
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: "repository.deleted", Subject: slug, Data: map[string]any{"id": id, "slug": slug}})
		return err
	})
	if err != nil {
		return fmt.Errorf("delete repository %q: %w", slug, err)
	}
	return nil
}

// RepositoryIDBySlug resolves a slug.
func (s *Store) RepositoryIDBySlug(ctx context.Context, slug string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM repositories WHERE slug = $1`, slug).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, &catalog.NotFoundError{Kind: "repository", Key: slug}
	}
	if err != nil {
		return 0, fmt.Errorf("resolve %q: %w", slug, mapError(err))
	}
	return id, nil
}

// Readme returns the README that ingestion read for the repository slug (""
// when it had none).
func (s *Store) Readme(ctx context.Context, slug string) (string, error) {
	var readme string
	err := s.pool.QueryRow(ctx, `SELECT readme FROM repositories WHERE slug = $1`, slug).Scan(&readme)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", &catalog.NotFoundError{Kind: "repository", Key: slug}
	}
	if err != nil {
		return "", fmt.Errorf("readme of %q: %w", slug, mapError(err))
	}
	return readme, nil
}
