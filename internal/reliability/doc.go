// Package reliability holds the tests that prove appstored's parts together
// under the conditions operators meet: several processes with different
// --roles on one PostgreSQL and one Redis, kill -9 at random points of
// ingestion, builds and launches, Redis, PostgreSQL and the Docker engine
// going away and coming back, load on loopback, and hostile input through
// the real API. There is no library code here; see docs/reliability.md for
// what is tried, how often, and the figures of the last runs.
//
// Every test runs the real appstored binary (testenv.Binary) or an
// in-process daemon against a real PostgreSQL, real Redis, real Git
// repositories (internal/gitserver) and the real Docker engine, with images
// FROM scratch that hold a static binary the test builds.
//
// `go test ./internal/reliability` runs the short forms (about two minutes
// on two cores); `go test -tags stress ./internal/reliability` (make stress)
// runs the long forms: 20 kills, 200 registrations, 100 WebSocket clients
// for 60 s, and so on.
package reliability
