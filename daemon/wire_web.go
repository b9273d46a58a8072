package daemon

import (
	"context"
	"fmt"

	"github.com/appstore-dev/appstore/daemon/web"
)

// wireWeb gives the API role the web view: the page at /, /app/<slug> and
// /add and its embedded assets under /static/, in the route table so that
// the API's Host guard covers them too.
func (d *Daemon) wireWeb(ctx context.Context) error {
	if !d.cfg.HasRole(RoleAPI) {
		return nil
	}
	h, err := web.New(d.logger.With("component", "web"))
	if err != nil {
		return fmt.Errorf("web view: %w", err)
	}
	d.api.Web = h
	return nil
}
