package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog"
)

// Stargazers returns the users who starred the app slug, newest star
// first, at most limit (0: catalog.DefaultStargazersLimit), with its star
// count.
func (s *Store) Stargazers(ctx context.Context, slug string, limit int) (*catalog.Stargazers, error) {
	if limit == 0 {
		limit = catalog.DefaultStargazersLimit
	}
	if limit < 1 || limit > catalog.MaxStargazersLimit {
		return nil, catalog.Invalid("limit", "%d: want 1 to %d", limit, catalog.MaxStargazersLimit)
	}
	out := &catalog.Stargazers{Repository: slug, Users: []catalog.Starring{}}
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id, star_count FROM repositories WHERE slug = $1`, slug).Scan(&id, &out.StarCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "repository", Key: slug}
	}
	if err != nil {
		return nil, fmt.Errorf("stars of %s: %w", slug, mapError(err))
	}
	rows, err := s.pool.Query(ctx, `
		SELECT u.name, st.created_at FROM stars st JOIN users u ON u.id = st.user_id
		WHERE st.repository_id = $1 ORDER BY st.created_at DESC, u.name LIMIT $2`, id, limit)
	if err != nil {
		return nil, fmt.Errorf("stargazers of %s: %w", slug, mapError(err))
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Starring, error) {
		var st catalog.Starring
		err := r.Scan(&st.User, &st.StarredAt)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("stargazers of %s: %w", slug, mapError(err))
	}
	out.Users = append(out.Users, users...)
	return out, nil
}
