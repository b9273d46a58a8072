package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/client"
)

// newCmdServicesRm builds "appstore services rm".
func newCmdServicesRm(f *Factory, newOpts func() *ServicesOptions) *cobra.Command {
	rm := &ServicesOptions{}
	rmCmd := &cobra.Command{
		Use:     "rm <slug>...",
		Aliases: []string{"remove", "delete"},
		Short:   "Remove services from the registry (needs the service token)",
		Long: `Remove services. On a terminal, rm asks for confirmation unless --yes is
given. A service that a manifest declares comes back with the next import of
that manifest: remove it from the manifest (or import with --prune).`,
		Args:              usageArgs(cobra.MinimumNArgs(1)),
		ValidArgsFunction: completeServiceSlugs(f, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := newOpts()
			o.Slugs, o.Yes = args, rm.Yes
			return runServicesRm(cmd.Context(), o)
		},
	}
	rmCmd.Flags().BoolVarP(&rm.Yes, "yes", "y", false, "do not ask for confirmation")
	return rmCmd
}

func runServicesRm(ctx context.Context, o *ServicesOptions) error {
	c, err := o.mutator()
	if err != nil {
		return err
	}
	if !o.Yes && o.IO.CanPrompt() {
		ok, err := confirm(o.IO, fmt.Sprintf("Remove service %s? [y/N] ", strings.Join(o.Slugs, ", ")))
		if err != nil {
			return err
		}
		if !ok {
			return errCancelled
		}
	}
	batch := len(o.Slugs) > 1
	var codes []int
	for _, slug := range o.Slugs {
		if err := c.DeleteService(ctx, slug); err != nil {
			if !batch || errors.Is(err, context.Canceled) || client.IsUnreachable(err) || client.IsUnauthorized(err) {
				return err
			}
			fmt.Fprintf(o.IO.ErrOut, "error: %s: %s\n", slug, ErrorMessage(err))
			codes = append(codes, ExitCode(err))
			continue
		}
		if o.IO.IsStdoutTTY() && !o.Output.Quiet && !o.Output.Machine() {
			fmt.Fprintf(o.IO.Out, "%s Removed service %s\n", o.IO.SuccessIcon(), slug)
		}
	}
	if len(codes) > 0 {
		return &reportedError{code: batchExitCode(codes)}
	}
	return nil
}
