package store

import (
	"context"
	"fmt"
	"time"
)

// AppUse is how an app's launches use its volume: for appstore volume ls.
type AppUse struct {
	Slug      string
	GitURLKey string
	// Active says that a launch of the app (warm ones too) is starting,
	// running or stopping.
	Active bool
	// LastUsed is when a launch of the app last ran: the latest start,
	// request or stop of its launches; nil when it never ran.
	LastUsed *time.Time
	// StorageSize is the storage size the app declares now (tags.yaml
	// storage: size), 0 for none.
	StorageSize int64
}

// AppUses returns the use of every repository's launches, by slug (slugs
// empty: all repositories).
func (s *Store) AppUses(ctx context.Context, slugs ...string) (map[string]AppUse, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT r.slug, r.git_url_key,
		       coalesce(bool_or(l.status IN ('starting', 'running', 'stopping')), false),
		       max(greatest(l.started_at, l.last_request_at, l.stopped_at)),
		       coalesce((r.metadata->'storage'->>'size_bytes')::bigint, 0)
		FROM repositories r LEFT JOIN launches l ON l.repository_id = r.id
		WHERE coalesce(cardinality($1::text[]), 0) = 0 OR r.slug = ANY($1)
		GROUP BY r.id`, slugs)
	if err != nil {
		return nil, fmt.Errorf("app uses: %w", mapError(err))
	}
	defer rows.Close()
	out := map[string]AppUse{}
	for rows.Next() {
		var u AppUse
		if err := rows.Scan(&u.Slug, &u.GitURLKey, &u.Active, &u.LastUsed, &u.StorageSize); err != nil {
			return nil, fmt.Errorf("app uses: %w", mapError(err))
		}
		out[u.Slug] = u
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("app uses: %w", mapError(err))
	}
	return out, nil
}
