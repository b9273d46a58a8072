package store_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

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

func TestWhileUnavailable(t *testing.T) {
	refused := fmt.Errorf("dial unix /run/postgresql/.s.PGSQL.5432: %w", syscall.ECONNREFUSED)
	calls := 0
	err := store.WhileUnavailable(context.Background(), func() error {
		if calls++; calls < 3 {
			return refused
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("%v after %d calls, want success at the third", err, calls)
	}
	calls = 0
	bad := errors.New("syntax error")
	if err := store.WhileUnavailable(context.Background(), func() error { calls++; return bad }); err != bad || calls != 1 {
		t.Errorf("%v after %d calls, want the statement's error at once", err, calls)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := store.WhileUnavailable(ctx, func() error { return refused }); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("%v, want the last refusal when the time is up", err)
	}
	// At the context's end, not at WhileUnavailable's own 30 s (a loaded
	// machine may be seconds late).
	if took := time.Since(start); took < 500*time.Millisecond || took > 15*time.Second {
		t.Errorf("gave up after %s with a 600 ms bound", took)
	}
}
