package daemon

import (
	"context"
	"net/http"
	"time"

	"github.com/appstore-dev/appstore/daemon/usage"
)

// DefaultStatsRetention is how long each app's daily usage is kept unless
// --stats-retention says otherwise: a year and a month, so that a day can
// be compared with the same day a year before.
const DefaultStatsRetention = 400 * 24 * time.Hour

// usageCounter makes the counter of preview requests (daemon/usage) for a
// process that serves previews (the api and runner roles together), and
// returns its Preview for the runner's OnPreview; nil otherwise. It
// writes its counts in the background and once more at shutdown.
func (d *Daemon) usageCounter(ctx context.Context) func(slug string, r *http.Request) {
	if !d.cfg.HasRole(RoleAPI) {
		return nil
	}
	c := &usage.Counter{Store: d.Store, Logger: d.logger.With("component", "usage"), TrustForwarded: d.cfg.Exposed(),
		FlushInterval: d.cfg.UsageFlushInterval}
	loadCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := c.LoadKeys(loadCtx); err != nil {
		d.logger.Warn("reading the visitor keys failed; visitors are counted once it works", "err", err)
	}
	cancel()
	d.usage = c
	d.goLoop("usage", c.Run)
	return c.Preview
}
