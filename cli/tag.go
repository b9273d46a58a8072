package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// TagOptions are the inputs of "appstore tag add" and "appstore tag rm".
type TagOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	Slug string
	// Add and Remove are key:value tags; one of them is set.
	Add    []string
	Remove []string
}

// NewCmdTag builds "appstore tag" and its subcommands.
func NewCmdTag(f *Factory) *cobra.Command {
	cmd := groupCmd("tag <command>", "Add or remove a repository's manual tags")
	cmd.Long = `Manual tags are set by people and survive re-ingestion; author tags (from
the repository's metadata) and auto tags (derived by ingestion) are replaced
each time the repository is ingested, so they cannot be removed here.`
	cmd.AddCommand(newCmdTagChange(f, "add", true), newCmdTagChange(f, "rm", false), newCmdTagList(f))
	return cmd
}

// newCmdTagList builds "appstore tag ls <slug>": the repository's tags with
// their sources.
func newCmdTagList(f *Factory) *cobra.Command {
	opts := &TagOptions{}
	return &cobra.Command{
		Use:     "ls <slug>",
		Aliases: []string{"list"},
		Short:   "List a repository's tags and where each came from",
		Long: `List a repository's tags with their source: manual (set with tag add),
author (from the repository's metadata) or auto (found by ingestion).
"key:value<TAB>source" in a pipe; --json prints the tags.`,
		Example:           "  appstore tag ls dash\n  appstore tag ls dash --jq '.[] | select(.source == \"manual\") | .key'",
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Slug = args[0]
			return runTagList(cmd.Context(), opts)
		},
	}
}

func runTagList(ctx context.Context, opts *TagOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	r, err := c.Repository(ctx, opts.Slug)
	if err != nil {
		return err
	}
	if done, err := writeList(ctx, opts.IO, opts.Output, r.Tags, func(t client.Tag) string { return t.String() }); done {
		return err
	}
	return printTags(opts.IO, r)
}

func newCmdTagChange(f *Factory, verb string, adding bool) *cobra.Command {
	opts := &TagOptions{}
	short, example := "Add manual tags to a repository", "  appstore tag add dash category:dashboard team:infra"
	var aliases []string
	if !adding {
		short, example = "Remove manual tags from a repository", "  appstore tag rm dash team:infra"
		aliases = []string{"remove"}
	}
	return &cobra.Command{
		Use:               verb + " <slug> <key:value>...",
		Aliases:           aliases,
		Short:             short,
		Long:              short + ` and print its tags afterwards ("key:value<TAB>source" in a pipe).`,
		Example:           example,
		Args:              usageArgs(cobra.MinimumNArgs(2)),
		ValidArgsFunction: completeTagArgs(f, adding),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Slug = args[0]
			if adding {
				opts.Add = args[1:]
			} else {
				opts.Remove = args[1:]
			}
			return runTag(cmd.Context(), opts)
		},
	}
}

func runTag(ctx context.Context, opts *TagOptions) error {
	add, err := parseTags(opts.Add)
	if err != nil {
		return err
	}
	remove, err := parseTags(opts.Remove)
	if err != nil {
		return err
	}
	if len(add)+len(remove) == 0 {
		return usageErrorf("give at least one key:value tag")
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if len(remove) > 0 {
		// Removing a tag the app does not have is a mistake (a typo, the
		// wrong app): say so, and change nothing.
		cur, err := c.Repository(ctx, opts.Slug)
		if err != nil {
			return err
		}
		var missing []string
		for _, t := range remove {
			if !slices.ContainsFunc(cur.Tags, func(x client.Tag) bool { return x.String() == t }) {
				missing = append(missing, t)
			}
		}
		if len(missing) > 0 {
			var manual []string
			for _, x := range cur.Tags {
				if x.Source == catalog.SourceManual {
					manual = append(manual, x.String())
				}
			}
			have := "it has no manual tags"
			if len(manual) > 0 {
				have = "its manual tags are " + strings.Join(manual, ", ")
			}
			return notFoundf("%s has no tag %s: nothing was changed (%s; `appstore tag ls %s` lists all)",
				opts.Slug, strings.Join(missing, ", "), have, opts.Slug)
		}
	}
	r, err := c.UpdateRepository(ctx, opts.Slug, client.UpdateRepositoryRequest{AddTags: add, RemoveTags: remove})
	if err != nil {
		return err
	}
	// A tag that is still there came from the repository or from
	// ingestion, which the user may not expect: say so.
	for _, t := range remove {
		if i := slices.IndexFunc(r.Tags, func(x client.Tag) bool { return x.String() == t }); i >= 0 {
			fmt.Fprintf(opts.IO.ErrOut, "warning: %s is still set by ingestion (%s); only manual tags can be removed\n", t, r.Tags[i].Source)
		}
	}
	if done, err := writeObject(ctx, opts.IO, opts.Output, r, r.Slug); done {
		return err
	}
	return printTags(opts.IO, r)
}

// printTags prints a repository's tags: "TAG SOURCE" on a terminal,
// "key:value<TAB>source" in a pipe.
func printTags(ios *IOStreams, r *client.Repository) error {
	if len(r.Tags) == 0 {
		if ios.IsStdoutTTY() {
			fmt.Fprintf(ios.ErrOut, "%s has no tags now.\n", r.Slug)
		}
		return nil
	}
	t := newTable(ios, "TAG", "SOURCE")
	for _, tag := range r.Tags {
		color := ios.Gray
		if tag.Source == catalog.SourceManual {
			color = nil
		}
		t.row(cell(tag.String()), field{text: string(tag.Source), color: color})
	}
	return t.render()
}
