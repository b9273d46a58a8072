package daemon

import "context"

// wireServices starts the services component of the configured roles.
func (d *Daemon) wireServices(ctx context.Context) error {
	return nil
}
