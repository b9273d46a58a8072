package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog"
)

// maxThumbnailBytes bounds each image of a thumbnail: a card-sized WebP is
// a few dozen kilobytes; anything far larger is not one.
const maxThumbnailBytes = 2 << 20

// SaveThumbnail stores t as its repository's thumbnail, replacing the one
// it had (of an older build: that one is pruned with it), and writes
// repository.updated (changed: thumbnail; same_picture when the new
// capture looks exactly like the old one). It returns the thumbnail as
// stored, without its images.
func (s *Store) SaveThumbnail(ctx context.Context, t catalog.Thumbnail) (*catalog.Thumbnail, error) {
	if len(t.Image) == 0 || len(t.Image2x) == 0 {
		return nil, catalog.Invalid("thumbnail", "has no image")
	}
	if len(t.Image) > maxThumbnailBytes || len(t.Image2x) > maxThumbnailBytes {
		return nil, catalog.Invalid("thumbnail", "is larger than %d bytes", maxThumbnailBytes)
	}
	sum := sha256.New()
	sum.Write(t.Image)
	sum.Write(t.Image2x)
	t.ETag = hex.EncodeToString(sum.Sum(nil))[:20]
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var old string
		err := tx.QueryRow(ctx, `SELECT slug, coalesce((SELECT etag FROM thumbnails WHERE repository_id = $1), '')
			FROM repositories WHERE id = $1 FOR UPDATE`, t.RepositoryID).Scan(&t.Repository, &old)
		if errors.Is(err, pgx.ErrNoRows) {
			return &catalog.NotFoundError{Kind: "repository", Key: fmt.Sprint(t.RepositoryID)}
		}
		if err != nil {
			return mapError(err)
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO thumbnails (repository_id, build_id, launch_id, content_type, image, image_2x, width, height, etag)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (repository_id) DO UPDATE SET build_id = EXCLUDED.build_id, launch_id = EXCLUDED.launch_id,
				content_type = EXCLUDED.content_type, image = EXCLUDED.image, image_2x = EXCLUDED.image_2x,
				width = EXCLUDED.width, height = EXCLUDED.height, etag = EXCLUDED.etag, captured_at = now()
			RETURNING captured_at`,
			t.RepositoryID, t.BuildID, t.LaunchID, t.ContentType, t.Image, t.Image2x, t.Width, t.Height, t.ETag).Scan(&t.CapturedAt)
		if err != nil {
			return mapError(err)
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: "repository.updated", Subject: t.Repository, Data: map[string]any{
			"id": t.RepositoryID, "slug": t.Repository, "changed": []string{"thumbnail"},
			"thumbnail_url": catalog.ThumbnailPath(t.Repository, t.ETag), "build_id": t.BuildID,
			"same_picture": old == t.ETag,
		}})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("save the thumbnail of repository %d: %w", t.RepositoryID, err)
	}
	t.Image, t.Image2x = nil, nil
	return &t, nil
}

// Thumbnail returns the thumbnail of the repository with slug, images
// included; catalog.ErrNotFound when the repository or its thumbnail does
// not exist (the error says which).
func (s *Store) Thumbnail(ctx context.Context, slug string) (*catalog.Thumbnail, error) {
	var t catalog.Thumbnail
	var has bool
	err := s.pool.QueryRow(ctx, `
		SELECT r.id, r.slug, t.repository_id IS NOT NULL, t.build_id, coalesce(t.launch_id, 0), coalesce(t.content_type, ''),
			coalesce(t.image, ''::bytea), coalesce(t.image_2x, ''::bytea), coalesce(t.width, 0), coalesce(t.height, 0),
			coalesce(t.etag, ''), coalesce(t.captured_at, now())
		FROM repositories r LEFT JOIN thumbnails t ON t.repository_id = r.id
		WHERE r.slug = $1`, slug).Scan(&t.RepositoryID, &t.Repository, &has, &t.BuildID, &t.LaunchID, &t.ContentType,
		&t.Image, &t.Image2x, &t.Width, &t.Height, &t.ETag, &t.CapturedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "repository", Key: slug}
	}
	if err != nil {
		return nil, fmt.Errorf("thumbnail of %q: %w", slug, mapError(err))
	}
	if !has {
		return nil, &catalog.NotFoundError{Kind: "thumbnail", Key: slug}
	}
	return &t, nil
}

// ThumbnailBuild returns the build whose launch the repository's thumbnail
// shows, and whether it has a thumbnail at all (0, true: a thumbnail of a
// build since deleted).
func (s *Store) ThumbnailBuild(ctx context.Context, repoID int64) (int64, bool, error) {
	var build *int64
	err := s.pool.QueryRow(ctx, `SELECT build_id FROM thumbnails WHERE repository_id = $1`, repoID).Scan(&build)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("thumbnail of repository %d: %w", repoID, mapError(err))
	}
	if build == nil {
		return 0, true, nil
	}
	return *build, true, nil
}

// AddTimelineWarning appends a warning step (catalog.TimelineWarning) to
// the repository's timeline and writes ingestion.warning with the message
// and source (what went wrong: "thumbnail"). A warning changes no state
// of the repository.
func (s *Store) AddTimelineWarning(ctx context.Context, repoID int64, source, message string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var slug string
		var step int64
		err := tx.QueryRow(ctx, `
			INSERT INTO ingestion_events (repository_id, status, message, actor)
			SELECT id, $2, $3, $4 FROM repositories WHERE id = $1
			RETURNING id, (SELECT slug FROM repositories WHERE id = $1)`, repoID, catalog.TimelineWarning, message, catalog.ActorName(ctx)).Scan(&step, &slug)
		if errors.Is(err, pgx.ErrNoRows) {
			return &catalog.NotFoundError{Kind: "repository", Key: fmt.Sprint(repoID)}
		}
		if err != nil {
			return mapError(err)
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: "ingestion.warning", Subject: slug, Data: map[string]any{
			"id": repoID, "slug": slug, "step": step, "source": source, "message": message,
		}})
		return err
	})
	if err != nil {
		return fmt.Errorf("timeline warning of repository %d: %w", repoID, err)
	}
	return nil
}
