// Package backoff holds the waiting of reconnection loops: a jittered
// delay and a sleep that ends with its context. Standard library only: the
// client's event stream and the daemon's event hub both use it.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Jitter spreads d over [d/2, d), so that many clients (or processes) that
// lost their connection together do not reconnect in lockstep.
func Jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// Sleep waits for d or until ctx is done; it reports whether d elapsed. A
// d of zero or less returns at once, reporting whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
