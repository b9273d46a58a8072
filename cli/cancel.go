package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// CancelOptions are the inputs of "appstore cancel".
type CancelOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	// Target is a build id, or a slug for the repository's latest build.
	Target string
	// Wait follows a running build until its worker has stopped it.
	Wait bool
}

// NewCmdCancel builds "appstore cancel".
func NewCmdCancel(f *Factory) *cobra.Command {
	opts := &CancelOptions{}
	cmd := &cobra.Command{
		Use:   "cancel <slug|build-id>",
		Short: "Cancel a queued or running build",
		Long: `Cancel a build: the build with that id, or the latest build of the
repository with that slug.

A queued build is cancelled at once. A running build is stopped by the
process that runs it within about a second; the answer then says
"cancelling", and --wait waits until the build has ended. Cancelling a
build that already ended exits 5 (conflict) and changes nothing.`,
		Example: `  appstore cancel dash
  appstore cancel 42 --wait
  appstore builds dash --jq '.[] | select(.status=="queued") | .id' | xargs -n1 appstore cancel`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Target = args[0]
			return runCancel(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Wait, "wait", "w", false, "wait until a running build has stopped")
	return cmd
}

func runCancel(ctx context.Context, opts *CancelOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	id, err := resolveBuild(ctx, c, opts.Target)
	if err != nil {
		return err
	}
	b, err := c.CancelBuild(ctx, id)
	if err != nil {
		// A build that already ended is a conflict whose message says so.
		return err
	}
	if opts.Wait && !b.Status.Terminal() {
		// The log is not wanted here, only the end of the build.
		if b, err = followBuild(ctx, c, id, func(client.LogLine) error { return nil }); err != nil {
			return err
		}
	}
	switch {
	case opts.Output.Machine():
		return writeJSON(ctx, opts.IO, opts.Output, b)
	case opts.Output.Quiet:
		_, err := fmt.Fprintln(opts.IO.Out, b.ID)
		return err
	}
	switch b.Status {
	case catalog.BuildCancelled:
		_, err = fmt.Fprintf(opts.IO.Out, "Build #%d of %s cancelled\n", b.ID, b.Repository)
	case catalog.BuildSucceeded, catalog.BuildFailed:
		// The build ended on its own before the worker saw the request.
		_, err = fmt.Fprintf(opts.IO.Out, "Build #%d of %s %s before it could be cancelled\n", b.ID, b.Repository, b.Status)
	default:
		_, err = fmt.Fprintf(opts.IO.Out, "Build #%d of %s cancelling: `appstore logs %d -f` shows when it has stopped\n", b.ID, b.Repository, b.ID)
	}
	return err
}
