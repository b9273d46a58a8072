package clienttest

import (
	"testing"

	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/testenv"
)

// Appstored is a real appstored process started by a test: the process
// harness of testenv (URL, Logs, Kill, Stop, Wait) with a client of its API.
type Appstored struct {
	*testenv.Appstored
}

// StartAppstored is testenv.StartAppstored: it runs the appstored binary
// bin (built by the test, e.g. with testenv.Binary) on a free loopback port
// with args (say "--database-url", testenv.Postgres(t)), waits until
// /readyz answers 200, and stops it with SIGTERM when the test ends. Its
// output is in Logs and is printed if the test fails.
func StartAppstored(t testing.TB, bin string, args ...string) *Appstored {
	t.Helper()
	return &Appstored{testenv.StartAppstored(t, bin, args...)}
}

// Client returns a client of the daemon.
func (d *Appstored) Client() *client.Client { return &client.Client{BaseURL: d.URL} }
