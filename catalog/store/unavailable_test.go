package store_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

func TestIsUnavailable(t *testing.T) {
	ctx := context.Background()
	_, err := pgconn.Connect(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if !store.IsUnavailable(err) {
		t.Errorf("no server: %v, want unavailable", err)
	}
	st := storetest.New(t)
	_, err = st.Pool().Exec(ctx, "SELECT no_such_column FROM repositories")
	if err == nil || store.IsUnavailable(err) {
		t.Errorf("a bad statement: %v, want an error that is not unavailability", err)
	}
	// A backend terminated under its session (a server restarting).
	conn, err := st.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	_, err = conn.Exec(ctx, "SELECT pg_terminate_backend(pg_backend_pid())")
	if !store.IsUnavailable(err) {
		t.Errorf("terminated backend: %v, want unavailable", err)
	}
	if store.IsUnavailable(context.Canceled) || store.IsUnavailable(nil) {
		t.Error("cancellation or no error counted as unavailable")
	}
}
