package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Refresh asks the daemon to ingest the repository again (clone the
// branch's head, re-read its metadata, queue a build). The answer is the
// repository, queued; follow the ingestion with Timeline or the event
// stream. A repository being ingested is started over on the newest commit.
func (c *Client) Refresh(ctx context.Context, slug string) (*Repository, error) {
	return doJSON[Repository](ctx, c, http.MethodPost, apiPath("repositories", slug, "refresh"), nil, nil)
}

// Timeline returns the ingestion steps of a repository, oldest first: the
// newest opts.Limit, or those after opts.After.
func (c *Client) Timeline(ctx context.Context, slug string, opts TimelineOptions) ([]IngestionEvent, error) {
	q := url.Values{}
	if opts.After > 0 {
		q.Set("after", strconv.FormatInt(opts.After, 10))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	tl, err := doJSON[Timeline](ctx, c, http.MethodGet, apiPath("repositories", slug, "events"), q, nil)
	if err != nil {
		return nil, err
	}
	return tl.Events, nil
}
