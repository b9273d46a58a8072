package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/jackc/pgx/v5"
)

// An app's configuration: variables (repository_env, in clear) and secrets
// (repository_secrets, sealed by the caller: the store never sees a
// secret's value). Every change bumps repositories.config_version and
// writes repository.config_changed, with the names only, in the same
// transaction; a launch keeps the version it started with, so that a
// running launch whose configuration changed since is marked
// (Launch.ConfigChanged).

// SealedSecret is a secret as stored: its sealed value and the id of the
// key that sealed it.
type SealedSecret struct {
	Name      string
	Sealed    []byte
	KeyID     string
	UpdatedAt time.Time
}

// AppConfig is an app's configuration as stored.
type AppConfig struct {
	RepositoryID int64
	Slug         string
	// Version is bumped by every change of the variables or secrets.
	Version   int64
	Variables []catalog.EnvVar
	Secrets   []SealedSecret
	// Declared is what ingestion found the app declares (metadata env).
	Declared []catalog.DeclaredEnv
}

// State is the configuration's names, for ConfigState.Missing and the
// API (no values).
func (c *AppConfig) State() catalog.ConfigState {
	st := catalog.ConfigState{Declared: c.Declared, Variables: []string{}, Secrets: []string{}}
	if st.Declared == nil {
		st.Declared = []catalog.DeclaredEnv{}
	}
	for _, v := range c.Variables {
		st.Variables = append(st.Variables, v.Name)
	}
	for _, s := range c.Secrets {
		st.Secrets = append(st.Secrets, s.Name)
	}
	return st
}

// AppConfig returns the configuration of the app slug.
func (s *Store) AppConfig(ctx context.Context, slug string) (*AppConfig, error) {
	var c *AppConfig
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = appConfig(ctx, tx, slug, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func appConfig(ctx context.Context, tx pgx.Tx, slug string, lock bool) (*AppConfig, error) {
	c := &AppConfig{Slug: slug}
	q := `SELECT id, config_version, coalesce(metadata->'env', 'null') FROM repositories WHERE slug = $1`
	if lock {
		q += ` FOR UPDATE`
	}
	var declared []byte
	err := tx.QueryRow(ctx, q, slug).Scan(&c.RepositoryID, &c.Version, &declared)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &catalog.NotFoundError{Kind: "repository", Key: slug}
	}
	if err != nil {
		return nil, fmt.Errorf("configuration of %s: %w", slug, mapError(err))
	}
	if len(declared) > 0 && string(declared) != "null" {
		// What ingestion wrote; a malformed value is ignored rather than
		// blocking the app's launches.
		_ = json.Unmarshal(declared, &c.Declared)
	}
	rows, err := tx.Query(ctx, `SELECT name, value, updated_at FROM repository_env WHERE repository_id = $1 ORDER BY name`, c.RepositoryID)
	if err != nil {
		return nil, fmt.Errorf("variables of %s: %w", slug, mapError(err))
	}
	c.Variables, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (catalog.EnvVar, error) {
		var v catalog.EnvVar
		err := row.Scan(&v.Name, &v.Value, &v.UpdatedAt)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("variables of %s: %w", slug, mapError(err))
	}
	rows, err = tx.Query(ctx, `SELECT name, ciphertext, key_id, updated_at FROM repository_secrets WHERE repository_id = $1 ORDER BY name`, c.RepositoryID)
	if err != nil {
		return nil, fmt.Errorf("secrets of %s: %w", slug, mapError(err))
	}
	c.Secrets, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (SealedSecret, error) {
		var v SealedSecret
		err := row.Scan(&v.Name, &v.Sealed, &v.KeyID, &v.UpdatedAt)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("secrets of %s: %w", slug, mapError(err))
	}
	return c, nil
}

// checkConfigLimits refuses a change that leaves the app with more than
// catalog.MaxEnvPerApp variables and secrets or more than
// catalog.MaxEnvBytesPerApp bytes of them (a sealed secret counts as its
// value: the sealing adds 28 bytes).
func checkConfigLimits(ctx context.Context, tx pgx.Tx, repositoryID int64) error {
	var n, size int64
	err := tx.QueryRow(ctx, `
		SELECT count(*), coalesce(sum(n), 0) FROM (
			SELECT octet_length(name) + octet_length(value) AS n FROM repository_env WHERE repository_id = $1
			UNION ALL
			SELECT octet_length(name) + greatest(octet_length(ciphertext) - 28, 0) FROM repository_secrets WHERE repository_id = $1
		) t`, repositoryID).Scan(&n, &size)
	if err != nil {
		return mapError(err)
	}
	switch {
	case n > catalog.MaxEnvPerApp:
		return catalog.Invalid("name", "an app may have at most %d variables and secrets together; this change would make %d (remove some with `appstore env unset` or `appstore secret rm`)", catalog.MaxEnvPerApp, n)
	case size > catalog.MaxEnvBytesPerApp:
		return catalog.Invalid("value", "an app's variables and secrets may hold at most %d bytes together; this change would make %d", catalog.MaxEnvBytesPerApp, size)
	}
	return nil
}

// configChanged bumps the app's configuration version and writes
// repository.config_changed: which kind changed and the names, never a
// value.
func configChanged(ctx context.Context, tx pgx.Tx, c *AppConfig, kind string, set, removed []string) error {
	if err := tx.QueryRow(ctx, `UPDATE repositories SET config_version = config_version + 1 WHERE id = $1 RETURNING config_version`, c.RepositoryID).Scan(&c.Version); err != nil {
		return mapError(err)
	}
	data := map[string]any{"repository_id": c.RepositoryID, "slug": c.Slug, "kind": kind, "config_version": c.Version}
	if len(set) > 0 {
		data["set"] = set
	}
	if len(removed) > 0 {
		data["removed"] = removed
	}
	_, err := insertEvent(ctx, tx, EventSpec{Type: "repository.config_changed", Subject: c.Slug, Data: data})
	return err
}

// SetEnv sets variables of the app slug (names and values already
// checked by the caller), all or none.
func (s *Store) SetEnv(ctx context.Context, slug string, vars []catalog.EnvVar) (*AppConfig, error) {
	var out *AppConfig
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := appConfig(ctx, tx, slug, true)
		if err != nil {
			return err
		}
		var names []string
		for _, v := range vars {
			if slices.ContainsFunc(c.Secrets, func(s SealedSecret) bool { return s.Name == v.Name }) {
				return catalog.Invalid("name", "%s is already a secret of %s: remove it with `appstore secret rm %s %s` first, or set the secret instead", v.Name, slug, slug, v.Name)
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO repository_env (repository_id, name, value) VALUES ($1, $2, $3)
				ON CONFLICT (repository_id, name) DO UPDATE SET value = excluded.value, updated_at = now()`,
				c.RepositoryID, v.Name, v.Value); err != nil {
				return fmt.Errorf("set %s: %w", v.Name, mapError(err))
			}
			names = append(names, v.Name)
		}
		if err := checkConfigLimits(ctx, tx, c.RepositoryID); err != nil {
			return err
		}
		if err := configChanged(ctx, tx, c, "variables", names, nil); err != nil {
			return err
		}
		out, err = appConfig(ctx, tx, slug, false)
		return err
	})
	return out, err
}

// UnsetEnv removes variables of the app slug. Names that are not set are
// returned in missing and change nothing; when none was set, nothing is
// written.
func (s *Store) UnsetEnv(ctx context.Context, slug string, names []string) (removed, missing []string, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := appConfig(ctx, tx, slug, true)
		if err != nil {
			return err
		}
		for _, n := range names {
			tag, err := tx.Exec(ctx, `DELETE FROM repository_env WHERE repository_id = $1 AND name = $2`, c.RepositoryID, n)
			if err != nil {
				return mapError(err)
			}
			if tag.RowsAffected() == 0 {
				missing = append(missing, n)
			} else {
				removed = append(removed, n)
			}
		}
		if len(removed) == 0 {
			return nil
		}
		return configChanged(ctx, tx, c, "variables", nil, removed)
	})
	return removed, missing, err
}

// SetSecret stores a secret of the app slug: seal gets the app's id (the
// sealed value is bound to it) and returns the sealed value and its key's
// id. The store never sees the value.
func (s *Store) SetSecret(ctx context.Context, slug, name string, seal func(repositoryID int64) ([]byte, string, error)) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := appConfig(ctx, tx, slug, true)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(c.Variables, func(v catalog.EnvVar) bool { return v.Name == name }) {
			return catalog.Invalid("name", "%s is already a variable of %s: remove it with `appstore env unset %s %s` first", name, slug, slug, name)
		}
		sealed, keyID, err := seal(c.RepositoryID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO repository_secrets (repository_id, name, ciphertext, key_id) VALUES ($1, $2, $3, $4)
			ON CONFLICT (repository_id, name) DO UPDATE SET ciphertext = excluded.ciphertext, key_id = excluded.key_id, updated_at = now()`,
			c.RepositoryID, name, sealed, keyID); err != nil {
			return fmt.Errorf("set secret %s: %w", name, mapError(err))
		}
		if err := checkConfigLimits(ctx, tx, c.RepositoryID); err != nil {
			return err
		}
		return configChanged(ctx, tx, c, "secrets", []string{name}, nil)
	})
}

