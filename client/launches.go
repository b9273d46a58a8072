package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

func launchesQuery(o ListLaunchesOptions) url.Values {
	q := url.Values{}
	if o.Repository != "" {
		q.Set("repository", o.Repository)
	}
	for _, s := range o.Status {
		q.Add("status", s)
	}
	if o.Active {
		q.Set("active", "true")
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	return q
}

// StartLaunch launches the latest succeeded build of the repository slug. It
// answers at once: a new launch is in status starting (WaitLaunch follows
// it); an app already running the same build and profile is returned as it
// is, running, with its expiry extended; a warm-pool container is returned
// running. PreviewURL is where the app is served.
func (c *Client) StartLaunch(ctx context.Context, slug string, req LaunchRequest) (*Launch, error) {
	return doJSON[Launch](ctx, c, http.MethodPost, apiPath("repositories", slug, "launches"), nil, req)
}

// Launch returns the launch with id.
func (c *Client) Launch(ctx context.Context, id int64) (*Launch, error) {
	return doJSON[Launch](ctx, c, http.MethodGet, apiPath("launches", strconv.FormatInt(id, 10)), nil, nil)
}

// WaitLaunch returns the launch once it is no longer starting (running,
// failed, …), or as it is after max (the daemon caps the wait at 5m).
func (c *Client) WaitLaunch(ctx context.Context, id int64, max time.Duration) (*Launch, error) {
	q := url.Values{"wait": {max.String()}}
	return doJSON[Launch](ctx, c, http.MethodGet, apiPath("launches", strconv.FormatInt(id, 10)), q, nil)
}

// Launches returns one page of launches, newest first.
func (c *Client) Launches(ctx context.Context, opts ListLaunchesOptions) (*LaunchList, error) {
	return doJSON[LaunchList](ctx, c, http.MethodGet, apiPath("launches"), launchesQuery(opts), nil)
}

// StopLaunch stops the launch and removes its container, and returns it as
// it is afterwards (stopped). Stopping a launch that already ended returns
// it unchanged.
func (c *Client) StopLaunch(ctx context.Context, id int64) (*Launch, error) {
	return doJSON[Launch](ctx, c, http.MethodDelete, apiPath("launches", strconv.FormatInt(id, 10)), nil, nil)
}

// LaunchLogs streams the output of the launch's container until it ends
// (with Follow) or ctx is done.
func (c *Client) LaunchLogs(ctx context.Context, id int64, opts LaunchLogsOptions) iter.Seq2[LaunchLogLine, error] {
	q := url.Values{}
	if opts.Follow {
		q.Set("follow", "1")
	}
	if opts.Tail > 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	return streamJSONLines[LaunchLogLine](ctx, c, apiPath("launches", strconv.FormatInt(id, 10), "logs"), q)
}
