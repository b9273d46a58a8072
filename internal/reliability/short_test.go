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
)

// loadTest is TestLoad's smoke form.
var loadTest = loadShape{Registrations: 20, SearchesPerS: 10, Watchers: 10, Duration: 10 * time.Second}
