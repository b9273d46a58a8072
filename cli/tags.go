package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog/query"
	"github.com/appstore-dev/appstore/client"
)

// TagsOptions are the inputs of "appstore tags".
type TagsOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	// Terms are joined with spaces; the last one is completed and the
	// others narrow the counts.
	Terms []string
	Limit int
}

// NewCmdTags builds "appstore tags".
func NewCmdTags(f *Factory) *cobra.Command {
	opts := &TagsOptions{}
	cmd := &cobra.Command{
		Use:   "tags [prefix]",
		Short: "List keys and tags with the number of repositories carrying each",
		Long: `List what autocomplete offers for a prefix, most used first, with the
number of repositories that carry each:

  appstore tags            the most used keys and tags
  appstore tags fra        keys starting with fra (framework:) and tags whose
                           value does (topic:fractal)
  appstore tags lang:      the values of lang
  appstore tags lang:g     the values of lang starting with g

Terms before the last narrow the counts to the repositories they select, as
in a search: appstore tags lang:go framework: counts frameworks among Go
repositories (pass '' as the last term for everything they carry).
Counts marked ~ are estimated from a sample (a broad narrowing).

On a terminal a table; in a pipe "tag<TAB>count<TAB>kind" lines; --json prints the
suggestions (text, kind, key, value, count), -q the tags only.`,
		Example: `  appstore tags lang:
  appstore tags lang:go framework:
  appstore tags -q topic: | head`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: completeQuery(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Terms = args
			return runTags(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Limit, "limit", "L", 20, "at most `N` suggestions (1 to 100)")
	return cmd
}

func runTags(ctx context.Context, opts *TagsOptions) error {
	if opts.Limit < 1 || opts.Limit > 100 {
		return usageErrorf("--limit %d: want 1 to 100", opts.Limit)
	}
	q := strings.Join(opts.Terms, " ")
	c, err := opts.Client()
	if err != nil {
		return err
	}
	sg, err := c.Autocomplete(ctx, client.AutocompleteOptions{Query: q, Pos: -1, Limit: opts.Limit})
	if err != nil {
		return queryError(q, err)
	}
	if done, err := writeList(ctx, opts.IO, opts.Output, sg.Suggestions, func(s client.Suggestion) string { return s.Text }); done {
		return err
	}
	if len(sg.Suggestions) == 0 {
		if opts.IO.IsStdoutTTY() {
			if sg.Token == query.KindPhrase.String() {
				fmt.Fprintln(opts.IO.ErrOut, "Nothing to complete in a quoted phrase.")
			} else {
				fmt.Fprintln(opts.IO.ErrOut, "No keys or tags match.")
			}
		}
		return nil
	}
	t := newTable(opts.IO, "TAG", "REPOSITORIES", "KIND")
	for _, s := range sg.Suggestions {
		count := strconv.FormatInt(s.Count, 10)
		if sg.Approximate && opts.IO.IsStdoutTTY() {
			count = "~" + count
		}
		t.row(field{text: s.Text, color: opts.IO.Bold}, cell(count), field{text: string(s.Kind), color: opts.IO.Gray})
	}
	return t.render()
}
