package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// StarOptions are the inputs of "appstore star" and "appstore unstar".
type StarOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	Slugs []string
	// Off takes the stars off (unstar).
	Off bool
}

// NewCmdStar builds "appstore star".
func NewCmdStar(f *Factory) *cobra.Command {
	return newStarCmd(f, false)
}

// NewCmdUnstar builds "appstore unstar".
func NewCmdUnstar(f *Factory) *cobra.Command {
	return newStarCmd(f, true)
}

func newStarCmd(f *Factory, off bool) *cobra.Command {
	opts := &StarOptions{Off: off}
	cmd := &cobra.Command{
		Use:   "star <slug>...",
		Short: "Star apps: mark them as favourites (appstore list --starred)",
		Long: `Star apps: your stars are yours (they belong to the user of your token) and
count on the app's card for everyone; starred apps rank higher in trending.
Starring an app twice is one star. ` + "`appstore list --starred`" + ` lists yours,
` + "`appstore search is:starred …`" + ` searches them; ` + "`appstore unstar`" + ` takes a star off.`,
		Example: `  appstore star dash
  appstore search lang:go -q | xargs appstore star`,
		Args:              usageArgs(cobra.MinimumNArgs(1)),
		ValidArgsFunction: completeSlugs(f, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Slugs = args
			return runStar(cmd.Context(), opts)
		},
	}
	if off {
		cmd.Use = "unstar <slug>..."
		cmd.Short = "Take your star off apps"
		cmd.Long = "Take your star off apps. Unstarring an app you did not star changes nothing."
		cmd.Example = "  appstore unstar dash"
	}
	return cmd
}

func runStar(ctx context.Context, opts *StarOptions) error {
	for _, s := range opts.Slugs {
		if !catalog.ValidSlug(s) {
			return usageErrorf("%q is not an app slug: `appstore list -q` lists them", s)
		}
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	states := []client.StarState{}
	for _, s := range opts.Slugs {
		var st *client.StarState
		if opts.Off {
			st, err = c.Unstar(ctx, s)
		} else {
			st, err = c.Star(ctx, s)
		}
		if err != nil {
			return err
		}
		states = append(states, *st)
	}
	if done, err := writeList(ctx, opts.IO, opts.Output, states, func(s client.StarState) string { return s.Repository }); done {
		return err
	}
	if !opts.IO.IsStdoutTTY() {
		for _, s := range states {
			fmt.Fprintf(opts.IO.Out, "%s\t%t\t%d\n", s.Repository, s.Starred, s.StarCount)
		}
		return nil
	}
	for _, s := range states {
		verb := "Starred"
		if opts.Off {
			verb = "Unstarred"
		}
		fmt.Fprintf(opts.IO.Out, "%s %s %s (%s)\n", opts.IO.SuccessIcon(), verb, s.Repository, starCount(s.StarCount))
	}
	return nil
}

// starCount says "1 star", "3 stars".
func starCount(n int64) string {
	if n == 1 {
		return "1 star"
	}
	return fmt.Sprintf("%d stars", n)
}
