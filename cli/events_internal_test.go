package cli

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
	"github.com/appstore-dev/appstore/internal/testenv"
)

func startDaemonForWaits(t *testing.T) *client.Client {
	t.Helper()
	d := daemontest.Start(t, daemon.Config{Roles: []string{daemon.RoleAPI}})
	return &client.Client{BaseURL: d.URL}
}

// TestWaitForSeesWhatHappenedBeforeItStarted: the cursor is taken before
// the action, the wait starts after it, and still nothing is missed.
func TestWaitForSeesWhatHappenedBeforeItStarted(t *testing.T) {
	c := startDaemonForWaits(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/before.git"}); err != nil {
		t.Fatal(err)
	}
	since, err := c.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/x.git"}); err != nil {
		t.Fatal(err)
	}
	name := "X"
	if _, err := c.UpdateRepository(ctx, "x", client.UpdateRepositoryRequest{Name: &name}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	err = waitFor(ctx, c, client.EventsOptions{Since: since}, func(e client.Event) (bool, error) {
		seen = append(seen, e.Type+" "+e.Subject)
		return e.Type == "repository.updated", nil
	})
	if err != nil || len(seen) != 2 || seen[0] != "repository.created x" || seen[1] != "repository.updated x" {
		t.Errorf("waitFor: %v, saw %q; want x's created then updated, not before's", err, seen)
	}

	stop := errors.New("the condition failed")
	err = waitFor(ctx, c, client.EventsOptions{Since: since, Subject: "x"}, func(client.Event) (bool, error) { return false, stop })
	if !errors.Is(err, stop) {
		t.Errorf("an error of fn: %v, want it returned", err)
	}
}

func TestWatchEventsWakesOnEachEventAndReportsFailure(t *testing.T) {
	c := startDaemonForWaits(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	since, err := c.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changed, failed, stop := watchEvents(ctx, c, client.EventsOptions{Since: since, Subject: "y"})
	if _, err := c.AddRepository(ctx, client.AddRepositoryRequest{GitURL: "https://github.com/acme/y.git"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case err := <-failed:
		t.Fatalf("watch failed: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("no wake-up for y's event")
	}
	stop()
	select {
	case err := <-failed:
		t.Errorf("stopping reported %v", err)
	default:
	}

	dead := &client.Client{BaseURL: "http://" + testenv.FreeAddr(t)}
	_, failed, stop = watchEvents(ctx, dead, client.EventsOptions{Since: 0})
	defer stop()
	select {
	case err := <-failed:
		if !client.IsUnreachable(err) {
			t.Errorf("dead daemon: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no failure reported for a dead daemon")
	}
}
