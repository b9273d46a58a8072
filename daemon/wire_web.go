package daemon

import (
	"context"
	"fmt"

	"github.com/appstore-dev/appstore/daemon/web"
)

// wireWeb serves the web view on the API role: the page at /, /app/<slug>
// and /add and its embedded assets under /static/, on the API mux so that
// the API's Host/Origin guard covers them too.
func (d *Daemon) wireWeb(ctx context.Context) error {
	if !d.cfg.HasRole(RoleAPI) {
		return nil
	}
	h, err := web.New(d.logger.With("component", "web"))
	if err != nil {
		return fmt.Errorf("web view: %w", err)
	}
	d.api.Extra = append(d.api.Extra, h.Register)
	return nil
}