// DeleteSecret removes a secret of the app slug; a secret that is not
// set is a *catalog.NotFoundError.
func (s *Store) DeleteSecret(ctx context.Context, slug, name string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := appConfig(ctx, tx, slug, true)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM repository_secrets WHERE repository_id = $1 AND name = $2`, c.RepositoryID, name)
		if err != nil {
			return mapError(err)
		}
		if tag.RowsAffected() == 0 {
			return &catalog.NotFoundError{Kind: "secret", Key: slug + " " + name}
		}
		return configChanged(ctx, tx, c, "secrets", nil, []string{name})
	})
}

// ResealSecrets rewrites every stored secret, in one transaction, with
// what reseal returns for it (a key rotation); a row for which reseal
// returns nil is left as it is. It returns how many rows changed.
func (s *Store) ResealSecrets(ctx context.Context, reseal func(repositoryID int64, name string, sealed []byte, keyID string) ([]byte, string, error)) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT repository_id, name, ciphertext, key_id FROM repository_secrets ORDER BY repository_id, name FOR UPDATE`)
		if err != nil {
			return mapError(err)
		}
		type row struct {
			repo        int64
			name, keyID string
			sealed      []byte
		}
		all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.repo, &x.name, &x.sealed, &x.keyID)
			return x, err
		})
		if err != nil {
			return mapError(err)
		}
		for _, x := range all {
			sealed, keyID, err := reseal(x.repo, x.name, x.sealed, x.keyID)
			if err != nil {
				return err
			}
			if sealed == nil {
				continue
			}
			// updated_at is the user's change: a rotation keeps it.
			if _, err := tx.Exec(ctx, `UPDATE repository_secrets SET ciphertext = $3, key_id = $4 WHERE repository_id = $1 AND name = $2`,
				x.repo, x.name, sealed, keyID); err != nil {
				return mapError(err)
			}
			n++
		}
		return nil
	})
	return n, err
}
