package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/catalog/store"
	"github.com/appstore-dev/appstore/catalog/store/storetest"
)

func TestRenewIngestLease(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	r := createRepo(t, st, "https://github.com/acme/renewed.git")
	c, err := st.ClaimIngest(ctx, r.ID, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RenewIngestLease(ctx, c.Outcome(), time.Hour); err != nil {
		t.Fatal(err)
	}
	var until time.Time
	if err := st.Pool().QueryRow(ctx, `SELECT ingest_lease_until FROM repositories WHERE id = $1`, r.ID).Scan(&until); err != nil {
		t.Fatal(err)
	}
	if time.Until(until) < 59*time.Minute {
		t.Errorf("lease until %v, want an hour from now", until)
	}
	// A refresh re-queues the repository: the running attempt's claim is gone.
	if _, _, err := st.RequestIngest(ctx, r.Slug, "refresh"); err != nil {
		t.Fatal(err)
	}
	if err := st.RenewIngestLease(ctx, c.Outcome(), time.Hour); !errors.Is(err, store.ErrClaimLost) {
		t.Errorf("renewal after a refresh: %v, want ErrClaimLost", err)
	}
	// And a newer claim does not make the old one valid again.
	if _, err := st.ClaimIngest(ctx, r.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := st.RenewIngestLease(ctx, c.Outcome(), time.Hour); !errors.Is(err, store.ErrClaimLost) {
		t.Errorf("renewal of a superseded claim: %v, want ErrClaimLost", err)
	}
}
