package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
	"github.com/appstore-dev/appstore/internal/textutil"
)

// CommentsOptions are the inputs of "appstore comments".
type CommentsOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	Slug  string
	Limit int
	Now   func() time.Time
}

// NewCmdComments builds "appstore comments".
func NewCmdComments(f *Factory) *cobra.Command {
	opts := &CommentsOptions{}
	cmd := &cobra.Command{
		Use:   "comments <slug>",
		Short: "Read what people said about an app, newest last",
		Long: `Print an app's newest comments (100 unless --limit says otherwise), oldest
of them first and newest last, as a conversation reads. On a terminal each
comment shows its id, author and age, then its text; in a pipe one line
each, tab-separated: id, author, time (RFC 3339), text with newlines written
as \n. --json prints the comments as the API sends them.
` + "`appstore comment <slug> TEXT`" + ` adds one, ` + "`appstore comment rm <id>`" + ` removes one.`,
		Example: `  appstore comments dash
  appstore comments dash --json --jq '.[].author'`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Slug = args[0]
			return runComments(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Limit, "limit", "L", 0, fmt.Sprintf("the newest `N` comments (default %d, at most %d)", catalog.DefaultCommentsLimit, catalog.MaxCommentsLimit))
	return cmd
}

func runComments(ctx context.Context, opts *CommentsOptions) error {
	if !catalog.ValidSlug(opts.Slug) {
		return usageErrorf("%q is not an app slug: `appstore list -q` lists them", opts.Slug)
	}
	if opts.Limit < 0 || opts.Limit > catalog.MaxCommentsLimit {
		return usageErrorf("--limit %d: want 1 to %d", opts.Limit, catalog.MaxCommentsLimit)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	list, err := c.Comments(ctx, opts.Slug, opts.Limit)
	if err != nil {
		return err
	}
	if done, err := writeList(ctx, opts.IO, opts.Output, list.Comments, func(c client.Comment) string { return strconv.FormatInt(c.ID, 10) }); done {
		return err
	}
	io := opts.IO
	if !io.IsStdoutTTY() {
		for _, cm := range list.Comments {
			body := strings.ReplaceAll(textutil.StripTerminal(cm.Body), "\n", `\n`)
			fmt.Fprintf(io.Out, "%d\t%s\t%s\t%s\n", cm.ID, cm.Author, cm.CreatedAt.UTC().Format(time.RFC3339), body)
		}
		return nil
	}
	if len(list.Comments) == 0 {
		fmt.Fprintf(io.ErrOut, "No comments on %s yet: `appstore comment %s TEXT` adds one.\n", opts.Slug, opts.Slug)
		return nil
	}
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	for i, cm := range list.Comments {
		if i > 0 {
			fmt.Fprintln(io.Out)
		}
		fmt.Fprintf(io.Out, "%s %s %s\n", io.Gray("#"+strconv.FormatInt(cm.ID, 10)), io.Bold(cm.AuthorLabel()), io.Gray("· "+ago(now, cm.CreatedAt)))
		for _, line := range strings.Split(textutil.StripTerminal(cm.Body), "\n") {
			fmt.Fprintf(io.Out, "  %s\n", line)
		}
	}
	return nil
}

// CommentOptions are the inputs of "appstore comment".
type CommentOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	Slug string
	// Text is the comment; "-" reads it from standard input.
	Text string
}

// NewCmdComment builds "appstore comment" and its "rm".
func NewCmdComment(f *Factory) *cobra.Command {
	opts := &CommentOptions{}
	cmd := &cobra.Command{
		Use:   "comment <slug> <text...|->",
		Short: "Say something about an app (plain text); comment rm removes one",
		Long: fmt.Sprintf(`Add a comment to an app: plain text, shown as text everywhere (no markup
is interpreted), at most %d characters. The words after the slug are the
text; "-" reads it from standard input (several lines, e.g. from a file).
Comments carry your user name; `+"`appstore comments <slug>`"+` reads them and
`+"`appstore comment rm <id>`"+` removes one of yours (admins: anyone's).
The new comment's id is printed (alone with -q).`, catalog.MaxCommentLen),
		Example: `  appstore comment dash "Works well behind the VPN"
  appstore comment dash - < review.txt
  appstore comment rm 12`,
		Args:              usageArgs(cobra.MinimumNArgs(2)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Slug, opts.Text = args[0], strings.Join(args[1:], " ")
			return runComment(cmd.Context(), opts)
		},
	}
	cmd.AddCommand(newCmdCommentRm(f))
	return cmd
}

func runComment(ctx context.Context, opts *CommentOptions) error {
	if !catalog.ValidSlug(opts.Slug) {
		return usageErrorf("%q is not an app slug: `appstore list -q` lists them", opts.Slug)
	}
	text := opts.Text
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(opts.IO.In, 64<<10))
		if err != nil {
			return fmt.Errorf("read the comment from standard input: %w", err)
		}
		text = string(b)
	}
	if _, err := catalog.CleanComment(text); err != nil {
		return &UsageError{Err: err}
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cm, err := c.AddComment(ctx, opts.Slug, text)
	if err != nil {
		return err
	}
	if done, err := writeObject(ctx, opts.IO, opts.Output, cm, strconv.FormatInt(cm.ID, 10)); done {
		return err
	}
	if opts.IO.IsStdoutTTY() {
		fmt.Fprintf(opts.IO.Out, "%s Commented on %s (comment %d)\n", opts.IO.SuccessIcon(), cm.Repository, cm.ID)
		return nil
	}
	fmt.Fprintln(opts.IO.Out, cm.ID)
	return nil
}

// CommentRmOptions are the inputs of "appstore comment rm".
type CommentRmOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)

	IDs []string
}

func newCmdCommentRm(f *Factory) *cobra.Command {
	opts := &CommentRmOptions{}
	return &cobra.Command{
		Use:   "rm <id>...",
		Short: "Remove comments (your own; admins: anyone's)",
		Long: `Remove comments by id (` + "`appstore comments <slug>`" + ` shows them). Their author
may remove them, and admins any.`,
		Example: "  appstore comment rm 12",
		Args:    usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client = f.IO, f.Client
			opts.IDs = args
			return runCommentRm(cmd.Context(), opts)
		},
	}
}

func runCommentRm(ctx context.Context, opts *CommentRmOptions) error {
	var ids []int64
	for _, s := range opts.IDs {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id < 1 {
			return usageErrorf("%q is not a comment id: `appstore comments <slug>` shows them", s)
		}
		ids = append(ids, id)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := c.DeleteComment(ctx, id); err != nil {
			return err
		}
		if opts.IO.IsStdoutTTY() {
			fmt.Fprintf(opts.IO.Out, "%s Removed comment %d\n", opts.IO.SuccessIcon(), id)
		}
	}
	return nil
}
