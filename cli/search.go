package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mattn/go-runewidth"
	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog/query"
	"github.com/appstore-dev/appstore/client"
)

// searchTTYLimit is how many results a terminal gets without --limit; a
// pipe gets them all.
const searchTTYLimit = 50

// SearchOptions are the inputs of "appstore search".
type SearchOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	// Terms are joined with spaces into the query.
	Terms []string
	// Limit caps the results; zero means searchTTYLimit on a terminal and
	// all of them in a pipe, negative means all.
	Limit int
}

// NewCmdSearch builds "appstore search".
func NewCmdSearch(f *Factory) *cobra.Command {
	opts := &SearchOptions{}
	cmd := &cobra.Command{
		Use:   "search [terms...]",
		Short: "Find repositories by tags, status and text",
		Long: `Search the catalog with the query language (the terms are joined with
spaces):

  key:value       carrying the tag key:value       lang:go
  key:a,b         carrying key:a or key:b          framework:gin,fiber
  -key:value      not carrying it                  -license:gpl-3.0
  status:ready    in that ingestion status         status:ready,failed
  word            in the name, description or README; the last word is a
                  prefix (dash finds dashboard)
  "some phrase"   the words next to each other
  -word           not containing the word

All terms must match. Results come best first: words in the name, then in
the description, then in the README; then most launched; then newest.

Terms starting with '-' look like flags to the shell's command line: put
them after "--" (appstore search lang:go -- -license:gpl-3.0) or quote the
whole query as one argument. With no terms every repository is listed,
except on a terminal without --json, --jq, -q or --limit: then the
interactive search opens (appstore tui).

On a terminal the first 50 results are printed as a table, with their star
counts; in a pipe all of them, tab-separated (slug, name, status, build,
tags). --json prints the
results array, -q the slugs. Shell completion completes keys, tags and
values from the daemon (see appstore completion).`,
		Example: `  appstore search lang:go framework:gin
  appstore search dash
  appstore search 'lang:python -license:gpl-3.0 "live chat"'
  appstore search lang:python --json | jq -r '.[].slug' | xargs -n1 appstore build
  appstore search status:failed -q`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: completeQuery(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			// No terms on a terminal: the interactive search (cli/tui.go).
			if len(args) == 0 && !cmd.Flags().Changed("limit") && f.wantsTUI() {
				return runTUI(cmd.Context(), f, "")
			}
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Terms = args
			return runSearch(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Limit, "limit", "L", 0, "at most `N` results (default: 50 on a terminal, all in a pipe; -1 for all)")
	cmd.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		// "-license:gpl" reads as the flags -l -i -c…: say how to exclude,
		// with the user's own term when pflag names it ("… in -license:gpl").
		msg := err.Error()
		if strings.Contains(msg, "unknown shorthand flag") || strings.Contains(msg, "unknown flag") {
			example := "appstore search lang:go -- -license:gpl-3.0"
			if i := strings.LastIndex(msg, " in -"); i >= 0 && !strings.HasPrefix(msg[i+4:], "--") {
				example = "appstore search <other terms> -- " + msg[i+4:]
			}
			err = fmt.Errorf("%w; to exclude a tag or word, put the term after \"--\": %s", err, example)
		}
		return &UsageError{Err: err}
	})
	return cmd
}

func runSearch(ctx context.Context, opts *SearchOptions) error {
	q := strings.Join(opts.Terms, " ")
	// The daemon checks the query too; checking it here first answers at
	// once, with the place of the mistake shown.
	if _, err := query.Parse(q); err != nil {
		return queryError(q, err)
	}
	limit := opts.Limit
	if limit == 0 && opts.IO.IsStdoutTTY() && !opts.Output.Machine() {
		limit = searchTTYLimit
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	pageSize := 100
	if limit > 0 && limit < pageSize {
		pageSize = limit
	}
	results := []client.SearchResult{}
	var first *client.SearchPage
	more := false
	so := client.SearchOptions{Query: q, Limit: pageSize}
	for {
		page, err := c.Search(ctx, so)
		if err != nil {
			return queryError(q, err)
		}
		if first == nil {
			first = page
		}
		results = append(results, page.Results...)
		if limit > 0 && len(results) >= limit {
			more = len(results) > limit || page.NextCursor != ""
			results = results[:limit]
			break
		}
		if page.NextCursor == "" || len(page.Results) == 0 {
			break
		}
		so.Cursor = page.NextCursor
	}

	if done, err := writeList(ctx, opts.IO, opts.Output, results, func(r client.SearchResult) string { return r.Slug }); done {
		return err
	}
	tty := opts.IO.IsStdoutTTY()
	if len(results) == 0 {
		if tty {
			fmt.Fprintln(opts.IO.ErrOut, "No repositories match.")
		}
		return nil
	}
	sep := ","
	if tty {
		sep = ", "
	}
	// The star count is a column on a terminal; a pipe keeps its columns
	// (slug, name, status, build, tags) and --json has star_count.
	t := newTable(opts.IO, withStars(tty, []string{"SLUG", "NAME", "STATUS", "BUILD", "TAGS"}, 4, "STARS")...)
	for _, r := range results {
		build := "-"
		if r.LatestBuild != nil {
			build = string(r.LatestBuild.Status)
		}
		t.row(withStars(tty, []field{
			{text: r.Slug, color: opts.IO.Bold},
			{text: r.Name, max: 32},
			{text: string(r.IngestStatus), color: statusColor(opts.IO, string(r.IngestStatus))},
			{text: build, color: statusColor(opts.IO, build)},
			{text: joinTags(r.Tags, sep), max: 60},
		}, 4, starsField(opts.IO, r.StarCount))...)
	}
	if err := t.render(); err != nil {
		return err
	}
	if tty && more {
		total := strconv.FormatInt(first.Total, 10)
		if !first.TotalExact {
			total = "about " + total
		}
		fmt.Fprintf(opts.IO.ErrOut, "Showing %d of %s; --limit N shows more, --limit -1 all.\n", len(results), total)
	}
	return nil
}

// queryError shows where a search query went wrong: the message, the
// query, and a caret under the position.
func queryError(q string, err error) error {
	pos := -1
	var se *query.SyntaxError
	var ae *client.APIError
	switch {
	case errors.As(err, &se):
		pos = se.Pos
	case errors.As(err, &ae) && ae.Position >= 0:
		pos = ae.Position
	default:
		return err
	}
	pos = min(pos, len(q))
	caret := strings.Repeat(" ", runewidth.StringWidth(q[:pos])) + "^"
	return &UsageError{Err: fmt.Errorf("%w\n  %s\n  %s", err, q, caret)}
}
