package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/jackc/pgx/v5"
)

// userColumns are the columns scanUser reads, in order.
const userColumns = `id, name, role, builtin, created_by, created_at, token_created_at`

func scanUser(row pgx.Row) (*catalog.User, error) {
	var u catalog.User
	err := row.Scan(&u.ID, &u.Name, &u.Role, &u.Builtin, &u.CreatedBy, &u.CreatedAt, &u.TokenCreatedAt)
	if err != nil {
		return nil, err
	}
	if u.Builtin {
		u.TokenCreatedAt = u.CreatedAt
	}
	return &u, nil
}

// UserByTokenHash returns the account whose personal token hashes to hash
// (catalog.HashUserToken), or an error satisfying catalog.ErrNotFound.
func (s *Store) UserByTokenHash(ctx context.Context, hash string) (*catalog.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE token_hash = $1 AND NOT builtin`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "user", Key: "with this token"}
	}
	if err != nil {
		return nil, fmt.Errorf("look up a token: %w", mapError(err))
	}
	return u, nil
}

// User returns the user (account or built-in) named name.
func (s *Store) User(ctx context.Context, name string) (*catalog.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "user", Key: name}
	}
	if err != nil {
		return nil, fmt.Errorf("get user %q: %w", name, mapError(err))
	}
	return u, nil
}

// HasUsers reports whether any account exists (the built-in actors do not
// count): then the daemon wants a token for every change.
func (s *Store) HasUsers(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE NOT builtin)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("are there users: %w", mapError(err))
	}
	return ok, nil
}

// Users returns the accounts by name (not the built-in actors).
func (s *Store) Users(ctx context.Context) ([]catalog.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE NOT builtin ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", mapError(err))
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.User, error) {
		u, err := scanUser(r)
		if err != nil {
			return catalog.User{}, err
		}
		return *u, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", mapError(err))
	}
	return users, nil
}

// NewUser is what CreateUser stores.
type NewUser struct {
	Name string
	Role catalog.Role
	// TokenHash is catalog.HashUserToken of the new personal token; the
	// token itself never reaches the store.
	TokenHash string
	// CreatedBy names the admin who adds the user ("" offline).
	CreatedBy string
}

// CreateUser adds an account and the user.created event. A taken name is
// a *catalog.ConflictError.
func (s *Store) CreateUser(ctx context.Context, in NewUser) (*catalog.User, error) {
	if err := catalog.ValidateUserName(in.Name); err != nil {
		return nil, err
	}
	if !in.Role.Valid() {
		return nil, catalog.Invalid("role", "%q is not a role: use admin, member or viewer", in.Role)
	}
	if len(in.TokenHash) != 64 {
		return nil, fmt.Errorf("create user %q: the token hash is %d characters, want a hex SHA-256", in.Name, len(in.TokenHash))
	}
	var u *catalog.User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `
			INSERT INTO users (name, role, token_hash, created_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT (name) DO NOTHING
			RETURNING `+userColumns, in.Name, string(in.Role), in.TokenHash, in.CreatedBy))
		if errors.Is(err, pgx.ErrNoRows) {
			return &catalog.ConflictError{Message: fmt.Sprintf("user %q already exists: choose another name, or replace its token with `appstore users token %s`", in.Name, in.Name)}
		}
		if err != nil {
			return mapError(err)
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: "user.created", Subject: "user:" + u.Name, Data: map[string]any{"name": u.Name, "role": u.Role}})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create user %q: %w", in.Name, err)
	}
	return u, nil
}

// ReplaceUserToken gives an account a new personal token (by its hash); the
// old one stops working at once. The user.token_replaced event says so.
func (s *Store) ReplaceUserToken(ctx context.Context, name, tokenHash string) (*catalog.User, error) {
	if len(tokenHash) != 64 {
		return nil, fmt.Errorf("replace the token of %q: the token hash is %d characters, want a hex SHA-256", name, len(tokenHash))
	}
	var u *catalog.User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `
			UPDATE users SET token_hash = $2, token_created_at = now() WHERE name = $1 AND NOT builtin
			RETURNING `+userColumns, name, tokenHash))
		if errors.Is(err, pgx.ErrNoRows) {
			return s.noAccount(ctx, tx, name)
		}
		if err != nil {
			return mapError(err)
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: "user.token_replaced", Subject: "user:" + name, Data: map[string]any{"name": name}})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("replace the token of %q: %w", name, err)
	}
	return u, nil
}

// DeleteUser removes an account: its token stops working at once. An
// account that owns apps is removed only with reassignTo, the user (an
// account or a built-in actor) who takes them over in the same transaction,
// each with a repository.updated event as `appstore edit --owner` writes;
// without it the removal is a *catalog.ConflictError that says how many
// apps and what to run, and nothing changes (an app never keeps the name
// of a removed account as owner, which a new account of that name would
// inherit). handedOver counts the apps reassigned. The user's stars go
// with it (the star counts follow) and the trending scores of the apps it
// starred are rewritten; its comments stay, by a removed user. The
// built-in actors cannot be removed.
func (s *Store) DeleteUser(ctx context.Context, name, reassignTo string) (handedOver int64, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM users WHERE name = $1 AND NOT builtin FOR UPDATE`, name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return s.noAccount(ctx, tx, name)
		}
		if err != nil {
			return mapError(err)
		}
		owned, err := column[string](ctx, tx, `SELECT slug FROM repositories WHERE owned_by = $1 ORDER BY slug FOR UPDATE`, name)
		if err != nil {
			return err
		}
		if reassignTo == name {
			return catalog.Invalid("reassign", "%s cannot take over its own apps while it is removed: name another user", name)
		}
		if reassignTo != "" {
			var known bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE name = $1)`, reassignTo).Scan(&known); err != nil {
				return mapError(err)
			}
			if !known {
				return catalog.Invalid("reassign", "there is no user %q to take over %s's apps: `appstore users ls` lists them", reassignTo, name)
			}
		}
		if len(owned) > 0 && reassignTo == "" {
			return &catalog.ConflictError{Message: fmt.Sprintf(
				"%s owns %d app(s) (%s): hand them over as it goes with `appstore users rm %s --reassign <user>`, or one by one with `appstore edit <slug> --owner <user>`",
				name, len(owned), listSome(owned, 3), name)}
		}
		starred, err := column[int64](ctx, tx, `SELECT repository_id FROM stars WHERE user_id = $1`, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
			return mapError(err)
		}
		// The stars went with the row (ON DELETE CASCADE; the trigger
		// counted them down): the scores they fed are rewritten.
		if err := updateTrends(ctx, tx, starred); err != nil {
			return err
		}
		for _, slug := range owned {
			var repoID int64
			if err := tx.QueryRow(ctx, `UPDATE repositories SET owned_by = $2, updated_at = now() WHERE slug = $1 RETURNING id`, slug, reassignTo).Scan(&repoID); err != nil {
				return mapError(err)
			}
			if _, err := insertEvent(ctx, tx, EventSpec{Type: "repository.updated", Subject: slug, Data: map[string]any{
				"id": repoID, "slug": slug, "changed": []string{"owned_by"}, "owned_by": reassignTo, "previous_owner": name,
			}}); err != nil {
				return err
			}
		}
		handedOver = int64(len(owned))
		data := map[string]any{"name": name, "owned_apps": handedOver}
		if reassignTo != "" {
			data["reassigned_to"] = reassignTo
		}
		_, err = insertEvent(ctx, tx, EventSpec{Type: "user.deleted", Subject: "user:" + name, Data: data})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("remove user %q: %w", name, err)
	}
	return handedOver, nil
}

// listSome joins the first n of items, with "…" when there are more.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + ", …"
}

// noAccount is the error for name when it is not an account: a built-in
// actor (invalid: it has no token and cannot go) or nobody (not found).
func (s *Store) noAccount(ctx context.Context, tx pgx.Tx, name string) error {
	var builtin bool
	err := tx.QueryRow(ctx, `SELECT builtin FROM users WHERE name = $1`, name).Scan(&builtin)
	if err == nil && builtin {
		return catalog.Invalid("name", "%q is a built-in actor of the daemon, not an account: it has no personal token and cannot be removed", name)
	}
	return &catalog.NotFoundError{Kind: "user", Key: name}
}

// RepositoryOwner returns the user who owns the repository slug ("" for
// an app registered before accounts existed).
func (s *Store) RepositoryOwner(ctx context.Context, slug string) (string, error) {
	var owner string
	err := s.pool.QueryRow(ctx, `SELECT owned_by FROM repositories WHERE slug = $1`, slug).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", &catalog.NotFoundError{Kind: "repository", Key: slug}
	}
	if err != nil {
		return "", fmt.Errorf("owner of %q: %w", slug, mapError(err))
	}
	return owner, nil
}

// BuildOwner returns the user who owns the repository of build id.
func (s *Store) BuildOwner(ctx context.Context, id int64) (string, error) {
	var owner string
	err := s.pool.QueryRow(ctx, `SELECT r.owned_by FROM builds b JOIN repositories r ON r.id = b.repository_id WHERE b.id = $1`, id).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", &catalog.NotFoundError{Kind: "build", Key: strconv.FormatInt(id, 10)}
	}
	if err != nil {
		return "", fmt.Errorf("owner of build %d: %w", id, mapError(err))
	}
	return owner, nil
}

// LaunchStarter returns the users row of who started launch id (0 for
// the daemon's own launches and a removed account) and its name.
func (s *Store) LaunchStarter(ctx context.Context, id int64) (userID int64, name string, err error) {
	err = s.pool.QueryRow(ctx, `
		SELECT coalesce(l.launched_by, 0), coalesce(u.name, '')
		FROM launches l LEFT JOIN users u ON u.id = l.launched_by WHERE l.id = $1`, id).Scan(&userID, &name)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", &catalog.NotFoundError{Kind: "launch", Key: strconv.FormatInt(id, 10)}
	}
	if err != nil {
		return 0, "", fmt.Errorf("who started launch %d: %w", id, mapError(err))
	}
	return userID, name, nil
}

// setOwner makes the user name the owner of repository id; name must be a
// user (an account or a built-in actor).
func setOwner(ctx context.Context, tx pgx.Tx, id int64, name string) error {
	var known bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE name = $1)`, name).Scan(&known); err != nil {
		return mapError(err)
	}
	if !known {
		return catalog.Invalid("owned_by", "there is no user %q: `appstore users ls` lists them", name)
	}
	_, err := tx.Exec(ctx, `UPDATE repositories SET owned_by = $2 WHERE id = $1`, id, name)
	return mapError(err)
}
