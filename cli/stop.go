package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/catalog"
	"github.com/appstore-dev/appstore/client"
)

// StopOptions are the inputs of "appstore stop".
type StopOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	// Targets are launch ids or app slugs (every active launch of it).
	Targets []string
}

// NewCmdStop builds "appstore stop".
func NewCmdStop(f *Factory) *cobra.Command {
	opts := &StopOptions{}
	cmd := &cobra.Command{
		Use:   "stop <launch-id|slug>...",
		Short: "Stop launched apps and remove their containers",
		Long: `Stop launches: a launch id stops that launch, a slug every running launch
of that app. The containers are removed; the launches stay listed by
` + "`appstore ps --all`" + ` as stopped.

Stopping an app that is not running is not an error (a note goes to
standard error); an unknown app or launch exits with 3. With several
targets, a failure is reported and the others are still stopped.`,
		Example: `  appstore stop dash
  appstore stop 12 13
  appstore ps -q | xargs appstore stop`,
		Args:              usageArgs(cobra.MinimumNArgs(1)),
		ValidArgsFunction: completeRunning(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Targets = args
			return runStop(cmd.Context(), opts)
		},
	}
	return cmd
}

func runStop(ctx context.Context, opts *StopOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	for _, t := range opts.Targets {
		if _, err := strconv.ParseInt(t, 10, 64); err != nil && !catalog.ValidSlug(t) {
			return usageErrorf("%q is neither a launch id nor an app slug", t)
		}
	}
	batch := len(opts.Targets) > 1
	var stopped []client.Launch
	var codes []int
	for _, t := range opts.Targets {
		ls, err := stopTarget(ctx, c, opts.IO, t)
		stopped = append(stopped, ls...)
		if err != nil {
			if !batch || errors.Is(err, context.Canceled) || client.IsUnreachable(err) {
				return err
			}
			fmt.Fprintf(opts.IO.ErrOut, "error: %s: %s\n", t, ErrorMessage(err))
			codes = append(codes, ExitCode(err))
		}
	}
	switch {
	case opts.Output.Machine():
		if stopped == nil {
			stopped = []client.Launch{}
		}
		if err := writeJSON(ctx, opts.IO, opts.Output, stopped); err != nil {
			return err
		}
	case opts.Output.Quiet:
		for _, l := range stopped {
			fmt.Fprintln(opts.IO.Out, l.ID)
		}
	case opts.IO.IsStdoutTTY():
		for _, l := range stopped {
			fmt.Fprintf(opts.IO.Out, "%s Stopped %s (launch %d)\n", opts.IO.SuccessIcon(), l.Repository, l.ID)
		}
	}
	if len(codes) > 0 {
		return &reportedError{code: batchExitCode(codes)}
	}
	return nil
}

// stopTarget stops one launch by id, or every active launch of a slug.
func stopTarget(ctx context.Context, c *client.Client, ios *IOStreams, target string) ([]client.Launch, error) {
	if id, err := strconv.ParseInt(target, 10, 64); err == nil {
		l, err := c.StopLaunch(ctx, id)
		if err != nil {
			return nil, err
		}
		return []client.Launch{*l}, nil
	}
	page, err := c.Launches(ctx, client.ListLaunchesOptions{Repository: target, Active: true, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var out []client.Launch
	for _, l := range page.Launches {
		if l.Warm {
			continue // the warm pool's, not the user's
		}
		s, err := c.StopLaunch(ctx, l.ID)
		if err != nil {
			return out, err
		}
		out = append(out, *s)
	}
	if len(out) == 0 {
		fmt.Fprintf(ios.ErrOut, "%s is not running\n", target)
	}
	return out, nil
}
