package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

func TestMigrateIsIdempotentAndRefusesNewerSchema(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	applied, err := store.Migrate(ctx, st.Pool(), nil)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second migrate applied %v, err %v; want nothing", applied, err)
	}
	if err := store.CheckSchema(ctx, st.Pool()); err != nil {
		t.Fatalf("check schema: %v", err)
	}
	future := store.LatestVersion() + 1
	if _, err := st.Pool().Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, 'future')`, future); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Migrate(ctx, st.Pool(), nil); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Errorf("migrate against newer schema: %v, want ErrSchemaTooNew", err)
	}
	if err := store.CheckSchema(ctx, st.Pool()); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Errorf("check against newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// TestMigrateAppliesGapsLeftByLaterVersions: migrations merged out of
// order (0012 written after 0018 was applied) are applied, once, and
// CheckSchema reports one that is missing.
func TestMigrateAppliesGapsLeftByLaterVersions(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	first := []store.Migration{{Version: 1, Name: "one", SQL: `CREATE TABLE one (id int)`}, {Version: 18, Name: "eighteen", SQL: `CREATE TABLE eighteen (id int)`}}
	if applied, err := store.MigrateWith(ctx, pool, first, nil); err != nil || len(applied) != 2 {
		t.Fatalf("first: %v %v", applied, err)
	}
	later := []store.Migration{first[0], {Version: 12, Name: "twelve", SQL: `CREATE TABLE twelve (id int)`}, first[1]}
	applied, err := store.MigrateWith(ctx, pool, later, nil)
	if err != nil || len(applied) != 1 || applied[0] != 12 {
		t.Fatalf("with a gap: applied %v, err %v; want [12]", applied, err)
	}
	if _, err := pool.Exec(ctx, `SELECT * FROM twelve`); err != nil {
		t.Errorf("migration 12 not applied: %v", err)
	}
	if applied, err := store.MigrateWith(ctx, pool, later, nil); err != nil || len(applied) != 0 {
		t.Errorf("again: %v %v", applied, err)
	}

	// The embedded migrations on a catalog missing one of them.
	st := storetest.New(t)
	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	missing := ms[len(ms)/2]
	if _, err := st.Pool().Exec(ctx, `DELETE FROM schema_migrations WHERE version = $1`, missing.Version); err != nil {
		t.Fatal(err)
	}
	if err := store.CheckSchema(ctx, st.Pool()); err == nil || !strings.Contains(err.Error(), missing.Name) {
		t.Errorf("check schema without %04d: %v", missing.Version, err)
	}
}
