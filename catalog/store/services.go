package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/jackc/pgx/v5"
)

// Where a service's declaration came from. A manifest import owns the
// services it declares (and may prune them); services registered through
// the API are never pruned.
const (
	ServiceSourceAPI      = "api"
	ServiceSourceManifest = "manifest"
)

// ServiceSpec is a service's declaration; the rules that check it are
// catalog.ServiceSpec.Normalize and catalog.ValidateManifest.
type ServiceSpec = catalog.ServiceSpec

// serviceColumns are what scanService reads, in order.
const serviceColumns = `id, slug, name, kind, base_url, health_url, capabilities, metadata, health_interval_ms,
	status, last_checked_at, last_error, last_latency_ms, consecutive_failures, source, next_check_at,
	created_at, updated_at`

// serviceRow is a stored service.
type serviceRow struct {
	catalog.Service
}

func scanService(row pgx.Row) (*serviceRow, error) {
	var s serviceRow
	var meta []byte
	err := row.Scan(&s.ID, &s.Slug, &s.Name, &s.Kind, &s.BaseURL, &s.HealthURL, &s.Capabilities, &meta,
		&s.HealthIntervalMS, &s.Status, &s.LastCheckedAt, &s.LastError, &s.LastLatencyMS, &s.ConsecutiveFailures,
		&s.Source, &s.NextCheckAt, &s.CreatedAt, &s.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if s.Capabilities == nil {
		s.Capabilities = []string{}
	}
	if len(meta) > 0 && string(meta) != "{}" {
		s.Metadata = meta
	}
	return &s, nil
}

// spec returns the declared part of a stored service.
func (r *serviceRow) spec() ServiceSpec {
	sp := ServiceSpec{Slug: r.Slug, Name: r.Name, Kind: r.Kind, BaseURL: r.BaseURL, HealthURL: r.HealthURL,
		Capabilities: slices.Clone(r.Capabilities), Metadata: r.Metadata}
	if r.HealthIntervalMS != nil {
		sp.HealthInterval = (time.Duration(*r.HealthIntervalMS) * time.Millisecond).String()
	}
	return sp
}

func intervalMS(d time.Duration) *int64 {
	if d == 0 {
		return nil
	}
	ms := d.Milliseconds()
	return &ms
}

// ServiceFilter selects services.
type ServiceFilter struct {
	Status     catalog.ServiceStatus // empty = any
	Kind       string                // empty = any
	Capability string                // empty = any
}

// Services returns the services matching f, by slug.
func (s *Store) Services(ctx context.Context, f ServiceFilter) ([]*catalog.Service, error) {
	switch f.Status {
	case "", catalog.ServiceUnknown, catalog.ServiceHealthy, catalog.ServiceUnhealthy:
	default:
		return nil, catalog.Invalid("status", "%q is not one of unknown, healthy, unhealthy", f.Status)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+serviceColumns+` FROM services
		WHERE ($1 = '' OR status = $1) AND ($2 = '' OR kind = $2) AND ($3 = '' OR $3 = ANY(capabilities))
		ORDER BY slug`, string(f.Status), strings.ToLower(f.Kind), strings.ToLower(f.Capability))
	if err != nil {
		return nil, fmt.Errorf("list services: %w", mapError(err))
	}
	defer rows.Close()
	out := []*catalog.Service{}
	for rows.Next() {
		r, err := scanService(rows)
		if err != nil {
			return nil, fmt.Errorf("list services: %w", mapError(err))
		}
		out = append(out, &r.Service)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list services: %w", mapError(err))
	}
	return out, nil
}

// Service returns the service with slug.
func (s *Store) Service(ctx context.Context, slug string) (*catalog.Service, error) {
	r, err := scanService(s.pool.QueryRow(ctx, `SELECT `+serviceColumns+` FROM services WHERE slug = $1`, slug))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "service", Key: slug}
	}
	if err != nil {
		return nil, fmt.Errorf("get service %q: %w", slug, mapError(err))
	}
	return &r.Service, nil
}

