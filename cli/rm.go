package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/client"
)

// RmOptions are the inputs of "appstore rm".
type RmOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	Slugs []string
	// Yes skips the confirmation asked on a terminal.
	Yes bool
}

// NewCmdRm builds "appstore rm".
func NewCmdRm(f *Factory) *cobra.Command {
	opts := &RmOptions{}
	cmd := &cobra.Command{
		Use:     "rm <slug>...",
		Aliases: []string{"remove", "delete"},
		Short:   "Remove repositories from the store",
		Long: `Remove repositories from the store, with their tags, builds and history.

On a terminal, rm asks for confirmation unless --yes is given. When standard
input or output is not a terminal (a script, a pipe) it does not ask: the
command line is the confirmation. With several slugs, a failure is reported
on standard error and the others are still removed.`,
		Example: `  appstore rm dash
  appstore rm --yes dash notes
  appstore list --status failed -q | xargs appstore rm`,
		Args:              usageArgs(cobra.MinimumNArgs(1)),
		ValidArgsFunction: completeSlugs(f, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Slugs = args
			return runRm(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func runRm(ctx context.Context, opts *RmOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if !opts.Yes && opts.IO.CanPrompt() {
		ok, err := confirm(opts.IO, fmt.Sprintf("Remove %s from the store? [y/N] ", strings.Join(opts.Slugs, ", ")))
		if err != nil {
			return err
		}
		if !ok {
			return errCancelled
		}
	}
	batch := len(opts.Slugs) > 1
	var codes []int
	for _, slug := range opts.Slugs {
		err := c.DeleteRepository(ctx, slug)
		if err != nil {
			if !batch {
				return err
			}
			if errors.Is(err, context.Canceled) || client.IsUnreachable(err) {
				return err
			}
			fmt.Fprintf(opts.IO.ErrOut, "error: %s: %s\n", slug, ErrorMessage(err))
			codes = append(codes, ExitCode(err))
			continue
		}
		// Deleting answers nothing, so there is nothing to print as JSON;
		// a person at a terminal gets a confirmation.
		if opts.IO.IsStdoutTTY() && !opts.Output.Quiet && !opts.Output.Machine() {
			fmt.Fprintf(opts.IO.Out, "%s Removed %s\n", opts.IO.SuccessIcon(), slug)
		}
	}
	if len(codes) > 0 {
		return &reportedError{code: batchExitCode(codes)}
	}
	return nil
}

// confirm asks a yes/no question on the terminal; only y or yes is yes.
func confirm(ios *IOStreams, question string) (bool, error) {
	fmt.Fprint(ios.Out, question)
	line, err := bufio.NewReader(ios.In).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(ios.Out)
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
