package daemon

import "context"

// wireWeb starts the web component of the configured roles.
func (d *Daemon) wireWeb(ctx context.Context) error {
	return nil
}
