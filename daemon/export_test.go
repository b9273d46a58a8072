package daemon

import "slices"

// Loops returns the names of the background loops d started, so that a
// test can tell what a configuration runs without waiting to see it run.
func (d *Daemon) Loops() []string { return slices.Clone(d.loops) }
