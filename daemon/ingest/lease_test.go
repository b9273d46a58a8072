package ingest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/daemon/ingest"
	"github.com/appstore-dev/appstore/daemon/queue"
	"github.com/appstore-dev/appstore/internal/gitserver"
)

// A running attempt keeps its (short) lease alive, so that a crashed
// worker's repository is taken over about a lease later whatever the clone
// timeout; and an attempt whose claim was taken over meanwhile stops at
// its next renewal instead of running on.
func TestLeaseIsRenewedWhileTheAttemptRunsAndItsLossStopsIt(t *testing.T) {
	const lease = 900 * time.Millisecond
	e := newEnv(t, func(c *ingest.Config) { c.Lease = lease })
	ctx := context.Background()
	repo := gitserver.NewNamedRepo(t, "slow", map[string]string{"Dockerfile": "FROM alpine\n"})
	backend := gitserver.HTTPHandler(t, e.git.Root)
	e.git.Add(repo)
	release := make(chan struct{})
	var once sync.Once
	reached := make(chan struct{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(reached) })
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	defer close(release)
	r := e.registerURL(front.URL + "/slow.git")

	done := make(chan error, 1)
	go func() {
		done <- e.w.HandleIngest(ctx, queue.Job{Kind: queue.KindIngest, RepositoryID: r.ID, Attempt: 1, MaxAttempts: 5})
	}()
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		t.Fatal("the clone never reached the Git server")
	}
	// Three leases later the claim still holds and its lease was renewed:
	// it ends at least a lease later than it did when the clone began
	// (renewals come every third of a lease; a loaded machine may delay
	// some, not two leases' worth), and never more than a lease from now.
	var first time.Time
	if err := e.st.Pool().QueryRow(ctx, `SELECT ingest_lease_until FROM repositories WHERE id = $1`, r.ID).Scan(&first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * lease)
	var ahead, moved time.Duration
	var claim int64
	if err := e.st.Pool().QueryRow(ctx, `SELECT extract(epoch FROM ingest_lease_until - now()) * interval '1 second',
		extract(epoch FROM ingest_lease_until - $2) * interval '1 second', ingest_claim
		FROM repositories WHERE id = $1 AND ingest_status = 'processing'`, r.ID, first).Scan(&ahead, &moved, &claim); err != nil {
		t.Fatalf("repository not processing after three leases: %v", err)
	}
	if moved < lease || ahead > lease {
		t.Errorf("lease moved %s in three leases and ends %s from now, want renewed (moved at least %s, ending within the next %s)", moved, ahead, lease, lease)
	}

	// Another worker takes it over (as after an expired lease): this
	// attempt stops at its next renewal, though its clone still hangs.
	if _, err := e.st.Pool().Exec(ctx, `UPDATE repositories SET ingest_claim = ingest_claim + 1 WHERE id = $1`, r.ID); err != nil {
		t.Fatal(err)
	}
	// Its clone hangs until the test ends: an attempt that returns at all
	// noticed the loss.
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("superseded attempt: %v, want nil (nothing left to do)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the attempt ran on after losing its claim")
	}
	if tl := e.timeline(r.Slug); len(tl) != 2 {
		t.Errorf("timeline %+v: the lost attempt must not record anything", tl)
	}
}
