package daemon

import (
	"context"
	"fmt"

	"github.com/appstore-dev/appstore/daemon/events"
)

// wireEvents starts the event hub (every role: others subscribe through
// d.Events) and serves the stream on the API role.
func (d *Daemon) wireEvents(ctx context.Context) error {
	logger := d.logger.With("component", "events")
	hub, err := events.NewHub(events.Options{Store: d.Store, Logger: logger})
	if err != nil {
		return err
	}
	// The hub lives until Shutdown cancels d.ctx.
	if err := hub.Start(d.ctx); err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	d.Events = hub
	d.onClose(func(context.Context) error { hub.Close(); return nil })
	// Optional: without LISTEN the API works and live events wait.
	d.addCheck("events", true, hub.Check)
	// Pruning past --event-retention is a cleanup job (wire_cleanup.go).

	if d.cfg.HasRole(RoleAPI) {
		stream := &events.Stream{Hub: hub, OriginAllowed: d.api.Guard.OriginAllowed, AllowedHosts: d.api.Guard.AllowedHosts, Logger: logger}
		d.api.Events = stream
		// Runs before hub.Close (closers run in reverse): the WebSockets
		// end when Shutdown cancels their request contexts.
		d.onClose(stream.Wait)
	}
	return nil
}
