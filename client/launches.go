package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// LaunchRequest is the body of POST /api/v1/repositories/{slug}/launches.
type LaunchRequest struct {
	// TTL is how long the launch lives, as a Go duration ("30m", "2h");
	// empty means the daemon's --launch-ttl (default 1h).
	TTL string `json:"ttl,omitempty"`
	// Profile is the resource profile: small (256 MiB, 0.5 CPU, 128 pids),
	// medium (512 MiB, 1 CPU, 256) or large (1 GiB, 2 CPUs, 512); empty
	// means the repository's (tags.yaml resources:), else small.
	Profile string `json:"profile,omitempty"`
}

// LaunchList is the answer of GET /api/v1/launches.
type LaunchList struct {
	Launches []Launch `json:"launches"`
	// NextCursor is set when there are more; pass it as Cursor to continue.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListLaunchesOptions are the filters of GET /api/v1/launches.
type ListLaunchesOptions struct {
	Repository string   // slug
	Status     []string // starting, running, stopping, stopped, failed, expired
	Active     bool     // starting, running or stopping
	Limit      int
	Cursor     string
}

func (o ListLaunchesOptions) query() url.Values {
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

// LaunchLogLine is one line of a launched app's output, as streamed by
// GET /api/v1/launches/{id}/logs (JSON lines).
type LaunchLogLine struct {
	Stream string    `json:"stream"` // stdout or stderr
	Line   string    `json:"line"`
	Time   time.Time `json:"time"`
}

// LaunchLogsOptions select the output of GET /api/v1/launches/{id}/logs.
type LaunchLogsOptions struct {
	// Follow keeps the stream open for new output until the app stops.
	Follow bool
	// Tail is how many of the last lines to send first (0 = all).
	Tail int
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
	return doJSON[LaunchList](ctx, c, http.MethodGet, apiPath("launches"), opts.query(), nil)
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
