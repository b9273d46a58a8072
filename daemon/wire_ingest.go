package daemon

import "context"

// wireIngest starts the ingest component of the configured roles.
func (d *Daemon) wireIngest(ctx context.Context) error {
	return nil
}
