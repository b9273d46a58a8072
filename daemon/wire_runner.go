package daemon

import "context"

// wireRunner starts the runner component of the configured roles.
func (d *Daemon) wireRunner(ctx context.Context) error {
	return nil
}
