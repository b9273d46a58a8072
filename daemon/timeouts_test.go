package daemon_test

import (
	"testing"
	"time"

	"github.com/appstore-dev/appstore/daemon"
	"github.com/appstore-dev/appstore/daemon/daemontest"
)

// An idle keep-alive connection must be closed some time: the server has
// no ReadTimeout (streams outlive any), and without IdleTimeout Go keeps
// idle connections forever, so a client could hold descriptors until the
// daemon runs out. (The slow-body half is daemon/api's
// TestSlowBodiesAreCutOff.)
func TestIdleConnectionsAreClosed(t *testing.T) {
	d := daemontest.Start(t, daemon.Config{})
	if idle := d.IdleTimeout(); idle <= 0 || idle > 5*time.Minute {
		t.Fatalf("HTTP server IdleTimeout %v: want a bound of a few minutes", idle)
	}
}
