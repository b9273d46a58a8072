// Package storetest gives each test its own migrated catalog database on the
// shared test PostgreSQL cluster (see internal/testenv).
package storetest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// New returns a Store on a fresh, migrated database that is dropped when the
// test ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	st, _ := NewWithURL(t)
	return st
}

// NewWithURL is New and also returns the database URL, for tests that start
// a daemon or a second process on the same database.
func NewWithURL(t testing.TB) (*store.Store, string) {
	t.Helper()
	url := testenv.Postgres(t)
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, url, logger)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	if _, err := store.Migrate(ctx, st.Pool(), logger); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st, url
}

// Tags parses each "key:value" of ss, failing the test on one that is not a
// valid tag: test data that does not parse is a mistake in the test.
func Tags(t testing.TB, ss ...string) []catalog.Tag {
	t.Helper()
	var out []catalog.Tag
	for _, s := range ss {
		tag, err := catalog.ParseTag(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tag)
	}
	return out
}
