//go:build !stress

package reliability

import "time"

// The short forms, run by `make test` (plain `go test`). The long forms are
// in stress_test.go.
const (
	// crashKillsRedis is how many times TestCrashSurvival kills appstored on Redis.
	crashKillsRedis = 0
	// crashKills is how many times TestCrashSurvival kills appstored with the inline queue.
	crashKills = 6
	// recoveryBound is how soon after a dependency returns appstored must
	// be ready again and have resumed the work that waited for it. The
	// short form runs in `make test` beside every other package on a
	// loaded machine: it waits longer than the target (5 s, the long
	// form's bound) and logs the times.
	recoveryBound = 30 * time.Second
)

// loadTest is TestLoad's smoke form.
var loadTest = loadShape{Registrations: 20, SearchesPerS: 10, Watchers: 10, Duration: 10 * time.Second}
