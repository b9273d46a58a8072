package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// CreateBuild queues a build of the commit that ingestion last recorded
// for the repository. When an equal build (same commit, Dockerfile and
// context) is already queued or running, the daemon answers with that one
// instead of queueing another.
func (c *Client) CreateBuild(ctx context.Context, slug string, req CreateBuildRequest) (*Build, error) {
	return doJSON[Build](ctx, c, http.MethodPost, apiPath("repositories", slug, "builds"), nil, req)
}

// Builds returns one page of a repository's builds, newest first.
func (c *Client) Builds(ctx context.Context, slug string, opts ListBuildsOptions) (*BuildList, error) {
	q := url.Values{}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	return doJSON[BuildList](ctx, c, http.MethodGet, apiPath("repositories", slug, "builds"), q, nil)
}

// Build returns one build.
func (c *Client) Build(ctx context.Context, id int64) (*Build, error) {
	return doJSON[Build](ctx, c, http.MethodGet, apiPath("builds", strconv.FormatInt(id, 10)), nil, nil)
}

// CancelBuild cancels a build: a queued one at once, a running one within
// a second (the answer then still says running, with CancelRequested).
// Cancelling a build that already ended is a conflict.
func (c *Client) CancelBuild(ctx context.Context, id int64) (*Build, error) {
	return doJSON[Build](ctx, c, http.MethodPost, apiPath("builds", strconv.FormatInt(id, 10), "cancel"), nil, nil)
}

// BuildLogs yields the lines of a build's log in order. With
// opts.Follow it keeps yielding new lines until the build ends (then
// fetch the build for its result); without, it stops at the last stored
// line. It stops after the first error, which it yields; to resume, call
// again with Since set to the last line's ID.
func (c *Client) BuildLogs(ctx context.Context, id int64, opts BuildLogOptions) iter.Seq2[LogLine, error] {
	q := url.Values{}
	if opts.Follow {
		q.Set("follow", "1")
	}
	if opts.Since > 0 {
		q.Set("since", strconv.FormatInt(opts.Since, 10))
	}
	return streamJSONLines[LogLine](ctx, c, apiPath("builds", strconv.FormatInt(id, 10), "logs"), q)
}
