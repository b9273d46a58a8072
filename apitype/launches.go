package apitype

import (
	"time"

	"github.com/appstore-dev/appstore/catalog"
)

// Launch is a launch as the API sends it.
type Launch = catalog.Launch

// LaunchRequest is the body of POST /api/v1/repositories/{slug}/launches.
type LaunchRequest struct {
	// TTL is how long the launch lives, as a Go duration ("30m", "2h");
	// empty means the daemon's --launch-ttl (default 1h).
	TTL string `json:"ttl,omitempty"`
	// Profile is the resource profile: small (256 MiB, 0.5 CPU, 128 pids),
	// medium (512 MiB, 1 CPU, 256) or large (1 GiB, 2 CPUs, 512); empty
	// means the repository's (tags.yaml resources:), else small.
	Profile string `json:"profile,omitempty"`
	// Restart starts a new launch even when the app already runs the same
	// build and profile (to apply changed variables or secrets); the
	// running launch is replaced once the new one answers.
	Restart bool `json:"restart,omitempty"`
}

// LaunchList is the answer of GET /api/v1/launches.
type LaunchList struct {
	Launches []Launch `json:"launches"`
	// NextCursor is set when there are more; pass it as Cursor to continue.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListLaunchesOptions are the filters of GET /api/v1/launches.
type ListLaunchesOptions struct {
	Repository string   // slug
	Status     []string // starting, running, stopping, stopped, failed, expired
	Active     bool     // starting, running or stopping
	Limit      int
	Cursor     string
}

// LaunchLogLine is one line of a launched app's output, as streamed by
// GET /api/v1/launches/{id}/logs (JSON lines).
type LaunchLogLine struct {
	Stream string    `json:"stream"` // stdout or stderr
	Line   string    `json:"line"`
	Time   time.Time `json:"time"`
}

// LaunchLogsOptions select the output of GET /api/v1/launches/{id}/logs.
type LaunchLogsOptions struct {
	// Follow keeps the stream open for new output until the app stops.
	Follow bool
	// Tail is how many of the last lines to send first (0 = all).
	Tail int
}
