package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
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