func lockService(ctx context.Context, tx pgx.Tx, slug string) (*serviceRow, error) {
	r, err := scanService(tx.QueryRow(ctx, `SELECT `+serviceColumns+` FROM services WHERE slug = $1 FOR UPDATE`, slug))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "service", Key: slug}
	}
	if err != nil {
		return nil, fmt.Errorf("lock service %q: %w", slug, mapError(err))
	}
	return r, nil
}

// specChanges names the declared fields in which want differs from the
// stored row. Both are normalised, so plain comparison is exact, except
// for metadata: jsonb may store an object with another key order or number
// spelling than the input, so PostgreSQL compares it.
func specChanges(ctx context.Context, tx pgx.Tx, have *serviceRow, want ServiceSpec) ([]string, error) {
	var changed []string
	old := have.spec()
	if old.Name != want.Name {
		changed = append(changed, "name")
	}
	if old.Kind != want.Kind {
		changed = append(changed, "kind")
	}
	if old.BaseURL != want.BaseURL {
		changed = append(changed, "base_url")
	}
	if old.HealthURL != want.HealthURL {
		changed = append(changed, "health_url")
	}
	if !slices.Equal(old.Capabilities, want.Capabilities) {
		changed = append(changed, "capabilities")
	}
	oldMeta := old.Metadata
	if len(oldMeta) == 0 {
		oldMeta = json.RawMessage("{}")
	}
	var same bool
	if err := tx.QueryRow(ctx, `SELECT $1::jsonb = $2::jsonb`, string(oldMeta), string(want.Metadata)).Scan(&same); err != nil {
		return nil, fmt.Errorf("compare metadata: %w", mapError(err))
	}
	if !same {
		changed = append(changed, "metadata")
	}
	if old.HealthInterval != want.HealthInterval {
		changed = append(changed, "health_interval")
	}
	return changed, nil
}

// writeSpec stores sp over the service with id. When the health URL
// changes, the health state describes another URL: it goes back to unknown
// and the service is due for a check at once.
func writeSpec(ctx context.Context, tx pgx.Tx, id int64, sp ServiceSpec, source string, resetHealth bool) error {
	_, err := tx.Exec(ctx, `UPDATE services SET name = $2, kind = $3, base_url = $4, health_url = $5,
		capabilities = $6, metadata = $7, health_interval_ms = $8, source = $9, updated_at = now(),
		status = CASE WHEN $10 THEN 'unknown' ELSE status END,
		last_error = CASE WHEN $10 THEN '' ELSE last_error END,
		last_checked_at = CASE WHEN $10 THEN NULL ELSE last_checked_at END,
		last_latency_ms = CASE WHEN $10 THEN NULL ELSE last_latency_ms END,
		consecutive_failures = CASE WHEN $10 THEN 0 ELSE consecutive_failures END,
		next_check_at = CASE WHEN $10 THEN NULL ELSE next_check_at END
		WHERE id = $1`,
		id, sp.Name, sp.Kind, sp.BaseURL, sp.HealthURL, sp.Capabilities, string(sp.Metadata),
		intervalMS(sp.Interval()), source, resetHealth)
	if err != nil {
		return fmt.Errorf("update service %q: %w", sp.Slug, mapError(err))
	}
	return nil
}

