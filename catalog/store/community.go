package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/appstore-dev/appstore/catalog"
)

// Events of stars and comments.
const (
	// EventRepositoryStarred is written when a user stars or unstars an
	// app (data: starred, star_count, user).
	EventRepositoryStarred = "repository.starred"
	// EventCommentCreated and EventCommentDeleted carry the comment.
	EventCommentCreated = "comment.created"
	EventCommentDeleted = "comment.deleted"
)

// repositoryID returns the id of the repository slug.
func repositoryID(ctx context.Context, tx pgx.Tx, slug string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM repositories WHERE slug = $1`, slug).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, &catalog.NotFoundError{Kind: "repository", Key: slug}
	}
	return id, mapError(err)
}

// SetStar stars (on) or unstars the app slug for the user userID (a users
// row), and returns the app's star state for that user. Starring twice, or
// unstarring an app not starred, changes nothing and writes no event; a
// change writes repository.starred and rewrites the app's trending score.
func (s *Store) SetStar(ctx context.Context, slug string, userID int64, on bool) (*catalog.StarState, error) {
	if userID == 0 {
		return nil, catalog.Invalid("user", "starring needs a user: send a personal token")
	}
	out := &catalog.StarState{Repository: slug, Starred: on}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		id, err := repositoryID(ctx, tx, slug)
		if err != nil {
			return err
		}
		sql := `INSERT INTO stars (repository_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
		if !on {
			sql = `DELETE FROM stars WHERE repository_id = $1 AND user_id = $2`
		}
		tag, err := tx.Exec(ctx, sql, id, userID)
		if err != nil {
			return mapError(err)
		}
		if err := tx.QueryRow(ctx, `SELECT star_count FROM repositories WHERE id = $1`, id).Scan(&out.StarCount); err != nil {
			return mapError(err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		if err := updateTrends(ctx, tx, []int64{id}); err != nil {
			return err
		}
		var user string
		if err := tx.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, userID).Scan(&user); err != nil {
			return mapError(err)
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: EventRepositoryStarred, Subject: slug,
			Data: map[string]any{"starred": on, "star_count": out.StarCount, "user": user}})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("star %s: %w", slug, err)
	}
	return out, nil
}

// StarState returns whether the user userID (0: no one) starred the app
// slug, and its star count.
func (s *Store) StarState(ctx context.Context, slug string, userID int64) (*catalog.StarState, error) {
	out := &catalog.StarState{Repository: slug}
	err := s.pool.QueryRow(ctx, `
		SELECT r.star_count, EXISTS (SELECT 1 FROM stars WHERE repository_id = r.id AND user_id = $2)
		FROM repositories r WHERE r.slug = $1`, slug, userID).Scan(&out.StarCount, &out.Starred)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "repository", Key: slug}
	}
	if err != nil {
		return nil, fmt.Errorf("stars of %s: %w", slug, mapError(err))
	}
	return out, nil
}

// commentColumns are the columns scanComment reads. A comment whose
// author_id went NULL lost its account (ON DELETE SET NULL).
const commentColumns = `c.id, r.slug, c.author, coalesce(c.author_id, 0), c.author_id IS NULL, c.body, c.created_at`

func scanComment(row pgx.Row) (*catalog.Comment, error) {
	var c catalog.Comment
	if err := row.Scan(&c.ID, &c.Repository, &c.Author, &c.AuthorID, &c.AuthorRemoved, &c.Body, &c.CreatedAt); err != nil {
		return nil, err
	}
	return &c, nil
}

// AddComment stores a comment of the user author on the app slug, the body
// cleaned by catalog.CleanComment, and writes comment.created with it. The
// comment belongs to the account author.ID (without an id: the account
// named author.Name now, if any); author.Name is what is shown.
func (s *Store) AddComment(ctx context.Context, slug string, author catalog.User, body string) (*catalog.Comment, error) {
	body, err := catalog.CleanComment(body)
	if err != nil {
		return nil, err
	}
	if author.Name == "" {
		return nil, catalog.Invalid("author", "commenting needs a user: send a personal token")
	}
	var out *catalog.Comment
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		id, err := repositoryID(ctx, tx, slug)
		if err != nil {
			return err
		}
		out, err = scanComment(tx.QueryRow(ctx, `
			WITH c AS (INSERT INTO comments (repository_id, author, author_id, body)
				VALUES ($1, $2, coalesce(nullif($3::bigint, 0), (SELECT id FROM users WHERE name = $2)), $4) RETURNING *)
			SELECT `+commentColumns+` FROM c JOIN repositories r ON r.id = c.repository_id`, id, author.Name, author.ID, body))
		if err != nil {
			return mapError(err)
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: EventCommentCreated, Subject: slug, Data: out})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("comment on %s: %w", slug, err)
	}
	return out, nil
}

// Comment returns the comment id.
func (s *Store) Comment(ctx context.Context, id int64) (*catalog.Comment, error) {
	c, err := scanComment(s.pool.QueryRow(ctx, `SELECT `+commentColumns+`
		FROM comments c JOIN repositories r ON r.id = c.repository_id WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "comment", Key: strconv.FormatInt(id, 10)}
	}
	if err != nil {
		return nil, fmt.Errorf("comment %d: %w", id, mapError(err))
	}
	return c, nil
}

// Comments returns the newest limit comments of the app slug, oldest
// first (newest last, as a conversation reads).
func (s *Store) Comments(ctx context.Context, slug string, limit int) ([]catalog.Comment, error) {
	if limit == 0 {
		limit = catalog.DefaultCommentsLimit
	}
	if limit < 1 || limit > catalog.MaxCommentsLimit {
		return nil, catalog.Invalid("limit", "%d: want 1 to %d", limit, catalog.MaxCommentsLimit)
	}
	var repoID int64
	if err := s.pool.QueryRow(ctx, `SELECT id FROM repositories WHERE slug = $1`, slug).Scan(&repoID); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, &catalog.NotFoundError{Kind: "repository", Key: slug}
		}
		return nil, fmt.Errorf("comments of %s: %w", slug, mapError(err))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+commentColumns+`
		FROM comments c JOIN repositories r ON r.id = c.repository_id
		WHERE c.repository_id = $1 ORDER BY c.id DESC LIMIT $2`, repoID, limit)
	if err != nil {
		return nil, fmt.Errorf("comments of %s: %w", slug, mapError(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Comment, error) {
		c, err := scanComment(r)
		if err != nil {
			return catalog.Comment{}, err
		}
		return *c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("comments of %s: %w", slug, mapError(err))
	}
	slices.Reverse(out)
	return out, nil
}

// DeleteComment removes the comment id and writes comment.deleted. Who may
// is the API's decision (its author or an admin).
func (s *Store) DeleteComment(ctx context.Context, id int64) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := scanComment(tx.QueryRow(ctx, `
			WITH c AS (DELETE FROM comments WHERE id = $1 RETURNING *)
			SELECT `+commentColumns+` FROM c JOIN repositories r ON r.id = c.repository_id`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return &catalog.NotFoundError{Kind: "comment", Key: strconv.FormatInt(id, 10)}
		}
		if err != nil {
			return mapError(err)
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: EventCommentDeleted, Subject: c.Repository, Data: c})
		return err
	})
	if err != nil {
		return fmt.Errorf("remove comment %d: %w", id, err)
	}
	return nil
}
