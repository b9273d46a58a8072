package daemon

import "context"

// wireEvents starts the events component of the configured roles.
func (d *Daemon) wireEvents(ctx context.Context) error {
	return nil
}
