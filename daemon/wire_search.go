package daemon

import (
	"context"

	"github.com/appstore-dev/appstore/daemon/api"
)

// wireSearch gives the API its search and autocomplete handlers. They
// only read the catalog; the facet counters they use are kept by triggers
// in the database, so there is nothing to run in the background.
func (d *Daemon) wireSearch(ctx context.Context) error {
	d.api.Search = &api.Search{Store: d.Store}
	return nil
}
