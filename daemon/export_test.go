package daemon

import (
	"slices"
	"time"
)

// Loops returns the names of the background loops d started, so that a
// test can tell what a configuration runs without waiting to see it run.
func (d *Daemon) Loops() []string { return slices.Clone(d.loops) }

// IdleTimeout is how long the HTTP server keeps an idle keep-alive
// connection.
func (d *Daemon) IdleTimeout() time.Duration { return d.server.IdleTimeout }
