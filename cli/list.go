package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// listPageSize is the page size asked of the daemon: large enough for few
// round trips, small enough for any daemon's maximum.
const listPageSize = 100

// ListOptions are the inputs of "appstore list".
type ListOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	Tags   []string
	Status string
	// Limit caps the number of repositories; zero means all.
	Limit int
	// Starred lists only the apps the user starred (a search for
	// is:starred).
	Starred bool
}

// NewCmdList builds "appstore list".
func NewCmdList(f *Factory) *cobra.Command {
	opts := &ListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List registered repositories",
		Long: `List registered repositories, newest first, fetching every page unless
--limit is given. --tag filters by key:value (repeat it: all must match);
--status by ingestion status (queued, processing, ready, failed).
--starred lists the apps you starred (as ` + "`appstore search is:starred sort:new`" + `,
whose results --json prints), with their star counts.`,
		Example: `  appstore list
  appstore list --tag lang:go --status ready
  appstore list --starred
  appstore list -q | xargs -n1 appstore show
  appstore list --json --jq '.[] | select(.ingest_status == "failed") | .slug'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			return runList(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&opts.Tags, "tag", "t", nil, "only repositories with tag `key:value` (repeatable; all must match)")
	fl.StringVar(&opts.Status, "status", "", "only repositories in ingestion `status` queued, processing, ready or failed")
	fl.IntVarP(&opts.Limit, "limit", "L", 0, "at most `N` repositories (default: all)")
	fl.BoolVar(&opts.Starred, "starred", false, "only the apps you starred")
	return cmd
}

func runList(ctx context.Context, opts *ListOptions) error {
	tags, err := parseTags(opts.Tags)
	if err != nil {
		return err
	}
	if opts.Status != "" && !catalog.IngestStatus(opts.Status).Valid() {
		return usageErrorf("--status %q: want queued, processing, ready or failed", opts.Status)
	}
	if opts.Limit < 0 {
		return usageErrorf("--limit %d: want a positive number, or 0 for all", opts.Limit)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if opts.Starred {
		return listStarred(ctx, opts, c, tags)
	}
	q := client.ListRepositoriesOptions{Tags: tags, Status: opts.Status, Limit: listPageSize}
	if opts.Limit > 0 && opts.Limit < listPageSize {
		q.Limit = opts.Limit
	}
	repos := []client.Repository{}
	for r, err := range c.AllRepositories(ctx, q) {
		if err != nil {
			return err
		}
		repos = append(repos, r)
		if opts.Limit > 0 && len(repos) == opts.Limit {
			break
		}
	}

	if done, err := writeList(ctx, opts.IO, opts.Output, repos, func(r client.Repository) string { return r.Slug }); done {
		return err
	}
	if len(repos) == 0 {
		if opts.IO.IsStdoutTTY() {
			if len(tags) > 0 || opts.Status != "" {
				fmt.Fprintln(opts.IO.ErrOut, "No repositories match.")
			} else {
				fmt.Fprintln(opts.IO.ErrOut, "No repositories yet: add one with `appstore add <git-url|path>`.")
			}
		}
		return nil
	}
	tty := opts.IO.IsStdoutTTY()
	// The star count is a column on a terminal; a pipe keeps its columns
	// (slug, status, tags, git url) and --json has star_count.
	t := newTable(opts.IO, withStars(tty, []string{"SLUG", "STATUS", "TAGS", "GIT URL"}, 2, "STARS")...)
	for _, r := range repos {
		sep := ","
		if tty {
			sep = ", "
		}
		t.row(withStars(tty, []field{
			{text: r.Slug, color: opts.IO.Bold},
			{text: string(r.IngestStatus), color: statusColor(opts.IO, string(r.IngestStatus))},
			{text: joinTags(r.Tags, sep), max: 48},
			{text: r.GitURL, max: 60},
		}, 2, starsField(opts.IO, r.StarCount))...)
	}
	return t.render()
}

// withStars inserts the star column (header or field) at index at on a
// terminal, and leaves a pipe's columns as they are.
func withStars[T any](tty bool, cols []T, at int, star T) []T {
	if !tty {
		return cols
	}
	return slices.Insert(cols, at, star)
}

// starsField is a star count in a table: "★ 3", grey when none.
func starsField(ios *IOStreams, n int64) field {
	if n == 0 {
		return field{text: "☆ 0", color: ios.Gray}
	}
	return field{text: "★ " + strconv.FormatInt(n, 10)}
}

// joinTags lists tags as key:value, each once whatever its sources.
func joinTags(tags []client.Tag, sep string) string {
	seen := map[string]bool{}
	var out []string
	for _, t := range tags {
		if s := t.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return strings.Join(out, sep)
}

// statusColor colours a status word by how it went.
func statusColor(ios *IOStreams, status string) func(string) string {
	switch status {
	case "ready", "succeeded", "running", "healthy":
		return ios.Green
	case "failed", "unhealthy", "expired":
		return ios.Red
	case "queued", "processing", "starting", "stopping":
		return ios.Yellow
	}
	return ios.Gray
}

// listStarred is list --starred: a search for is:starred, newest first,
// narrowed by --tag and --status.
func listStarred(ctx context.Context, opts *ListOptions, c *client.Client, tags []string) error {
	terms := []string{catalog.IsKey + ":" + catalog.IsStarred, catalog.SortKey + ":" + catalog.SortNew}
	terms = append(terms, tags...)
	if opts.Status != "" {
		terms = append(terms, "status:"+opts.Status)
	}
	so := client.SearchOptions{Query: strings.Join(terms, " "), Limit: listPageSize}
	results := []client.SearchResult{}
	for {
		page, err := c.Search(ctx, so)
		if err != nil {
			return err
		}
		results = append(results, page.Results...)
		if opts.Limit > 0 && len(results) >= opts.Limit {
			results = results[:opts.Limit]
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
	if len(results) == 0 {
		if opts.IO.IsStdoutTTY() {
			fmt.Fprintln(opts.IO.ErrOut, "No starred apps: `appstore star <slug>` stars one.")
		}
		return nil
	}
	sep := ","
	if opts.IO.IsStdoutTTY() {
		sep = ", "
	}
	t := newTable(opts.IO, "SLUG", "STATUS", "STARS", "TAGS")
	for _, r := range results {
		t.row(
			field{text: r.Slug, color: opts.IO.Bold},
			field{text: string(r.IngestStatus), color: statusColor(opts.IO, string(r.IngestStatus))},
			cell(strconv.FormatInt(r.StarCount, 10)),
			field{text: joinTags(r.Tags, sep), max: 48},
		)
	}
	return t.render()
}
