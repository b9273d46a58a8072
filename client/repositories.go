package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// AddRepository registers a Git repository. The daemon answers at once with
// the repository in status queued; ingestion goes on in the background. A
// repository that is already registered (under any spelling of its URL) is
// a conflict: IsConflict(err), and the *APIError's Slug names it.
func (c *Client) AddRepository(ctx context.Context, req AddRepositoryRequest) (*Repository, error) {
	return doJSON[Repository](ctx, c, http.MethodPost, apiPath("repositories"), nil, req)
}

// Repositories returns one page of the repositories matching opts. When the
// answer's NextCursor is set, pass it as opts.Cursor for the next page, or
// use AllRepositories.
func (c *Client) Repositories(ctx context.Context, opts ListRepositoriesOptions) (*RepositoryList, error) {
	return doJSON[RepositoryList](ctx, c, http.MethodGet, apiPath("repositories"), repositoriesQuery(opts), nil)
}

// AllRepositories iterates over every repository matching opts, fetching
// pages as it goes (opts.Limit is the page size; zero lets the daemon
// choose). It stops after the first error, which it yields.
func (c *Client) AllRepositories(ctx context.Context, opts ListRepositoriesOptions) iter.Seq2[Repository, error] {
	return func(yield func(Repository, error) bool) {
		seen := map[string]bool{}
		for {
			page, err := c.Repositories(ctx, opts)
			if err != nil {
				yield(Repository{}, err)
				return
			}
			for _, r := range page.Repositories {
				if !yield(r, nil) {
					return
				}
			}
			if page.NextCursor == "" || len(page.Repositories) == 0 {
				return
			}
			// A daemon that hands out the same cursor twice would keep
			// us here forever; stop instead.
			if seen[page.NextCursor] {
				return
			}
			seen[page.NextCursor] = true
			opts.Cursor = page.NextCursor
		}
	}
}

func repositoriesQuery(o ListRepositoriesOptions) url.Values {
	q := url.Values{}
	for _, t := range o.Tags {
		q.Add("tag", t)
	}
	if o.Status != "" {
		q.Set("status", o.Status)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	return q
}

// Repository returns the repository with this slug, with its tags (and
// their sources) and its latest build.
func (c *Client) Repository(ctx context.Context, slug string) (*Repository, error) {
	return doJSON[Repository](ctx, c, http.MethodGet, apiPath("repositories", slug), nil, nil)
}

// UpdateRepository changes the fields set in req and adds or removes manual
// tags, and returns the repository as it is afterwards.
func (c *Client) UpdateRepository(ctx context.Context, slug string, req UpdateRepositoryRequest) (*Repository, error) {
	return doJSON[Repository](ctx, c, http.MethodPatch, apiPath("repositories", slug), nil, req)
}

// DeleteRepository removes the repository with this slug.
func (c *Client) DeleteRepository(ctx context.Context, slug string) error {
	_, err := doJSON[struct{}](ctx, c, http.MethodDelete, apiPath("repositories", slug), nil, nil)
	return err
}
