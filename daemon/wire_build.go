package daemon

import "context"

// wireBuild starts the build component of the configured roles.
func (d *Daemon) wireBuild(ctx context.Context) error {
	return nil
}
