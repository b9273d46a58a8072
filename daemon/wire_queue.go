package daemon

import "context"

// wireQueue starts the queue component of the configured roles.
func (d *Daemon) wireQueue(ctx context.Context) error {
	return nil
}