func insertService(ctx context.Context, tx pgx.Tx, sp ServiceSpec, source string) (*serviceRow, error) {
	r, err := scanService(tx.QueryRow(ctx, `INSERT INTO services
		(slug, name, kind, base_url, health_url, capabilities, metadata, health_interval_ms, source)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+serviceColumns,
		sp.Slug, sp.Name, sp.Kind, sp.BaseURL, sp.HealthURL, sp.Capabilities, string(sp.Metadata),
		intervalMS(sp.Interval()), source))
	if err != nil {
		err = mapError(err)
		if errors.Is(err, catalog.ErrConflict) {
			return nil, &catalog.ConflictError{Message: fmt.Sprintf("service %q already exists", sp.Slug), Slug: sp.Slug}
		}
		return nil, fmt.Errorf("insert service %q: %w", sp.Slug, err)
	}
	return r, nil
}

func reloadService(ctx context.Context, tx pgx.Tx, id int64) (*serviceRow, error) {
	r, err := scanService(tx.QueryRow(ctx, `SELECT `+serviceColumns+` FROM services WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("reload service %d: %w", id, mapError(err))
	}
	return r, nil
}

// serviceEvent is the data of service.* events: the service as it is after
// the change, what changed, and the status it left.
type serviceEvent struct {
	*catalog.Service
	Changed        []string              `json:"changed,omitempty"`
	PreviousStatus catalog.ServiceStatus `json:"previous_status,omitempty"`
}

func serviceEventSpec(typ string, svc *catalog.Service, changed []string, prev catalog.ServiceStatus) EventSpec {
	return EventSpec{Type: typ, Subject: svc.Slug, Data: serviceEvent{Service: svc, Changed: changed, PreviousStatus: prev}}
}

// CreateService registers a service declared through the API. Registering
// the same declaration again returns the stored service and changed=false
// (a service that registers itself at every start stays quiet); a
// different declaration under a taken slug is a *catalog.ConflictError:
// change it with UpdateService.
func (s *Store) CreateService(ctx context.Context, spec ServiceSpec) (_ *catalog.Service, created bool, _ error) {
	sp, err := spec.Normalize()
	if err != nil {
		return nil, false, err
	}
	var out *catalog.Service
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		have, err := lockService(ctx, tx, sp.Slug)
		if err == nil {
			changed, err := specChanges(ctx, tx, have, sp)
			if err != nil {
				return err
			}
			if len(changed) > 0 {
				return &catalog.ConflictError{Slug: sp.Slug, Message: fmt.Sprintf(
					"service %q already exists with a different %s; change it with PATCH /api/v1/services/%s (appstore services patch)",
					sp.Slug, strings.Join(changed, ", "), sp.Slug)}
			}
			out = &have.Service
			return nil
		}
		if !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		r, err := insertService(ctx, tx, sp, ServiceSourceAPI)
		if err != nil {
			return err
		}
		out, created = &r.Service, true
		_, err = insertEvent(ctx, tx, serviceEventSpec("service.created", out, nil, ""))
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// ServicePatch changes a service. Nil fields are left alone.
type ServicePatch struct {
	Name *string
	Kind *string
	// BaseURL: when the health URL is the default of the old base URL
	// and HealthURL is nil, the health URL follows the new base URL.
	BaseURL *string
	// HealthURL: "" goes back to the default, BaseURL + "/healthz".
	HealthURL    *string
	Capabilities *[]string
	// Metadata replaces the whole object; nil leaves it alone.
	Metadata json.RawMessage
	// HealthInterval: "" goes back to the daemon's --health-interval.
	HealthInterval *string
}

// UpdateService applies p. When nothing changes it writes nothing and
// returns changed=false; otherwise it writes service.updated naming the
// changed fields. A changed health URL resets the health to unknown and
// makes the service due for a check at once.
func (s *Store) UpdateService(ctx context.Context, slug string, p ServicePatch) (_ *catalog.Service, changed []string, _ error) {
	var out *catalog.Service
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		have, err := lockService(ctx, tx, slug)
		if err != nil {
			return err
		}
		sp := have.spec()
		if p.Name != nil {
			sp.Name = *p.Name
		}
		if p.Kind != nil {
			sp.Kind = *p.Kind
		}
		if p.BaseURL != nil {
			if p.HealthURL == nil && have.HealthURL == catalog.DefaultHealthURL(have.BaseURL) {
				sp.HealthURL = ""
			}
			sp.BaseURL = *p.BaseURL
		}
		if p.HealthURL != nil {
			sp.HealthURL = *p.HealthURL
		}
		if p.Capabilities != nil {
			sp.Capabilities = *p.Capabilities
		}
		if p.Metadata != nil {
			sp.Metadata = p.Metadata
		}
		if p.HealthInterval != nil {
			sp.HealthInterval = *p.HealthInterval
		}
		if sp, err = sp.Normalize(); err != nil {
			return err
		}
		if changed, err = specChanges(ctx, tx, have, sp); err != nil {
			return err
		}
		if len(changed) == 0 {
			out = &have.Service
			return nil
		}
		reset := sp.HealthURL != have.HealthURL
		if err := writeSpec(ctx, tx, have.ID, sp, have.Source, reset); err != nil {
			return err
		}
		r, err := reloadService(ctx, tx, have.ID)
		if err != nil {
			return err
		}
		out = &r.Service
		prev := catalog.ServiceStatus("")
		if r.Status != have.Status {
			changed = append(changed, "status")
			prev = have.Status
		}
		_, err = insertEvent(ctx, tx, serviceEventSpec("service.updated", out, changed, prev))
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return out, changed, nil
}

// DeleteService removes a service and writes service.deleted.
func (s *Store) DeleteService(ctx context.Context, slug string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		have, err := lockService(ctx, tx, slug)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM services WHERE id = $1`, have.ID); err != nil {
			return fmt.Errorf("delete service %q: %w", slug, mapError(err))
		}
		_, err = insertEvent(ctx, tx, serviceEventSpec("service.deleted", &have.Service, nil, ""))
		return err
	})
}

// ImportOptions change how a manifest is applied.
type ImportOptions struct {
	// Prune deletes services that came from a manifest (source manifest)
	// and are not declared by this one. Services registered through the
	// API are never pruned.
	Prune bool
}

// Import actions, per service.
const (
	ImportCreated   = "created"
	ImportUpdated   = "updated"
	ImportUnchanged = "unchanged"
	ImportDeleted   = "deleted"
)

// ImportEntry is what an import did to one service.
type ImportEntry struct {
	Slug    string
	Action  string   // created, updated, unchanged, deleted
	Changed []string // for updated: the fields that changed
}

// ImportResult counts what an import did.
type ImportResult struct {
	Created, Updated, Unchanged, Deleted int
	Entries                              []ImportEntry // manifest order, then deletions by slug
}

// manifestImportLock serialises imports, so that two concurrent imports
// do not interleave their upserts and prunes.
const manifestImportLock = 7072

// ImportServices upserts every service of a manifest in one transaction.
// The manifest is validated as a whole first: an invalid entry is reported
// in a *catalog.ManifestError with every other invalid entry, and nothing is
// applied. Declared services take source manifest (a service registered
// through the API that a manifest declares becomes the manifest's).
// Services whose declaration is unchanged are not written and get no
// event, so importing the same manifest twice changes nothing.
func (s *Store) ImportServices(ctx context.Context, specs []ServiceSpec, opts ImportOptions) (*ImportResult, error) {
	ptrs := make([]*ServiceSpec, len(specs))
	for i := range specs {
		ptrs[i] = &specs[i]
	}
	valid, errs := catalog.ValidateManifest(ptrs)
	if len(errs) > 0 {
		return nil, &catalog.ManifestError{Entries: errs}
	}
	var res *ImportResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = &ImportResult{}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, manifestImportLock); err != nil {
			return fmt.Errorf("lock imports: %w", mapError(err))
		}
		// Events go last, in one batch, to hold the event lock briefly.
		var events []EventSpec
		slugs := make([]string, 0, len(valid))
		for _, sp := range valid {
			slugs = append(slugs, sp.Slug)
			have, err := lockService(ctx, tx, sp.Slug)
			switch {
			case errors.Is(err, catalog.ErrNotFound):
				r, err := insertService(ctx, tx, sp, ServiceSourceManifest)
				if err != nil {
					return err
				}
				res.Created++
				res.Entries = append(res.Entries, ImportEntry{Slug: sp.Slug, Action: ImportCreated})
				events = append(events, serviceEventSpec("service.created", &r.Service, nil, ""))
				continue
			case err != nil:
				return err
			}
			changed, err := specChanges(ctx, tx, have, sp)
			if err != nil {
				return err
			}
			if have.Source != ServiceSourceManifest {
				changed = append(changed, "source")
			}
			if len(changed) == 0 {
				res.Unchanged++
				res.Entries = append(res.Entries, ImportEntry{Slug: sp.Slug, Action: ImportUnchanged})
				continue
			}
			if err := writeSpec(ctx, tx, have.ID, sp, ServiceSourceManifest, sp.HealthURL != have.HealthURL); err != nil {
				return err
			}
			r, err := reloadService(ctx, tx, have.ID)
			if err != nil {
				return err
			}
			prev := catalog.ServiceStatus("")
			if r.Status != have.Status {
				changed = append(changed, "status")
				prev = have.Status
			}
			res.Updated++
			res.Entries = append(res.Entries, ImportEntry{Slug: sp.Slug, Action: ImportUpdated, Changed: changed})
			events = append(events, serviceEventSpec("service.updated", &r.Service, changed, prev))
		}
		if opts.Prune {
			rows, err := tx.Query(ctx, `DELETE FROM services WHERE source = 'manifest' AND slug <> ALL($1)
				RETURNING `+serviceColumns, slugs)
			if err != nil {
				return fmt.Errorf("prune services: %w", mapError(err))
			}
			var gone []*serviceRow
			for rows.Next() {
				r, err := scanService(rows)
				if err != nil {
					rows.Close()
					return fmt.Errorf("prune services: %w", mapError(err))
				}
				gone = append(gone, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("prune services: %w", mapError(err))
			}
			slices.SortFunc(gone, func(a, b *serviceRow) int { return strings.Compare(a.Slug, b.Slug) })
			for _, r := range gone {
				res.Deleted++
				res.Entries = append(res.Entries, ImportEntry{Slug: r.Slug, Action: ImportDeleted})
				events = append(events, serviceEventSpec("service.deleted", &r.Service, nil, ""))
			}
		}
		for _, e := range events {
			if _, err := insertEvent(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import services: %w", err)
	}
	return res, nil
}

// ServiceCheckTarget is a service claimed for a health check.
type ServiceCheckTarget struct {
	ID        int64
	Slug      string
	HealthURL string
	// Interval is the service's own health interval; 0 means the daemon's.
	Interval time.Duration
	Status   catalog.ServiceStatus
	// Failures is the number of checks in a row that failed so far.
	Failures int
}

// ClaimDueServices claims up to n services whose check is due (never
// checked, or next_check_at passed), by moving next_check_at lease ahead:
// another process claiming at the same time skips them (SKIP LOCKED) and
// will not claim them again until the lease expires, which only happens
// when the claimer died before recording a result.
func (s *Store) ClaimDueServices(ctx context.Context, n int, lease time.Duration) ([]ServiceCheckTarget, error) {
	if n <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `
		WITH due AS (
			SELECT id FROM services
			WHERE next_check_at IS NULL OR next_check_at <= now()
			ORDER BY next_check_at NULLS FIRST, id
			LIMIT $1
			FOR UPDATE SKIP LOCKED
		)
		UPDATE services s SET next_check_at = now() + make_interval(secs => $2)
		FROM due WHERE s.id = due.id
		RETURNING s.id, s.slug, s.health_url, s.health_interval_ms, s.status, s.consecutive_failures`,
		n, lease.Seconds())
	if err != nil {
		return nil, fmt.Errorf("claim due services: %w", mapError(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ServiceCheckTarget, error) {
		var t ServiceCheckTarget
		var ms *int64
		err := r.Scan(&t.ID, &t.Slug, &t.HealthURL, &ms, &t.Status, &t.Failures)
		if ms != nil {
			t.Interval = time.Duration(*ms) * time.Millisecond
		}
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim due services: %w", mapError(err))
	}
	return out, nil
}

// NextServiceCheck returns how long until the next check is due, counted
// by the database's clock so that the caller's clock does not matter (0
// when one is due already); ok is false when there are no services.
func (s *Store) NextServiceCheck(ctx context.Context) (in time.Duration, ok bool, err error) {
	var secs *float64
	err = s.pool.QueryRow(ctx, `SELECT CASE WHEN count(*) = 0 THEN NULL WHEN bool_or(next_check_at IS NULL) THEN 0
		ELSE greatest(0, extract(epoch FROM min(next_check_at) - now()))::float8 END FROM services`).Scan(&secs)
	if err != nil {
		return 0, false, fmt.Errorf("next service check: %w", mapError(err))
	}
	if secs == nil {
		return 0, false, nil
	}
	return time.Duration(*secs * float64(time.Second)), true, nil
}

// ServiceCheck is the outcome of one health check.
type ServiceCheck struct {
	ID int64
	// HealthURL is the URL that was checked; a result for a URL the service
	// no longer has is dropped.
	HealthURL string
	Healthy   bool
	// Error says why the check failed (empty when healthy). It should be
	// stable across checks that fail the same way: a change of it is a
	// change of the service and publishes service.updated.
	Error   string
	Latency time.Duration
	// NextIn is when the service is due again, counted from now.
	NextIn time.Duration
}

// RecordServiceCheck stores a check's outcome: status, error, latency,
// time and the failure count always, and updated_at and a service.updated
// event only when the status or the error changed, so a stable service
// publishes nothing however often it is checked. It returns the service,
// the changed fields (nil when nothing changed), and nil, nil, nil when
// the service was deleted or its health URL changed while it was checked.
func (s *Store) RecordServiceCheck(ctx context.Context, c ServiceCheck) (*catalog.Service, []string, error) {
	status := catalog.ServiceUnhealthy
	if c.Healthy {
		status, c.Error = catalog.ServiceHealthy, ""
	}
	var out *catalog.Service
	var changed []string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var prevStatus catalog.ServiceStatus
		var prevError, url string
		err := tx.QueryRow(ctx, `SELECT status, last_error, health_url FROM services WHERE id = $1 FOR UPDATE`, c.ID).
			Scan(&prevStatus, &prevError, &url)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("lock service %d: %w", c.ID, mapError(err))
		}
		if url != c.HealthURL {
			return nil
		}
		if prevStatus != status {
			changed = append(changed, "status")
		}
		if prevError != c.Error {
			changed = append(changed, "last_error")
		}
		r, err := scanService(tx.QueryRow(ctx, `UPDATE services SET status = $2, last_error = $3,
			last_latency_ms = $4, last_checked_at = now(),
			consecutive_failures = CASE WHEN $5 THEN 0 ELSE consecutive_failures + 1 END,
			next_check_at = now() + make_interval(secs => $6),
			updated_at = CASE WHEN $7 THEN now() ELSE updated_at END
			WHERE id = $1 RETURNING `+serviceColumns,
			c.ID, status, c.Error, float64(c.Latency)/float64(time.Millisecond), c.Healthy, c.NextIn.Seconds(), len(changed) > 0))
		if err != nil {
			return fmt.Errorf("record check of service %d: %w", c.ID, mapError(err))
		}
		out = &r.Service
		if len(changed) == 0 {
			return nil
		}
		prev := catalog.ServiceStatus("")
		if prevStatus != status {
			prev = prevStatus
		}
		_, err = insertEvent(ctx, tx, serviceEventSpec("service.updated", out, changed, prev))
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return out, changed, nil
}
