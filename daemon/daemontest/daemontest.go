// Package daemontest starts appstored in the test's own process, on a
// fresh database, for tests of what the daemon wires together.
package daemontest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// Start starts appstored in process with cfg and shuts it down when the
// test ends (a failed shutdown fails the test). Fields left zero get a
// fresh database (testenv.Postgres), a temporary data directory, a free
// loopback port and a logger that discards; Roles left nil is every role,
// as for appstored itself.
func Start(t testing.TB, cfg daemon.Config) *daemon.Daemon {
	t.Helper()
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = testenv.Postgres(t)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d, err := daemon.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start appstored: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown appstored: %v", err)
		}
	})
	return d
}
