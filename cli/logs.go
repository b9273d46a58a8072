package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// LogsOptions are the inputs of "appstore logs".
type LogsOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	// Target is a build id, or a slug for the repository's latest build.
	Target string
	// Follow streams new lines until the build ends.
	Follow bool
	// App prints the output of the app's container (Target is then a slug
	// or a launch id) instead of a build's log; see runAppLogs.
	App bool
}

// NewCmdLogs builds "appstore logs".
func NewCmdLogs(f *Factory) *cobra.Command {
	opts := &LogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs <slug|build-id>",
		Short: "Print a build's log",
		Long: `Print the log of a build: the build with that id, or the latest build of
the repository with that slug.

-f follows the log live until the build ends. The exit status is the
build's result once it ended: 0 succeeded, 1 failed or cancelled (the
error is printed on standard error); 0 for a build still going without -f.
--json prints one JSON object per line (id, build_id, line, time).

--app prints the output of the app's running container instead (the
slug's newest launch, or the launch with that id): its standard output on
standard output, its standard error on standard error; -f follows it until
the app stops. --json prints {stream, line, time} per line.`,
		Example: `  appstore logs dash
  appstore logs 42 -f
  appstore logs dash --json | jq -r .line
  appstore logs dash --app -f`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Target = args[0]
			if opts.App {
				return runAppLogs(cmd.Context(), opts)
			}
			return runLogs(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "stream new lines until the build ends")
	cmd.Flags().BoolVar(&opts.App, "app", false, "the output of the app's container (slug or launch id) instead of a build log")
	return cmd
}

func runLogs(ctx context.Context, opts *LogsOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	id, err := resolveBuild(ctx, c, opts.Target)
	if err != nil {
		return err
	}
	emit := func(l client.LogLine) error {
		if opts.Output.Machine() {
			return writeJSONLine(ctx, opts.IO, opts.Output, l)
		}
		_, err := fmt.Fprintln(opts.IO.Out, l.Line)
		return err
	}
	var b *client.Build
	if opts.Follow {
		if b, err = followBuild(ctx, c, id, emit); err != nil {
			return err
		}
	} else {
		for l, err := range c.BuildLogs(ctx, id, client.BuildLogOptions{}) {
			if err != nil {
				return err
			}
			if err := emit(l); err != nil {
				return err
			}
		}
		if b, err = c.Build(ctx, id); err != nil {
			return err
		}
	}
	if b.Status == catalog.BuildSucceeded && opts.IO.IsStderrTTY() && !opts.Output.Machine() {
		fmt.Fprintln(opts.IO.ErrOut, buildSummary(opts.IO, b))
	}
	return buildResult(b)
}

// resolveBuild turns a build id, or a slug (its latest build), into a
// build id.
func resolveBuild(ctx context.Context, c *client.Client, target string) (int64, error) {
	if id, err := strconv.ParseInt(target, 10, 64); err == nil {
		if id <= 0 {
			return 0, usageErrorf("build id %d: want a positive number, or a repository slug", id)
		}
		return id, nil
	}
	if !catalog.ValidSlug(target) {
		return 0, usageErrorf("%q is neither a build id nor a repository slug", target)
	}
	page, err := c.Builds(ctx, target, client.ListBuildsOptions{Limit: 1})
	if err != nil {
		return 0, err
	}
	if len(page.Builds) == 0 {
		return 0, notFoundf("%s", noBuildAdvice(ctx, c, target))
	}
	return page.Builds[0].ID, nil
}
