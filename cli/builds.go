package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// BuildsOptions are the inputs of "appstore builds".
type BuildsOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions
	// Now is the time relative times are computed from (tests fix it).
	Now func() time.Time

	Slug string
	// Limit caps the number of builds; zero means all.
	Limit int
}

// NewCmdBuilds builds "appstore builds".
func NewCmdBuilds(f *Factory) *cobra.Command {
	opts := &BuildsOptions{}
	cmd := &cobra.Command{
		Use:   "builds <slug>",
		Short: "List a repository's builds, newest first",
		Long: `List the builds of a repository, newest first: id, status, commit, how long
it took, when it was queued, and its image (or why it failed).

In a pipe the fields are tab-separated, with the full commit, the duration in
milliseconds and RFC 3339 times.`,
		Example: `  appstore builds dash
  appstore builds dash -L 1 -q          # the latest build's id
  appstore builds dash --jq '.[] | select(.status == "failed") | .error_message'`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output, opts.Now = f.IO, f.Client, f.Output(), time.Now
			opts.Slug = args[0]
			return runBuilds(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Limit, "limit", "L", 20, "at most `N` builds (0: all)")
	return cmd
}

func runBuilds(ctx context.Context, opts *BuildsOptions) error {
	if opts.Limit < 0 {
		return usageErrorf("--limit %d: want a positive number, or 0 for all", opts.Limit)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	builds := []client.Build{}
	q := client.ListBuildsOptions{Limit: 100}
	if opts.Limit > 0 && opts.Limit < q.Limit {
		q.Limit = opts.Limit
	}
	for {
		page, err := c.Builds(ctx, opts.Slug, q)
		if err != nil {
			return err
		}
		builds = append(builds, page.Builds...)
		if opts.Limit > 0 && len(builds) >= opts.Limit {
			builds = builds[:opts.Limit]
			break
		}
		if page.NextCursor == "" || page.NextCursor == q.Cursor || len(page.Builds) == 0 {
			break
		}
		q.Cursor = page.NextCursor
	}

	if done, err := writeList(ctx, opts.IO, opts.Output, builds, func(b client.Build) string { return strconv.FormatInt(b.ID, 10) }); done {
		return err
	}
	if len(builds) == 0 {
		if opts.IO.IsStdoutTTY() {
			fmt.Fprintf(opts.IO.ErrOut, "%s.\n", noBuildAdvice(ctx, c, opts.Slug))
		}
		return nil
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	tty := opts.IO.IsStdoutTTY()
	t := newTable(opts.IO, "BUILD", "STATUS", "COMMIT", "DURATION", "QUEUED", "RESULT")
	for _, b := range builds {
		status := string(b.Status)
		if b.Cached && tty {
			status += " (cached)"
		} else if b.CancelRequested && tty {
			status += " (cancelling)"
		}
		commit, duration, queued := b.CommitSHA, "", b.CreatedAt.UTC().Format(time.RFC3339)
		if b.DurationMS != nil {
			duration = strconv.FormatInt(*b.DurationMS, 10)
		}
		if tty {
			commit = textutil.ShortSHA(commit)
			queued = ago(now(), b.CreatedAt)
			if b.DurationMS != nil {
				duration = formatMillis(*b.DurationMS)
			}
		}
		result := b.ImageTag
		if b.Status == catalog.BuildFailed || b.Status == catalog.BuildCancelled {
			result = textutil.FirstLine(b.ErrorMessage)
		} else if !b.Status.Terminal() {
			result = ""
		}
		t.row(
			field{text: "#" + strconv.FormatInt(b.ID, 10), color: opts.IO.Bold},
			field{text: status, color: statusColor(opts.IO, string(b.Status))},
			cell(commit),
			cell(duration),
			cell(queued),
			field{text: result, max: 72},
		)
	}
	if !tty {
		// Plain ids in pipes, for cut and xargs.
		for _, r := range t.rows {
			r[0].text = r[0].text[1:]
		}
	}
	return t.render()
}
