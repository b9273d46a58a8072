//go:build stress

package reliability

import "time"

// The long forms, run by `make stress` (go test -tags stress).
const (
	// crashKillsRedis is how many times TestCrashSurvival kills appstored on Redis.
	crashKillsRedis = 6
	// crashKills is how many times TestCrashSurvival kills appstored with the inline queue.
	crashKills = 20
	// recoveryBound is how soon after a dependency returns appstored must
	// be ready again and have resumed the work that waited for it.
	recoveryBound = 5 * time.Second
)

// loadTest is TestLoad as issue 11 states it.
var loadTest = loadShape{Registrations: 200, SearchesPerS: 50, Watchers: 100, Duration: 60 * time.Second}
