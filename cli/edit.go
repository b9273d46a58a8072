package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/appstore-dev/appstore/client"
)

// EditOptions are the inputs of "appstore edit": a repository's settings.
// Each setting is a pointer, nil when its flag was not given, so that only
// what was asked changes; a new setting is a field here, a flag in
// NewCmdEdit and a line in editRequest.
type EditOptions struct {
	IO     *IOStreams
	Client func() (*client.Client, error)
	Output OutputOptions

	Slug string
	// Redeploy turns on or off the replacement of the app's running launch
	// when a newer build succeeds.
	Redeploy *bool
	// Owner hands the app over to another user (admins only).
	Owner *string
}

// NewCmdEdit builds "appstore edit".
func NewCmdEdit(f *Factory) *cobra.Command {
	opts := &EditOptions{}
	var redeploy bool
	var owner string
	cmd := &cobra.Command{
		Use:   "edit <slug> [flags]",
		Short: "Change a repository's settings",
		Long: `Change a repository's settings; only the flags given change.

--redeploy (on by default) replaces the app's running launch by one of the
new build when a newer build succeeds: the new container answers before the
old one stops. --redeploy=false keeps the running launch; ps and show then
mark it outdated, and ` + "`appstore launch <slug>`" + ` switches by hand.

--owner hands the app over to another user, who may then edit and remove
it (admins only; the user who registers an app owns it).

On a terminal it says what the settings are now; in a pipe it prints
"setting<TAB>value" lines; --json prints the repository.`,
		Example: `  appstore edit dash --redeploy=false
  appstore edit dash --redeploy
  appstore edit dash --owner alice`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeSlugs(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Client, opts.Output = f.IO, f.Client, f.Output()
			opts.Slug = args[0]
			if cmd.Flags().Changed("redeploy") {
				opts.Redeploy = &redeploy
			}
			if cmd.Flags().Changed("owner") {
				opts.Owner = &owner
			}
			return runEdit(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&redeploy, "redeploy", true, "replace the running launch when a newer build succeeds (--redeploy=false: by hand)")
	cmd.Flags().StringVar(&owner, "owner", "", "hand the app over to the user `name` (admins only)")
	return cmd
}

// editRequest is the PATCH that opts ask for; ok is false when no setting
// was given.
func editRequest(opts *EditOptions) (req client.UpdateRepositoryRequest, ok bool) {
	if opts.Redeploy != nil {
		req.Redeploy, ok = opts.Redeploy, true
	}
	if opts.Owner != nil {
		req.OwnedBy, ok = opts.Owner, true
	}
	return req, ok
}

func runEdit(ctx context.Context, opts *EditOptions) error {
	req, ok := editRequest(opts)
	if !ok {
		return usageErrorf("give a setting to change, e.g. `appstore edit %s --redeploy=false`", opts.Slug)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	r, err := c.UpdateRepository(ctx, opts.Slug, req)
	if err != nil {
		return err
	}
	if done, err := writeObject(ctx, opts.IO, opts.Output, r, r.Slug); done {
		return err
	}
	if opts.IO.IsStdoutTTY() {
		state := "on: a newer build replaces the running launch"
		if !r.Redeploy {
			state = "off: a newer build waits for `appstore launch " + r.Slug + "`"
		}
		fmt.Fprintf(opts.IO.Out, "%s %s: redeploy %s\n", opts.IO.SuccessIcon(), r.Slug, state)
		if opts.Owner != nil {
			fmt.Fprintf(opts.IO.Out, "%s %s: owned by %s\n", opts.IO.SuccessIcon(), r.Slug, r.OwnedBy)
		}
		return nil
	}
	fmt.Fprintf(opts.IO.Out, "redeploy\t%t\n", r.Redeploy)
	if opts.Owner != nil {
		fmt.Fprintf(opts.IO.Out, "owned by\t%s\n", r.OwnedBy)
	}
	return nil
}
