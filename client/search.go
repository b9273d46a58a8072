package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// Search returns one page of the repositories matching opts.Query. A query
// that does not parse is an *APIError with Code invalid, Field "q" and the
// byte Position of the problem.
func (c *Client) Search(ctx context.Context, opts SearchOptions) (*SearchPage, error) {
	q := url.Values{}
	if opts.Query != "" {
		q.Set("q", opts.Query)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	if opts.ExactTotal {
		q.Set("exact_total", "1")
	}
	return doJSON[SearchPage](ctx, c, http.MethodGet, apiPath("search"), q, nil)
}

// SearchAll iterates over every result of opts.Query in order, fetching
// pages as it goes (opts.Limit is the page size). It stops after the first
// error, which it yields.
func (c *Client) SearchAll(ctx context.Context, opts SearchOptions) iter.Seq2[SearchResult, error] {
	return func(yield func(SearchResult, error) bool) {
		seen := map[string]bool{}
		for {
			page, err := c.Search(ctx, opts)
			if err != nil {
				yield(SearchResult{}, err)
				return
			}
			for _, r := range page.Results {
				if !yield(r, nil) {
					return
				}
			}
			// A cursor seen twice would loop forever: stop instead.
			if page.NextCursor == "" || len(page.Results) == 0 || seen[page.NextCursor] {
				return
			}
			seen[page.NextCursor] = true
			opts.Cursor = page.NextCursor
		}
	}
}

// Autocomplete returns the completions of the token at opts.Pos, each with
// the number of repositories carrying it among those the rest of the query
// selects. Accept one by replacing Query[Start:End] with its Text, or take
// its Query and Cursor as they are.
func (c *Client) Autocomplete(ctx context.Context, opts AutocompleteOptions) (*Suggestions, error) {
	q := url.Values{"q": {opts.Query}}
	if opts.Pos >= 0 {
		q.Set("pos", strconv.Itoa(opts.Pos))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	return doJSON[Suggestions](ctx, c, http.MethodGet, apiPath("autocomplete"), q, nil)
}
