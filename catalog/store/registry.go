package store

import (
	"context"
	"fmt"
)

// RegistryImage is an image pushed to the registry.
type RegistryImage struct {
	Slug   string
	Digest string
}

// RegistryImagesToPrune returns the pushed images (by digest) that the
// keep policy of ImagesToKeep no longer keeps: not the image of one of the
// keep newest succeeded builds of its repository, nor of a build that an
// active launch uses, nor the digest of any such image.
func (s *Store) RegistryImagesToPrune(ctx context.Context, keep int) ([]RegistryImage, error) {
	if keep < 1 {
		keep = 1
	}
	rows, err := s.pool.Query(ctx, `
		WITH images AS (
			SELECT repository_id, image_id, max(id) AS newest FROM builds
			WHERE status = 'succeeded' AND image_id <> '' GROUP BY repository_id, image_id
		), ranked AS (
			SELECT image_id, row_number() OVER (PARTITION BY repository_id ORDER BY newest DESC) AS n FROM images
		), kept AS (
			SELECT image_id FROM ranked WHERE n <= $1
			UNION
			SELECT b.image_id FROM launches l JOIN builds b ON b.id = l.build_id
			WHERE l.status IN ('starting', 'running', 'stopping')
		), kept_digests AS (
			SELECT DISTINCT b.image_digest FROM builds b JOIN kept k ON k.image_id = b.image_id
			WHERE b.image_digest <> ''
			UNION
			SELECT b.image_digest FROM launches l JOIN builds b ON b.id = l.build_id
			WHERE l.status IN ('starting', 'running', 'stopping') AND b.image_digest <> ''
		)
		SELECT DISTINCT r.slug, b.image_digest FROM builds b JOIN repositories r ON r.id = b.repository_id
		WHERE b.image_digest <> '' AND b.status = 'succeeded'
		  AND b.image_digest NOT IN (SELECT image_digest FROM kept_digests)
		ORDER BY 1, 2`, keep)
	if err != nil {
		return nil, fmt.Errorf("registry images to prune: %w", mapError(err))
	}
	defer rows.Close()
	var out []RegistryImage
	for rows.Next() {
		var ri RegistryImage
		if err := rows.Scan(&ri.Slug, &ri.Digest); err != nil {
			return nil, fmt.Errorf("registry images to prune: %w", mapError(err))
		}
		out = append(out, ri)
	}
	return out, mapError(rows.Err())
}

// ForgetRegistryImage records that digest was deleted from the registry:
// the builds that pushed it no longer name it, so that no launch asks a
// node to pull it.
func (s *Store) ForgetRegistryImage(ctx context.Context, digest string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE builds SET image_digest = '' WHERE image_digest = $1`, digest); err != nil {
		return fmt.Errorf("forget registry image %s: %w", digest, mapError(err))
	}
	return nil
}

// RepositorySlugs returns the slug of every registered repository, for
// deleting the registry images of removed ones.
func (s *Store) RepositorySlugs(ctx context.Context) (map[string]bool, error) {
	slugs, err := column[string](ctx, s.pool, `SELECT slug FROM repositories`)
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	out := make(map[string]bool, len(slugs))
	for _, slug := range slugs {
		out[slug] = true
	}
	return out, nil
}
