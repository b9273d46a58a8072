package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
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
	// Purge deletes the apps' data volumes too (kept otherwise).
	Purge bool
}

// NewCmdRm builds "appstore rm".
func NewCmdRm(f *Factory) *cobra.Command {
	opts := &RmOptions{}
	cmd := &cobra.Command{
		Use:     "rm <slug>...",
		Aliases: []string{"remove", "delete"},
		Short:   "Remove repositories from the store",
		Long: `Remove repositories from the store, with their tags, builds and history.
Their launches are stopped and their containers removed first; the prompt
says what runs.

On a terminal, rm asks for confirmation unless --yes is given. When standard
input or output is not a terminal (a script, a pipe) it does not ask: the
command line is the confirmation. With several slugs, a failure is reported
on standard error and the others are still removed.

An app's data volume (tags.yaml storage:) is kept, and the same repository
added again gets it back; --purge deletes it with the app (appstore volume
ls lists the kept ones, appstore volume rm deletes one).`,
		Example: `  appstore rm dash
  appstore rm --yes dash notes
  appstore rm --purge notes
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
	cmd.Flags().BoolVar(&opts.Purge, "purge", false, "delete the apps' data volumes too")
	return cmd
}

func runRm(ctx context.Context, opts *RmOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	// What runs is stopped by the removal: say so before asking, and
	// after.
	running := map[string][]int64{}
	for _, slug := range opts.Slugs {
		if page, err := c.Launches(ctx, client.ListLaunchesOptions{Repository: slug, Active: true, Limit: 100}); err == nil {
			for _, l := range page.Launches {
				if !l.Warm {
					running[slug] = append(running[slug], l.ID)
				}
			}
		} else if errors.Is(err, context.Canceled) || client.IsUnreachable(err) {
			return err
		}
	}
	if !opts.Yes && opts.IO.CanPrompt() {
		for _, slug := range opts.Slugs {
			if ids := running[slug]; len(ids) > 0 {
				fmt.Fprintf(opts.IO.Out, "%s is running (%s); rm stops it.\n", slug, launchIDs(ids))
			}
		}
		question := fmt.Sprintf("Remove %s from the store? [y/N] ", strings.Join(opts.Slugs, ", "))
		if opts.Purge {
			question = fmt.Sprintf("Remove %s from the store, with their data volumes? [y/N] ", strings.Join(opts.Slugs, ", "))
		}
		ok, err := confirm(opts.IO, question)
		if err != nil {
			return err
		}
		if !ok {
			return errCancelled
		}
	}
	batch := len(opts.Slugs) > 1
	var codes []int
	removed := []client.Repository{}
	var fatal error
	for _, slug := range opts.Slugs {
		// The repository as it was, for --json (removal answers nothing).
		repo, err := c.Repository(ctx, slug)
		if err == nil && opts.Purge {
			err = c.PurgeRepository(ctx, slug)
		} else if err == nil {
			err = c.DeleteRepository(ctx, slug)
		}
		if err != nil {
			if !batch {
				fatal = err
				break
			}
			if errors.Is(err, context.Canceled) || client.IsUnreachable(err) {
				fatal = err
				break
			}
			fmt.Fprintf(opts.IO.ErrOut, "error: %s: %s\n", slug, ErrorMessage(err))
			codes = append(codes, ExitCode(err))
			continue
		}
		removed = append(removed, *repo)
		switch {
		case opts.Output.Machine(), opts.Output.Quiet:
			if opts.Output.Quiet {
				fmt.Fprintln(opts.IO.Out, slug)
			}
		case opts.IO.IsStdoutTTY():
			msg := fmt.Sprintf("%s Removed %s", opts.IO.SuccessIcon(), slug)
			if ids := running[slug]; len(ids) > 0 {
				msg += fmt.Sprintf(" (stopped %s)", launchIDs(ids))
			}
			fmt.Fprintln(opts.IO.Out, msg)
		}
	}
	if opts.Output.Machine() {
		// The removed repositories as they were: [] when none was.
		if err := writeJSON(ctx, opts.IO, opts.Output, removed); err != nil {
			return err
		}
	}
	if fatal != nil {
		return fatal
	}
	if len(codes) > 0 {
		return &reportedError{code: batchExitCode(codes)}
	}
	return nil
}

// launchIDs is "launch 7" or "launches 7, 9".
func launchIDs(ids []int64) string {
	if len(ids) == 1 {
		return fmt.Sprintf("launch %d", ids[0])
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return "launches " + strings.Join(parts, ", ")
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
