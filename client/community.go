package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Stats returns the usage of the app slug on each of its last days
// (opts.Days, default 30), oldest first.
func (c *Client) Stats(ctx context.Context, slug string, opts StatsOptions) (*UsageStats, error) {
	var q url.Values
	if opts.Days != 0 {
		q = url.Values{"days": {strconv.Itoa(opts.Days)}}
	}
	return doJSON[UsageStats](ctx, c, http.MethodGet, apiPath("repositories", slug, "stats"), q, nil)
}

// StarState says whether the asking user starred the app slug, and how
// many did.
func (c *Client) StarState(ctx context.Context, slug string) (*StarState, error) {
	return doJSON[StarState](ctx, c, http.MethodGet, apiPath("repositories", slug, "star"), nil, nil)
}

// Star stars the app slug for the asking user (starring twice is one star).
func (c *Client) Star(ctx context.Context, slug string) (*StarState, error) {
	return doJSON[StarState](ctx, c, http.MethodPost, apiPath("repositories", slug, "star"), nil, nil)
}

// Unstar takes the asking user's star off the app slug.
func (c *Client) Unstar(ctx context.Context, slug string) (*StarState, error) {
	return doJSON[StarState](ctx, c, http.MethodDelete, apiPath("repositories", slug, "star"), nil, nil)
}

// Comments returns the newest limit comments of the app slug (0: the
// daemon's default, 100), newest last.
func (c *Client) Comments(ctx context.Context, slug string, limit int) (*CommentList, error) {
	var q url.Values
	if limit != 0 {
		q = url.Values{"limit": {strconv.Itoa(limit)}}
	}
	return doJSON[CommentList](ctx, c, http.MethodGet, apiPath("repositories", slug, "comments"), q, nil)
}

// AddComment says something about the app slug, as plain text.
func (c *Client) AddComment(ctx context.Context, slug, body string) (*Comment, error) {
	return doJSON[Comment](ctx, c, http.MethodPost, apiPath("repositories", slug, "comments"), nil, AddCommentRequest{Body: body})
}

// DeleteComment removes the comment id (its author's or, for an admin,
// anyone's).
func (c *Client) DeleteComment(ctx context.Context, id int64) error {
	_, err := doJSON[struct{}](ctx, c, http.MethodDelete, apiPath("comments", strconv.FormatInt(id, 10)), nil, nil)
	return err
}
