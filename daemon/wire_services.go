package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/appstore-dev/appstore/daemon/api"
	"github.com/appstore-dev/appstore/daemon/events"
	"github.com/appstore-dev/appstore/daemon/servicehealth"
)

// wireServices serves the service registry on the API role and runs the
// health poller on the worker role. Pollers of several worker processes
// share the work through leases in the services table (see package
// services), so scaling workers out never checks a service twice.
func (d *Daemon) wireServices(ctx context.Context) error {
	logger := d.logger.With("component", "services")
	var poller *servicehealth.Poller
	if d.cfg.HasRole(RoleWorker) {
		p, err := servicehealth.New(servicehealth.Config{Store: d.Store, Logger: logger, Interval: d.cfg.HealthInterval})
		if err != nil {
			return err
		}
		poller = p
		d.goLoop("service-health", p.Run)
		if d.Events != nil {
			// Services registered through another process's API wake
			// this poller at once instead of at its next round.
			d.goLoop("service-wake", func(ctx context.Context) { wakeOnServiceEvents(ctx, d.Events, p) })
		}
	}
	if d.cfg.HasRole(RoleAPI) {
		services := &api.Services{Store: d.Store, Logger: logger}
		if poller != nil {
			services.Changed = poller.Wake
		}
		d.api.Services = services
		if d.cfg.ServiceToken == "" {
			logger.Debug("service registration disabled: set --service-token to allow it")
		}
	}
	return nil
}

// wakeOnServiceEvents wakes the poller for every service.created or
// service.updated event until ctx ends, subscribing again when the
// subscription is cut off (a slow consumer, the hub reconnecting). A missed
// wake-up only delays a first check to the poller's next round.
func wakeOnServiceEvents(ctx context.Context, hub *events.Hub, p *servicehealth.Poller) {
	for ctx.Err() == nil {
		sub, err := hub.Subscribe(ctx, events.Filter{Since: events.SinceNow, Topics: []string{"service"}})
		if err != nil {
			if errors.Is(err, events.ErrClosed) {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		for {
			msg, err := sub.Next(ctx)
			if err != nil {
				break
			}
			if t := msg.Event.Type; t == "service.created" || t == "service.updated" {
				p.Wake()
			}
		}
		sub.Close()
		if errors.Is(sub.Err(), events.ErrClosed) {
			return
		}
	}
}
