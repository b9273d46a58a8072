package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/appstore-dev/appstore/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migration is one versioned SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// ErrSchemaTooNew means the database was migrated by a newer appstored.
var ErrSchemaTooNew = errors.New("database schema is newer than this appstored")

// migrationLock serialises concurrent migrators (several appstored starting
// at once against one database).
const migrationLock = 7071

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	return loadMigrations(migrations.FS)
}

func loadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.up.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, n := range names {
		num, rest, ok := strings.Cut(n, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: want NNNN_name.up.sql", n)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q share version %d", prev, n, v)
		}
		seen[v] = n
		body, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(rest, ".up.sql"), SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// LatestVersion is the newest schema version this binary knows.
func LatestVersion() int {
	ms, err := Migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// SchemaVersion returns the highest applied migration, 0 for an empty database.
func SchemaVersion(ctx context.Context, db interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (int, error) {
	var v int
	err := db.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// Migrate applies every pending migration, each in its own transaction and
// recorded in schema_migrations. It refuses a schema newer than it knows.
// It returns the versions it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) ([]int, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	return migrate(ctx, pool, ms, logger)
}

func migrate(ctx context.Context, pool *pgxpool.Pool, ms []Migration, logger *slog.Logger) ([]int, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return nil, fmt.Errorf("migrate: take lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock) //nolint:errcheck
	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	current, err := SchemaVersion(ctx, conn)
	if err != nil {
		return nil, err
	}
	done, err := appliedVersions(ctx, conn)
	if err != nil {
		return nil, err
	}
	latest := 0
	if len(ms) > 0 {
		latest = ms[len(ms)-1].Version
	}
	if current > latest {
		return nil, fmt.Errorf("%w: database is at version %d, this binary knows up to %d; upgrade appstored", ErrSchemaTooNew, current, latest)
	}
	var applied []int
	for _, m := range ms {
		// Every migration not applied yet, not only those above the
		// newest applied: branches merged in any order leave gaps (0012
		// after 0018), and a database at 18 must still get 12.
		if done[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		logger.Info("applied migration", "version", m.Version, "name", m.Name)
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// appliedVersions are the versions recorded in schema_migrations.
func appliedVersions(ctx context.Context, db interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) (map[int]bool, error) {
	rows, err := db.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	out := map[int]bool{}
	for _, v := range vs {
		out[int(v)] = true
	}
	return out, nil
}

// CheckSchema returns an error unless the database has every migration
// this binary knows and none newer (missing: run migrate; newer: upgrade).
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	v, err := SchemaVersion(ctx, pool)
	if err != nil {
		return err
	}
	latest := LatestVersion()
	switch {
	case v > latest:
		return fmt.Errorf("%w: database is at version %d, this binary knows up to %d; upgrade appstored", ErrSchemaTooNew, v, latest)
	case v < latest:
		return fmt.Errorf("database schema is at version %d, want %d: run `appstored migrate`", v, latest)
	}
	done, err := appliedVersions(ctx, pool)
	if err != nil {
		return err
	}
	ms, err := Migrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if !done[m.Version] {
			return fmt.Errorf("database schema lacks migration %04d_%s: run `appstored migrate`", m.Version, m.Name)
		}
	}
	return nil
}
