//go:build stress

package reliability

import "time"

// The long forms, run by `make stress` (go test -tags stress).
const (
	// crashKills is how many times TestCrashSurvival kills appstored.
	crashKills = 20
)

// loadTest is TestLoad as issue 11 states it.
var loadTest = loadShape{Registrations: 200, SearchesPerS: 50, Watchers: 100, Duration: 60 * time.Second}
