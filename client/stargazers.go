package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/appstore-dev/appstore/apitype"
)

// Stargazers are the users who starred an app (apitype.Stargazers).
type (
	Stargazers = apitype.Stargazers
	Starring   = apitype.Starring
)

// Stargazers returns who starred the app slug, newest star first, at most
// limit (0: the daemon's default, 100).
func (c *Client) Stargazers(ctx context.Context, slug string, limit int) (*Stargazers, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return doJSON[Stargazers](ctx, c, http.MethodGet, apiPath("repositories", slug, "stargazers"), q, nil)
}
