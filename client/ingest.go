package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Timeline is the answer of GET /api/v1/repositories/{slug}/events: the
// steps of a repository's ingestions (queued, processing, ready, failed),
// oldest first.
type Timeline struct {
	Events []IngestionEvent `json:"events"`
}

// TimelineOptions select the steps Timeline returns.
type TimelineOptions struct {
	// After returns only the steps with a greater id (the last one seen),
	// oldest first: what a poller asks for.
	After int64
	// Limit bounds the steps returned (1–1000; the daemon's default is
	// 100). Without After they are the newest ones.
	Limit int
}

// WebhookResult is the answer of POST /api/v1/webhooks/git.
type WebhookResult struct {
	// Status is "queued" when at least one repository is re-ingested,
	// "ignored" when none is (Reason says why), "ok" for a ping.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Repositories are the slugs queued for re-ingestion.
	Repositories []string `json:"repositories,omitempty"`
	// Ignored lists matching repositories left alone, with the reason
	// (another branch).
	Ignored []WebhookIgnored `json:"ignored,omitempty"`
}

// WebhookIgnored is a repository a push matched but did not re-ingest.
type WebhookIgnored struct {
	Slug   string `json:"slug"`
	Reason string `json:"reason"`
}

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
