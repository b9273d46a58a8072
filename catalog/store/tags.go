package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/jackc/pgx/v5"
)

// tagIDs returns the ids of tags, creating the missing ones.
func tagIDs(ctx context.Context, tx pgx.Tx, tags []catalog.Tag) ([]int64, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	keys := make([]string, len(tags))
	values := make([]string, len(tags))
	for i, t := range tags {
		keys[i], values[i] = t.Key, t.Value
	}
	// ON CONFLICT DO UPDATE (a no-op) so that RETURNING yields existing rows too.
	ids, err := column[int64](ctx, tx, `
		INSERT INTO tags (key, value)
		SELECT DISTINCT k, v FROM unnest($1::text[], $2::text[]) AS u(k, v)
		ON CONFLICT (key, value) DO UPDATE SET key = EXCLUDED.key
		RETURNING id`, keys, values)
	if err != nil {
		return nil, fmt.Errorf("upsert tags: %w", err)
	}
	return ids, nil
}

// addTags attaches tags to a repository with source (idempotent).
func addTags(ctx context.Context, tx pgx.Tx, repoID int64, source catalog.TagSource, tags []catalog.Tag) error {
	ids, err := tagIDs(ctx, tx, tags)
	if err != nil || len(ids) == 0 {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO repository_tags (repository_id, tag_id, source)
		SELECT $1, unnest($2::bigint[]), $3
		ON CONFLICT DO NOTHING`, repoID, ids, string(source))
	if err != nil {
		return fmt.Errorf("add tags: %w", mapError(err))
	}
	return nil
}

// removeTags detaches tags of one source from a repository.
func removeTags(ctx context.Context, tx pgx.Tx, repoID int64, source catalog.TagSource, tags []catalog.Tag) error {
	keys := make([]string, len(tags))
	values := make([]string, len(tags))
	for i, t := range tags {
		keys[i], values[i] = t.Key, t.Value
	}
	_, err := tx.Exec(ctx, `
		DELETE FROM repository_tags rt USING tags t
		WHERE rt.tag_id = t.id AND rt.repository_id = $1 AND rt.source = $2
		  AND (t.key, t.value) IN (SELECT * FROM unnest($3::text[], $4::text[]))`,
		repoID, string(source), keys, values)
	if err != nil {
		return fmt.Errorf("remove tags: %w", mapError(err))
	}
	return nil
}

// ReplaceTags sets the tags of one source of a repository to exactly tags,
// and refreshes the denormalised array. Ingestion uses it for author and
// auto tags; manual tags are never replaced this way by the daemon.
func ReplaceTags(ctx context.Context, tx pgx.Tx, repoID int64, source catalog.TagSource, tags []catalog.Tag) error {
	if _, err := tx.Exec(ctx, `DELETE FROM repository_tags WHERE repository_id = $1 AND source = $2`, repoID, string(source)); err != nil {
		return fmt.Errorf("replace %s tags: %w", source, mapError(err))
	}
	if err := addTags(ctx, tx, repoID, source, tags); err != nil {
		return err
	}
	return syncTagArray(ctx, tx, repoID)
}

// syncTagArray recomputes repositories.tags (all sources, lower-case
// "key:value", sorted, distinct) from repository_tags.
func syncTagArray(ctx context.Context, tx pgx.Tx, repoID int64) error {
	_, err := tx.Exec(ctx, `
		UPDATE repositories SET tags = coalesce((
			SELECT array_agg(DISTINCT t.key || ':' || t.value ORDER BY t.key || ':' || t.value)
			FROM repository_tags rt JOIN tags t ON t.id = rt.tag_id
			WHERE rt.repository_id = $1), '{}')
		WHERE id = $1`, repoID)
	if err != nil {
		return fmt.Errorf("sync tag array: %w", mapError(err))
	}
	return nil
}

// TagListOptions filter ListTags.
type TagListOptions struct {
	// Prefix matches keys starting with it, or "key:value" pairs starting
	// with it when it contains a colon.
	Prefix string
	// Key restricts to one key's values.
	Key   string
	Limit int // default 100, at most 1000
}

// ListTags returns tags carried by at least one repository, with the number
// of repositories that carry each, most used first. It reads the facet
// counters of migration 0006 (exact, and independent of the catalog's
// size) rather than grouping repository_tags. Tags with the key "status"
// are not listed: the search language reads status: as the ingest status.
func (s *Store) ListTags(ctx context.Context, o TagListOptions) ([]catalog.Tag, error) {
	if o.Limit <= 0 {
		o.Limit = 100
	}
	if o.Limit > 1000 {
		o.Limit = 1000
	}
	prefix := strings.ToLower(strings.TrimSpace(o.Prefix))
	key := strings.ToLower(strings.TrimSpace(o.Key))
	keyPrefix, valuePrefix := prefix, ""
	if k, v, ok := strings.Cut(prefix, ":"); ok {
		keyPrefix, valuePrefix = "", v
		if key == "" {
			key = k
		} else if key != k {
			return []catalog.Tag{}, nil
		}
	}
	const cond = `value <> '' AND key <> 'status' AND ($1 = '' OR key = $1)
		  AND key LIKE $2 || '%' AND value LIKE $3 || '%'`
	rows, err := s.pool.Query(ctx, `
		SELECT key, value, sum(n)::bigint AS n FROM (
			SELECT key, value, n FROM tag_counts WHERE `+cond+`
			UNION ALL
			SELECT key, value, n FROM tag_count_deltas WHERE `+cond+`
		) c
		GROUP BY key, value HAVING sum(n) > 0
		ORDER BY n DESC, key, value
		LIMIT $4`, key, likeEscape(keyPrefix), likeEscape(valuePrefix), o.Limit)
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", mapError(err))
	}
	tags, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Tag, error) {
		var t catalog.Tag
		err := r.Scan(&t.Key, &t.Value, &t.Count)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", mapError(err))
	}
	return tags, nil
}
