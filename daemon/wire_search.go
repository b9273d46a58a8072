package daemon

import (
	"context"

	"github.com/appstore-dev/appstore/daemon/api"
)

// wireSearch adds the search and autocomplete routes to the API role. They
// only read the catalog; the facet counters they use are kept by triggers
// in the database, so there is nothing to run in the background.
func (d *Daemon) wireSearch(ctx context.Context) error {
	if !d.cfg.HasRole(RoleAPI) {
		return nil
	}
	routes := &api.Search{Store: d.Store}
	d.api.Extra = append(d.api.Extra, routes.Register)
	return nil
}
