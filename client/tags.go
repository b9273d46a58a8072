package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Tags lists tags with the number of repositories carrying each.
func (c *Client) Tags(ctx context.Context, opts ListTagsOptions) (*TagList, error) {
	q := url.Values{}
	if opts.Prefix != "" {
		q.Set("prefix", opts.Prefix)
	}
	if opts.Key != "" {
		q.Set("key", opts.Key)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	return doJSON[TagList](ctx, c, http.MethodGet, apiPath("tags"), q, nil)
}
