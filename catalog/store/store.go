// Package store is the PostgreSQL implementation of the catalog: repositories,
// tags, builds, launches, services and the event log, on a pgx/v5 pool.
//
// Every method that changes state writes its event (see events.go) in the
// same transaction as the change, so there is never a change without its
// event nor an event without its change. PostgreSQL errors are mapped to the
// domain errors of package catalog.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the catalog on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	logger *slog.Logger

	// fewMatches overrides fewMatchesUpTo (search.go) in tests, so that
	// small test catalogs take the plan of large ones too.
	fewMatches int64
	// tagWalk overrides when Search walks tag_sort_keys (search_tagwalk.go)
	// in tests: 0 decides by the counts, tagWalkOff never, tagWalkAlways
	// whenever it can.
	tagWalk int
}

// Open connects to url, checks that the schema is not newer than this binary
// knows, and returns a Store. It does not migrate; call Migrate for that.
func Open(ctx context.Context, url string, logger *slog.Logger) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "appstored"
	// appstored runs short queries only; JIT compilation (above a plan
	// cost of 100 000, which an over-estimated unnest reaches) spent 70 ms
	// compiling a 5 ms autocomplete query. A jit=… in the URL still wins.
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", redactURL(url), err)
	}
	return New(pool, logger), nil
}

// New wraps an existing pool.
func New(pool *pgxpool.Pool, logger *slog.Logger) *Store {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{pool: pool, logger: logger}
}

// Pool returns the underlying pool, for packages that need a raw connection
// (LISTEN, COPY in benchmarks).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping PostgreSQL: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", mapError(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", mapError(err))
	}
	return nil
}

// InTx runs fn in a transaction; packages of the daemon use it to combine
// store helpers that take a pgx.Tx.
func (s *Store) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.inTx(ctx, fn)
}

// querier is what the pool and a transaction share for reading.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// column runs a query of one column and returns its values, errors mapped
// with mapError.
func column[T any](ctx context.Context, q querier, sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, mapError(err)
	}
	values, err := pgx.CollectRows(rows, pgx.RowTo[T])
	if err != nil {
		return nil, mapError(err)
	}
	return values, nil
}

// mapError turns PostgreSQL errors into domain errors, keeping the original
// wrapped for logs.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", catalog.ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %s", catalog.ErrConflict, pgErr.Detail)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: %s", catalog.ErrNotFound, pgErr.Detail)
		case "23514", "22001", "22P02", "23502": // check, too long, bad text repr, not null
			return &catalog.InvalidError{Field: pgErr.ColumnName, Message: pgErr.Message}
		}
	}
	return err
}

func redactURL(u string) string {
	cfg, err := pgconn.ParseConfig(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
}
